"""The gateway's store: opening it by URL (errors never quote a password), the link
ledger's single use per request, and redemptions racing from separate processes."""

from __future__ import annotations

import multiprocessing
import queue
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from bs.core.links import (
    DEPLOY_LINK,
    NONCE_BYTES,
    Keyring,
    LinkClaims,
    LinkKey,
    link_digest,
    mint_link_token,
)
from bs.errors import BsError
from bs.store import open_store
from bs.store.ledger import LinkLedger
from bs.store.tables import link_attempts, link_redemptions, metadata
from bs.usecases.redeem import Redeemed, redeem_link

ALL_TABLES = set(metadata.tables)

PASSWORD = "S3cretPw"
OPENS = datetime(2030, 7, 8, 8, 30, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=2)
DURING = OPENS + timedelta(minutes=10)
REQUEST = "20300708-aaaaaaaaaaaaaaaa"
OTHER_REQUEST = "20300708-bbbbbbbbbbbbbbbb"
WORKERS = 8


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def claims(request_id: str = REQUEST, *, app: str = "frontend", pr: int = 7) -> LinkClaims:
    return LinkClaims(
        purpose=DEPLOY_LINK, app=app, request_id=request_id, pull_request=pr,
        requester="alice", not_before=OPENS, expires=CLOSES,
    )  # fmt: skip


def keyring() -> Keyring:
    return Keyring((LinkKey("k1", secrets.token_bytes(32)),))


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return open_store(sqlite_url(tmp_path / "gateway.db"))


@pytest.fixture
def ledger(store: Engine) -> LinkLedger:
    return LinkLedger(store)


# -- open_store -------------------------------------------------------------------------


def test_a_new_sqlite_store_has_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    engine = open_store(sqlite_url(path))
    assert path.is_file()
    tables = inspect(engine)
    assert set(tables.get_table_names()) == ALL_TABLES
    assert [c["name"] for c in tables.get_columns("link_redemptions")] == [
        "request_key", "link_digest", "pull_request", "requester", "redeemed_by", "redeemed_at",
    ]  # fmt: skip
    assert tables.get_pk_constraint("link_redemptions")["constrained_columns"] == ["request_key"]
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_opening_a_store_twice_keeps_what_it_holds(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "gateway.db")
    first = LinkLedger(open_store(url))
    assert first.redeem(claims(), "d" * 64, "alice", DURING)
    first.record_attempt("d" * 64, f"frontend/{REQUEST}", "alice", "redeemed", DURING)
    second = LinkLedger(open_store(url))
    assert second.is_redeemed(f"frontend/{REQUEST}")
    assert [a["outcome"] for a in second.attempts()] == ["redeemed"]
    assert not second.redeem(claims(), "e" * 64, "alice", DURING)
    third = LinkLedger(open_store(url))  # and again, with two engines still open
    assert [a["outcome"] for a in third.attempts()] == ["redeemed"]


def test_a_store_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BsError) as caught:
        open_store(sqlite_url(tmp_path / "nowhere" / "gateway.db"))
    assert caught.value.message.startswith("cannot open the gateway store sqlite:")
    assert "OperationalError" in caught.value.message
    assert "Check the URL" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        f"bs:{PASSWORD}@db.internal/bs",  # no scheme at all
        f"://bs:{PASSWORD}@db.internal/bs",
        f"postgresql+psycopg://bs:{PASSWORD}/bs",  # no @host: the password parses as a port
        f"postgresql+psycopg://bs:{PASSWORD}@db.internal:port/bs",
        f"postgresql+psycopg://bs:{PASSWORD}@[::1:5432/bs",
        "",
        "   ",
    ],
)
def test_a_garbage_url_never_appears_in_the_error(url: str) -> None:
    with pytest.raises(BsError) as caught:
        open_store(url)
    message = caught.value.message
    assert message == (
        "the gateway store's URL is not a database URL: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB (the password from the environment)."
    )
    assert PASSWORD not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://bs:{PASSWORD}@127.0.0.1:1/bs",
        f"postgresql://bs:{PASSWORD}@127.0.0.1:1/bs",
        f"postgresql+psycopg://bs@127.0.0.1:1/bs?password={PASSWORD}",
        "postgresql+psycopg://bs:S3cr%40tPw%2F@127.0.0.1:1/bs",
    ],
)
def test_postgresql_without_a_driver_or_server_never_shows_the_password(url: str) -> None:
    """No psycopg here (a missing driver), or with one nothing listens on port 1:
    either way a BsError that names the database, never its password."""
    with pytest.raises(BsError) as caught:
        open_store(url)
    message = caught.value.message
    assert PASSWORD not in message and "S3cr" not in message
    assert "127.0.0.1" in message
    assert message.startswith(("no database driver for ", "cannot open the gateway store "))


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://bs:{PASSWORD}@127.0.0.1:1/bs",
        f"mysql+mysqldb://bs:{PASSWORD}@db.internal/bs",
        f"nosuchdb://bs:{PASSWORD}@db.internal/bs",
    ],
)
def test_another_database_without_its_driver_is_a_clear_error(url: str) -> None:
    with pytest.raises(BsError) as caught:
        open_store(url)
    message = caught.value.message
    assert message.startswith("no database driver for "), message
    assert "use sqlite:///PATH" in message
    assert PASSWORD not in message


