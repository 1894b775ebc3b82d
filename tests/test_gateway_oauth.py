"""Signing in to the gateway with GitHub (OAuth web flow), GitHub mocked with ``responses``.

The gateway is configured as in production: ``gateway: {github: {org: alphagov}}``
in bs.yaml, the OAuth app's client id and secret in the environment, and a
public address (host 0.0.0.0: Secure ``__Host-`` cookies, no local sign-in).
GitHub's answers are its own documented bodies (tests/oauthhelpers.py).
"""

from __future__ import annotations

import html
import http.client
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import Config
from sqlalchemy import select
from werkzeug.serving import make_server

from bs.errors import BsError
from bs.gateway.gunicorn_conf import RedactingLogger
from bs.gateway.serve import RedactingHandler
from bs.store.tables import web_sessions
from tests.conftest import World
from tests.gatewayhelpers import Minted, csrf_of, gateway, minted, redeem
from tests.oauthhelpers import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    CODE,
    ENV,
    ORG,
    REDIRECT_URI,
    SECURE_COOKIE,
    TOKEN_ERRORS,
    authorize_query,
    callback,
    github_button,
    github_sign_in,
    mock_github,
    mock_token,
    sign_in_with_github,
    start,
)

SECRETS = (CODE, ACCESS_TOKEN, CLIENT_SECRET)


@pytest.fixture
def link(world: World, tmp_path: Path) -> Minted:
    """alice's deploy link, with bs.yaml's gateway signing in with GitHub."""
    found = minted(world, tmp_path)
    sign_in_with_github(world)
    return found


@pytest.fixture
def app(link: Minted) -> Flask:
    """The gateway on a public address: GitHub is the only way in."""
    return gateway(link, env=ENV, host="0.0.0.0")


def signed_in_as(client: FlaskClient) -> str | None:
    """Who the gateway thinks this browser is (None: it is sent to the sign-in page)."""
    home = client.get("/")
    if home.status_code == 303:
        assert home.headers["Location"].startswith("/signin"), home.headers
        return None
    assert home.status_code == 200, home.text
    found = re.search(r"Signed in as <strong>([^<]+)</strong>", home.text)
    assert found, home.text
    return found.group(1)


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie(SECURE_COOKIE, domain="127.0.0.1")
    assert found is not None
    return found.value


# --- the way to GitHub ---------------------------------------------------------------


def test_signin_github_redirects_to_github_s_authorize_url(app: Flask) -> None:
    client = app.test_client()
    with responses.RequestsMock() as rsps:  # nothing registered: GitHub is not called yet
        response = client.get("/signin/github")
        again = app.test_client().get("/signin/github")
        assert len(rsps.calls) == 0
    assert response.status_code == 302
    query = authorize_query(response.headers["Location"])
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["redirect_uri"].endswith("/signin/github/callback")
    assert query["scope"] == "read:org"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 20
    assert query["state"] != authorize_query(again.headers["Location"])["state"]
    assert CLIENT_SECRET not in response.headers["Location"]
    # The state is kept server-side: the browser holds only a Secure, HttpOnly session id.
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{SECURE_COOKIE}=")
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert query["state"] not in set_cookie


def test_the_sign_in_page_offers_github_and_keeps_the_way_back(app: Flask, link: Minted) -> None:
    client = app.test_client()
    shown = client.get(link.path)
    found = re.search(r'id="sign-in-to-continue" href="([^"]+)"', shown.text)
    assert found, shown.text
    page = client.get(html.unescape(found.group(1)))
    assert "Sign in with GitHub" in page.text and f"Members of {ORG} only." in page.text
    button = github_button(page.text)
    assert button.startswith("/signin/github?")
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "alice")
        state = authorize_query(client.get(button).headers["Location"])["state"]
        back = callback(client, state)
    # The way back to a link is not kept in the (stored) session: the token would be.
    # One lands on the home page, told to open the link again.
    assert back.status_code == 303 and back.headers["Location"] == "/"
    assert "Open your deploy link again" in client.get("/").text
    # Any other way back is kept.
    other = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "alice")
        state = start(other, "/deployments/7")
        assert callback(other, state).headers["Location"] == "/deployments/7"


# --- the callback --------------------------------------------------------------------


