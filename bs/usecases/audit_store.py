"""The gateway's records for the audit: every deployment and link redemption, read-only.

The store is never created or changed: a SQLite file that does not exist (or
a database without the tables) means nothing was recorded yet. A store that
cannot be read stops the audit (it cannot be complete without it), with one
line naming where the store is, never its password. One query per table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bs.core.audit_facts import DeploymentFacts
from bs.errors import BsError
from bs.redaction import redact
from bs.store.deployments import Deployment
from bs.store.tables import deployments, link_redemptions
from bs.usecases.status_store import shown_location, store_location
from bs.workspace import Workspace

__all__ = ["GatewayRecords", "facts_of", "read_gateway_records", "store_location"]

#: Seconds to wait for a PostgreSQL server before calling it unreachable.
CONNECT_TIMEOUT = 10


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
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise BsError(
            "the gateway store's URL is not a database URL: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB (BS_GATEWAY_STORE, or gateway.store in bs.yaml)."
        ) from None
    shown = shown_location(parsed)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).exists():
            return GatewayRecords(shown, False)
        if not Path(database).is_file():
            raise BsError(f"the gateway store {shown} is not a file: fix gateway.store in bs.yaml.")
        engine = _read_only_sqlite(Path(database))
    else:
        try:
            engine = create_engine(
                parsed, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT}
            )
        except (NoSuchModuleError, ImportError):
            raise BsError(
                f"no database driver for the gateway store {shown}: install the one its URL "
                "names (for postgresql+psycopg: pip install 'psycopg[binary]')."
            ) from None
        except (ArgumentError, ValueError, TypeError):
            raise BsError(
                f"the gateway store's URL ({shown}) is not one SQLAlchemy can use."
            ) from None
    try:
        return _read(engine, shown)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [""])[0]
        said = redact(first, [parsed.password] if parsed.password else [])[:200]
        raise BsError(
            f"cannot read the gateway store {shown} ({type(cause).__name__}: {said}): the audit "
            "needs its records. Check the URL (BS_GATEWAY_STORE or gateway.store in bs.yaml) "
            "and that the database is running."
        ) from None
    finally:
        engine.dispose()


def _read_only_sqlite(path: Path) -> Engine:
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


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
