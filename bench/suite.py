"""The benchmark suite: `make bench`, or ``.venv/bin/python -m bench [--help]``.

1. open-request: ``bs open-request frontend release_2 --dry-run --json`` against
   the baseline ``git diff --binary --full-index release_1 release_2 | sha256sum``,
   interleaved, on a generated repository whose patch is over 200 MB. The
   digest bs reports must equal the baseline's.
2. memory: the peak RSS of the bs Python process itself (its git children are
   separate processes, reported beside it).
3. start-up: ``bs --help`` against ``python -c pass``, interleaved.
4. check: ``bs check PR --json --no-status`` on the same request in a requests
   repo with 10 past requests and in one with 10,000, interleaved (see
   bench/check_bench.py, bench/check_world.py).
5. evaluate: ``evaluate_policy`` + ``judge`` of a 50-rule policy on 100
   reviews, in-process (see bench/evaluate_bench.py).
6. links: verifying a deploy link against a bare HMAC, minting one, and a
   deploy slot under windows and a freeze, in-process (bench/links_bench.py).
7. gateway: deploy-link redemptions through the gateway under gunicorn, on
   SQLite and on PostgreSQL: 200 clients racing, steady refusals, and the
   full redemption (bench/gateway_bench.py, bench/gateway_world.py).
8. github: the GitHub forge in-process on the fake GitHub (tests/fakegithub.py),
   an app with 3,000 commits and tags: API calls per open-request and per check
   against the issue's goals, listing the tags from the fetched copy against
   PyGithub's get_tags() pages, and bs check's first run (clone) against later
   ones (fetch) (bench/github_bench.py).
9. audit: ``bs audit`` over 10,000 merged requests and 10,000 deployments, in-process and
   through the CLI, against reading the same history and store alone (bench/bench_audit.py).

Goals that are missed are reported (MISSED), not failed: the exit status is
non-zero only when something goes wrong. ``--only NAME`` (repeatable) runs
some of them; results.json then holds only those.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench import (
    bench_audit,
    check_bench,
    evaluate_bench,
    gateway_bench,
    github_bench,
    links_bench,
)
from bench.measure import ChildRun, median, run_child
from bench.report import Goal, Row, spread
from bench.world import APP, FROM_TAG, TO_TAG, BenchError, World, prepare

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / ".bench"
LAUNCHER = Path(__file__).resolve().parent / "bs_maxrss.py"

RATIO_GOAL = 1.3
RSS_GOAL_BYTES = 150_000_000
HELP_GOAL_SECONDS = 0.150

BASELINE_SHELL = f"set -o pipefail; git diff --binary --full-index {FROM_TAG} {TO_TAG} | sha256sum"
#: Every benchmark, in the order run; the first three use the open-request repository.
BENCHMARKS = (
    "open-request",
    "memory",
    "startup",
    "check",
    "evaluate",
    "links",
    "gateway",
    "github",
    "audit",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="measured open-request runs (5)")
    parser.add_argument(
        "--memory-runs", type=int, default=3, help="open-request runs for peak RSS (3)"
    )
    parser.add_argument("--startup-runs", type=int, default=20, help="measured start-ups (20)")
    parser.add_argument("--files", type=int, default=5000, help="files in the diff (5000)")
    parser.add_argument("--file-size", type=int, default=24_000, help="bytes per file (24000)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="cache and results folder")
    parser.add_argument(
        "--check-runs", type=int, default=15, help="measured bs check runs per world (15)"
    )
    parser.add_argument(
        "--evaluate-runs", type=int, default=300, help="policy evaluations timed, at most (300)"
    )
    parser.add_argument("--rebuild", action="store_true", help="regenerate the repositories")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    for name in (
        "runs",
        "memory_runs",
        "startup_runs",
        "files",
        "file_size",
        "check_runs",
        "evaluate_runs",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"bench: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0


def run(args: argparse.Namespace) -> None:
    bin_dir = Path(sys.executable).parent
    bs = bin_dir / "bs"
    if not bs.is_file():
        raise BenchError(f"{bs} not found: install bs in this environment (make bench does)")
    started = datetime.now(UTC)
    selected = [name for name in BENCHMARKS if not args.only or name in args.only]
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "benchmarks": selected,
    }
    goals: list[Goal] = []
    if {"open-request", "memory", "startup"} & set(selected):
        run_open_request_world(args, str(bs), selected, results, goals)
    if "check" in selected:
        results["check"] = check_bench.bench_check(
            args.dir.resolve(), str(bs), args.check_runs, rebuild=args.rebuild
        )
        goals += check_bench.goals(results["check"])
    if "evaluate" in selected:
        results["evaluate"] = evaluate_bench.bench_evaluate(args.evaluate_runs)
        goals += evaluate_bench.goals(results["evaluate"])
    if "links" in selected:
        results["links"] = links_bench.bench_links()
        goals += links_bench.goals(results["links"])
    if "gateway" in selected:
        results["gateway"] = gateway_bench.bench_gateway(args.dir.resolve(), str(bs))
        goals += gateway_bench.goals(results["gateway"])
    if "github" in selected:
        results["github"] = github_bench.bench_github(args.dir.resolve())
        goals += github_bench.goals(results["github"])
    if "audit" in selected:
        results["audit"] = bench_audit.bench_audit(
            args.dir.resolve(), str(bs), rebuild=args.rebuild
        )
        goals += bench_audit.goals(results["audit"])
    results["goals"] = [goal.to_json() for goal in goals]
    args.dir.mkdir(parents=True, exist_ok=True)
    out = args.dir.resolve() / "results.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out)
    print_table(results, goals, out)


def run_open_request_world(
    args: argparse.Namespace,
    bs: str,
    selected: list[str],
    results: dict[str, Any],
    goals: list[Goal],
) -> None:
    """Benchmarks 1-3, on the generated repository whose patch is over 200 MB."""
    print(f"bench: preparing the repositories under {args.dir}", file=sys.stderr, flush=True)
    world = prepare(args.dir, files=args.files, file_size=args.file_size, rebuild=args.rebuild)
    print(
        f"bench: {'reused' if world.reused else 'built'} {world.app_git_dir.relative_to(world.root)}"
        f": {world.files_changed} files changed, patch {world.patch_bytes / 1e6:.1f} MB",
        file=sys.stderr,
        flush=True,
    )
    results["repository"] = {
        "path": str(world.app_git_dir),
        "from": FROM_TAG,
        "to": TO_TAG,
        "files_changed": world.files_changed,
        "patch_bytes": world.patch_bytes,
        "reused": world.reused,
    }
    digest = None
    if "open-request" in selected:
        request = bench_open_request(world, bs, args.runs)
        results["open_request"] = request
        digest = request["sha256"]
        goals.append(
            Goal("open-request time ratio b/a", request["ratio"], RATIO_GOAL, "x", inclusive=True)
        )
    if "memory" in selected:
        memory = bench_memory(world, args.memory_runs, digest or _baseline_digest(world))
        results["memory"] = memory
        goals.append(
            Goal(
                "bs peak RSS (Python process)",
                memory["bs_python_peak_bytes"],
                RSS_GOAL_BYTES,
                "bytes",
                inclusive=False,
            )
        )
    if "startup" in selected:
        startup = bench_startup(world, bs, args.startup_runs)
        results["startup"] = startup
        goals.append(
            Goal(
                "bs --help median",
                startup["bs_help_median_s"],
                HELP_GOAL_SECONDS,
                "s",
                inclusive=False,
            )
        )


def _baseline_digest(world: World) -> str:
    """The patch's sha256 by the baseline, when the open-request benchmark is not run."""
    base = run_child(["bash", "-c", BASELINE_SHELL], cwd=world.app_git_dir, env=world.env)
    digest = base.stdout.split()[0].decode() if base.stdout.split() else ""
    if base.returncode != 0 or len(digest) != 64:
        raise BenchError(f"the baseline failed: {base.describe_failure()}")
    return digest


