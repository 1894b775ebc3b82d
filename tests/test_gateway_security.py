"""The gateway's web defences (SECURITY.md, "Deploy links"): CSRF tokens and the Origin
check on every POST, sessions rotated at sign-in and redemption, cookie flags, headers on
every page, local sign-in only from this machine, and no token or session id in any log."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from bs.gateway.security import loggable_path
from bs.gateway.serve import RedactingHandler
from bs.store.tables import web_sessions
from tests.gatewayhelpers import Minted, csrf_of, gateway, redeem, sign_in
from tests.gatewaytesthelpers import (
    COOKIE,
    app_fixture,  # noqa: F401 (a fixture)
    deployment_count,
    deployment_state,
    engine_of,
    minted_fixture,  # noqa: F401 (a fixture)
    outcomes,
    press_deploy,
    redemption_count,
    session_cookie,
    set_cookies,
    signed_in,
    wait_finished,
)

PAGE = "/deployments/1"
FOREIGN = "https://evil.example"


def is_signed_out(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 303 and response.headers["Location"].startswith("/signin")


# -- CSRF and Origin -----------------------------------------------------------------

BAD_POSTS = {
    "no CSRF token": ({}, {}),
    "a wrong CSRF token": ({"csrf": "x" * 43}, {}),
    "another site's Origin": (None, {"Origin": FOREIGN}),
}


def bad_post(client: FlaskClient, url: str, csrf: str, case: str) -> Any:
    data, headers = BAD_POSTS[case]
    return client.post(url, data={"csrf": csrf} if data is None else data, headers=headers)


@pytest.mark.parametrize("case", list(BAD_POSTS))
def test_pressing_a_link_needs_the_csrf_token_and_our_origin(
    app: Flask, m: Minted, case: str
) -> None:
    alice = signed_in(app, "alice")
    csrf = csrf_of(alice.get(m.path).text)
    refused = bad_post(alice, m.path, csrf, case)
    assert refused.status_code == 403
    assert redemption_count(app) == deployment_count(app) == 0
    assert outcomes(app) == []  # refused before the link was even looked at
    assert m.run_count() == 0
    # The same press, done right, works: the link was not spent.
    assert alice.post(m.path, data={"csrf": csrf}).status_code == 303


@pytest.mark.parametrize(
    ("origin", "headers"),
    [
        ("http://127.0.0.1:8421", {}),
        # Under Referrer-Policy: no-referrer a browser sends Origin: null, and says
        # Sec-Fetch-Site: same-origin (which no page can set).
        ("null", {"Sec-Fetch-Site": "same-origin"}),
    ],
)
def test_the_gateways_own_origin_is_accepted(
    app: Flask, m: Minted, origin: str, headers: dict[str, str]
) -> None:
    alice = signed_in(app, "alice")
    csrf = csrf_of(alice.get(m.path).text)
    pressed = alice.post(m.path, data={"csrf": csrf}, headers={"Origin": origin, **headers})
    assert pressed.status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:8421", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost"},
    ],
)
def test_a_post_from_another_site_is_refused(
    app: Flask, m: Minted, headers: dict[str, str]
) -> None:
    alice = signed_in(app, "alice")
    csrf = csrf_of(alice.get(m.path).text)
    assert alice.post(m.path, data={"csrf": csrf}, headers=headers).status_code == 403
    assert alice.post(m.path, data={"csrf": csrf}).status_code == 303


@pytest.mark.parametrize("case", list(BAD_POSTS))
def test_pressing_deploy_needs_the_csrf_token_and_our_origin(
    app: Flask, m: Minted, case: str
) -> None:
    alice = signed_in(app, "alice")
    assert redeem(alice, m).status_code == 303
    csrf = csrf_of(alice.get(PAGE).text)
    assert bad_post(alice, PAGE + "/deploy", csrf, case).status_code == 403
    assert deployment_state(app) == "ready" and m.run_count() == 0
    assert alice.post(PAGE + "/deploy", data={"csrf": csrf}).status_code == 303
    assert wait_finished(alice)["state"] == "succeeded"


def test_signing_in_and_out_need_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/signin")
    assert client.post("/signin/local", data={"user": "alice"}).status_code == 403
    assert is_signed_out(client)
    sign_in(client, "alice")
    assert client.post("/signout", data={}).status_code == 403
    assert not is_signed_out(client)
    csrf = csrf_of(client.get("/signin").text)
    assert client.post("/signout", data={"csrf": csrf}).status_code == 303
    assert is_signed_out(client)


# -- sessions ------------------------------------------------------------------------


def test_redemption_starts_a_new_session_and_the_old_one_dies(app: Flask, m: Minted) -> None:
    alice = signed_in(app, "alice")
    page = alice.get(m.path)
    before, old_csrf = session_cookie(alice), csrf_of(page.text)
    assert before
    pressed = alice.post(m.path, data={"csrf": old_csrf})
    assert pressed.status_code == 303
    after = session_cookie(alice)
    assert after and after != before
    (cookie,) = set_cookies(pressed)
    assert cookie.startswith(f"{COOKIE}={after};")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # on loopback only
    assert not any(flag.startswith("domain") for flag in flags)
    # A browser holding the old cookie is signed out; the old CSRF token is dead too.
    stale = app.test_client()
    stale.set_cookie(COOKIE, before)
    assert is_signed_out(stale)
    assert stale.get(PAGE).status_code == 303
    assert alice.post("/signout", data={"csrf": old_csrf}).status_code == 403
    assert not is_signed_out(alice)
    assert csrf_of(alice.get(PAGE).text) != old_csrf


def test_signing_in_rotates_the_session(app: Flask) -> None:
    client = app.test_client()
    client.get("/signin")
    planted = session_cookie(client)  # what an attacker could have set beforehand
    assert planted
    sign_in(client, "alice")
    assert session_cookie(client) not in (None, planted)
    stale = app.test_client()
    stale.set_cookie(COOKIE, planted)
    assert is_signed_out(stale)


def test_signing_out_ends_the_session_on_the_server(app: Flask) -> None:
    alice = signed_in(app, "alice")
    sid = session_cookie(alice)
    assert sid
    signed_out = alice.post("/signout", data={"csrf": csrf_of(alice.get("/signin").text)})
    assert any(c.startswith(f"{COOKIE}=;") for c in set_cookies(signed_out))
    replay = app.test_client()
    replay.set_cookie(COOKIE, sid)
    assert is_signed_out(replay)


def off_loopback(m: Minted) -> Flask:
    """The gateway as deployed: on 0.0.0.0, https, sign-in with GitHub."""
    config_path = m.world.checkout / "bs.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["gateway"] = {"url": "https://deploy.example.gov.uk", "github": {"org": "alphagov"}}
    config_path.write_text(yaml.safe_dump(config))
    env = {"BS_GITHUB_CLIENT_ID": "client-id", "BS_GITHUB_CLIENT_SECRET": "client-secret"}
    return gateway(m, host="0.0.0.0", env=env)


def test_off_loopback_the_cookie_is_host_prefixed_and_secure(m: Minted) -> None:
    app = off_loopback(m)
    client = app.test_client()
    page = client.get("/signin")
    assert "Sign in with GitHub" in page.text and 'name="user"' not in page.text
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    started = client.get("/signin/github")
    assert started.status_code == 302
    assert started.headers["Location"].startswith("https://github.com/login/oauth/authorize?")
    assert "state=" in started.headers["Location"]
    (cookie,) = set_cookies(started)
    assert cookie.startswith("__Host-bs_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags
    assert not any(flag.startswith("domain") for flag in flags)
    # No local sign-in off loopback, even from this machine (with a valid CSRF token).
    secure = app.test_client()
    with secure.session_transaction(base_url="https://deploy.example.gov.uk") as session:
        session["csrf"] = "planted-csrf-token"
    refused = secure.post(
        "/signin/local", data={"user": "alice", "csrf": "planted-csrf-token"},
        base_url="https://deploy.example.gov.uk",
    )  # fmt: skip
    assert refused.status_code == 403
    assert "only for a gateway listening on this machine" in refused.text


def test_signing_in_with_github_from_a_link_stores_no_token(m: Minted) -> None:
    app = off_loopback(m)
    client = app.test_client()
    shown = client.get(m.path, base_url="https://deploy.example.gov.uk")
    assert shown.status_code == 200 and "Sign in to continue" in shown.text
    started = client.get(
        "/signin/github", query_string={"next": m.path}, base_url="https://deploy.example.gov.uk"
    )
    assert started.status_code == 302
    with engine_of(app).connect() as connection:
        stored = connection.execute(select(web_sessions.c.data)).scalars().all()
    assert stored  # the OAuth state is kept there, as it should be
    assert all(m.token not in data for data in stored), stored


# -- sign-in ------------------------------------------------------------------------


def test_local_sign_in_is_only_for_this_machine_and_known_users(app: Flask) -> None:
    client = app.test_client()
    remote = {"REMOTE_ADDR": "10.0.0.5"}
    page = client.get("/signin", environ_base=remote)
    assert 'name="user"' not in page.text
    csrf = csrf_of(client.get("/signin").text)
    from_afar = client.post(
        "/signin/local", data={"user": "alice", "csrf": csrf}, environ_base=remote
    )
    assert from_afar.status_code == 403
    assert "only for a gateway listening on this machine" in from_afar.text
    assert is_signed_out(client)
    unknown = client.post("/signin/local", data={"user": "mallory", "csrf": csrf})
    assert unknown.status_code == 400 and "No such user" in unknown.text
    assert is_signed_out(client)
    assert client.post("/signin/local", data={"user": "alice", "csrf": csrf}).status_code == 303
    assert not is_signed_out(client)


# -- headers ---------------------------------------------------------------------------


def assert_strict_headers(response: Any) -> None:
    headers = response.headers
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"):
        assert directive in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_link_and_deployment_pages_carry_strict_headers(app: Flask, m: Minted) -> None:
    responses = [app.test_client().get(m.path), app.test_client().head(m.path)]
    alice = signed_in(app, "alice")
    responses.append(alice.get("/link/bs1.nope.nope.nope"))  # the refusal page
    page = alice.get(m.path)
    responses.append(page)
    pressed = alice.post(m.path, data={"csrf": csrf_of(page.text)})
    responses.append(pressed)
    responses += [alice.get(PAGE), alice.get(PAGE + "/progress"), alice.get("/deployments/9")]
    responses.append(press_deploy(alice))
    wait_finished(alice)
    responses.append(alice.get(PAGE))
    assert [r.status_code for r in responses] == [200, 200, 403, 200, 303, 200, 200, 404, 303, 200]
    for response in responses:
        assert_strict_headers(response)
    assert '<meta name="referrer" content="no-referrer">' in page.text


# -- logs -------------------------------------------------------------------------------


def test_no_token_or_session_id_in_any_log(
    app: Flask, m: Minted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scanner = app.test_client()
    scanner.get(m.path)
    scanner.head(m.path)
    erin = signed_in(app, "erin")
    erin.post(m.path, data={"csrf": csrf_of(erin.get("/signin").text)})
    alice = signed_in(app, "alice")
    sids = {session_cookie(alice)}
    m.fail_next_deploys()
    assert redeem(alice, m).status_code == 303
    sids.add(session_cookie(alice))
    assert press_deploy(alice).status_code == 303
    assert wait_finished(alice)["state"] == "failed"
    Path(str(m.runs) + ".exit").unlink()
    assert press_deploy(alice).status_code == 303
    assert wait_finished(alice)["state"] == "succeeded"
    assert caplog.records  # the flow did log
    secrets_seen = [m.token, m.token.split(".")[-1], *(s for s in sids if s)]
    for record in caplog.records:
        logged = f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for secret in secrets_seen:
            assert secret not in logged, record
    log = app.extensions["bs"].deployments.log(1)
    assert log and all(m.token not in line.line for line in log)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/link/bs1.k.body.sig", "/link/[redacted]"),
        ("/link/bs1.k.body.sig?x=1", "/link/[redacted]"),
        ("/link/bs1.k.body.sig/more", "/link/[redacted]/more"),
        ("/link/", "/link/[redacted]"),
        ("/signin/github/callback?code=c0de&state=st4te", "/signin/github/callback"),
        ("/signin?next=/link/bs1.k.body.sig", "/signin"),
        ("/deployments/1/progress?after=3", "/deployments/1/progress"),
        ("/", "/"),
    ],
)
def test_loggable_path(path: str, shown: str) -> None:
    assert loggable_path(path) == shown


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    """The app behind `bs serve`'s own server and request handler, on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join(5)


