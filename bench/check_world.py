"""Worlds for the check benchmark: a requests repo with PAST merged requests.

One world per size, built once under ``.bench/check/past-PAST/`` and reused
while its stamp matches (``stamp.json``, written last):

    forge/users.yaml, teams.yaml                  developers, deployers, DBAs
    forge/alphagov/<app>.git                      small app repos, release_1..release_6;
                                                  deployed-to-production at release_5
    forge/alphagov/release-requests.git           bs.yaml, policies/ (this project's
                                                  standard.yaml), then PAST requests
    forge/alphagov/release-requests.forge/        their pull requests, pushes, statuses
    checkout/                                     a clone of release-requests
    (pull request PAST + 1)                       the checked request, opened by bs

The history is what bs itself leaves behind, generated with one ``git
fast-import`` rather than PAST bs runs: for each past request, a commit on
``request/<app>/<id>`` adding ``requests/<app>/<id>.yaml`` and a small
``.patch``, then a merge commit on main ("Merge pull request #N ..."); the
branch stays, as ``bs merge`` leaves it (refs packed, as after a gc). Beside
it, the local forge's records: ``pulls/N.json`` and ``N.jsonl`` (approvals,
merged), a push each in ``pushes/BRANCH.jsonl``, statuses per head commit. Past
requests are spread over APPS and name releases 1..5 of their app: the app
repositories are the same in every world, so only the requests history grows.

The checked pull request is the same in every world: alice asks for frontend
release_5 -> release_6 (which adds a migration, so both of standard.yaml's
rules apply) with ``bs open-request``; bob (deployer) and dave (DBA) approve
with ``bs review``. ``bs check`` must find it met.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.measure import run_child
from bench.world import POLICY_FILE, REQUESTS_REPO, BenchError, bench_env, git

#: Bump when what is generated changes, so stale worlds are rebuilt.
FORMAT = 1
CHECKED_APP = "frontend"
#: Apps of the registry; past requests are spread over them (GOV.UK-like names).
APPS = (
    "frontend", "collections", "content-store", "email-alert-api", "finder-frontend",
    "government-frontend", "publisher", "publishing-api", "router", "search-api",
    "signon", "smart-answers", "static", "travel-advice-publisher", "whitehall",
    "manuals-publisher",
)  # fmt: skip
RELEASES = 6
DEPLOYED_TAG = "release_5"
REQUESTED_TAG = "release_6"
DEPLOYED_REF = "deployed-to-production"
DEVELOPERS = ("alice", "erin", "frank", "grace", "heidi", "ivan", "judy", "mike")
DEPLOYERS = ("bob", "carol", "oscar", "peggy")
DBAS = ("dave", "trent")
TEAMS = {
    "alphagov/developers": list(DEVELOPERS),
    "alphagov/deployers": list(DEPLOYERS),
    "alphagov/dba": list(DBAS),
    "alphagov/on-call": [DEPLOYERS[0]],
}
REQUESTER = "alice"
APPROVERS = ("bob", "dave")
#: When the first past request was opened; one more every two hours.
HISTORY_START = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
HISTORY_STEP = timedelta(hours=2)


@dataclass(frozen=True)
class CheckWorld:
    past: int
    root: Path
    forge: Path
    requests_git_dir: Path
    checkout: Path
    #: The checked pull request and its head commit.
    pull: int
    head_sha: str
    env: Mapping[str, str] = field(repr=False)
    reused: bool
    build_seconds: float | None


def prepare_check_world(base: Path, past: int, bs: str, *, rebuild: bool = False) -> CheckWorld:
    """The world with `past` merged requests under ``base/check/past-PAST``, built if need be."""
    root = (base / "check" / f"past-{past}").resolve()
    stamp = root / "stamp.json"
    params = {
        "format": FORMAT,
        "past": past,
        "root": str(root),
        "policy_sha256": hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest(),
    }
    env = bench_env(root)
    if rebuild:
        stamp.unlink(missing_ok=True)
    info = _reuse(stamp, params, root, env)
    reused = info is not None
    build_seconds = None
    if info is None:
        start = time.perf_counter()
        stamp.unlink(missing_ok=True)
        info = _build(root, past, bs, env)
        build_seconds = time.perf_counter() - start
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps({"params": params, "info": info}, indent=2) + "\n")
        tmp.replace(stamp)
    return CheckWorld(
        past=past,
        root=root,
        forge=root / "forge",
        requests_git_dir=root / "forge" / f"{REQUESTS_REPO}.git",
        checkout=root / "checkout",
        pull=int(info["pull"]),
        head_sha=str(info["head_sha"]),
        env=env,
        reused=reused,
        build_seconds=build_seconds,
    )


def _reuse(stamp: Path, params: dict[str, Any], root: Path, env: Mapping[str, str]) -> Any:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("params") != params:
        return None
    info = recorded.get("info")
    if not isinstance(info, dict) or not {"pull", "head_sha"} <= info.keys():
        return None
    forge = root / "forge"
    records = forge / f"{REQUESTS_REPO}.forge" / "pulls"
    if not (records / f"{info['pull']}.json").is_file() or not (root / "checkout").is_dir():
        return None
    try:
        for repo, rev in ((REQUESTS_REPO, "main"), (REQUESTS_REPO, info["head_sha"]),
                          (f"alphagov/{CHECKED_APP}", REQUESTED_TAG)):  # fmt: skip
            git(env, "-C", forge / f"{repo}.git", "rev-parse", "--verify", "--quiet",
                f"{rev}^{{commit}}")  # fmt: skip
    except BenchError:
        return None
    return info


# -- building -------------------------------------------------------------------


def _build(root: Path, past: int, bs: str, env: Mapping[str, str]) -> dict[str, Any]:
    print(f"  building the check world with {past:,} past requests in {root}", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    forge = root / "forge"
    (forge / "alphagov").mkdir(parents=True)
    (root / "state").mkdir()
    users = [*DEVELOPERS, *DEPLOYERS, *DBAS]
    (forge / "users.yaml").write_text("".join(f"{u}: {u}@example.gov.uk\n" for u in users))
    (forge / "teams.yaml").write_text(yaml.safe_dump(TEAMS, default_flow_style=None))

    releases: dict[str, list[str]] = {}
    for number, app in enumerate(APPS):
        releases[app] = _make_app(forge / "alphagov" / f"{app}.git", app, number, env)

    requests_git_dir = forge / f"{REQUESTS_REPO}.git"
    history = _past_requests(past, releases)
    _make_requests_repo(requests_git_dir, forge, history, env)
    _write_forge_records(forge / f"{REQUESTS_REPO}.forge", history)

    checkout = root / "checkout"
    git(env, "clone", "-q", requests_git_dir, checkout)
    pull = _open_checked_request(checkout, bs, env, expected=past + 1)
    head_sha = git(env, "-C", requests_git_dir, "rev-parse", f"refs/heads/{pull['branch']}")
    return {"pull": pull["number"], "head_sha": head_sha, "branch": pull["branch"]}


def _fast_import(git_dir: Path, stream: Iterator[bytes], env: Mapping[str, str]) -> list[str]:
    """Feed `stream` to ``git fast-import``; the commit ids of its marks, by mark."""
    marks = git_dir / "bench-marks"
    proc = subprocess.Popen(
        ["git", "-C", str(git_dir), "fast-import", "--quiet", f"--export-marks={marks}"],
        stdin=subprocess.PIPE,
        env=dict(env),
    )
    assert proc.stdin is not None
    try:
        for chunk in stream:
            proc.stdin.write(chunk)
        proc.stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        raise BenchError(f"git fast-import failed in {git_dir} (exit {proc.returncode})")
    by_mark: dict[int, str] = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        by_mark[int(mark.lstrip(":"))] = sha
    marks.unlink()
    return [by_mark.get(i, "") for i in range(max(by_mark) + 1)]


def _blob(mark: int, data: bytes) -> bytes:
    return b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data)


def _commit_head(ref: str, mark: int, who: str, when: datetime, message: str) -> bytes:
    stamp = int(when.timestamp())
    text = message.encode()
    return (
        b"commit %s\nmark :%d\nauthor %s <%s@example.gov.uk> %d +0000\n"
        b"committer %s <%s@example.gov.uk> %d +0000\ndata %d\n%s\n"
        % (ref.encode(), mark, who.encode(), who.encode(), stamp, who.encode(), who.encode(),
           stamp, len(text), text)
    )  # fmt: skip


def _make_app(git_dir: Path, app: str, seed: int, env: Mapping[str, str]) -> list[str]:
    """A small app: RELEASES tagged commits; the last adds a database migration."""
    git(env, "init", "-q", "--bare", "-b", "main", git_dir)
    rng = random.Random(f"{app}-{seed}")

    def stream() -> Iterator[bytes]:
        files = {f"app/models/model_{i}.rb": _ruby(rng, i) for i in range(12)}
        mark = 0
        for release in range(1, RELEASES + 1):
            for name in rng.sample(sorted(files), 3):
                files[name] = _ruby(rng, release)
            if release == RELEASES:
                files["db/migrate/20250101000000_add_index.rb"] = _ruby(rng, 0)
            entries = []
            for name, data in files.items():
                mark += 1
                yield _blob(mark, data)
                entries.append(b"M 100644 :%d %s\n" % (mark, name.encode()))
            mark += 1
            when = HISTORY_START - timedelta(days=RELEASES - release)
            # After the first, each commit follows the branch's tip.
            yield _commit_head("refs/heads/main", mark, "dev", when, f"Release {release}")
            yield b"deleteall\n" + b"".join(entries) + b"\n"
            yield b"reset refs/tags/release_%d\nfrom :%d\n\n" % (release, mark)

    _fast_import(git_dir, stream(), env)
    tags = [
        git(env, "-C", git_dir, "rev-parse", f"release_{r}^{{commit}}")
        for r in range(1, RELEASES + 1)
    ]
    git(env, "-C", git_dir, "update-ref", f"refs/heads/{DEPLOYED_REF}", DEPLOYED_TAG)
    return tags


def _ruby(rng: random.Random, version: int) -> bytes:
    lines = [f"class Model{rng.getrandbits(20)}  # v{version}\n"]
    lines += [f"  def m{i}; {rng.getrandbits(32)}; end\n" for i in range(rng.randint(10, 30))]
    return "".join([*lines, "end\n"]).encode()


@dataclass
class _Past:
    number: int
    app: str
    id: str
    requester: str
    approver: str
    opened: datetime
    from_tag: str
    from_commit: str
    to_tag: str
    to_commit: str
    patch: bytes
    request: bytes
    title: str
    body: str
    head_sha: str = ""
    merge_sha: str = ""

    @property
    def branch(self) -> str:
        return f"request/{self.app}/{self.id}"

    @property
    def path(self) -> str:
        return f"requests/{self.app}/{self.id}"


def _past_requests(past: int, releases: Mapping[str, Sequence[str]]) -> list[_Past]:
    rng = random.Random(past)
    history = []
    for i in range(past):
        app = APPS[i % len(APPS)]
        release = 1 + (i // len(APPS)) % (RELEASES - 2)  # 1..4: never the checked 5 -> 6
        opened = HISTORY_START + i * HISTORY_STEP
        token = base64.b32encode(rng.randbytes(10)).decode().lower()
        request_id = f"{opened:%Y%m%d}-{token}"
        requester = DEVELOPERS[i % len(DEVELOPERS)]
        from_tag, to_tag = f"release_{release}", f"release_{release + 1}"
        from_commit, to_commit = releases[app][release - 1], releases[app][release]
        patch, stats = _patch(rng)
        path = f"requests/{app}/{request_id}"
        reason = f"Ship change {i + 1} of {app}" if i % 3 == 0 else None
        title = f"Release {app} {to_tag} (from {from_tag})"
        request = _request_yaml(
            request_id, app, requester, opened, from_tag, from_commit, to_tag, to_commit,
            f"{path}.patch", hashlib.sha256(patch).hexdigest(), stats, reason,
        )  # fmt: skip
        body = (
            f"**{requester}** asks to release **{app}** to production.\n\n"
            f"| | tag | commit |\n|---|---|---|\n| deployed | `{from_tag}` | {from_commit} |\n"
            f"| requested | `{to_tag}` | {to_commit} |\n\n"
            f"{stats[3]} commits, {stats[0]} files changed, +{stats[1]} −{stats[2]}.\n\n"
            f"Patch: `{path}.patch`, SHA-256 `{hashlib.sha256(patch).hexdigest()}` over "
            f"{len(patch):,} bytes of `git diff --binary --full-index`.\n"
        )
        history.append(
            _Past(
                number=i + 1, app=app, id=request_id, requester=requester,
                approver=DEPLOYERS[i % len(DEPLOYERS)], opened=opened, from_tag=from_tag,
                from_commit=from_commit, to_tag=to_tag, to_commit=to_commit, patch=patch,
                request=request, title=title, body=body,
            )
        )  # fmt: skip
    return history


def _patch(rng: random.Random) -> tuple[bytes, tuple[int, int, int, int]]:
    """A small ``git diff --binary --full-index``-like patch, and its stats."""
    out: list[str] = []
    files = rng.randint(1, 3)
    insertions = deletions = 0
    for _ in range(files):
        name = f"app/models/model_{rng.randrange(12)}.rb"
        old, new = f"{rng.getrandbits(160):040x}", f"{rng.getrandbits(160):040x}"
        out += [f"diff --git a/{name} b/{name}\n", f"index {old}..{new} 100644\n"]
        out += [f"--- a/{name}\n", f"+++ b/{name}\n", "@@ -3,7 +3,7 @@\n"]
        for i in range(3):
            out.append(f"   def m{i}; {rng.getrandbits(32)}; end\n")
        out.append(f"-  def m3; {rng.getrandbits(32)}; end\n")
        out.append(f"+  def m3; {rng.getrandbits(32)}; end\n")
        for i in range(4, 7):
            out.append(f"   def m{i}; {rng.getrandbits(32)}; end\n")
        insertions += 1
        deletions += 1
    return "".join(out).encode(), (files, insertions, deletions, rng.randint(1, 12))


def _request_yaml(
    request_id: str,
    app: str,
    requester: str,
    opened: datetime,
    from_tag: str,
    from_commit: str,
    to_tag: str,
    to_commit: str,
    patch_file: str,
    sha256: str,
    stats: tuple[int, int, int, int],
    reason: str | None,
) -> bytes:
    """What ``bs open-request`` writes (``yaml.safe_dump`` of the request, keys in file order)."""
    return (
        f"version: 1\nid: {request_id}\napp: {app}\nenvironment: production\n"
        f"requested_by: {requester}\nrequested_at: '{opened:%Y-%m-%dT%H:%M:%SZ}'\n"
        f"from:\n  tag: {from_tag}\n  commit: {from_commit}\n"
        f"to:\n  tag: {to_tag}\n  commit: {to_commit}\n"
        f"patch:\n  file: {patch_file}\n  sha256: {sha256}\n  files_changed: {stats[0]}\n"
        f"  insertions: {stats[1]}\n  deletions: {stats[2]}\n  commits: {stats[3]}\n"
        f"reason: {reason if reason else 'null'}\n"
    ).encode()


def _make_requests_repo(
    git_dir: Path, forge: Path, history: list[_Past], env: Mapping[str, str]
) -> None:
    git(env, "init", "-q", "--bare", "-b", "main", git_dir)
    bs_yaml = (
        "# battlestations check benchmark: the local forge beside this checkout\n"
        + yaml.safe_dump(
            {"version": 1, "forge": {"kind": "local", "path": str(forge)},
             "requests_repo": REQUESTS_REPO},
            sort_keys=False,
        )
    ).encode()  # fmt: skip
    apps_yaml = yaml.safe_dump(
        {
            "version": 1,
            "apps": {
                app: {
                    "repo": f"alphagov/{app}",
                    "tags": {"scheme": "release"},
                    "deployed": {"source": "ref", "ref": DEPLOYED_REF},
                    "policy": "standard",
                }
                for app in APPS
            },
        },
        sort_keys=False,
    ).encode()
    _check_request_format(history)
    scratch = "refs/heads/bench-scratch"

    def stream() -> Iterator[bytes]:
        yield _blob(1, bs_yaml) + _blob(2, apps_yaml) + _blob(3, POLICY_FILE.read_bytes())
        yield _blob(4, b"")
        yield _commit_head("refs/heads/main", 5, "admin", HISTORY_START - timedelta(days=1),
                           "Requests repository")  # fmt: skip
        yield (
            b"M 100644 :1 bs.yaml\nM 100644 :2 policies/apps.yaml\n"
            b"M 100644 :3 policies/standard.yaml\nM 100644 :4 requests/.keep\n\n"
        )
        main = 5
        for past in history:
            base = 5 + 4 * past.number
            yield _blob(base - 3, past.request) + _blob(base - 2, past.patch)
            files = b"M 100644 :%d %s.yaml\nM 100644 :%d %s.patch\n" % (
                base - 3, past.path.encode(), base - 2, past.path.encode())  # fmt: skip
            yield _commit_head(scratch, base - 1, past.requester, past.opened, past.title)
            yield b"from :%d\n%s\n" % (main, files)
            merged = past.opened + timedelta(minutes=50)
            message = f"Merge pull request #{past.number} from {past.branch}\n\n{past.title}"
            yield _commit_head("refs/heads/main", base, past.approver, merged, message)
            yield b"from :%d\nmerge :%d\n%s\n" % (main, base - 1, files)
            main = base

    print(f"  git fast-import: {len(history):,} requests, each merged", file=sys.stderr)
    commits = _fast_import(git_dir, stream(), env)
    for past in history:
        base = 5 + 4 * past.number
        past.head_sha, past.merge_sha = commits[base - 1], commits[base]
    # What `bs merge` leaves: every request's branch, still there.
    lines = [f"create refs/heads/{p.branch} {p.head_sha}\n" for p in history]
    lines.append(f"delete {scratch}\n")
    proc = subprocess.run(
        ["git", "-C", str(git_dir), "update-ref", "--stdin"],
        input="".join(lines).encode(),
        env=dict(env),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"git update-ref failed: {proc.stderr.decode(errors='replace')}")
    git(env, "-C", git_dir, "pack-refs", "--all")


def _check_request_format(history: list[_Past]) -> None:
    """The generated request files must be what bs writes: the first, through bs's model."""
    if not history:
        return
    from bs.core.request import ReleaseRequest
    from bs.yamlio import dump_yaml

    text = history[0].request.decode()
    try:
        written = dump_yaml(ReleaseRequest.from_document(yaml.safe_load(text)).to_document())
    except ValueError as exc:
        raise BenchError(f"a generated request file is not valid: {exc}") from None
    if written != text:
        raise BenchError(f"a generated request file is not as bs writes it:\n{text}\n{written}")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_forge_records(forge_dir: Path, history: list[_Past]) -> None:
    """The local forge's records of the past pull requests, as bs writes them."""
    print(f"  writing {len(history):,} pull requests' records", file=sys.stderr)
    pulls = forge_dir / "pulls"
    statuses = forge_dir / "statuses"
    pulls.mkdir(parents=True)
    statuses.mkdir()
    review_id = 0
    for past in history:
        (pulls / f"{past.number}.json").write_text(
            json.dumps(
                {"number": past.number, "title": past.title, "body": past.body,
                 "user": past.requester, "head": {"ref": past.branch, "sha": past.head_sha},
                 "base": {"ref": "main"}, "created_at": _iso(past.opened)},
                indent=2, sort_keys=True,
            ) + "\n"
        )  # fmt: skip
        push_file = forge_dir / "pushes" / f"{past.branch}.jsonl"
        push_file.parent.mkdir(parents=True, exist_ok=True)
        push_file.write_text(
            json.dumps(
                {"branch": past.branch, "pusher": past.requester, "before": None,
                 "after": past.head_sha, "commits": [past.head_sha], "at": _iso(past.opened)},
                sort_keys=True,
            ) + "\n"
        )  # fmt: skip
        head_file = forge_dir / "heads" / f"{past.branch}.jsonl"
        head_file.parent.mkdir(parents=True, exist_ok=True)
        head_file.write_text(json.dumps({"number": past.number}) + "\n")
        events = []
        reviewers = [past.approver] + ([DBAS[past.number % 2]] if past.number % 5 == 0 else [])
        for minutes, reviewer in enumerate(reviewers, 20):
            review_id += 1
            events.append(
                {"type": "review", "id": review_id, "user": reviewer, "state": "APPROVED",
                 "commit_id": past.head_sha, "body": "Looks good" if minutes == 20 else "",
                 "at": _iso(past.opened + timedelta(minutes=minutes))}
            )  # fmt: skip
        events.append(
            {"type": "merged", "user": past.approver, "head_sha": past.head_sha,
             "merge_commit_sha": past.merge_sha,
             "at": _iso(past.opened + timedelta(minutes=50))}
        )  # fmt: skip
        (pulls / f"{past.number}.jsonl").write_text(
            "".join(json.dumps(e, sort_keys=True) + "\n" for e in events)
        )
        (statuses / f"{past.head_sha}.jsonl").write_text(
            "".join(
                json.dumps(
                    {"context": "bs/policy", "state": state, "description": text,
                     "creator": creator, "at": _iso(past.opened + timedelta(minutes=minutes))},
                    sort_keys=True,
                ) + "\n"
                for state, text, creator, minutes in (
                    ("pending", "Needs 1 more approval from alphagov/deployers", past.requester, 1),
                    ("success", f"Approved by {past.approver}", past.approver, 45),
                )
            )
        )  # fmt: skip
    numbers = {"pull": len(history), "review": review_id} if history else {}
    (forge_dir / "numbers.json").write_text(json.dumps(numbers, indent=2, sort_keys=True) + "\n")


