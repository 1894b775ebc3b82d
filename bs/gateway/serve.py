"""The gateway's composition root: settings from bs.yaml and the environment.

Shared by ``bs serve`` (werkzeug's threaded server, for one machine) and
``bs.gateway.wsgi`` (gunicorn). Everything that can be wrong is found here,
before the gateway listens, and said in one line.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from bs.errors import BsError
from bs.gateway.security import loggable_path, redact_text
from bs.gateway.state import GatewaySettings
from bs.store.readonly import store_location
from bs.workspace import Workspace


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def store_url(workspace: Workspace, env: Mapping[str, str]) -> str:
    """The store's URL (a relative SQLite path is from bs.yaml's folder), its folder made."""
    url = store_location(workspace, env)
    prefix = "sqlite:///"
    if url.startswith(prefix + "/"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return url


def build_settings(workspace: Workspace, env: Mapping[str, str], *, host: str) -> GatewaySettings:
    from bs.forges import open_forge
    from bs.linkkeys import load_keyring
    from bs.mail import open_mailer
    from bs.store import open_store

    config = workspace.config
    loopback = is_loopback(host)
    if config.gateway.github is None and not (config.forge.kind == "local" and loopback):
        raise BsError(
            f"the gateway would listen on {host} with no way to sign in: local sign-in is only "
            "for a gateway on 127.0.0.1 with the local forge. Set gateway.github in bs.yaml."
        )
    keyring = load_keyring(env, workspace.root)
    forge = open_forge(workspace, env)
    local_users = None
    if config.forge.kind == "local" and loopback:
        from bs.forges.local import LocalForge

        assert isinstance(forge, LocalForge)
        local_users = forge.known_users
    return GatewaySettings(
        config=config, forge=forge, engine=open_store(store_url(workspace, env)),
        keyring=keyring, mailer=open_mailer(workspace, env), env=dict(env),
        # Cookies are Secure (and __Host-) wherever the gateway is reached over https, a
        # TLS proxy in front of a loopback gateway included.
        now=lambda: datetime.now(UTC),
        secure=not loopback or config.gateway.url.startswith("https://"),
        local_users=local_users,
        holder=secrets.token_hex(8), root=workspace.root,
    )  # fmt: skip


def build_app(settings: GatewaySettings) -> Flask:
    from bs.gateway import create_app

    app = create_app(settings)
    github = settings.config.gateway.github
    if github is not None:
        client_id = settings.env.get(github.client_id_env)
        client_secret = settings.env.get(github.client_secret_env)
        if not client_id or not client_secret:
            raise BsError(
                f"sign-in with GitHub needs {github.client_id_env} and "
                f"{github.client_secret_env} in the environment: the OAuth app's client id "
                "and secret."
            )
        from bs.gateway.signin import register_github

        register_github(app, client_id, client_secret)
    return app


class RedactingHandler(WSGIRequestHandler):
    """werkzeug's request log, without queries (OAuth codes) or link tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("bs.gateway.access").info(
            '%s "%s %s" %s', self.address_string(), getattr(self, "command", "-"),
            loggable_path(getattr(self, "path", "-")), code,
        )  # fmt: skip

    def log_error(self, format: str, *args: object) -> None:
        # "Bad request syntax ('GET /link/TOKEN ...')": the raw line, so redacted whole.
        logging.getLogger("bs.gateway.access").warning(
            "%s %s", self.address_string(), redact_text(format % args)
        )

    def log_message(self, format: str, *args: object) -> None:
        self.log_error(format, *args)