# -- 1. open-request against git diff | sha256sum -----------------------------


def bench_open_request(world: World, bs: str, runs: int) -> dict[str, Any]:
    print(
        f"bench: open-request, {runs} runs + 1 warm-up, interleaved with the baseline",
        file=sys.stderr,
        flush=True,
    )
    bs_argv = [bs, "open-request", APP, TO_TAG, "--dry-run", "--json"]
    baseline_s: list[float] = []
    bs_s: list[float] = []
    digest = ""
    stored: dict[str, Any] = {}
    for i in range(runs + 1):
        base = run_child(["bash", "-c", BASELINE_SHELL], cwd=world.app_git_dir, env=world.env)
        if base.returncode != 0:
            raise BenchError(f"the baseline failed: {base.describe_failure()}")
        base_digest = base.stdout.split()[0].decode() if base.stdout.split() else ""
        if len(base_digest) != 64:
            raise BenchError(f"the baseline printed no sha256: {base.stdout!r}")
        if digest and base_digest != digest:
            raise BenchError(f"the baseline's digest changed between runs: {digest} {base_digest}")
        digest = base_digest

        result = run_child(bs_argv, cwd=world.checkout, env=world.env)
        reported, stored = _open_request_output(result)
        if reported != digest:
            raise BenchError(
                "DIGEST MISMATCH: bs open-request reported sha256 "
                f"{reported}, but git diff --binary --full-index {FROM_TAG} {TO_TAG} | sha256sum "
                f"gives {digest}"
            )
        label = "warm-up" if i == 0 else f"{i}/{runs}"
        print(
            f"  run {label:>7}: (a) git diff | sha256sum {base.seconds:6.3f} s   "
            f"(b) bs open-request {result.seconds:6.3f} s   sha256 ok",
            file=sys.stderr,
            flush=True,
        )
        if i == 0:
            continue
        baseline_s.append(base.seconds)
        bs_s.append(result.seconds)
    a = median(baseline_s)
    b = median(bs_s)
    return {
        "runs": runs,
        "warmup_runs_discarded": 1,
        "baseline_command": BASELINE_SHELL,
        "bs_command": " ".join(["bs", *bs_argv[1:]]),
        "baseline_seconds": baseline_s,
        "bs_seconds": bs_s,
        "baseline_median_s": a,
        "bs_median_s": b,
        "ratio": b / a,
        "sha256": digest,
        "sha256_matches": True,
        **stored,
    }