@pytest.mark.parametrize("url", ["sqlite://db.internal/bs.db", f"sqlite://bs:{PASSWORD}@/bs.db"])
def test_a_sqlite_url_with_a_host_is_a_clear_error(url: str) -> None:
    with pytest.raises(BsError) as caught:
        open_store(url)
    assert PASSWORD not in caught.value.message


# -- the ledger -------------------------------------------------------------------------


def test_a_request_is_redeemed_once_whichever_link(ledger: LinkLedger) -> None:
    key = f"frontend/{REQUEST}"
    assert claims().request_key == key
    assert not ledger.is_redeemed(key)
    assert ledger.redeem(claims(), "a" * 64, "alice", DURING)
    assert ledger.is_redeemed(key)
    # Another link of the same request, even from another pull request: used.
    assert not ledger.redeem(claims(), "a" * 64, "alice", DURING)
    assert not ledger.redeem(claims(pr=8), "b" * 64, "Alice", DURING + timedelta(minutes=1))
    # Another request, or the same id under another app, is its own.
    assert ledger.redeem(claims(OTHER_REQUEST), "c" * 64, "alice", DURING)
    assert ledger.redeem(claims(app="publisher"), "d" * 64, "alice", DURING)
    with ledger.engine.connect() as connection:
        rows = connection.execute(
            select(link_redemptions).order_by(link_redemptions.c.request_key)
        ).all()
    assert [(r.request_key, r.link_digest, r.pull_request, r.redeemed_by) for r in rows] == [
        (key, "a" * 64, 7, "alice"),
        (f"frontend/{OTHER_REQUEST}", "c" * 64, 7, "alice"),
        (f"publisher/{REQUEST}", "d" * 64, 7, "alice"),
    ]


@pytest.mark.parametrize(
    "spelling",
    [
        f"Frontend/{REQUEST}",
        f"FRONTEND/{REQUEST.upper()}",
        f"frontend/{REQUEST} ",
        f" frontend/{REQUEST}",
        f"frontend//{REQUEST}",
        f"frontend/{REQUEST}/",
        REQUEST,
        "frontend",
        f"frontend/{REQUEST[:-1]}",
        "frontend/%",
        "%",
        "",
    ],
)
def test_request_keys_are_matched_exactly_as_minted(ledger: LinkLedger, spelling: str) -> None:
    assert ledger.redeem(claims(), "a" * 64, "alice", DURING)
    assert ledger.is_redeemed(f"frontend/{REQUEST}")
    assert not ledger.is_redeemed(spelling)


def test_attempts_are_recorded_in_order(ledger: LinkLedger) -> None:
    assert ledger.attempts() == []
    ledger.record_attempt("a" * 64, None, None, "malformed", DURING)
    ledger.record_attempt("b" * 64, None, "mallory", "bad_signature", DURING)
    ledger.record_attempt("c" * 64, f"frontend/{REQUEST}", "bob", "not_requester", DURING)
    ledger.record_attempt("c" * 64, f"frontend/{REQUEST}", "alice", "redeemed", CLOSES)
    attempts = ledger.attempts()
    assert [
        (a["id"], a["link_digest"], a["request_key"], a["who"], a["outcome"]) for a in attempts
    ] == [
        (1, "a" * 64, None, None, "malformed"),
        (2, "b" * 64, None, "mallory", "bad_signature"),
        (3, "c" * 64, f"frontend/{REQUEST}", "bob", "not_requester"),
        (4, "c" * 64, f"frontend/{REQUEST}", "alice", "redeemed"),
    ]
    assert set(attempts[0]) == {"id", "link_digest", "request_key", "who", "outcome", "at"}
    for attempt, expected in zip(attempts, [DURING, DURING, DURING, CLOSES], strict=True):
        at = attempt["at"]
        assert isinstance(at, datetime)
        assert at.replace(tzinfo=at.tzinfo or UTC) == expected
    # Recording attempts redeems nothing.
    assert not ledger.is_redeemed(f"frontend/{REQUEST}")


