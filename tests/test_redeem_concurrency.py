"""Fifty redemptions of one request's links at once, on SQLite and on a real PostgreSQL:
exactly one wins, whether the threads share an engine or each opens its own; a store
opened by two gateways at once; and no password in the error for an unreachable server."""

from __future__ import annotations

import secrets
import socket
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select

from bs.core.links import (
    DEPLOY_LINK,
    NONCE_BYTES,
    Keyring,
    LinkClaims,
    link_digest,
    mint_link_token,
    new_key_line,
    parse_keys,
)
from bs.errors import BsError
from bs.store import open_store
from bs.store.ledger import LinkLedger
from bs.store.tables import link_attempts, link_redemptions, metadata
from bs.usecases.redeem import Redeemed, Refused, redeem_link

OPENS = datetime(2030, 7, 8, 8, 30, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=2)
DURING = OPENS + timedelta(minutes=10)
REQUEST = "20300708-aaaaaaaaaaaaaaaa"
REQUEST_KEY = f"frontend/{REQUEST}"
THREADS = 50
LINKS = 5
#: Generous: a barrier or a pool wait that times out fails the test instead of hanging it.
WAIT = 120.0

_T = TypeVar("_T")


def keyring() -> Keyring:
    return parse_keys(new_key_line("k1", secrets.token_bytes(32)), "the test keys")


def mint(keys: Keyring) -> str:
    claims = LinkClaims(
        purpose=DEPLOY_LINK, app="frontend", request_id=REQUEST, pull_request=7,
        requester="alice", not_before=OPENS, expires=CLOSES,
    )  # fmt: skip
    return mint_link_token(claims, keys, secrets.token_bytes(NONCE_BYTES))


def reason(outcome: Redeemed | Refused) -> str:
    return "redeemed" if isinstance(outcome, Redeemed) else outcome.reason


def all_at_once(count: int, work: Callable[[int, threading.Barrier], _T]) -> list[_T]:
    """`work(index, barrier)` in `count` threads; it waits on the barrier to start together.
    A thread failing before the barrier breaks it, and its error is the one raised."""
    barrier = threading.Barrier(count, timeout=WAIT)

    def run(index: int) -> _T:
        try:
            return work(index, barrier)
        except BaseException:
            barrier.abort()
            raise

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run, index) for index in range(count)]
        errors = [future.exception(timeout=WAIT) for future in futures]
    for error in errors:
        if error is not None and not isinstance(error, threading.BrokenBarrierError):
            raise error
    return [future.result() for future in futures]


def empty_postgres(url: str) -> str:
    """`url`'s database without the store's tables: each test starts as a new gateway would."""
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store's URL, with no tables yet. PostgreSQL is asked for only by its own cases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return empty_postgres(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines the test opens, disposed after it so PostgreSQL connections do not pile up."""
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.dispose()


@pytest.mark.parametrize("sharing", ["shared-engine", "engine-per-thread"])
def test_fifty_threads_redeeming_one_request_s_links_let_exactly_one_in(
    store_url: str, sharing: str, engines: list[Engine]
) -> None:
    keys = keyring()
    tokens = [mint(keys) for _ in range(LINKS)]
    assert len(set(tokens)) == LINKS  # distinct links (nonces) of the same request
    engines.append(open_store(store_url))  # the first gateway makes the store
    lock = threading.Lock()

    def attempt(index: int, start: threading.Barrier) -> Redeemed | Refused:
        if sharing == "shared-engine":
            engine = engines[0]
        else:  # a gateway worker each, all starting on the store at once
            engine = open_store(store_url)
            with lock:
                engines.append(engine)
        ledger = LinkLedger(engine)  # every thread its own ledger
        start.wait()
        return redeem_link(tokens[index % LINKS], keys, ledger, "alice", DURING)

    outcomes = all_at_once(THREADS, attempt)

    assert Counter(reason(o) for o in outcomes) == {"redeemed": 1, "used": THREADS - 1}
    assert all(o.claims is not None and o.claims.request_key == REQUEST_KEY for o in outcomes)
    winner = next(i for i, o in enumerate(outcomes) if isinstance(o, Redeemed))
    check = engines[0]
    with check.connect() as connection:
        rows = connection.execute(select(link_redemptions)).all()
        assert connection.execute(select(func.count()).select_from(link_attempts)).scalar() == (
            THREADS
        )
    assert len(rows) == 1
    assert rows[0].request_key == REQUEST_KEY
    assert rows[0].link_digest == link_digest(tokens[winner % LINKS])
    assert (rows[0].requester, rows[0].redeemed_by) == ("alice", "alice")
    attempts = LinkLedger(check).attempts()
    assert Counter(a["outcome"] for a in attempts) == {"redeemed": 1, "used": THREADS - 1}
    assert {a["request_key"] for a in attempts} == {REQUEST_KEY}
    assert {a["who"] for a in attempts} == {"alice"}
    # Every link was tried by its share of the threads, and recorded by digest.
    assert Counter(a["link_digest"] for a in attempts) == {
        link_digest(token): THREADS // LINKS for token in tokens
    }


def test_a_second_gateway_opening_a_postgresql_store_keeps_its_tables_and_rows(
    postgres_url: str, engines: list[Engine]
) -> None:
    url = empty_postgres(postgres_url)
    engines.append(open_store(url))
    claims = LinkClaims(
        purpose=DEPLOY_LINK, app="frontend", request_id=REQUEST, pull_request=7,
        requester="alice", not_before=OPENS, expires=CLOSES,
    )  # fmt: skip
    assert LinkLedger(engines[0]).redeem(claims, "0" * 64, "alice", DURING)
    engines.append(open_store(url))  # a second gateway, once the first has made the tables
    assert set(inspect(engines[1]).get_table_names()) == set(metadata.tables)
    assert LinkLedger(engines[1]).is_redeemed(REQUEST_KEY)  # nothing recreated or emptied


GATEWAYS = 4
#: A round that races rarely passes by luck; ten in a row do not.
ROUNDS = 10


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "postgresql",
    ],
)
def test_gateways_opening_a_new_store_at_once_all_get_its_tables(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, engines: list[Engine]
) -> None:
    lock = threading.Lock()
    for round_ in range(ROUNDS):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'gateway-{round_}.db'}"
        else:
            url = empty_postgres(request.getfixturevalue("postgres_url"))

        def start_gateway(_index: int, start: threading.Barrier, url: str = url) -> Engine:
            start.wait()
            engine = open_store(url)  # each finds no tables, and each creates them
            with lock:
                engines.append(engine)
            return engine

        for engine in all_at_once(GATEWAYS, start_gateway):
            assert set(inspect(engine).get_table_names()) == set(metadata.tables)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.mark.parametrize(
    "template",
    [
        "postgresql+psycopg://bs:{password}@127.0.0.1:{port}/bs_test",
        "postgresql+psycopg://bs@127.0.0.1:{port}/bs_test?password={password}",
    ],
    ids=["in-userinfo", "in-query"],
)
def test_an_unreachable_postgresql_store_s_error_never_shows_the_password(
    template: str, closed_port: int
) -> None:
    password = "Pw-" + secrets.token_hex(8)
    url = template.format(password=password, port=closed_port)
    with pytest.raises(BsError) as raised:
        open_store(url)
    message = str(raised.value)
    assert "cannot open the gateway store postgresql+psycopg://127.0.0.1/bs_test" in message
    assert "OperationalError" in message
    # Neither the message nor what a traceback of it would print holds the password.
    shown = "".join(traceback.format_exception(raised.value))
    for text in (message, repr(raised.value), shown):
        assert password not in text
        assert url not in text
