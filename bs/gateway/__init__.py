"""The deploy gateway (``bs serve``): from a deploy link to a finished deployment.

`create_app` is the app factory; `bs serve` runs it on one machine, gunicorn
in production (``gunicorn 'bs.gateway.wsgi:app'``, see the README).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from bs.gateway import security
from bs.gateway.sessions import StoreSessionInterface
from bs.gateway.state import Gateway, GatewaySettings, signed_in
from bs.store.deployments import Deployments
from bs.store.ledger import LinkLedger
from bs.usecases.deploy import DeployContext

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "gateway"
log = logging.getLogger("bs.gateway")
PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


def create_app(settings: GatewaySettings) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure,
        TEMPLATES_AUTO_RELOAD=False,
        TRUSTED_HOSTS=security.trusted_hosts(
            settings.config.gateway.url, loopback=not settings.secure
        ),
    )
    app.session_interface = StoreSessionInterface(
        settings.engine, secure=settings.secure, now=settings.now
    )
    lock_ttl = timedelta(seconds=settings.config.gateway.lock_timeout)
    deployments = Deployments(settings.engine, lock_ttl=lock_ttl)
    context = DeployContext(
        forge=settings.forge, config=settings.config, store=deployments,
        mailer=settings.mailer, env=settings.env, now=settings.now, holder=settings.holder,
        root=settings.root,
    )  # fmt: skip
    app.extensions["bs"] = Gateway(settings, deployments, LinkLedger(settings.engine), context)
    deployments.recover_stale(settings.now())
    security.install(app, gateway_url=settings.config.gateway.url, secure=settings.secure)

    from bs.gateway.signin import signin
    from bs.gateway.views_deploy import deploy
    from bs.gateway.views_home import home
    from bs.gateway.views_link import link

    for blueprint in (signin, home, link, deploy):
        app.register_blueprint(blueprint)

    @app.context_processor
    def _user() -> dict[str, Any]:
        return {"user": signed_in()}

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
        message = error.description or error.name
        code = error.code or 500
        if isinstance(error, SecurityError):  # an untrusted Host: no page can be built for it
            return "This gateway does not answer to that host name.\n", 400, PLAIN
        return render_template("error.html", title=error.name, message=message), code

    def _log_exception(exc_info: Any) -> None:
        # Flask's own says "Exception on /link/<the token>": never the path as sent.
        log.error(
            "error on %s %s", request.method, security.loggable_path(request.path),
            exc_info=exc_info,
        )  # fmt: skip

    app.log_exception = _log_exception  # type: ignore[method-assign]
    return app