def test_a_member_is_signed_in_in_a_new_session_and_can_redeem_her_link(
    app: Flask, link: Minted
) -> None:
    client = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "alice")
        state = start(client, link.path)
        before = cookie(client)
        back = callback(client, state)
        # The code is exchanged once, then who it is and whether they are a member.
        assert [(c.request.method, c.request.url) for c in rsps.calls] == [
            ("POST", "https://github.com/login/oauth/access_token"),
            ("GET", "https://api.github.com/user"),
            ("GET", f"https://api.github.com/user/memberships/orgs/{ORG}"),
        ]
    assert back.status_code == 303 and back.headers["Location"] == "/"
    after = cookie(client)
    assert after != before
    assert signed_in_as(client) == "alice"
    # The session id from before signing in is dead: it holds neither alice nor the state.
    old = app.test_client()
    old.set_cookie(SECURE_COOKIE, before, domain="127.0.0.1")
    assert signed_in_as(old) is None
    redeemed = redeem(client, link)
    assert redeemed.status_code == 303 and redeemed.headers["Location"] == "/deployments/1"
    assert "Deploy release_2 to frontend" in client.get("/deployments/1").text


@pytest.mark.parametrize("case", ["wrong", "missing", "another browser's"])
def test_a_callback_with_a_wrong_or_missing_state_is_refused(app: Flask, case: str) -> None:
    client = app.test_client()
    state = start(client)
    if case == "wrong":
        sent: str | None = secrets.token_urlsafe(22)
    elif case == "missing":
        sent = None
    else:  # an attacker's own state, from their browser: a login CSRF
        sent = start(app.test_client())
    assert sent != state
    with responses.RequestsMock() as rsps:  # the code is never even exchanged
        response = callback(client, sent)
        assert len(rsps.calls) == 0
    assert response.status_code == 403
    assert "GitHub did not confirm who you are" in response.text
    assert signed_in_as(client) is None


def test_a_state_is_good_for_one_callback_only(app: Flask) -> None:
    client = app.test_client()
    state = start(client)
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "alice", membership=None)
        assert callback(client, state).status_code == 403
    with responses.RequestsMock() as rsps:
        replayed = callback(client, state)
        assert len(rsps.calls) == 0
    assert replayed.status_code == 403 and signed_in_as(client) is None


def test_github_s_access_denied_redirect_is_refused(app: Flask) -> None:
    """The person pressed Cancel on GitHub (oauth.md 2.2: the error comes back in the query)."""
    client = app.test_client()
    state = start(client)
    with responses.RequestsMock() as rsps:
        response = client.get(
            "/signin/github/callback",
            query_string={
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": "/apps/building-integrations/setting-up-and-registering-oauth-apps/"
                "troubleshooting-authorization-request-errors/#access-denied",
                "state": state,
            },
        )
        assert len(rsps.calls) == 0
    assert response.status_code == 403 and signed_in_as(client) is None


@pytest.mark.parametrize("membership", [None, "pending"], ids=["not a member", "pending"])
def test_someone_not_an_active_member_is_refused_with_the_org_named(
    app: Flask, membership: str | None
) -> None:
    client = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "mallory", membership)
        response = callback(client, start(client))
    assert response.status_code == 403
    assert f"Only members of {ORG} may sign in to this gateway." in response.text
    assert signed_in_as(client) is None


@pytest.mark.parametrize("error", sorted(TOKEN_ERRORS))
def test_an_error_from_the_token_endpoint_is_refused(app: Flask, error: str) -> None:
    client = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_token(rsps, error=error)  # HTTP 200, with GitHub's error body
        response = callback(client, start(client))
        assert len(rsps.calls) == 1  # nothing is asked with a token it never got
    assert response.status_code == 403
    assert "GitHub did not confirm who you are" in response.text
    assert error not in response.text and "error_description" not in response.text
    assert signed_in_as(client) is None


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"BS_GITHUB_CLIENT_ID": CLIENT_ID},
        {"BS_GITHUB_CLIENT_SECRET": CLIENT_SECRET},
        {"BS_GITHUB_CLIENT_ID": "", "BS_GITHUB_CLIENT_SECRET": ""},
    ],
    ids=["neither", "no secret", "no id", "empty"],
)
def test_missing_client_credentials_stop_the_gateway_before_it_listens(
    link: Minted, env: dict[str, str]
) -> None:
    with pytest.raises(BsError) as raised:
        gateway(link, env=env, host="0.0.0.0")
    message = raised.value.message
    assert "BS_GITHUB_CLIENT_ID" in message and "BS_GITHUB_CLIENT_SECRET" in message
    assert CLIENT_ID not in message and CLIENT_SECRET not in message


