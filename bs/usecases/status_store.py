"""Reading the gateway's store for ``bs status``: read-only, and never creating it.

``bs.store.open_store`` creates the tables (the gateway owns the store); a
status must not. A SQLite store is opened read-only (``mode=ro``) and only
when its file exists; PostgreSQL only runs SELECTs, and a database without
the tables is one where nothing was recorded yet. A store that cannot be
read is said in one line naming where it is (never a password) and why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from bs.store.deployments import Deployment, Deployments
from bs.store.readonly import StoreUnreadable, open_read_only
from bs.store.tables import app_locks

#: Interrupted deployments are listed for this long after they stopped.
INTERRUPTED_SHOWN_FOR = timedelta(days=7)


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


def read_store(
    url: str, *, apps: Collection[str] | None, now: datetime, lock_ttl: timedelta
) -> StoreView:
    """The live slots, running deployments, locks and recent interruptions of `apps`
    (every app when None), as the store holds them at `now`."""
    try:
        opened = open_read_only(url)
    except StoreUnreadable as exc:
        return StoreView(exc.shown, False, False, exc.reason)
    if opened.engine is None:
        return StoreView(opened.shown, True, False)
    try:
        return _read(opened.engine, opened.shown, apps, now, lock_ttl)
    except SQLAlchemyError as exc:
        return StoreView(opened.shown, False, False, opened.reason(exc))
    finally:
        opened.engine.dispose()


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
