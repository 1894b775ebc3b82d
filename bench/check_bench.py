"""The check benchmark: ``bs check PR --json --no-status`` as history grows.

The same request (bench/check_world.py) is checked in a requests repo with
SMALL_PAST past requests and in one with LARGE_PAST; the runs are interleaved
(the order alternating), the first of each discarded. Goal: the large world's
median at most RATIO_GOAL times the small one's: no measurable growth.

To see where the time goes, in-process and without bs's start-up:

    .venv/bin/python -m bench.check_bench [--past 10000] [--top 40]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.check_world import CheckWorld, prepare_check_world
from bench.measure import ChildRun, median, run_child
from bench.report import Goal, Row, spread
from bench.world import BenchError

SMALL_PAST = 10
LARGE_PAST = 10_000
RATIO_GOAL = 1.10
GOAL_NAME = f"check time ratio {LARGE_PAST:,}/{SMALL_PAST} past requests"


def bench_check(base: Path, bs: str, runs: int, *, rebuild: bool = False) -> dict[str, Any]:
    print(f"bench: preparing the check worlds under {base / 'check'}", file=sys.stderr, flush=True)
    worlds = [
        prepare_check_world(base, past, bs, rebuild=rebuild) for past in (SMALL_PAST, LARGE_PAST)
    ]
    for world in worlds:
        built = "reused" if world.reused else f"built in {world.build_seconds:.1f} s"
        print(
            f"bench: {built} the world with {world.past:,} past requests: check #{world.pull}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"bench: bs check, {runs} runs + 1 warm-up in each world, interleaved",
        file=sys.stderr,
        flush=True,
    )
    seconds: dict[int, list[float]] = {world.past: [] for world in worlds}
    cpu: dict[int, list[float]] = {world.past: [] for world in worlds}
    slower = 0  # runs in which the large world's check took longer than the small one's
    for i in range(runs + 1):
        order = worlds if i % 2 == 0 else worlds[::-1]
        took: dict[int, ChildRun] = {}
        for world in order:
            result = run_child(_argv(bs, world), cwd=world.checkout, env=world.env)
            _check_output(world, result)
            took[world.past] = result
        label = "warm-up" if i == 0 else f"{i}/{runs}"
        print(
            f"  run {label:>7}: "
            + "   ".join(
                f"{past:>6,} past {took[past].seconds:6.3f} s (CPU {took[past].cpu_seconds:5.3f} s)"
                for past in sorted(took)
            )
            + "   met",
            file=sys.stderr,
            flush=True,
        )
        if i:
            for past, result in took.items():
                seconds[past].append(result.seconds)
                cpu[past].append(result.cpu_seconds)
            slower += took[LARGE_PAST].seconds > took[SMALL_PAST].seconds
    small, large = median(seconds[SMALL_PAST]), median(seconds[LARGE_PAST])
    small_cpu, large_cpu = median(cpu[SMALL_PAST]), median(cpu[LARGE_PAST])
    return {
        "runs": runs,
        "warmup_runs_discarded": 1,
        "command": "bs check PR --json --no-status",
        "worlds": {
            str(world.past): {
                "past_requests": world.past,
                "path": str(world.root),
                "pull_request": world.pull,
                "head_sha": world.head_sha,
                "reused": world.reused,
                "build_seconds": world.build_seconds,
                "seconds": seconds[world.past],
                "median_s": median(seconds[world.past]),
                "cpu_seconds": cpu[world.past],
                "cpu_median_s": median(cpu[world.past]),
            }
            for world in worlds
        },
        "small_past": SMALL_PAST,
        "large_past": LARGE_PAST,
        "small_median_s": small,
        "large_median_s": large,
        "ratio": large / small,
        "large_slower_in_runs": slower,
        "cpu_how": "user + system CPU of bs and its git children (wait4), for information: "
        "less disturbed by other load on the machine than wall time",
        "small_cpu_median_s": small_cpu,
        "large_cpu_median_s": large_cpu,
        "cpu_ratio": large_cpu / small_cpu,
    }


def _argv(bs: str, world: CheckWorld) -> list[str]:
    return [bs, "check", str(world.pull), "--json", "--no-status"]


def _check_output(world: CheckWorld, result: ChildRun) -> None:
    """The checked request must be met, every check passed, on the expected head."""
    try:
        data = json.loads(result.stdout)
        outcome = data["outcome"]
        failed = [c["name"] for c in data["checks"] if c["ok"] is not True]
        head = data["head_sha"]
    except (ValueError, KeyError, TypeError):
        raise BenchError(f"unexpected output from bs check: {result.describe_failure()}") from None
    if result.returncode != 0 or outcome != "met" or failed or head != world.head_sha:
        raise BenchError(
            f"bs check #{world.pull} in the world with {world.past} past requests: "
            f"outcome {outcome}, failed checks {failed or 'none'}, head {head[:12]} "
            f"(expected met on {world.head_sha[:12]}): {result.describe_failure()}"
        )


def goals(section: dict[str, Any]) -> list[Goal]:
    return [Goal(GOAL_NAME, section["ratio"], RATIO_GOAL, "x", inclusive=True)]


def rows(section: dict[str, Any], goal: Goal) -> list[Row]:
    small = section["worlds"][str(SMALL_PAST)]
    large = section["worlds"][str(LARGE_PAST)]
    return [
        f"check: bs check --json --no-status, median of {section['runs']} runs "
        "(warm-up discarded), interleaved",
        (f"(a) {SMALL_PAST:,} past requests", f"{small['median_s']:.3f} s",
         spread(small["seconds"]), ""),
        (f"(b) {LARGE_PAST:,} past requests", f"{large['median_s']:.3f} s",
         spread(large["seconds"]), ""),
        ("    ratio b/a", f"{section['ratio']:.3f}", f"<= {RATIO_GOAL:.2f}", goal.mark),
        ("    runs in which (b) took longer than (a)",
         f"{section['large_slower_in_runs']}/{section['runs']}", "for information", ""),
        ("    CPU, bs + git: (a)", f"{small['cpu_median_s']:.3f} s", spread(small["cpu_seconds"]), ""),
        ("    CPU, bs + git: (b)", f"{large['cpu_median_s']:.3f} s", spread(large["cpu_seconds"]), ""),
        ("    CPU ratio b/a", f"{section['cpu_ratio']:.3f}", "for information", ""),
    ]  # fmt: skip


# -- profiling, in-process --------------------------------------------------------


def profile_check(world: CheckWorld, top: int = 25, repeats: int = 9) -> str:
    """Time `check_pull_request` in-process (bs's CPU, its git children's CPU), then profile it."""
    os.environ.update(world.env)
    from bs.forges import open_forge
    from bs.usecases.check import check_pull_request
    from bs.workspace import Workspace

    workspace = Workspace.discover(world.checkout)
    repo = workspace.config.requests_repo

    def once() -> None:
        forge = open_forge(workspace, dict(os.environ))
        check_pull_request(forge, repo, world.pull, post_status=False)

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    once()
    wall: list[float] = []
    own: list[float] = []
    git: list[float] = []
    for _ in range(repeats):
        start, cpu, kids = time.perf_counter(), time.process_time(), children_cpu()
        once()
        wall.append(time.perf_counter() - start)
        own.append(time.process_time() - cpu)
        git.append(children_cpu() - kids)
    profiler = cProfile.Profile()
    profiler.enable()
    once()
    profiler.disable()
    out = io.StringIO()
    out.write(
        f"{world.past:,} past requests, check #{world.pull}, median of {repeats}: "
        f"wall {statistics.median(wall) * 1000:.1f} ms, bs CPU "
        f"{statistics.median(own) * 1000:.1f} ms, git children CPU "
        f"{statistics.median(git) * 1000:.1f} ms\n"
    )
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--past", type=int, action="append", help="world(s) to profile (both)")
    parser.add_argument(
        "--dir", type=Path, default=Path(__file__).resolve().parent.parent / ".bench"
    )
    parser.add_argument("--top", type=int, default=25, help="functions shown (25)")
    args = parser.parse_args(argv)
    bs = str(Path(sys.executable).parent / "bs")
    try:
        for past in args.past or (SMALL_PAST, LARGE_PAST):
            world = prepare_check_world(args.dir, past, bs)
            print(profile_check(world, args.top))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
