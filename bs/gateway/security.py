"""Headers, CSRF and Origin checks, and logs that never hold a link or a code.

As SECURITY.md asks: every response carries a strict CSP, no referrer and
no caching of pages; every POST carries the session's CSRF token and, when
the browser sends an Origin, comes from the gateway's own origin.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

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
        if not same_origin(dict(request.headers), allowed | {_origin(request.host_url)}):
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


def same_origin(headers: Mapping[str, str], allowed: set[str]) -> bool:
    """Whether a POST comes from the gateway's own pages.

    Its pages say ``Referrer-Policy: no-referrer``, under which browsers send
    ``Origin: null`` with their forms; then ``Sec-Fetch-Site`` (which no page
    can set) must say same-origin. A client that sends neither header is not a
    browser a site can drive: the CSRF token decides.
    """
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    return origin.lower() in allowed


def trusted_hosts(gateway_url: str, *, loopback: bool) -> list[str]:
    """Host names the gateway answers to: its URL's, and this machine's when on loopback.
    Any other (a DNS-rebound name pointing here) is refused before a view runs."""
    hosts = [urlsplit(gateway_url).hostname or ""]
    if loopback:
        hosts += ["127.0.0.1", "localhost", "::1", "[::1]"]
    return sorted({h for h in hosts if h})


_LINK_SEGMENT = re.compile(r"(?i)(/+link/+)[^/]*")
#: Anything shaped like a deploy link's token, wherever it is.
_TOKEN = re.compile(r"bs1\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def redact_text(text: str) -> str:
    """`text` with every token-shaped string hidden and control characters escaped (a
    request must not write a line of its own into the log)."""
    text = _TOKEN.sub("[redacted]", text)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def loggable_path(target: str) -> str:
    """A request target fit for a log: no query (OAuth codes, state), no scheme or host,
    no link token however the path is spelt (``/%6Cink/...``, ``//link/...``), and no
    line breaks."""
    if "://" in target.split("?", 1)[0]:
        target = urlsplit(target).path  # absolute form: drop the scheme and host
    path = unquote(target.split("?", 1)[0])
    path = _LINK_SEGMENT.sub(lambda m: "/link/[redacted]", path)
    return redact_text(path)
