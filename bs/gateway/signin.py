"""Signing in to the gateway: GitHub's OAuth web flow, or a local sign-in.

GitHub: Authlib runs the web flow with ``state`` (kept in the server-side
session); only members of the configured organisation get in. Local: pick a
user of the local forge, offered only while the gateway listens on loopback
and only to requests from this machine. Either way the session is rotated.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from bs.gateway.sessions import ServerSession
from bs.gateway.state import gateway

signin = Blueprint("signin", __name__)


#: The pages one is sent back to after signing in: a link, a deployment, the home page.
_BACK_TO = re.compile(r"/(?:link/[A-Za-z0-9._-]{1,2000}|deployments/[0-9]{1,12})?")


OPEN_LINK_AGAIN = "You are signed in. Open your deploy link again, from its mail, to go on."


def safe_next(path: object) -> str:
    """A page of this gateway to go back to; anything else (another site, a path a
    browser would read as one: ``//``, ``/\\``, a tab...) is the home page."""
    if isinstance(path, str) and _BACK_TO.fullmatch(path):
        return path
    return "/"


def sign_in_url(back_to: str) -> str:
    """The sign-in page, coming back to `back_to` after. The path travels in the query
    (never logged), not in a cookie: opening a link signed out sets none."""
    return url_for("signin.page", next=safe_next(back_to))


def start_session(user: str, **data: object) -> None:
    """Replace the session with a new one for `user` (a new id, a new CSRF token)."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    assert isinstance(current, ServerSession)
    current.rotate({"user": user, "csrf": secrets.token_urlsafe(32), **data})


def _start_session(user: str, target: str, **data: object) -> Response:
    start_session(user, **data)
    return redirect(safe_next(target), code=303)


@signin.get("/signin")
def page() -> str:
    settings = gateway().settings
    users = settings.local_users() if settings.local_users and _from_loopback() else None
    github = settings.config.gateway.github
    return render_template(
        "signin.html", title="Sign in", local_users=users, github=github.org if github else None,
        next=safe_next(request.args.get("next")),
    )  # fmt: skip


def _from_loopback() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@signin.post("/signin/local")
def local() -> Response:
    settings = gateway().settings
    if settings.local_users is None or not _from_loopback():
        abort(403, "Local sign-in is only for a gateway listening on this machine.")
    user = request.form.get("user", "")
    known = {name.lower(): name for name in settings.local_users()}
    if user.lower() not in known:
        abort(400, "No such user on the local forge: pick one from the list.")
    return _start_session(known[user.lower()], request.form.get("next", "/"))


@signin.post("/signout")
def signout() -> Response:
    session.clear()
    return redirect(url_for("signin.page"), code=303)


def register_github(app: Flask, client_id: str, client_secret: str) -> None:
    from authlib.integrations.flask_client import OAuth

    github = app.extensions["bs"].settings.config.gateway.github
    assert github is not None
    oauth = OAuth(app)
    oauth.register(
        "github", client_id=client_id, client_secret=client_secret,
        access_token_url=f"{github.web_url}/login/oauth/access_token",
        authorize_url=f"{github.web_url}/login/oauth/authorize",
        api_base_url=github.api_url.rstrip("/") + "/",
        client_kwargs={"scope": "read:org"},
    )  # fmt: skip
    app.extensions["bs_oauth"] = oauth


def _oauth() -> Any:
    """Authlib's client for GitHub; a 404 where sign-in with GitHub is not set up."""
    oauth = current_app.extensions.get("bs_oauth")
    if oauth is None:
        abort(404, "Sign-in with GitHub is not set up on this gateway.")
    return oauth


@signin.get("/signin/github")
def github() -> Response:
    oauth = _oauth()
    # The way back is kept in the session, which is stored: never a link's token.
    back_to = safe_next(request.args.get("next"))
    session["next"] = "/" if back_to.startswith("/link/") else back_to
    if back_to.startswith("/link/"):
        session["open_link_again"] = True
    base = gateway().settings.config.gateway.url.rstrip("/")
    response: Response = oauth.github.authorize_redirect(f"{base}/signin/github/callback")
    return response


@signin.get("/signin/github/callback")
def github_callback() -> Response:
    from authlib.integrations.base_client.errors import OAuthError

    from requests import RequestException

    oauth = _oauth()
    org = gateway().settings.config.gateway.github
    assert org is not None
    try:
        token = oauth.github.authorize_access_token()
        user = oauth.github.get("user", token=token)
        user.raise_for_status()
        login = user.json()["login"]
        membership = oauth.github.get(f"user/memberships/orgs/{org.org}", token=token)
    except (OAuthError, RequestException, KeyError, ValueError):
        abort(403, "GitHub did not confirm who you are. Sign in again.")
    if membership.status_code != 200 or membership.json().get("state") != "active":
        abort(403, f"Only members of {org.org} may sign in to this gateway.")
    target = str(session.get("next", "/"))
    if session.get("open_link_again"):
        return _start_session(str(login), "/", notice=OPEN_LINK_AGAIN)
    return _start_session(str(login), target)