def test_on_a_public_address_local_sign_in_is_neither_offered_nor_accepted(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/signin")
    assert "Sign in with GitHub" in page.text
    assert "/signin/local" not in page.text and 'name="user"' not in page.text
    # Signed out, with no CSRF token to send: refused.
    assert client.post("/signin/local", data={"user": "alice"}).status_code == 403
    # Signed in as alice, with her session's CSRF token: still no switching to bob.
    assert github_sign_in(client, "alice").status_code == 303
    token = csrf_of(client.get("/").text)
    refused = client.post("/signin/local", data={"user": "bob", "csrf": token, "next": "/"})
    assert refused.status_code == 403
    assert "Local sign-in is only for a gateway listening on this machine" in refused.text
    assert signed_in_as(client) == "alice"


# --- secrets -------------------------------------------------------------------------


def _everything_shown(response: Any) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items() if k != "Set-Cookie")
    return f"{response.status_code}\n{headers}\n{response.get_data(as_text=True)}"


def test_the_code_and_the_token_never_reach_a_log_a_page_or_the_store(
    app: Flask, link: Minted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    # A member signing in, redeeming, deploying; a non-member; a code GitHub refuses.
    client = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_github(rsps, "alice")
        state = start(client, link.path)
        shown.append(_everything_shown(callback(client, state)))
    for path in ("/", link.path, "/signin"):
        shown.append(_everything_shown(client.get(path)))
    page = client.get(link.path)
    shown.append(_everything_shown(client.post(link.path, data={"csrf": csrf_of(page.text)})))
    shown.append(_everything_shown(client.get("/deployments/1")))
    for membership in (None, "pending"):
        other = app.test_client()
        with responses.RequestsMock() as rsps:
            mock_github(rsps, "mallory", membership)
            shown.append(_everything_shown(callback(other, start(other))))
    refused = app.test_client()
    with responses.RequestsMock() as rsps:
        mock_token(rsps, error="bad_verification_code")
        shown.append(_everything_shown(callback(refused, start(refused))))
    assert len(shown) == 9
    logged = caplog.text
    for secret in SECRETS:
        assert secret not in logged, secret
        assert not [text for text in shown if secret in text], secret
    engine = app.extensions["bs"].settings.engine
    with engine.connect() as connection:
        stored = [row.data for row in connection.execute(select(web_sessions.c.data))]
    assert stored
    assert not [data for data in stored if any(secret in data for secret in SECRETS)]


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    """The app behind werkzeug's server with bs serve's request log: its port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(10)


def _http_get(port: int, path: str, cookie_: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Cookie": cookie_} if cookie_ else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_bs_serve_s_request_log_never_holds_the_code(
    served: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = _http_get(served, "/signin/github")
    assert started.status == 302
    state = authorize_query(started.headers["Location"])["state"]
    session = started.headers["Set-Cookie"].split(";", 1)[0]
    with responses.RequestsMock() as rsps:  # the server's thread calls GitHub
        mock_github(rsps, "alice")
        back = _http_get(served, f"/signin/github/callback?code={CODE}&state={state}", session)
    assert back.status == 303
    logged = [r.getMessage() for r in caplog.records if r.name == "bs.gateway.access"]
    assert any("/signin/github/callback" in line and "303" in line for line in logged), logged
    for secret in (*SECRETS, state):
        assert secret not in caplog.text, secret


def test_gunicorn_s_access_log_line_never_holds_the_code() -> None:
    config = Config()
    logger = RedactingLogger(config)
    query = f"code={CODE}&state=abc"
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/signin/github/callback?{query}",
        "PATH_INFO": "/signin/github/callback", "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": f"https://github.com/login/oauth/authorize?{query}",
    }  # fmt: skip

    response = SimpleNamespace(status="303 SEE OTHER", sent=189, headers=[("Location", "/")])
    atoms = logger.atoms(response, [], environ, timedelta(milliseconds=12))
    line = config.access_log_format % atoms
    assert "/signin/github/callback" in line
    assert CODE not in line