def _open_request_output(result: ChildRun) -> tuple[str, dict[str, Any]]:
    """The digest bs reported, and what it stored; deletes the dry run's folder."""
    if result.returncode != 0:
        raise BenchError(f"bs open-request failed: {result.describe_failure()}")
    try:
        data = json.loads(result.stdout)
        reported = str(data["patch_sha256"])
        dry_dir = Path(data["dry_run_dir"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(
            f"unexpected output from bs open-request ({exc}): {result.stdout!r}"
        ) from exc
    stored: dict[str, Any] = {}
    try:
        stored["bs_patch_file"] = data.get("patch_file")
        for path in dry_dir.iterdir():
            if path.suffix == ".yaml":
                document = yaml.safe_load(path.read_text())
                stored["bs_files_changed"] = document["patch"]["files_changed"]
            else:
                stored["bs_stored_patch_bytes"] = path.stat().st_size
    finally:
        _remove_dry_run_dir(dry_dir)
    return reported, stored


def _remove_dry_run_dir(path: Path) -> None:
    # Only ever what bs made: a bs-request-* folder straight under the temp dir.
    if path.parent.resolve() != Path(tempfile.gettempdir()).resolve() or not (
        path.name.startswith("bs-request-")
    ):
        raise BenchError(f"refusing to delete {path}: not a bs dry-run folder")
    shutil.rmtree(path)


# -- 2. peak memory ------------------------------------------------------------


def bench_memory(world: World, runs: int, digest: str) -> dict[str, Any]:
    print(
        f"bench: peak RSS of bs open-request and of the baseline, {runs} run(s) each",
        file=sys.stderr,
        flush=True,
    )
    report = world.root / "maxrss.json"
    env = {**world.env, "BENCH_MAXRSS_FILE": str(report)}
    argv = [sys.executable, str(LAUNCHER), "open-request", APP, TO_TAG, "--dry-run", "--json"]
    own: list[int] = []
    bs_tree: list[int] = []
    baseline_tree: list[int] = []
    for i in range(runs):
        base = run_child(
            ["bash", "-c", BASELINE_SHELL], cwd=world.app_git_dir, env=world.env, isolate=True
        )
        if base.returncode != 0:
            raise BenchError(f"the baseline failed: {base.describe_failure()}")
        baseline_tree.append(base.tree_maxrss_kib * 1024)
        report.unlink(missing_ok=True)
        result = run_child(argv, cwd=world.checkout, env=env, isolate=True)
        reported, _stored = _open_request_output(result)
        if reported != digest:
            raise BenchError(f"DIGEST MISMATCH in the memory run: {reported} != {digest}")
        try:
            own.append(int(json.loads(report.read_text())["self_kib"]) * 1024)
        except (OSError, ValueError, KeyError) as exc:
            raise BenchError(f"{LAUNCHER.name} wrote no usable report ({exc})") from None
        finally:
            report.unlink(missing_ok=True)
        bs_tree.append(result.tree_maxrss_kib * 1024)
        print(
            f"  run {i + 1}/{runs}: bs Python process {own[-1] / 1e6:6.1f} MB   "
            f"(largest process: bs run {bs_tree[-1] / 1e6:6.1f} MB, "
            f"baseline {baseline_tree[-1] / 1e6:6.1f} MB)",
            file=sys.stderr,
            flush=True,
        )
    # Linux hands a process's peak RSS on to what it spawns (folded in at exec):
    # no wait4 figure of a child of this process can be below this process's peak.
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "runs": runs,
        "how": "bs's CLI run by bench/bs_maxrss.py, which records getrusage(RUSAGE_SELF) "
        "at exit: the peak of the bs Python process alone, from a small forked shell "
        "so that nothing of this benchmark's memory is in it. The git processes bs "
        "starts are separate processes, not in that figure. The wait4 figures are the "
        "largest peak of any one process in the run (Linux reports the maximum over a "
        "child and its waited-for descendants); they cannot be below wait4_floor_bytes, "
        "this benchmark's own peak, which the kernel counts toward what it spawns.",
        "bs_python_peak_bytes": max(own),
        "bs_python_peak_bytes_per_run": own,
        "bs_run_largest_process_bytes_wait4": max(bs_tree),
        "baseline_largest_process_bytes_wait4": max(baseline_tree),
        "wait4_floor_bytes": floor,
    }


# -- 3. start-up ----------------------------------------------------------------


def bench_startup(world: World, bs: str, runs: int) -> dict[str, Any]:
    print(
        f"bench: start-up, {runs} runs + 1 warm-up each, interleaved",
        file=sys.stderr,
        flush=True,
    )
    python_s: list[float] = []
    help_s: list[float] = []
    for i in range(runs + 1):
        bare = run_child([sys.executable, "-c", "pass"], cwd=world.checkout, env=world.env)
        if bare.returncode != 0:
            raise BenchError(f"python -c pass failed: {bare.describe_failure()}")
        shown = run_child([bs, "--help"], cwd=world.checkout, env=world.env)
        if shown.returncode != 0 or b"open-request" not in shown.stdout:
            raise BenchError(f"bs --help failed: {shown.describe_failure()}")
        if i:
            python_s.append(bare.seconds)
            help_s.append(shown.seconds)
    python_median = median(python_s)
    help_median = median(help_s)
    return {
        "runs": runs,
        "warmup_runs_discarded": 1,
        "python_pass_seconds": python_s,
        "bs_help_seconds": help_s,
        "python_pass_median_s": python_median,
        "bs_help_median_s": help_median,
        "difference_s": help_median - python_median,
    }


# -- report ---------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    git_version = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": _cpu_count(),
        "python": platform.python_version(),
        "git": git_version.removeprefix("git version "),
        "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _cpu_count() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def print_table(results: dict[str, Any], goals: list[Goal], out: Path) -> None:
    machine = results["machine"]
    repo = results.get("repository")
    status = {goal.name: goal.mark for goal in goals}

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    def mb(size: float) -> str:
        return f"{size / 1e6:.1f} MB"

    rows: list[Row] = []
    if "open_request" in results:
        req = results["open_request"]
        assert repo is not None
        rows += [
            f"open-request: median of {req['runs']} runs (warm-up discarded), interleaved",
            (
                "(a) git diff --binary --full-index | sha256sum",
                f"{req['baseline_median_s']:.3f} s",
                spread(req["baseline_seconds"]),
                "",
            ),
            (
                "(b) bs open-request --dry-run --json",
                f"{req['bs_median_s']:.3f} s",
                spread(req["bs_seconds"]),
                "",
            ),
            (
                "    ratio b/a",
                f"{req['ratio']:.3f}",
                f"<= {RATIO_GOAL:.2f}",
                status["open-request time ratio b/a"],
            ),
            ("    sha256 (a) == (b)", req["sha256"][:12], "equal", "OK"),
            (
                "    patch (git diff)",
                mb(repo["patch_bytes"]),
                f"{repo['files_changed']} files",
                "",
            ),
        ]
        if "bs_stored_patch_bytes" in req:
            rows.append(("    stored by bs", mb(req["bs_stored_patch_bytes"]), "", ""))
    if "memory" in results:
        mem = results["memory"]

        def floored(size: int) -> str:
            # At the floor, the figure says only that the process used no more.
            floor = mem["wait4_floor_bytes"]
            return f"<= {mb(floor)}" if size <= floor else mb(size)

        rows += [
            f"memory: peak RSS, largest of {mem['runs']} runs; bs alone, its git children are separate",
            (
                "bs Python process alone",
                mb(mem["bs_python_peak_bytes"]),
                f"< {RSS_GOAL_BYTES / 1e6:.0f} MB",
                status["bs peak RSS (Python process)"],
            ),
            (
                "largest process of the bs run (wait4)",
                floored(mem["bs_run_largest_process_bytes_wait4"]),
                "bs or a git",
                "",
            ),
            (
                "largest process of the baseline (wait4)",
                floored(mem["baseline_largest_process_bytes_wait4"]),
                "git diff",
                "",
            ),
        ]
    if "startup" in results:
        start = results["startup"]
        rows += [
            f"start-up: median of {start['runs']} runs (warm-up discarded), interleaved",
            (
                "python -c pass",
                ms(start["python_pass_median_s"]),
                spread(start["python_pass_seconds"], 1000, "ms"),
                "",
            ),
            (
                "bs --help",
                ms(start["bs_help_median_s"]),
                f"< {HELP_GOAL_SECONDS * 1000:.0f} ms",
                status["bs --help median"],
            ),
            ("    difference", ms(start["difference_s"]), "", ""),
        ]
    by_name = {goal.name: goal for goal in goals}
    if "check" in results:
        rows += check_bench.rows(results["check"], by_name[check_bench.GOAL_NAME])
    if "evaluate" in results:
        rows += evaluate_bench.rows(results["evaluate"], by_name[evaluate_bench.GOAL_NAME])
    if "links" in results:
        rows += links_bench.rows(results["links"], by_name)
    if "gateway" in results:
        rows += gateway_bench.rows(results["gateway"], by_name)
    if "github" in results:
        rows += github_bench.rows(results["github"], by_name)
    if "audit" in results:
        rows += bench_audit.rows(results["audit"], by_name)
    print()
    print(
        f"battlestations benchmarks: {machine['platform']}, {machine['cpus']} CPUs, "
        f"Python {machine['python']}, git {machine['git']}"
    )
    if repo is not None:
        print(
            f"repository: {repo['files_changed']} files changed {repo['from']}..{repo['to']}, "
            f"patch {mb(repo['patch_bytes'])}"
        )
    header = ("", "median/peak", "goal/note", "")
    width = 48
    print()
    print(f"  {header[0]:<{width}} {header[1]:>12}  {header[2]:<24} {header[3]}".rstrip())
    for row in rows:
        if isinstance(row, str):
            print(row)
            continue
        label, value, goal, mark = row
        print(f"  {label:<{width}} {value:>12}  {goal:<24} {mark}".rstrip())
    print()
    missed = [goal.name for goal in goals if not goal.ok]
    print(
        f"goals: {len(goals) - len(missed)}/{len(goals)} met"
        + (f"; MISSED: {', '.join(missed)}" if missed else "")
    )
    print(f"results: {out}")
