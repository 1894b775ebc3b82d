"""The gateway benchmark: deploy-link redemptions through the real gateway under gunicorn.

The world is demo/demo.sh's (bench/gateway_world.py): one merged, approved
request and its link, plus links minted here for the same request. The
gateway runs as production would (``gunicorn -c python:bs.gateway.gunicorn_conf``),
once on a fresh SQLite file and once on a throwaway PostgreSQL cluster
(tests/pgserver.py). CLIENTS client threads, each with its own session,
sign in as alice and open their link's page first (neither timed); then:

A. race: all POST a distinct link of the request at once (a barrier). Exactly
   one redeems it (303), every other is refused (403). Latency of each POST.
B. steady: closed loop for STEADY_SECONDS, each POSTing its (spent) link again:
   the refusal path every extra click, scanner or attacker takes.
C. full redemption: one client, sequentially, FULL_RUNS times (plus a warm-up):
   the winning path with the gateway's re-verification from the forge; the
   store is reset with SQL between runs, each run a new link and a new session.

The timed POSTs of A and B start on a fresh connection (cookies kept): gunicorn's
keep-alive (2 s) closes an idle one, as it would a page's before anyone clicks,
and a POST sent on one as it closes fails. Within B, connections are reused.
Clients and server share the machine's CPUs: the figures include both, and
whatever else the machine runs (the load average is reported).
Goal: the p99 of the race on PostgreSQL under RACE_GOAL_MS.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.gateway_world import (
    TIMEOUT,
    Client,
    GatewayWorld,
    Outcome,
    Server,
    build,
    log_leaks,
    reset_store,
    serve,
)
from bench.report import Goal, Row
from bench.world import BenchError

CLIENTS = 200
STEADY_SECONDS = 5.0
FULL_RUNS = 30
#: Threads signing the clients in and opening their pages (not timed).
SETUP_THREADS = 16
RACE_GOAL_MS = 50.0
GOAL_NAME = "p99 of race redemptions on PostgreSQL"
STORES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class Meter:
    """Wall time, and the CPU time of the clients (this process) and of gunicorn."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cpus = _cpus()

    def read(self) -> tuple[float, float, float]:
        return time.perf_counter(), time.process_time(), self.server.cpu_seconds()

    def usage(self, before: tuple[float, float, float]) -> dict[str, float]:
        wall, clients, gateway = (b - a for a, b in zip(before, self.read(), strict=True))
        return {
            "wall_s": wall,
            "clients_cpu_s": clients,
            "gunicorn_cpu_s": gateway,
            # Shares of all the machine's CPUs over the phase (1.0: every CPU busy).
            "clients_share": clients / (wall * self.cpus),
            "gunicorn_share": gateway / (wall * self.cpus),
        }


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 0.99), "max_ms": max(ms)}


