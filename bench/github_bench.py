"""The github benchmark: the GitHub forge on the fake GitHub, in-process, on a large app.

The organisation is tests/githubworld.py's, on the fake GitHub of tests/fakegithub.py
(mocked at the HTTP layer with ``responses``, so everything runs in this process: the
CLI through `GitHubWorld.bs`). Its app repository is given COMMITS commits, each tagged
(half annotated, half lightweight: release_1 .. release_3000), written with one
``git fast-import`` into the fake's bare repository. Then:

1. API calls: ``bs open-request frontend release_3000`` as alice, then ``bs check`` as
   the App on the pull_request opened payload (pending; after ``bs hook pushed``, the
   step before it in the privileged workflow, not counted) and, after bob approves, on
   the workflow_run payload (met), counted from ``fake.calls``: tag pages aside for the
   open-request, review pages aside for the check. Goals: the issue's, at most
   OPEN_REQUEST_CALLS_GOAL and CHECK_CALLS_GOAL.
2. Listing the app's tags: bs's way, `GitHubForge.list_tags` from its blobless copy
   (the first call clones it, COLD_LIST_RUNS times on an emptied cache; later calls
   fetch incrementally, one new release tagged before each), against the baseline in
   the same process, interleaved: the API way, PyGithub's ``repo.get_tags()`` through
   every page at per_page=100 (the most GitHub gives; PyGithub's default 30 would take
   three times the pages). The fake answers in-process, with no network between: on
   GitHub each page is a round trip more, so the baseline here is the API way at its
   fastest. Reported: bs's warm time / the baseline's, and their API calls.
3. ``bs check`` as the App on the workflow_run payload, CHECK_RUNS times each: the
   first run of a machine (the cache emptied: both repositories cloned) against a
   later run (incremental fetches), interleaved. A workflow's runner starts with an
   empty cache, so the first runs' API calls are held to CHECK_CALLS_GOAL too (the
   most of them).

Wall times include the fake's own work (rendering bodies, validating each against
GitHub's schemas, its git processes), which GitHub would do on its side.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench.report import Goal, Row, spread
from bench.world import BenchError

if TYPE_CHECKING:
    from tests.fakegithub import FakeGitHub
    from tests.githubworld import GitHubWorld

COMMITS = 3000
COLD_LIST_RUNS = 3
LIST_RUNS = 7
CHECK_RUNS = 5
PER_PAGE = 100
OPEN_REQUEST_CALLS_GOAL = 12
CHECK_CALLS_GOAL = 8
OPEN_GOAL = "open-request API calls (tag pages aside)"
CHECK_OPENED_GOAL = "check API calls, opened payload (review pages aside)"
CHECK_RUN_GOAL = "check API calls, workflow_run payload (review pages aside)"
CHECK_FIRST_GOAL = "check API calls, first run: the most (review pages aside)"

T = TypeVar("T")


def bench_github(base: Path) -> dict[str, Any]:
    # The fake and the world are test helpers: imported here, not by every benchmark.
    from tests.fakegithub import FakeGitHub
    from tests.githubworld import build_world

    root = base / "github"
    if root.exists():  # this benchmark's own folder, rebuilt every run
        if any(root.iterdir()) and not (root / "fakegithub").is_dir():
            raise BenchError(f"refusing to delete {root}: not this benchmark's folder")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print(f"bench: github, on the fake GitHub under {root}", file=sys.stderr, flush=True)
    fake = FakeGitHub(root / "fakegithub")
    fake.start()
    try:
        start = time.perf_counter()
        world = build_world(fake, root)
        last = _add_history(world, COMMITS)
        built = time.perf_counter() - start
        print(
            f"bench: built {COMMITS:,} commits and tags of the app in {built:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        result: dict[str, Any] = {
            "path": str(root),
            "app_commits": COMMITS,
            "app_tags": COMMITS,
            "build_seconds": built,
        }
        calls, number = _api_calls(world, last)
        result["calls"] = calls
        result["tags"] = _bench_tags(world)
        result["check"] = _bench_check(world, number)
    except AssertionError as exc:  # GitHubWorld.bs's: a traceback, or bs's internal error
        raise BenchError(f"bs failed on the fake GitHub: {exc}") from None
    finally:
        fake.stop()
    problems = fake.unregistered + fake.failures
    if problems:
        raise BenchError(
            "the fake GitHub saw calls or bodies it does not know: " + "; ".join(problems[:5])
        )
    return result


# -- the world -----------------------------------------------------------------------


def _add_history(world: GitHubWorld, commits: int) -> str:
    """Commits and tags release_4 .. release_`commits` on the app's main (build_world made
    1-3), annotated when odd; returns the last tag's name."""
    from tests.githubworld import APP_REPO

    bare = world.fake.repo(APP_REPO).git
    tip = bare.resolve("refs/heads/main")
    first = len(world.tags) + 1
    since = int((world.fake.now - timedelta(days=1)).timestamp())
    who = "Bob <bob@example.gov.uk>"
    stream: list[bytes] = []

    def data(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n%s\n" % (len(raw), raw)

    for n in range(first, commits + 1):
        when = f"{since + n} +0000"
        parent = f"from {tip}" if n == first else f"from :{n - 1}"
        stream.append(
            f"commit refs/heads/main\nmark :{n}\nauthor {who} {when}\ncommitter {who} {when}\n".encode()
            + data(f"Release {n}")
            + f"{parent}\nM 100644 inline app.rb\n".encode()
            + data(f"puts {n}")
            + f"M 100644 inline lib/{n % 20}.rb\n".encode()
            + data(f"# {n}")
        )
        if n % 2:
            stream.append(
                f"tag release_{n}\nfrom :{n}\ntagger {who} {when}\n".encode() + data(f"Release {n}")
            )
        else:
            stream.append(f"reset refs/tags/release_{n}\nfrom :{n}\n\n".encode())
    # A throwaway repository: no fsync of each of its thousands of new refs.
    run = ["git", "-c", "core.fsync=none", "-C", str(bare.path)]
    subprocess.run([*run, "fast-import", "--quiet"], input=b"".join(stream), check=True)
    # Packed, as a server keeps them.
    subprocess.run([*run, "pack-refs", "--all"], check=True)
    count = len(bare.refs("refs/tags/"))
    if count != commits:
        raise BenchError(f"the app repository has {count} tags, not {commits}")
    return f"release_{commits}"


# -- 1. API calls per open-request and per check -------------------------------------------


def _calls_since(fake: FakeGitHub, mark: int, besides: str) -> tuple[list[str], int]:
    """The calls since `mark` (as "METHOD path"), and how many of them are `besides` pages."""
    calls = [f"{method} {path}" for method, path in fake.calls_since(mark)]
    return calls, sum(1 for call in calls if call.endswith(besides))


def _outcome(result: Any, what: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise BenchError(f"{what}: no JSON from bs ({result.exit_code}): {result.output}") from None
    return data


def _check(world: GitHubWorld, payload: dict[str, Any], name: str, outcome: str) -> float:
    """`bs check --json` as the App on `payload`; its wall time (the outcome must be `outcome`)."""
    from tests.githubworld import BOT

    env = world.actions(payload, name)
    start = time.perf_counter()
    result = world.bs("check", "--json", user=BOT, env=env)
    seconds = time.perf_counter() - start
    data = _outcome(result, f"bs check ({name})")
    found = data.get("outcome")
    if found != outcome or result.exit_code != (0 if outcome == "met" else 1):
        said = data.get("summary") or result.output[-2000:]
        raise BenchError(
            f"bs check ({name}): {found} (exit {result.exit_code}), not {outcome}: {said}"
        )
    return seconds


def _record_push(world: GitHubWorld, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The privileged workflow's step before the check on an opened or synchronize event:
    ``bs hook pushed`` as the App records who pushed the head. None when bs has no such
    command (it once read pushes from the runs of the events workflow instead)."""
    from tests.githubworld import BOT

    mark = len(world.fake.calls)
    env = world.actions(payload, "pushed")
    start = time.perf_counter()
    result = world.bs("hook", "pushed", "--json", user=BOT, env=env)
    seconds = time.perf_counter() - start
    if result.exit_code == 2 and "No such command" in result.output:
        return None
    if result.exit_code != 0:
        raise BenchError(f"bs hook pushed failed ({result.exit_code}): {result.output}")
    calls, _ = _calls_since(world.fake, mark, "/reviews")
    return {"command": "bs hook pushed --json (as the App)", "seconds": seconds, "calls": calls}


def _api_calls(world: GitHubWorld, tag: str) -> tuple[dict[str, Any], int]:
    from tests.githubworld import REQUESTS

    fake = world.fake
    print(f"bench: github: open-request {tag}, then check it twice", file=sys.stderr, flush=True)
    mark = len(fake.calls)
    start = time.perf_counter()
    opened = world.bs("open-request", "frontend", tag, "--json", user="alice")
    open_seconds = time.perf_counter() - start
    if opened.exit_code != 0:
        raise BenchError(f"bs open-request failed ({opened.exit_code}): {opened.output}")
    number = int(_outcome(opened, "bs open-request")["pull_request"]["number"])
    open_calls, tag_pages = _calls_since(fake, mark, "/tags")

    payload = fake.webhook("pull_request", "opened", repo=REQUESTS, number=number)
    recorded = _record_push(world, payload)
    mark = len(fake.calls)
    pending_seconds = _check(world, payload, "check-opened", "pending")
    pending_calls, pending_pages = _calls_since(fake, mark, "/reviews")

    client = fake.client(world.tokens["bob"])
    client.get_repo(REQUESTS).get_pull(number).create_review(body="Looks right", event="APPROVE")
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    mark = len(fake.calls)
    met_seconds = _check(world, run, "check-review", "met")
    met_calls, met_pages = _calls_since(fake, mark, "/reviews")
    return {
        "pull_request": number,
        "hook_pushed": recorded,
        "open_request": {
            "command": f"bs open-request frontend {tag} --json (as alice)",
            "seconds": open_seconds,
            "calls": open_calls,
            "tag_pages": tag_pages,
            "counted": len(open_calls) - tag_pages,
        },
        "check_opened": {
            "command": "bs check --json (as the App, pull_request opened payload): pending",
            "seconds": pending_seconds,
            "calls": pending_calls,
            "review_pages": pending_pages,
            "counted": len(pending_calls) - pending_pages,
        },
        "check_workflow_run": {
            "command": "bs check --json (as the App, workflow_run payload after bob's approval): met",
            "seconds": met_seconds,
            "calls": met_calls,
            "review_pages": met_pages,
            "counted": len(met_calls) - met_pages,
        },
    }, number


# -- 2. the app's tags: from the fetched copy against the API's pages --------------------


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def _empty_cache(world: GitHubWorld) -> None:
    cache = world.root / "cache"  # bs.yaml's `cache: ../cache`, beside the checkout
    if cache.exists():
        shutil.rmtree(cache)


def _bench_tags(world: GitHubWorld) -> dict[str, Any]:
    from bs.forges import open_forge
    from bs.forges.github import GitHubForge
    from bs.workspace import Workspace
    from tests.githubworld import APP_REPO

    fake = world.fake
    print(
        f"bench: github: the app's tags, {COLD_LIST_RUNS} first calls (clone), then "
        f"{LIST_RUNS} later calls interleaved with the API's pages",
        file=sys.stderr,
        flush=True,
    )
    env = world.env("alice")

    def new_forge() -> GitHubForge:
        forge = open_forge(Workspace(world.checkout), env)
        assert isinstance(forge, GitHubForge)
        return forge

    cold_s: list[float] = []
    cold_calls: list[int] = []
    for _ in range(COLD_LIST_RUNS):
        _empty_cache(world)
        forge = new_forge()  # the later calls are the last of these forges'
        mark = len(fake.calls)
        seconds, tags = _timed(partial(forge.list_tags, APP_REPO))
        cold_s.append(seconds)
        cold_calls.append(len(fake.calls) - mark)
        if len(tags) != COMMITS:
            raise BenchError(f"bs listed {len(tags)} tags of {APP_REPO}, not {COMMITS}")

    repo = fake.client(world.tokens["alice"], per_page=PER_PAGE).get_repo(APP_REPO, lazy=True)

    def by_api() -> set[tuple[str, str]]:
        return {(tag.name, tag.commit.sha) for tag in repo.get_tags()}

    def by_bs() -> set[tuple[str, str]]:
        forge.cache.invalidate(APP_REPO)  # fetch, as each bs process's first call does
        return {(tag.name, tag.commit) for tag in forge.list_tags(APP_REPO)}

    api_s: list[float] = []
    api_pages: list[int] = []
    warm_s: list[float] = []
    warm_calls: list[int] = []
    for i in range(LIST_RUNS + 1):  # the first round a warm-up, discarded
        name = f"release_{COMMITS + i + 1}"  # a new release since the last listing
        sha = world.app_commit({"app.rb": f"puts {COMMITS + i + 1}\n"}, name)
        fake.tag(APP_REPO, name, sha)
        found: dict[str, set[tuple[str, str]]] = {}
        for way in ("api", "bs") if i % 2 == 0 else ("bs", "api"):
            mark = len(fake.calls)
            seconds, found[way] = _timed(by_api if way == "api" else by_bs)
            if i:
                (api_s if way == "api" else warm_s).append(seconds)
                (api_pages if way == "api" else warm_calls).append(len(fake.calls) - mark)
        if found["api"] != found["bs"] or (name, sha) not in found["bs"]:
            raise BenchError(
                f"the tags differ: {len(found['api'])} by the API, {len(found['bs'])} by bs, "
                f"e.g. {sorted(found['api'] ^ found['bs'])[:3]}"
            )
    seconds_memo, _ = _timed(partial(forge.list_tags, APP_REPO))  # within fresh_for: no fetch
    api, warm = statistics.median(api_s), statistics.median(warm_s)
    return {
        "tags": COMMITS + LIST_RUNS + 1,
        "per_page": PER_PAGE,
        "runs": LIST_RUNS,
        "warmup_runs_discarded": 1,
        "api_how": f"PyGithub get_repo(lazy=True).get_tags(), every page, per_page={PER_PAGE}",
        "bs_how": "GitHubForge.list_tags: the first call clones (cache emptied, a new forge); "
        "later calls fetch incrementally (the copy invalidated before each, one new release "
        "tagged before each round)",
        "api_seconds": api_s,
        "api_median_s": api,
        "api_pages": api_pages,
        "bs_warm_seconds": warm_s,
        "bs_warm_median_s": warm,
        "bs_warm_calls": warm_calls,
        "bs_cold_seconds": cold_s,
        "bs_cold_median_s": statistics.median(cold_s),
        "bs_cold_calls": cold_calls,
        "bs_no_fetch_s": seconds_memo,
        "ratio": warm / api,
    }


# -- 3. bs check: the first run (clones) against later runs (fetches) ---------------------


def _bench_check(world: GitHubWorld, number: int) -> dict[str, Any]:
    from tests.githubworld import REQUESTS

    fake = world.fake
    print(
        f"bench: github: bs check, {CHECK_RUNS} first runs (cache emptied) and "
        f"{CHECK_RUNS} later ones, interleaved",
        file=sys.stderr,
        flush=True,
    )
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    first_s: list[float] = []
    later_s: list[float] = []
    first_calls: list[int] = []
    later_calls: list[int] = []
    only_first: Counter[str] = Counter()
    for i in range(CHECK_RUNS):
        _empty_cache(world)
        mark = len(fake.calls)
        first_s.append(_check(world, run, "check-first", "met"))
        first, first_pages = _calls_since(fake, mark, "/reviews")
        mark = len(fake.calls)
        later_s.append(_check(world, run, "check-later", "met"))
        later, later_pages = _calls_since(fake, mark, "/reviews")
        first_calls.append(len(first) - first_pages)
        later_calls.append(len(later) - later_pages)
        only_first = Counter(first) - Counter(later)
        print(
            f"  run {i + 1}/{CHECK_RUNS}: first (clone) {first_s[-1]:6.3f} s   "
            f"later (fetch) {later_s[-1]:6.3f} s   API calls {first_calls[-1]} / {later_calls[-1]}",
            file=sys.stderr,
            flush=True,
        )
    first_median, later_median = statistics.median(first_s), statistics.median(later_s)
    return {
        "runs": CHECK_RUNS,
        "pull_request": number,
        "command": "bs check --json (as the App, workflow_run payload): met",
        "first_seconds": first_s,
        "first_median_s": first_median,
        "calls_how": "API calls of each run, review pages aside",
        "first_calls": first_calls,
        "later_seconds": later_s,
        "later_median_s": later_median,
        "later_calls": later_calls,
        "first_run_only_calls": sorted(only_first.elements()),
        "ratio": later_median / first_median,
    }


# -- report ---------------------------------------------------------------------------


def goals(result: dict[str, Any]) -> list[Goal]:
    calls = result["calls"]
    first_run = max(result["check"]["first_calls"])
    return [
        Goal(OPEN_GOAL, calls["open_request"]["counted"], OPEN_REQUEST_CALLS_GOAL, "calls", True),
        Goal(CHECK_OPENED_GOAL, calls["check_opened"]["counted"], CHECK_CALLS_GOAL, "calls", True),
        Goal(
            CHECK_RUN_GOAL, calls["check_workflow_run"]["counted"], CHECK_CALLS_GOAL, "calls", True
        ),
        Goal(CHECK_FIRST_GOAL, first_run, CHECK_CALLS_GOAL, "calls", True),
    ]


def rows(result: dict[str, Any], by_name: dict[str, Goal]) -> list[Row]:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    calls, tags, check = result["calls"], result["tags"], result["check"]

    def count(label: str, key: str, goal: str, pages: str) -> Row:
        section = calls[key]
        extra = f" + {section[pages]} pages" if section[pages] else ""
        limit = OPEN_REQUEST_CALLS_GOAL if goal == OPEN_GOAL else CHECK_CALLS_GOAL
        took = f"{section['seconds']:.2f} s"
        return (
            label,
            f"{section['counted']}{extra}",
            f"<= {limit} (took {took})",
            by_name[goal].mark,
        )

    return [
        f"github: in-process on the fake GitHub; the app has {result['app_commits']:,} commits "
        f"and {result['app_tags']:,} tags",
        "API calls per command (tag pages aside for open-request, review pages for check)",
        count(
            f"bs open-request frontend release_{result['app_tags']}",
            "open_request",
            OPEN_GOAL,
            "tag_pages",
        ),
        count(
            "bs check, opened payload (pending)", "check_opened", CHECK_OPENED_GOAL, "review_pages"
        ),
        count(
            "bs check, workflow_run after approval (met)",
            "check_workflow_run",
            CHECK_RUN_GOAL,
            "review_pages",
        ),
        f"the app's tags: median of {tags['runs']} (warm-up discarded), interleaved",
        (
            "(a) API: get_tags(), every page (baseline)",
            f"{tags['api_median_s']:.3f} s",
            spread(tags["api_seconds"]),
            "",
        ),
        (
            "(b) bs list_tags, later call (fetch)",
            ms(tags["bs_warm_median_s"]),
            spread(tags["bs_warm_seconds"], 1000, "ms"),
            "",
        ),
        ("    ratio b/a", f"{tags['ratio']:.3f}", "for information", ""),
        (
            "    API calls: (a) pages, (b)",
            f"{max(tags['api_pages'])} / {max(tags['bs_warm_calls'])}",
            f"{tags['tags']:,} tags, {tags['per_page']} a page",
            "",
        ),
        (
            f"bs list_tags, first call (clone), median of {len(tags['bs_cold_seconds'])}",
            f"{tags['bs_cold_median_s']:.3f} s",
            f"{max(tags['bs_cold_calls'])} API call(s)",
            "",
        ),
        ("bs list_tags, no fetch (within fresh_for)", ms(tags["bs_no_fetch_s"]), "", ""),
        f"check: bs check as the App (workflow_run payload), median of {check['runs']}, interleaved",
        (
            "(a) first run (cache empty: clones)",
            f"{check['first_median_s']:.3f} s",
            spread(check["first_seconds"]),
            "",
        ),
        (
            "(b) later run (incremental fetch)",
            f"{check['later_median_s']:.3f} s",
            spread(check["later_seconds"]),
            "",
        ),
        ("    ratio b/a", f"{check['ratio']:.3f}", "for information", ""),
        (
            "    API calls, review pages aside: (a) the most",
            str(max(check["first_calls"])),
            f"<= {CHECK_CALLS_GOAL} (each: {', '.join(map(str, check['first_calls']))})",
            by_name[CHECK_FIRST_GOAL].mark,
        ),
        (
            "    API calls, review pages aside: (b) the most",
            str(max(check["later_calls"])),
            f"each: {', '.join(map(str, check['later_calls']))}",
            "",
        ),
    ]
