"""The store's tables.

``link_redemptions`` has one row per request whose link was redeemed: its
primary key is the request, not the link, so any one redemption kills every
link of the request. Links are kept only as SHA-256 digests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, Integer, MetaData, String, Table, Text
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and read back aware on every database (SQLite gives its
    datetimes back naive). Only aware datetimes may be stored."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


metadata = MetaData()

link_redemptions = Table(
    "link_redemptions",
    metadata,
    Column("request_key", String(200), primary_key=True),
    Column("link_digest", String(64), nullable=False),
    Column("pull_request", Integer, nullable=False),
    Column("requester", String(100), nullable=False),
    Column("redeemed_by", String(100), nullable=False),
    Column("redeemed_at", UtcDateTime(), nullable=False),
)

link_attempts = Table(
    "link_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link_digest", String(64), nullable=False),
    Column("request_key", String(200)),
    Column("who", String(100)),
    Column("outcome", String(40), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

#: One row per redeemed request: what was approved, and how its deploy went.
deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_key", String(200), nullable=False, unique=True),
    Column("app", String(100), nullable=False),
    Column("pull_request", Integer, nullable=False),
    Column("requester", String(100), nullable=False),
    #: The approval record, as the merge hook comments it (tags, commits, approvers, slot).
    Column("record", Text, nullable=False),
    Column("slot_start", UtcDateTime(), nullable=False),
    Column("slot_end", UtcDateTime(), nullable=False),
    #: ready, running, succeeded, failed, interrupted
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("summary", Text, nullable=False, default=""),
    Column("url", Text),
    Column("deployed_by", String(100)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("heartbeat_at", UtcDateTime()),
)

#: The deployer's output, line by line, for the live page and the record.
deployment_log = Table(
    "deployment_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("line", Text, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

#: One row per app being deployed: the primary key makes taking it atomic. A holder
#: that stops renewing it (a crashed gateway) loses it once `expires_at` passes.
app_locks = Table(
    "app_locks",
    metadata,
    Column("app", String(100), primary_key=True),
    Column("deployment_id", Integer, nullable=False),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

#: Server-side sessions: the cookie holds a random id, the store only its digest.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_digest", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)