def raw_get(port: int, target: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"127.0.0.1:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def access_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        r.getMessage() for r in caplog.records if r.name in ("bs.gateway.access", "werkzeug")
    )


@pytest.mark.parametrize("target", ["/link/{token}?utm=x", "//link/{token}?utm=x"])
def test_bs_serve_access_log_redacts_the_link(
    served: int, m: Minted, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    caplog.set_level(logging.INFO)
    status, body = raw_get(served, target.format(token=m.token))
    assert status == 200 and "This is a deploy link" in body
    logged = access_log(caplog)
    assert '"GET /link/[redacted]" 200' in logged
    assert m.token not in logged and "utm" not in logged


ODD_TARGETS = {
    "percent-encoded": "/%6Cink/{token}",
    "absolute form": "http://127.0.0.1:8421/link/{token}",
}


@pytest.mark.parametrize("form", list(ODD_TARGETS))
def test_bs_serve_access_log_redacts_the_link_however_it_is_spelt(
    served: int, m: Minted, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    caplog.set_level(logging.INFO)
    status, body = raw_get(served, ODD_TARGETS[form].format(token=m.token))
    assert status == 200 and "This is a deploy link" in body  # the link's own page
    logged = access_log(caplog)
    assert logged
    assert m.token not in logged, logged
