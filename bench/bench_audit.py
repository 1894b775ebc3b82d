"""The audit benchmark: ``bs audit`` over 10,000 merged requests and 10,000 deployments.

The world is built once under ``.bench/audit/`` (with ``git fast-import`` and bulk SQL
inserts, in a few seconds) and reused while its stamp matches:

    forge/alphagov/<app>.git             APPS small app repositories, one commit per
                                         release; deployed-to-production where bs left it
    forge/alphagov/release-requests.git  bs.yaml, policies/, then REQUESTS requests, each
                                         a branch commit and its merge on main, as
                                         `bs merge` leaves them
    forge/alphagov/release-requests.forge/pulls/N.json, N.jsonl
                                         each pull request: a deployer's approval of its
                                         head, then the merge
    gateway.sqlite                       one succeeded deployment per request, with the
                                         record the merge hook builds and the link's
                                         redemption, as the gateway writes them
    checkout/bs.yaml                     where bs runs

Measured: the audit in this process through its use case (``run_audit``: the history,
the pull requests, the store, one review listing and one comment listing (the merge
hook's mark) per deployment, what each app runs now), the median of RUNS; once with ``--no-reviews``; once through the
CLI (``bs audit --json``, a child process, which must find the chain intact); and, in
this process, a baseline of what any audit must read: ``git log --first-parent --raw``
over the same history and a plain read of the store's two tables. The CLI's own peak
RSS, recorded by bench/bs_maxrss.py.

    .venv/bin/python -m bench.bench_audit [--requests N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.measure import median, run_child
from bench.report import Goal, Row, spread
from bench.world import POLICY_FILE, REQUESTS_REPO, BenchError, bench_env, git

#: Bump when what is generated changes, so stale worlds are rebuilt.
FORMAT = 2
REQUESTS = 10_000
RUNS = 3
APPS = ("frontend", "collections", "content-store", "publisher", "router",
        "search-api", "signon", "static", "whitehall", "smart-answers")  # fmt: skip
DEVELOPERS = ("alice", "erin", "frank", "grace")
DEPLOYERS = ("bob", "carol")
BOT = "release-bot"
START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
STEP = timedelta(hours=1)
GOAL_SECONDS = 15.0
#: Runs the bs CLI and records its own peak RSS (see bench/bs_maxrss.py).
LAUNCHER = Path(__file__).resolve().parent / "bs_maxrss.py"
GOAL_NAME = f"bs audit, {REQUESTS:,} requests and deployments (CLI)"


def bench_audit(base: Path, bs_path: str, *, requests: int = REQUESTS, runs: int = RUNS,
                rebuild: bool = False) -> dict[str, Any]:  # fmt: skip
    root = (base / "audit" / f"requests-{requests}").resolve()
    print(f"bench: preparing the audit world under {root}", file=sys.stderr, flush=True)
    built = _prepare(root, requests, rebuild=rebuild)
    env = bench_env(root) | {"BS_USER": BOT}
    print(f"bench: bs audit, in-process {runs} runs, then the CLI once",
          file=sys.stderr, flush=True)  # fmt: skip
    import bs.usecases.audit  # noqa: F401 (imports are not what is measured)

    seconds = []
    for i in range(runs):
        took, report = _in_process(root)
        _check(report, requests, f"in-process run {i + 1}")
        print(f"  run {i + 1}/{runs}: {took:6.2f} s", file=sys.stderr, flush=True)
        seconds.append(took)
    no_reviews, report = _in_process(root, check_reviews=False)
    _check(report, requests, "--no-reviews")
    # The CLI through bench/bs_maxrss.py, as the console script runs it, which records the
    # bs process's own peak RSS (wait4's figure would include this process's, see measure).
    report_file = root / "maxrss.json"
    report_file.unlink(missing_ok=True)
    cli = run_child([sys.executable, str(LAUNCHER), "audit", "--json"], cwd=root / "checkout",
                    env=env | {"BENCH_MAXRSS_FILE": str(report_file)}, isolate=True)  # fmt: skip
    try:
        data = json.loads(cli.stdout)
        peak = int(json.loads(report_file.read_text())["self_kib"]) * 1024
    except (OSError, ValueError, KeyError):
        raise BenchError(f"bs audit printed no JSON: {cli.describe_failure()}") from None
    if cli.returncode != 0 or not data["intact"] or data["deployments_checked"] != requests:
        raise BenchError(f"bs audit did not find the chain intact: {cli.describe_failure()}")
    git_s, store_s = _baseline(root, env)
    audit_s = median(seconds)
    return {
        "requests": requests,
        "deployments": requests,
        "build_seconds": built,
        "runs": runs,
        "in_process_seconds": seconds,
        "in_process_median_s": audit_s,
        "no_reviews_s": no_reviews,
        "cli_seconds": cli.seconds,
        "cli_peak_rss_bytes": peak,
        "baseline_how": "git log --first-parent --raw over the requests repository, plus "
        "SELECT * of the store's deployments and link_redemptions, in this process",
        "baseline_git_log_s": git_s,
        "baseline_store_s": store_s,
        "ratio": audit_s / (git_s + store_s),
    }


def goals(results: Mapping[str, Any]) -> list[Goal]:
    return [Goal(GOAL_NAME, results["cli_seconds"], GOAL_SECONDS, "s", inclusive=False)]


def rows(results: Mapping[str, Any], by_name: Mapping[str, Goal]) -> list[Row]:
    n = f"{results['requests']:,}"
    return [
        f"audit: {n} merged requests, {n} deployments; in-process: median of {results['runs']} runs",
        ("bs audit, in process (reviews cross-checked)", f"{results['in_process_median_s']:.2f} s",
         spread(results["in_process_seconds"]), ""),
        ("bs audit --no-reviews, in process", f"{results['no_reviews_s']:.2f} s", "", ""),
        ("bs audit --json (CLI, one run)", f"{results['cli_seconds']:.2f} s",
         f"< {GOAL_SECONDS:.0f} s", by_name[GOAL_NAME].mark),
        ("    baseline: git log --first-parent --raw", f"{results['baseline_git_log_s']:.2f} s",
         "", ""),
        ("    baseline: read the store's two tables", f"{results['baseline_store_s']:.2f} s",
         "", ""),
        ("    ratio in-process / baseline", f"{results['ratio']:.1f}", "", ""),
        ("    bs audit's peak RSS (its own process)",
         f"{results['cli_peak_rss_bytes'] / 1e6:.1f} MB", "", ""),
    ]  # fmt: skip


# -- measuring ----------------------------------------------------------------------------


def _in_process(root: Path, *, check_reviews: bool = True) -> tuple[float, Any]:
    from bs.forges.local import LocalForge
    from bs.usecases.audit import run_audit
    from bs.usecases.audit_store import gateway_records
    from bs.workspace import Workspace

    start = time.perf_counter()
    workspace = Workspace(root / "checkout")
    done = run_audit(
        LocalForge(root / "forge", user=BOT), workspace.config,
        lambda: gateway_records(workspace, {}), now=datetime.now(UTC),
        check_reviews=check_reviews,
    )  # fmt: skip
    return time.perf_counter() - start, done.report


def _check(report: Any, requests: int, what: str) -> None:
    if not report.intact or (report.requests_checked, report.deployments_checked) != (
        requests, requests,
    ):  # fmt: skip
        kinds = sorted({f.kind for f in report.findings})
        raise BenchError(f"the audit ({what}) did not find the chain intact: {kinds}")


def _baseline(root: Path, env: Mapping[str, str]) -> tuple[float, float]:
    from sqlalchemy import create_engine, select

    from bs.store.tables import deployments, link_redemptions

    git_dir = root / "forge" / f"{REQUESTS_REPO}.git"
    start = time.perf_counter()
    subprocess.run(["git", "-C", str(git_dir), "log", "--first-parent", "--raw", "--no-abbrev",
                    "main"], env=dict(env), stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    git_s = time.perf_counter() - start
    start = time.perf_counter()
    engine = create_engine(f"sqlite:///{root / 'gateway.sqlite'}")
    with engine.connect() as connection:
        connection.execute(select(deployments)).all()
        connection.execute(select(link_redemptions)).all()
    engine.dispose()
    return git_s, time.perf_counter() - start


# -- building -----------------------------------------------------------------------------


def _prepare(root: Path, requests: int, *, rebuild: bool) -> float | None:
    """Build the world unless its stamp says it is there; the build's seconds, or None."""
    stamp = root / "stamp.json"
    params = {"format": FORMAT, "requests": requests, "root": str(root),
              "policy_sha256": hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest()}  # fmt: skip
    try:
        if not rebuild and json.loads(stamp.read_text()) == params:
            return None
    except (OSError, ValueError):
        pass
    start = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    env = bench_env(root)
    forge = root / "forge"
    (forge / "alphagov").mkdir(parents=True)
    (root / "state").mkdir()
    users = [*DEVELOPERS, *DEPLOYERS, BOT]
    (forge / "users.yaml").write_text("".join(f"{u}: {u}@example.gov.uk\n" for u in users))
    (forge / "teams.yaml").write_text(
        f"alphagov/developers: [{', '.join(DEVELOPERS)}]\n"
        f"alphagov/deployers: [{', '.join(DEPLOYERS)}]\nalphagov/dba: [bob]\n"
        "alphagov/on-call: [carol]\n"
    )
    releases = requests // len(APPS) + 2
    commits = {app: _app_repo(forge / "alphagov" / f"{app}.git", app, releases, env)
               for app in APPS}  # fmt: skip
    made = [_request(i, commits) for i in range(requests)]
    print(f"  git fast-import: {requests:,} requests, each merged", file=sys.stderr)
    _requests_repo(forge, made, env)
    print(f"  {requests:,} pull requests' records and deployments", file=sys.stderr)
    _forge_records(forge / f"{REQUESTS_REPO}.forge", made)
    _store(root / "gateway.sqlite", made)
    for app in APPS:  # what bs deployed last, as the gateway moves it
        last = [m for m in made if m["app"] == app]
        if last:
            git(env, "-C", forge / "alphagov" / f"{app}.git", "update-ref",
                "refs/heads/deployed-to-production", last[-1]["to"])  # fmt: skip
    (root / "checkout").mkdir()
    (root / "checkout" / "bs.yaml").write_text(
        f"version: 1\nforge: {{kind: local, path: {forge}}}\nrequests_repo: {REQUESTS_REPO}\n"
        f"gateway: {{store: 'sqlite:///{root / 'gateway.sqlite'}'}}\n"
    )
    stamp.write_text(json.dumps(params))
    return time.perf_counter() - start


