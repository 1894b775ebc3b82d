"""Deployments in the store: their records, their logs, and one lock per app.

Taking an app's lock is an insert on its primary key, so of two gateways (or
two clicks) only one deploys an app at a time. The holder renews the lock
while its deployer runs; a gateway that dies stops renewing, the lock
expires (allowing for another instance's clock to run up to a ttl ahead), and
the deployment it was running is marked ``interrupted`` (its outcome unknown,
never retried by bs: nothing is deployed twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from bs.store.tables import app_locks, deployment_log, deployments

State = Literal["ready", "running", "succeeded", "failed", "interrupted"]
#: States from which Deploy may be pressed (a failed deploy may be retried in its slot).
STARTABLE: tuple[State, ...] = ("ready", "failed")
INTERRUPTED = (
    "the gateway stopped while this deployment was running, so whether it finished is "
    "unknown. bs will not run it again: check what is deployed, then open a new request."
)


@dataclass(frozen=True)
class Deployment:
    id: int
    request_key: str
    app: str
    pull_request: int
    requester: str
    record: dict[str, Any]
    slot_start: datetime
    slot_end: datetime
    state: State
    attempts: int
    summary: str
    url: str | None
    deployed_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Deployment:
        return cls(
            id=row["id"],
            request_key=row["request_key"],
            app=row["app"],
            pull_request=row["pull_request"],
            requester=row["requester"],
            record=json.loads(row["record"]),
            slot_start=row["slot_start"],
            slot_end=row["slot_end"],
            state=row["state"],
            attempts=row["attempts"],
            summary=row["summary"],
            url=row["url"],
            deployed_by=row["deployed_by"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    def in_slot(self, now: datetime) -> bool:
        return self.slot_start <= now < self.slot_end


@dataclass(frozen=True)
class Busy:
    """The app's lock is held: by this deployment running, or by another."""

    deployment_id: int


@dataclass(frozen=True)
class NotStartable:
    state: State


@dataclass(frozen=True)
class LogLine:
    id: int
    attempt: int
    line: str
    at: datetime


class _NotStartable(Exception):
    pass