def test_attempt_times_keep_the_instant_whatever_the_offset(ledger: LinkLedger) -> None:
    utc = datetime(2030, 7, 8, 9, 0, tzinfo=UTC)
    london_summer = utc.astimezone(timezone(timedelta(hours=1)))
    assert utc == london_summer
    ledger.record_attempt("a" * 64, None, None, "malformed", utc)
    ledger.record_attempt("a" * 64, None, None, "malformed", london_summer)
    first, second = (attempt["at"] for attempt in ledger.attempts())
    assert isinstance(first, datetime) and isinstance(second, datetime)
    assert first.tzinfo is not None and second.tzinfo is not None
    assert first == second == utc


def test_redeem_link_records_every_attempt_against_the_ledger(ledger: LinkLedger) -> None:
    keys = keyring()
    first, second = (
        mint_link_token(claims(), keys, secrets.token_bytes(NONCE_BYTES)) for _ in range(2)
    )
    assert isinstance(redeem_link(first, keys, ledger, "alice", DURING), Redeemed)
    refused = redeem_link(second, keys, ledger, "alice", DURING)
    assert not isinstance(refused, Redeemed) and refused.reason == "used"
    assert [(a["link_digest"], a["outcome"]) for a in ledger.attempts()] == [
        (link_digest(first), "redeemed"),
        (link_digest(second), "used"),
    ]


# -- concurrency -----------------------------------------------------------------------


def _redeem_in_a_process(url: str, token: str, keys: Keyring, start: Any, results: Any) -> None:
    """One gateway worker: its own engine on the shared file, then the race."""
    try:
        ledger = LinkLedger(open_store(url))
        start.wait(timeout=60)
        outcome = redeem_link(token, keys, ledger, "alice", DURING)
        results.put(("redeemed" if isinstance(outcome, Redeemed) else outcome.reason, token))
    except BaseException as exc:
        results.put((f"error {type(exc).__name__}: {exc}", token))


def test_workers_in_separate_processes_redeem_a_request_exactly_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "gateway.db")
    open_store(url).dispose()  # the gateway's store exists before its workers start
    keys = keyring()
    tokens = [
        mint_link_token(claims(), keys, secrets.token_bytes(NONCE_BYTES)) for _ in range(WORKERS)
    ]
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    workers = [
        context.Process(target=_redeem_in_a_process, args=(url, token, keys, start, results))
        for token in tokens
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[str, str]] = []
    try:
        for _ in workers:
            outcomes.append(results.get(timeout=90))
    except queue.Empty:
        pytest.fail(f"a worker gave no answer; those that did: {outcomes}")
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    assert not any("locked" in outcome for outcome, _ in outcomes), outcomes
    assert Counter(outcome for outcome, _ in outcomes) == {"redeemed": 1, "used": WORKERS - 1}
    assert sorted(token for _, token in outcomes) == sorted(tokens)

    (winner,) = [token for outcome, token in outcomes if outcome == "redeemed"]
    ledger = LinkLedger(open_store(url))
    assert ledger.is_redeemed(f"frontend/{REQUEST}")
    with ledger.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(link_redemptions)).scalar() == 1
        assert connection.execute(select(link_redemptions.c.link_digest)).scalar() == link_digest(
            winner
        )
        assert connection.execute(select(func.count()).select_from(link_attempts)).scalar() == (
            WORKERS
        )
    attempts = ledger.attempts()
    assert Counter(a["outcome"] for a in attempts) == {"redeemed": 1, "used": WORKERS - 1}
    assert {a["link_digest"] for a in attempts} == {link_digest(t) for t in tokens}


def test_two_workers_opening_a_new_store_at_once_both_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race, made certain: the other worker opens the store in full between
    this one's look for the tables and its creating them."""
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    url = sqlite_url(tmp_path / "gateway.db")
    real_has_table = SQLiteDialect.has_table
    raced: list[bool] = []

    def has_table(self: Any, connection: Any, table_name: str, *args: Any, **kw: Any) -> Any:
        found = real_has_table(self, connection, table_name, *args, **kw)
        if not raced:
            raced.append(True)
            # The other worker, start to finish (as one that takes no lock would).
            other = create_engine(url)
            metadata.create_all(other)
            other.dispose()
        return found

    monkeypatch.setattr(SQLiteDialect, "has_table", has_table)
    engine = open_store(url)
    assert set(inspect(engine).get_table_names()) == ALL_TABLES
