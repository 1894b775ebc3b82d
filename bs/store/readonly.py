"""Opening the gateway's store to read it, from commands (`bs status`, `bs audit`).

The gateway owns the store and creates its tables (``bs.store.open_store``); a
command that only reads must never create it, nor leave files beside it. A
SQLite store is opened only when its file exists; PostgreSQL only runs
SELECTs. Where it is, and why it cannot be read, are said without a password.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bs.redaction import redact
from bs.workspace import Workspace

#: The environment variable the gateway reads its store's URL from (bs.gateway.serve's).
STORE_ENV = "BS_GATEWAY_STORE"
#: Seconds to wait for a PostgreSQL server before calling it unreachable.
CONNECT_TIMEOUT = 10
_SQLITE_PREFIX = "sqlite:///"


class StoreUnreadable(Exception):
    """The store cannot be opened; `reason` says why, naming no secret."""

    def __init__(self, shown: str, reason: str) -> None:
        super().__init__(reason)
        self.shown = shown
        self.reason = reason


@dataclass(frozen=True)
class ReadOnlyStore:
    #: Where the store is, fit to print: no password, no query.
    shown: str
    parsed: URL
    #: None when nothing can have been recorded (no SQLite file, an in-memory store).
    engine: Engine | None

    def reason(self, exc: SQLAlchemyError) -> str:
        """The driver's first line, with any password in it hidden: why, never the secret."""
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines()
        first = " ".join(lines[0].split()) if lines else ""
        secrets = [str(self.parsed.password)] if self.parsed.password else []
        said = redact(first, secrets)[:200]
        return f"{type(cause).__name__}: {said}" if said else type(cause).__name__


def store_location(workspace: Workspace, env: Mapping[str, str]) -> str:
    """The store's URL as the gateway resolves it (``bs.gateway.serve.store_url``), but
    creating no folder: a relative SQLite path is relative to bs.yaml's folder."""
    url = env.get(STORE_ENV) or workspace.config.gateway.store
    if (
        url.startswith(_SQLITE_PREFIX)
        and not url.startswith(_SQLITE_PREFIX + "/")
        and url != _SQLITE_PREFIX
    ):
        url = _SQLITE_PREFIX + str(workspace.resolve(Path(url[len(_SQLITE_PREFIX) :])))
    return url


def shown_location(parsed: URL) -> str:
    """What locates the database, and nothing else (as ``bs.store.open_store`` says it)."""
    if parsed.get_backend_name() == "sqlite":
        return f"{parsed.drivername}:///{parsed.database or ''}"
    host = (parsed.host or "").rpartition("@")[2]
    return f"{parsed.drivername}://{host}/{parsed.database or ''}"


def open_read_only(url: str) -> ReadOnlyStore:
    """An engine that only reads `url`'s store; dispose of it when done."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreUnreadable(
            "(the gateway store's URL)",
            "it is not a database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        ) from None
    if "@" in (parsed.host or ""):
        # An unencoded "@" in the password: part of it would be read as the host, and shown.
        raise StoreUnreadable(
            "(the gateway store's URL)",
            "its host holds an '@': percent-encode an '@' in the user name or password as %40",
        )
    shown = shown_location(parsed)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).exists():
            return ReadOnlyStore(shown, parsed, None)
        path = Path(database).resolve()
        if not path.is_file():
            raise StoreUnreadable(shown, "it is not a file: fix gateway.store in bs.yaml")
        return ReadOnlyStore(shown, parsed, _read_only_sqlite(path))
    try:
        # Read-only on the server's side too, whatever the role may do.
        options = {"options": "-c default_transaction_read_only=on"}
        engine = create_engine(
            parsed,
            poolclass=NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT}
            | (options if parsed.get_backend_name() == "postgresql" else {}),
        )
    except (NoSuchModuleError, ImportError):
        raise StoreUnreadable(
            shown,
            "no database driver for it is installed (for postgresql+psycopg: "
            "pip install 'psycopg[binary]')",
        ) from None
    except (ArgumentError, ValueError, TypeError):
        raise StoreUnreadable(shown, "its URL is not one SQLAlchemy can use") from None
    return ReadOnlyStore(shown, parsed, engine)


def _read_only_sqlite(path: Path) -> Engine:
    """Read-only, and making no file beside it. With no ``-wal`` file nothing has the store
    open (its last connection folded the log into it): the file is read as it is
    (``immutable``), where even a read-only open would make ``-wal`` and ``-shm`` files,
    owned by whoever ran bs, that a gateway running as another user could not write.
    With one, a gateway is using it: its log is read too (``mode=ro``)."""
    wal = path.with_name(path.name + "-wal")
    uri = f"{path.as_uri()}?{'mode=ro' if wal.exists() else 'immutable=1'}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)
