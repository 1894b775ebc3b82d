"""The gateway's state, behind SQLAlchemy: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from bs.errors import BsError
from bs.store.tables import metadata


def open_store(url: str) -> Engine:
    """An engine for `url`, with the tables created. SQLite waits for locks rather than failing."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Never echo the URL: it may hold a password.
        raise BsError(
            "the gateway store's URL is not a database URL: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB (the password from the environment)."
        ) from None
    # Only what locates the database: never a password, in the URL or in its query.
    shown = f"{parsed.drivername}://{parsed.host or ''}/{parsed.database or ''}"
    try:
        engine = _engine(parsed)
    except (NoSuchModuleError, ImportError):
        raise BsError(
            f"no database driver for {shown}: install the driver its URL names (for "
            "postgresql+psycopg: pip install 'psycopg[binary]'), or use sqlite:///PATH."
        ) from None
    except (ArgumentError, ValueError):
        raise BsError(
            f"the gateway store's URL ({shown}) is not one SQLAlchemy can use: use "
            "sqlite:///PATH (three slashes, no host) or postgresql+psycopg://USER@HOST/DB."
        ) from None
    for attempt in range(3):
        try:
            with _creating(parsed):
                metadata.create_all(engine)
            break
        except SQLAlchemyError as exc:
            # Two gateways opening a new store at once can both try to create a table:
            # the second finds it made, and another look sees it there.
            if attempt < 2:
                time.sleep(0.05 * (attempt + 1))
                continue
            raise BsError(
                f"cannot open the gateway store {shown}: "
                f"{type(getattr(exc, 'orig', None) or exc).__name__}. Check the URL and that "
                "the database is running."
            ) from None
    return engine


@contextlib.contextmanager
def _creating(parsed: URL) -> Iterator[None]:
    """On SQLite, one creator at a time: its CREATE TABLEs commit one by one, so two
    gateways starting on a new file would interleave them. A lock file beside it."""
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        lock = open(f"{database}.create-lock", "a")  # noqa: PTH123, SIM115 (a lock, not data)
    except OSError:  # no such folder, not writable: the database says so, clearly, next
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _engine(parsed: URL) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True)