def _fast_import(git_dir: Path, stream: Iterator[bytes], env: Mapping[str, str]) -> dict[int, str]:
    git(env, "init", "-q", "--bare", "-b", "main", git_dir)
    marks = git_dir / "bench-marks"
    proc = subprocess.Popen(["git", "-C", str(git_dir), "fast-import", "--quiet",
                             f"--export-marks={marks}"], stdin=subprocess.PIPE, env=dict(env))  # fmt: skip
    assert proc.stdin is not None
    for chunk in stream:
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise BenchError(f"git fast-import failed in {git_dir}")
    found = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    return {int(mark[1:]): sha for mark, sha in found.items()}


def _commit(ref: str, mark: int, who: str, when: datetime, message: str) -> bytes:
    text, stamp = message.encode(), int(when.timestamp())
    return (b"commit %s\nmark :%d\nauthor %s <%s@example.gov.uk> %d +0000\n"
            b"committer %s <%s@example.gov.uk> %d +0000\ndata %d\n%s\n"
            % (ref.encode(), mark, who.encode(), who.encode(), stamp, who.encode(),
               who.encode(), stamp, len(text), text))  # fmt: skip


def _app_repo(git_dir: Path, app: str, releases: int, env: Mapping[str, str]) -> list[str]:
    def stream() -> Iterator[bytes]:
        for n in range(1, releases + 1):
            data = f"{app} {n}\n".encode()
            yield _commit("refs/heads/main", n, "dev", START - timedelta(days=1), f"Release {n}")
            yield b"M 100644 inline VERSION\ndata %d\n%s\n\n" % (len(data), data)

    marks = _fast_import(git_dir, stream(), env)
    return [marks[n] for n in range(1, releases + 1)]