class Deployments:
    def __init__(self, engine: Engine, *, lock_ttl: timedelta = timedelta(seconds=60)) -> None:
        self.engine = engine
        self.lock_ttl = lock_ttl

    def create(
        self, connection: Connection, *, request_key: str, app: str, pull_request: int,
        requester: str, record: dict[str, Any], slot_start: datetime, slot_end: datetime,
        now: datetime,
    ) -> int:  # fmt: skip
        """Insert in `connection`'s transaction (the link's redemption)."""
        result = connection.execute(
            insert(deployments).values(
                request_key=request_key,
                app=app,
                pull_request=pull_request,
                requester=requester,
                record=json.dumps(record, sort_keys=True),
                slot_start=slot_start,
                slot_end=slot_end,
                state="ready",
                attempts=0,
                summary="",
                created_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def get(self, deployment_id: int) -> Deployment | None:
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(deployments).where(deployments.c.id == deployment_id))
                .mappings()
                .first()
            )
        return None if row is None else Deployment.from_row(row)

    def recent(self, limit: int = 20) -> list[Deployment]:
        query = select(deployments).order_by(deployments.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [Deployment.from_row(row) for row in connection.execute(query).mappings()]

    def with_state(self, *states: State) -> list[Deployment]:
        query = select(deployments).where(deployments.c.state.in_(states))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(deployments.c.id)).mappings()
            return [Deployment.from_row(row) for row in rows]

    def start(
        self, deployment_id: int, app: str, *, by: str, holder: str, now: datetime
    ) -> int | Busy | NotStartable:
        """Take `app`'s lock and mark the deployment running; returns the attempt number."""
        self.recover_stale(now)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(app_locks).values(
                        app=app,
                        deployment_id=deployment_id,
                        holder=holder,
                        expires_at=now + self.lock_ttl,
                    )
                )
                started = connection.execute(
                    update(deployments)
                    .where(deployments.c.id == deployment_id, deployments.c.state.in_(STARTABLE))
                    .values(
                        state="running",
                        attempts=deployments.c.attempts + 1,
                        summary="",
                        started_at=now,
                        finished_at=None,
                        heartbeat_at=now,
                        deployed_by=by,
                    )
                )
                if started.rowcount != 1:
                    raise _NotStartable  # rolls the lock back
                attempts = connection.execute(
                    select(deployments.c.attempts).where(deployments.c.id == deployment_id)
                ).scalar_one()
        except _NotStartable:
            found = self.get(deployment_id)
            return NotStartable(found.state if found else "failed")
        except IntegrityError:
            with self.engine.connect() as connection:
                holder_id = connection.execute(
                    select(app_locks.c.deployment_id).where(app_locks.c.app == app)
                ).scalar()
            return Busy(int(holder_id) if holder_id is not None else deployment_id)
        return int(attempts)

    def renew(self, deployment_id: int, app: str, holder: str, now: datetime) -> bool:
        """Extend the lock; False when it was lost (it expired and was taken or freed)."""
        with self.engine.begin() as connection:
            renewed = connection.execute(
                update(app_locks)
                .where(
                    app_locks.c.app == app,
                    app_locks.c.holder == holder,
                    app_locks.c.deployment_id == deployment_id,
                )
                .values(expires_at=now + self.lock_ttl)
            )
            connection.execute(
                update(deployments)
                .where(deployments.c.id == deployment_id)
                .values(heartbeat_at=now)
            )
        return renewed.rowcount == 1

    def append_log(self, deployment_id: int, attempt: int, lines: list[str], now: datetime) -> None:
        if not lines:
            return
        rows = [
            {"deployment_id": deployment_id, "attempt": attempt, "line": line,
             "at": now}
            for line in lines
        ]  # fmt: skip
        with self.engine.begin() as connection:
            connection.execute(insert(deployment_log), rows)

    def log(self, deployment_id: int, after: int = 0, limit: int = 5000) -> list[LogLine]:
        query = (
            select(deployment_log)
            .where(deployment_log.c.deployment_id == deployment_id, deployment_log.c.id > after)
            .order_by(deployment_log.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [LogLine(r["id"], r["attempt"], r["line"], r["at"]) for r in rows]

    def finish(
        self, deployment_id: int, app: str, holder: str, *, ok: bool, summary: str,
        url: str | None, now: datetime,
    ) -> None:  # fmt: skip
        with self.engine.begin() as connection:
            connection.execute(
                update(deployments)
                .where(deployments.c.id == deployment_id, deployments.c.state == "running")
                .values(
                    state="succeeded" if ok else "failed",
                    summary=summary,
                    url=url,
                    finished_at=now,
                )
            )
            connection.execute(
                delete(app_locks).where(
                    app_locks.c.app == app,
                    app_locks.c.holder == holder,
                    app_locks.c.deployment_id == deployment_id,
                )
            )

    def _expired_before(self, now: datetime) -> datetime:
        """A lock counts as expired once its expiry is a whole ttl behind `now`: its holder
        set the expiry by its own clock, and another instance's may run ahead of it (up to
        a ttl is allowed for). A dead holder's lock is thus freed within two ttls."""
        return now - self.lock_ttl

    def recover_stale(self, now: datetime) -> list[int]:
        """Free expired locks; mark the deployments they guarded interrupted."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(app_locks).where(app_locks.c.expires_at < self._expired_before(now))
            )
            held = select(app_locks.c.deployment_id)
            orphans = (
                connection.execute(
                    select(deployments.c.id).where(
                        and_(deployments.c.state == "running", deployments.c.id.not_in(held))
                    )
                )
                .scalars()
                .all()
            )
            if orphans:
                connection.execute(
                    update(deployments)
                    .where(deployments.c.id.in_(orphans), deployments.c.state == "running")
                    .values(state="interrupted", summary=INTERRUPTED, finished_at=now)
                )
        return [int(i) for i in orphans]

    def lock_holder(self, app: str, now: datetime) -> int | None:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(app_locks.c.deployment_id).where(
                    app_locks.c.app == app, app_locks.c.expires_at >= self._expired_before(now)
                )
            ).scalar()
        return None if found is None else int(found)