def _in_threads(count: int, body: Callable[[int, threading.Barrier], None]) -> None:
    barrier = threading.Barrier(count)
    threads = [threading.Thread(target=body, args=(i, barrier), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    if any(thread.is_alive() for thread in threads):
        raise BenchError("client threads did not finish")


def race(clients: list[Client], meter: Meter) -> dict[str, Any]:
    outcomes: list[Outcome | None] = [None] * len(clients)

    def body(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        outcomes[i] = clients[i].redeem()

    before = meter.read()
    _in_threads(len(clients), body)
    cpu = meter.usage(before)
    done = [o for o in outcomes if o is not None]
    kinds = Counter(o.kind for o in done)
    if len(done) != len(clients) or kinds != Counter(redeemed=1, refused=len(clients) - 1):
        details = sorted({o.detail for o in done if o.detail})
        raise BenchError(
            f"race: expected exactly 1 redeemed (303) and {len(clients) - 1} refused (403), "
            f"got {dict(kinds)}" + "".join(f"\n  {d}" for d in details[:5])
        )
    winner = next(i for i, o in enumerate(outcomes) if o is not None and o.kind == "redeemed")
    # The winner's session was replaced (bound to the deployment): read its new CSRF token.
    clients[winner].open_link(expect=403)
    for client in clients:
        client.hang_up()
    seconds = [o.seconds for o in done]
    return {
        "outcomes": dict(kinds),
        "cpu": cpu,
        **_stats_ms(seconds),
        "latencies_ms": sorted(round(s * 1000, 2) for s in seconds),
    }


def steady(clients: list[Client], seconds: float, meter: Meter) -> dict[str, Any]:
    timings: list[list[float]] = [[] for _ in clients]
    kinds: Counter[str] = Counter()
    lock = threading.Lock()
    marks: dict[str, float] = {}
    details: set[str] = set()

    def body(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        began = time.perf_counter()
        deadline = began + seconds
        seen: Counter[str] = Counter()
        while time.perf_counter() < deadline:
            outcome = clients[i].redeem()
            timings[i].append(outcome.seconds)
            seen[outcome.kind] += 1
            if outcome.detail:
                details.add(outcome.detail)
        with lock:
            kinds.update(seen)
            marks["start"] = min(marks.get("start", began), began)
            marks["end"] = max(marks.get("end", 0.0), time.perf_counter())

    before = meter.read()
    _in_threads(len(clients), body)
    cpu = meter.usage(before)
    every = [s for per_client in timings for s in per_client]
    elapsed = marks["end"] - marks["start"]
    if set(kinds) != {"refused"}:
        raise BenchError(
            f"steady: every POST of a spent link must be refused, got {dict(kinds)}"
            + "".join(f"\n  {d}" for d in sorted(details)[:5])
        )
    return {
        "requests": len(every),
        "seconds": elapsed,
        "per_second": len(every) / elapsed,
        "cpu": cpu,
        **_stats_ms(every),
    }


def full_redemptions(base: str, store: str, tokens: list[str]) -> dict[str, Any]:
    engine = create_engine(store)
    timings: list[float] = []
    try:
        for i, token in enumerate(tokens):
            reset_store(engine)
            client = Client(base, token)
            client.sign_in()
            client.open_link()
            outcome = client.redeem()
            if outcome.kind != "redeemed":
                raise BenchError(f"full redemption {i}: {outcome.kind}, not redeemed (303)")
            if i:  # the first is a warm-up
                timings.append(outcome.seconds)
    finally:
        engine.dispose()
    return {
        "runs": len(timings),
        "warmup_runs_discarded": 1,
        **_stats_ms(timings),
        "latencies_ms": [round(s * 1000, 2) for s in timings],
    }


def _attempts(store: str) -> dict[str, int]:
    """The gateway's own audit of every POST, by outcome."""
    engine = create_engine(store)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT outcome, COUNT(*) FROM link_attempts GROUP BY outcome")
            ).all()
    finally:
        engine.dispose()
    return {str(outcome): int(count) for outcome, count in rows}


def bench_store(world: GatewayWorld, name: str, store: str) -> dict[str, Any]:
    tokens = world.mint(CLIENTS + FULL_RUNS + 1)
    log = world.root / f"gunicorn-{name}.log"
    started = time.perf_counter()
    with serve(world, store, log) as server:
        base, meter = server.base, Meter(server)
        clients = [Client(base, token) for token in tokens[:CLIENTS]]

        def prepare(client: Client) -> None:
            client.sign_in()
            client.open_link()
            client.hang_up()

        say(f"  {STORES[name]}: {CLIENTS} clients sign in and open their link (not timed)")
        setup_start = time.perf_counter()
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            list(pool.map(prepare, clients))
        setup_s = time.perf_counter() - setup_start
        say(f"  {STORES[name]}: A. race, {CLIENTS} POSTs at once")
        raced = race(clients, meter)
        audit = _attempts(store)
        say(f"  {STORES[name]}: B. steady, {CLIENTS} clients for {STEADY_SECONDS:g} s")
        steadied = steady(clients, STEADY_SECONDS, meter)
        say(f"  {STORES[name]}: C. full redemption, {FULL_RUNS} runs + 1 warm-up")
        full = full_redemptions(base, store, tokens[CLIENTS:])
        for client in clients:
            client.hang_up()
    if log_leaks(log, [*tokens, world.token]):
        raise BenchError(f"the gateway's log {log} holds a link token")
    return {
        "measured": True,
        "setup_seconds": setup_s,
        "race": raced | {"audit": audit},
        "steady": steadied,
        "full": full,
        "seconds": time.perf_counter() - started,
    }


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_gateway(root: Path, bs: str) -> dict[str, Any]:
    from bs.gateway import gunicorn_conf

    cpus = _cpus()
    say(f"bench: gateway, building the world under {root / 'gateway'}")
    world = build(root / "gateway", bs)
    result: dict[str, Any] = {
        "cpus": cpus,
        "gunicorn": {
            "worker_class": gunicorn_conf.worker_class,
            "workers": gunicorn_conf.workers,
            "threads": gunicorn_conf.threads,
        },
        "clients": CLIENTS,
        "load_average_before": os.getloadavg()[0],
        "steady_seconds": STEADY_SECONDS,
        "world_seconds": world.build_seconds,
        "stores": {},
    }
    sqlite_file = world.root / "store.sqlite"
    result["stores"]["sqlite"] = bench_store(world, "sqlite", f"sqlite:///{sqlite_file}")
    result["stores"]["postgresql"] = _bench_postgres(world)
    result["load_average_after"] = os.getloadavg()[0]
    return result


def _bench_postgres(world: GatewayWorld) -> dict[str, Any]:
    try:
        from tests.pgserver import PostgresError, running_postgres
    except ImportError as exc:
        return {"measured": False, "why": f"tests/pgserver.py cannot be imported: {exc}"}
    say("  PostgreSQL: starting a throwaway cluster (tests/pgserver.py)")
    try:
        with running_postgres() as url:
            return bench_store(world, "postgresql", url)
    except PostgresError as exc:
        return {"measured": False, "why": " ".join(str(exc).split())[:300]}


def goals(result: dict[str, Any]) -> list[Goal]:
    postgres = result["stores"]["postgresql"]
    if not postgres["measured"]:
        return []
    return [Goal(GOAL_NAME, postgres["race"]["p99_ms"], RACE_GOAL_MS, "ms", inclusive=False)]


def _shares(cpu: dict[str, float]) -> str:
    return f"{cpu['clients_share']:.0%} / {cpu['gunicorn_share']:.0%}"


def rows(result: dict[str, Any], by_name: dict[str, Goal]) -> list[Row]:
    def ms(value: float) -> str:
        return f"{value:.1f} ms"

    g = result["gunicorn"]
    found: list[Row] = [
        f"gateway: deploy-link POSTs through gunicorn ({g['workers']} workers x {g['threads']} "
        f"threads, {g['worker_class']}), {result['clients']} client threads;",
        f"         clients and server share this machine's {result['cpus']} CPUs "
        f"(1-min load average {result['load_average_before']:.1f} before, "
        f"{result['load_average_after']:.1f} after)",
    ]
    for name, label in STORES.items():
        store = result["stores"][name]
        if not store["measured"]:
            found.append(f"  {label}: not measured: {store['why']}")
            if name == "postgresql":
                found.append(f"  goal not evaluated: {GOAL_NAME} < {RACE_GOAL_MS:g} ms")
            continue
        raced, steadied, full = store["race"], store["steady"], store["full"]
        outcomes = raced["outcomes"]
        goal = by_name.get(GOAL_NAME) if name == "postgresql" else None
        found += [
            (
                f"{label} A. race, {result['clients']} links at once: p50",
                ms(raced["p50_ms"]),
                f"{outcomes['redeemed']} x 303, {outcomes['refused']} x 403",
                "",
            ),
            (
                "    p99",
                ms(raced["p99_ms"]),
                f"< {RACE_GOAL_MS:g} ms" if goal else "",
                goal.mark if goal else "",
            ),
            ("    max", ms(raced["max_ms"]), "", ""),
            ("    CPU busy: clients / gunicorn", _shares(raced["cpu"]), "of all CPUs", ""),
            (
                f"{label} B. steady refusals, {result['steady_seconds']:g} s: p50",
                ms(steadied["p50_ms"]),
                f"{steadied['requests']} POSTs, all 403",
                "",
            ),
            ("    p99", ms(steadied["p99_ms"]), "", ""),
            ("    throughput", f"{steadied['per_second']:.0f} req/s", "", ""),
            ("    CPU busy: clients / gunicorn", _shares(steadied["cpu"]), "of all CPUs", ""),
            (
                f"{label} C. full redemption, sequential: p50",
                ms(full["p50_ms"]),
                f"{full['runs']} runs, warm-up dropped",
                "",
            ),
            ("    p99", ms(full["p99_ms"]), "", ""),
        ]
    return found