def _request(i: int, commits: Mapping[str, list[str]]) -> dict[str, Any]:
    app = APPS[i % len(APPS)]
    release = i // len(APPS) + 1
    opened = START + i * STEP
    token = base64.b32encode(hashlib.sha256(b"%d" % i).digest()[:10]).decode().lower()
    request_id = f"{opened:%Y%m%d}-{token}"
    patch = f"diff --git a/VERSION b/VERSION\n-{app} {release}\n+{app} {release + 1}\n".encode()
    return {
        "number": i + 1, "app": app, "id": request_id, "opened": opened,
        "requester": DEVELOPERS[i % len(DEVELOPERS)], "approver": DEPLOYERS[i % len(DEPLOYERS)],
        "from_tag": f"release_{release}", "from": commits[app][release - 1],
        "to_tag": f"release_{release + 1}", "to": commits[app][release], "patch": patch,
        "sha256": hashlib.sha256(patch).hexdigest(),
        "branch": f"request/{app}/{request_id}", "path": f"requests/{app}/{request_id}",
    }  # fmt: skip


def _request_yaml(r: Mapping[str, Any]) -> bytes:
    """What ``bs open-request`` writes; the first one is checked against bs's model."""
    text = (
        f"version: 1\nid: {r['id']}\napp: {r['app']}\nenvironment: production\n"
        f"requested_by: {r['requester']}\nrequested_at: '{_iso(r['opened'])}'\n"
        f"from:\n  tag: {r['from_tag']}\n  commit: {r['from']}\n"
        f"to:\n  tag: {r['to_tag']}\n  commit: {r['to']}\n"
        f"patch:\n  file: {r['path']}.patch\n  sha256: {r['sha256']}\n  files_changed: 1\n"
        f"  insertions: 1\n  deletions: 1\n  commits: 1\nreason: Benchmark release\n"
    )
    if r["number"] == 1:
        import yaml

        from bs.core.request import ReleaseRequest

        ReleaseRequest.from_document(yaml.safe_load(text))
    return text.encode()


