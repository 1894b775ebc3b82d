"""Reading the gateway's store for ``bs status``: read-only, and never creating it.

``bs.store.open_store`` creates the tables (the gateway owns the store); a
status must not. A SQLite store is opened read-only (``mode=ro``) and only
when its file exists; PostgreSQL only runs SELECTs, and a database without
the tables is one where nothing was recorded yet. A store that cannot be
read is said in one line naming where it is (never a password) and why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bs.redaction import redact
from bs.store.deployments import Deployment, Deployments
from bs.store.tables import app_locks
from bs.workspace import Workspace

#: The environment variable the gateway reads its store's URL from (bs.gateway.serve's).
STORE_ENV = "BS_GATEWAY_STORE"
#: Interrupted deployments are listed for this long after they stopped.
INTERRUPTED_SHOWN_FOR = timedelta(days=7)
#: Seconds to wait for a PostgreSQL server before calling it unreachable.
CONNECT_TIMEOUT = 10
_SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class Lock:
    """One app's deploy lock: the deployment holding it and until when."""

    app: str
    deployment_id: int
    holder: str
    expires_at: datetime
    #: The gateway frees a lapsed lock only a whole ttl after it lapsed (clocks may differ).
    freed_from: datetime

    def lapsed(self, now: datetime) -> bool:
        """Its holder stopped renewing it: the gateway that took it is likely gone."""
        return self.expires_at < now


@dataclass(frozen=True)
class StoreView:
    """What the store says now, or why it could not be read."""

    #: Where the store is, fit to print: no user name's password, no query.
    location: str
    reachable: bool
    #: False when nothing was ever recorded (no SQLite file, or no tables yet).
    exists: bool
    error: str | None = None
    slots: list[Deployment] = field(default_factory=list)
    running: list[Deployment] = field(default_factory=list)
    locks: list[Lock] = field(default_factory=list)
    interrupted: list[Deployment] = field(default_factory=list)


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
    return f"{parsed.drivername}://{parsed.host or ''}/{parsed.database or ''}"


def read_store(
    url: str, *, apps: Collection[str] | None, now: datetime, lock_ttl: timedelta
) -> StoreView:
    """The live slots, running deployments, locks and recent interruptions of `apps`
    (every app when None), as the store holds them at `now`."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return StoreView("(the gateway store's URL)", False, False, "it is not a database URL")
    shown = shown_location(parsed)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return StoreView(shown, True, False)  # an in-memory store keeps nothing
        path = Path(database).resolve()
        if not path.is_file():
            return StoreView(shown, True, False)
        engine = _read_only_sqlite(path)
    else:
        try:
            engine = create_engine(
                parsed, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT}
            )
        except (NoSuchModuleError, ImportError):
            return StoreView(shown, False, False, "no database driver for it is installed")
        except (ArgumentError, ValueError, TypeError):
            return StoreView(shown, False, False, "its URL is not one SQLAlchemy can use")
    try:
        return _read(engine, shown, apps, now, lock_ttl)
    except SQLAlchemyError as exc:
        return StoreView(shown, False, False, _reason(exc, parsed))
    finally:
        engine.dispose()


def _read_only_sqlite(path: Path) -> Engine:
    """Read-only, and making no file beside it. With no ``-wal`` file nothing has the store
    open (its last connection folded the log into it): the file is read as it is
    (``immutable``), where even a read-only open would make ``-wal`` and ``-shm`` files,
    owned by whoever ran bs status, that a gateway running as another user could not
    write. With one, a gateway is using it: its log is read too (``mode=ro``)."""
    wal = path.with_name(path.name + "-wal")
    uri = f"{path.as_uri()}?{'mode=ro' if wal.exists() else 'immutable=1'}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _read(
    engine: Engine,
    shown: str,
    apps: Collection[str] | None,
    now: datetime,
    lock_ttl: timedelta,
) -> StoreView:
    with engine.connect() as connection:
        tables = inspect(connection)
        if not (tables.has_table("deployments") and tables.has_table("app_locks")):
            return StoreView(shown, True, False)
        rows = connection.execute(select(app_locks).order_by(app_locks.c.app)).mappings().all()
    locks = [
        Lock(r["app"], int(r["deployment_id"]), r["holder"], r["expires_at"],
             r["expires_at"] + lock_ttl)
        for r in rows
    ]  # fmt: skip
    store = Deployments(engine, lock_ttl=lock_ttl)

    def wanted(app: str) -> bool:
        return apps is None or app in apps

    slots = [d for d in store.with_state("ready", "failed") if wanted(d.app) and d.slot_end > now]
    running = [d for d in store.with_state("running") if wanted(d.app)]
    since = now - INTERRUPTED_SHOWN_FOR
    interrupted = [
        d
        for d in store.with_state("interrupted")
        if wanted(d.app) and (d.finished_at or d.created_at) >= since
    ]
    return StoreView(
        shown, True, True, None,
        slots=sorted(slots, key=lambda d: (d.slot_end, d.id)),
        running=running,
        locks=[lock for lock in locks if wanted(lock.app)],
        interrupted=sorted(interrupted, key=lambda d: d.finished_at or d.created_at, reverse=True),
    )  # fmt: skip


def _reason(exc: SQLAlchemyError, parsed: URL) -> str:
    """The driver's first line, with any password in it hidden: why, never the secret."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    first = " ".join(lines[0].split()) if lines else ""
    secrets = [parsed.password] if parsed.password else []
    said = redact(first, [str(s) for s in secrets])[:200]
    return f"{type(cause).__name__}: {said}" if said else type(cause).__name__
