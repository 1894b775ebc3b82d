"""Headers, CSRF and Origin checks, and logs that never hold a link or a code.

As SECURITY.md asks: every response carries a strict CSP, no referrer and
no caching of pages; every POST carries the session's CSRF token and, when
the browser sends an Origin, comes from the gateway's own origin.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request, session

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def install(app: Flask, *, gateway_url: str, secure: bool) -> None:
    allowed = {_origin(gateway_url)}

    @app.before_request
    def _check_post() -> None:
        if request.method != "POST":
            return
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in allowed | {_origin(request.host_url)}:
            abort(
                403, "This form was sent from another site. Open the gateway's page and try again."
            )
        sent = request.form.get("csrf", "")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode(), expected.encode()
        ):
            abort(
                403,
                "This form has expired or did not come from this page. Reload it and try again.",
            )

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        if secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token


_SECRET_PATH = re.compile(r"^/link/[^/?\s]*")


def loggable_path(path: str) -> str:
    """`path` without its query (OAuth codes, state) and without a link's token."""
    path = path.split("?", 1)[0]
    return _SECRET_PATH.sub("/link/[redacted]", path)