def _requests_repo(forge: Path, made: list[dict[str, Any]], env: Mapping[str, str]) -> None:
    apps = "".join(
        f"  {app}:\n    repo: alphagov/{app}\n    tags: {{scheme: release}}\n"
        f"    deployed: {{source: ref, ref: deployed-to-production}}\n    policy: standard\n"
        for app in APPS
    )
    files = {"bs.yaml": f"version: 1\nrequests_repo: {REQUESTS_REPO}\n".encode(),
             "policies/apps.yaml": f"version: 1\napps:\n{apps}".encode(),
             "policies/standard.yaml": POLICY_FILE.read_bytes()}  # fmt: skip

    def stream() -> Iterator[bytes]:
        yield _commit("refs/heads/main", 1, "admin", START - timedelta(days=1), "Requests")
        for path, data in files.items():
            yield b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
        yield b"\n"
        main = 1
        for r in made:
            head, merge = 2 * r["number"], 2 * r["number"] + 1
            changes = b""
            for suffix, data in ((".yaml", _request_yaml(r)), (".patch", r["patch"])):
                changes += b"M 100644 inline %s%s\ndata %d\n%s\n" % (
                    r["path"].encode(), suffix.encode(), len(data), data)  # fmt: skip
            yield _commit("refs/heads/scratch", head, r["requester"], r["opened"], r["branch"])
            yield b"from :%d\n%s\n" % (main, changes)
            yield _commit("refs/heads/main", merge, r["approver"], r["opened"] + timedelta(
                minutes=50), f"Merge pull request #{r['number']} from {r['branch']}")  # fmt: skip
            yield b"from :%d\nmerge :%d\n%s\n" % (main, head, changes)
            main = merge

    git_dir = forge / f"{REQUESTS_REPO}.git"
    marks = _fast_import(git_dir, stream(), env)
    git(env, "-C", git_dir, "update-ref", "-d", "refs/heads/scratch")
    for r in made:
        r["head"], r["merge"] = marks[2 * r["number"]], marks[2 * r["number"] + 1]


