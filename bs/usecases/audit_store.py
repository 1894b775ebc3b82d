"""The gateway's records for the audit: every deployment and link redemption, read-only.

The store is never created or changed: a SQLite file that does not exist (or
a database without the tables) means nothing was recorded yet. A store that
cannot be read stops the audit (it cannot be complete without it), with one
line naming where the store is, never its password. One query per table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from bs.core.audit_facts import DeploymentFacts
from bs.errors import BsError
from bs.store.deployments import Deployment
from bs.store.readonly import StoreUnreadable, open_read_only, store_location
from bs.store.tables import deployments, link_redemptions
from bs.workspace import Workspace

__all__ = ["GatewayRecords", "facts_of", "gateway_records", "read_gateway_records"]


@dataclass(frozen=True)
class GatewayRecords:
    #: Where the store is, fit to print.
    location: str
    #: False when nothing was ever recorded (no SQLite file, no tables).
    exists: bool
    deployments: tuple[DeploymentFacts, ...] = ()


def gateway_records(workspace: Workspace, env: Mapping[str, str]) -> GatewayRecords:
    """The records of the store the gateway uses (``BS_GATEWAY_STORE`` or ``gateway.store``)."""
    return read_gateway_records(store_location(workspace, env))


def read_gateway_records(url: str) -> GatewayRecords:
    try:
        opened = open_read_only(url)
    except StoreUnreadable as exc:
        raise BsError(f"cannot read the gateway store {exc.shown}: {exc.reason}.") from None
    if opened.engine is None:
        return GatewayRecords(opened.shown, False)
    try:
        return _read(opened.engine, opened.shown)
    except SQLAlchemyError as exc:
        raise BsError(
            f"cannot read the gateway store {opened.shown} ({opened.reason(exc)}): the audit "
            "needs its records. Check the URL (BS_GATEWAY_STORE or gateway.store in bs.yaml) "
            "and that the database is running."
        ) from None
    finally:
        opened.engine.dispose()


def _read(engine: Engine, shown: str) -> GatewayRecords:
    with engine.connect() as connection:
        tables = inspect(connection)
        if not tables.has_table(deployments.name):
            return GatewayRecords(shown, False)
        redeemed: set[str] = set()
        if tables.has_table(link_redemptions.name):
            redeemed = set(connection.execute(select(link_redemptions.c.request_key)).scalars())
        rows = connection.execute(select(deployments).order_by(deployments.c.id)).mappings()
        found = tuple(
            DeploymentFacts(
                id=int(row["id"]), request_key=row["request_key"], app=row["app"],
                pull_request=int(row["pull_request"]), requester=row["requester"],
                record=_record(row["record"]), state=row["state"], attempts=int(row["attempts"]),
                deployed_by=row["deployed_by"], created_at=row["created_at"],
                started_at=row["started_at"], finished_at=row["finished_at"],
                redeemed=row["request_key"] in redeemed,
            )
            for row in rows
        )  # fmt: skip
    return GatewayRecords(shown, True, found)


def facts_of(deployment: Deployment, *, redeemed: bool = True) -> DeploymentFacts:
    """A deployment as ``bs.store.deployments`` reads it, as the audit's facts (for a
    command holding those, such as ``bs status`` asking for unreviewed emergencies)."""
    d = deployment
    return DeploymentFacts(
        id=d.id, request_key=d.request_key, app=d.app, pull_request=d.pull_request,
        requester=d.requester, record=d.record, state=d.state, attempts=d.attempts,
        deployed_by=d.deployed_by, created_at=d.created_at, started_at=d.started_at,
        finished_at=d.finished_at, redeemed=redeemed,
    )  # fmt: skip


def _record(text: Any) -> dict[str, Any]:
    """The approval record; an unreadable one is empty (the audit then says so)."""
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