def _open_checked_request(
    checkout: Path, bs: str, env: Mapping[str, str], *, expected: int
) -> dict[str, Any]:
    """alice opens the checked request with bs; bob and dave approve it."""
    print(f"  bs open-request {CHECKED_APP} {REQUESTED_TAG}, then approvals", file=sys.stderr)
    opened = run_child(
        [bs, "open-request", CHECKED_APP, REQUESTED_TAG, "--json",
         "--reason", "Add the index the search page needs"],
        cwd=checkout, env={**env, "BS_USER": REQUESTER},
    )  # fmt: skip
    if opened.returncode != 0:
        raise BenchError(f"bs open-request failed: {opened.describe_failure()}")
    try:
        data = json.loads(opened.stdout)
        number = int(data["pull_request"]["number"])
        branch = f"request/{CHECKED_APP}/{data['id']}"
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(
            f"unexpected output from bs open-request ({exc}): {opened.stdout!r}"
        ) from None
    if number != expected:
        raise BenchError(f"the checked request is #{number}, expected #{expected}")
    for reviewer in APPROVERS:
        review = run_child(
            [bs, "review", str(number), "--approve", "-m", "Read the patch: fine"],
            cwd=checkout, env={**env, "BS_USER": reviewer},
        )  # fmt: skip
        if review.returncode != 0:
            raise BenchError(f"bs review failed: {review.describe_failure()}")
    return {"number": number, "branch": branch}