def _forge_records(forge_dir: Path, made: list[dict[str, Any]]) -> None:
    pulls = forge_dir / "pulls"
    pulls.mkdir(parents=True)
    for r in made:
        number, opened = r["number"], r["opened"]
        (pulls / f"{number}.json").write_text(json.dumps(
            {"number": number, "title": f"Release {r['app']} {r['to_tag']}", "body": "",
             "user": r["requester"], "head": {"ref": r["branch"], "sha": r["head"]},
             "base": {"ref": "main"}, "created_at": _iso(opened)}))  # fmt: skip
        events = [
            {"type": "review", "id": number, "user": r["approver"], "state": "APPROVED",
             "commit_id": r["head"], "body": "", "at": _iso(opened + timedelta(minutes=20))},
            {"type": "merged", "user": r["approver"], "head_sha": r["head"],
             "merge_commit_sha": r["merge"], "at": _iso(opened + timedelta(minutes=50))},
            # The merge hook's mark, as bs's bot leaves it when it mints the link.
            {"type": "comment", "id": number, "user": "release-bot",
             "body": "<!-- bs:approval -->\n**Approval recorded.**\n",
             "at": _iso(opened + timedelta(minutes=51))},
        ]  # fmt: skip
        (pulls / f"{number}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    numbers = {"pull": len(made), "review": len(made), "comment": len(made)}
    (forge_dir / "numbers.json").write_text(json.dumps(numbers))


def _store(path: Path, made: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from bs.store import open_store
    from bs.store.tables import deployments, link_redemptions

    engine = open_store(f"sqlite:///{path}")
    deployed, redeemed = [], []
    for r in made:
        merged = r["opened"] + timedelta(minutes=50)
        done = merged + timedelta(minutes=5)
        record = {
            "pull_request": r["number"], "app": r["app"], "request": r["id"],
            "requester": r["requester"],
            "approvers": [{"user": r["approver"], "approved_at": _iso(r["opened"] + timedelta(
                minutes=20))}],
            "merged_by": r["approver"], "merged_at": _iso(merged),
            "from": {"tag": r["from_tag"], "commit": r["from"]},
            "to": {"tag": r["to_tag"], "commit": r["to"]}, "head": r["head"],
            "merge_commit": r["merge"], "patch_sha256": r["sha256"],
            "patch_file": f"{r['path']}.patch", "policy": "standard", "kind": "release",
            "emergency": False, "rollback": False,
            "slot": {"start": _iso(merged), "end": _iso(merged + timedelta(hours=2)),
                     "timezone": "Europe/London"},
        }  # fmt: skip
        key = f"{r['app']}/{r['id']}"
        deployed.append({
            "request_key": key, "app": r["app"], "pull_request": r["number"],
            "requester": r["requester"], "record": json.dumps(record, sort_keys=True),
            "slot_start": merged, "slot_end": merged + timedelta(hours=2), "state": "succeeded",
            "attempts": 1, "summary": "deployed", "deployed_by": r["requester"],
            "created_at": merged + timedelta(minutes=1), "started_at": merged + timedelta(
                minutes=2), "finished_at": done, "heartbeat_at": done,
        })  # fmt: skip
        redeemed.append({"request_key": key, "link_digest": "0" * 64, "pull_request": r["number"],
                         "requester": r["requester"], "redeemed_by": r["requester"],
                         "redeemed_at": merged + timedelta(minutes=1)})  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(deployments), deployed)
        connection.execute(insert(link_redemptions), redeemed)
    engine.dispose()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--dir", type=Path, default=Path(__file__).resolve().parent.parent / ".bench"
    )
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    bs = str(Path(sys.executable).parent / "bs")
    results = bench_audit(args.dir, bs, requests=args.requests, runs=args.runs,
                          rebuild=args.rebuild)  # fmt: skip
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
