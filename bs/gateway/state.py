"""The gateway's settings and the objects its views share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app, session
from sqlalchemy import Engine

from bs.config import BsConfig
from bs.core.links import Keyring
from bs.core.request import kind_words
from bs.ports import Forge, Mailer
from bs.store.deployments import Deployments
from bs.store.ledger import LinkLedger

if TYPE_CHECKING:
    from bs.usecases.deploy import DeployContext


@dataclass
class GatewaySettings:
    config: BsConfig
    forge: Forge
    engine: Engine
    keyring: Keyring
    mailer: Mailer
    env: Mapping[str, str]
    now: Callable[[], datetime]
    #: Cookies marked Secure (off only when the gateway listens on loopback).
    secure: bool
    #: The local forge's users, for the local sign-in; None when it is not allowed.
    local_users: Callable[[], list[str]] | None = None
    holder: str = field(default="gateway")
    #: The requests repository's checkout (deploy commands run there).
    root: Path = field(default_factory=Path.cwd)


@dataclass
class Gateway:
    settings: GatewaySettings
    deployments: Deployments
    ledger: LinkLedger
    deploy: DeployContext


def kind_suffix(record: Mapping[str, object]) -> str:
    """`` (EMERGENCY)``, `` (ROLLBACK)``: for page titles, from an approval record."""
    words = kind_words(
        emergency=bool(record.get("emergency")), rollback=bool(record.get("rollback"))
    )
    return f" ({' '.join(words)})" if words else ""


def gateway() -> Gateway:
    found: Gateway = current_app.extensions["bs"]
    return found


def signed_in() -> str | None:
    user = session.get("user")
    return user if isinstance(user, str) else None
