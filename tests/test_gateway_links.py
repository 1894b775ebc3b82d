"""Deploy links at the gateway (SECURITY.md, "Deploy links"): opening one changes nothing,
every refusal looks the same and is recorded, the forge is read again before a link is
spent, and of fifty redemptions at once exactly one wins, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bs.core.links import NONCE_BYTES, link_digest, mint_link_token, parse_keys
from tests.checkhelpers import FRONTEND
from tests.conftest import git
from tests.gatewayhelpers import Minted, csrf_of, fixed_clock, gateway, redeem
from tests.gatewaytesthelpers import (
    Clock,
    app_fixture,  # noqa: F401 (a fixture)
    attempts,
    claims_of,
    deployment_count,
    engine_of,
    minted_fixture,  # noqa: F401 (a fixture)
    outcomes,
    redemption_count,
    same_page,
    session_count,
    set_cookies,
    signed_in,
)
from tests.hookhelpers import key_line, move_tag

REFUSED = "This link cannot be used"
THREADS = 50


def assert_untouched(app: Flask, m: Minted) -> None:
    """Nothing recorded, nothing spent, nothing created, nothing run."""
    assert attempts(app) == []
    assert redemption_count(app) == 0
    assert deployment_count(app) == 0
    assert m.run_count() == 0


def assert_alice_redeems(app: Flask, m: Minted) -> None:
    response = redeem(signed_in(app, "alice"), m)
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/deployments/1"
    assert outcomes(app)[-1] == "redeemed"


# -- opening a link changes nothing --------------------------------------------------


def test_get_and_head_signed_out_show_a_sign_in_page_and_spend_nothing(
    app: Flask, m: Minted
) -> None:
    client = app.test_client()
    page = client.get(m.path)
    assert page.status_code == 200
    assert "Sign in to continue" in page.text
    assert "<form" not in page.text  # nothing to press but the way to sign in
    head = client.head(m.path)
    assert head.status_code == 200 and head.data == b""
    assert_untouched(app, m)
    assert_alice_redeems(app, m)


def test_get_and_head_signed_out_set_no_cookie(app: Flask, m: Minted) -> None:
    client = app.test_client(use_cookies=False)
    for method in (client.get, client.head):
        response = method(m.path)
        assert response.status_code == 200
        assert set_cookies(response) == [], method
    assert session_count(app) == 0


def test_signing_in_from_a_link_comes_back_to_it(app: Flask, m: Minted) -> None:
    """The way back travels in the sign-in URL, not in a cookie; it leads back to the link."""
    client = app.test_client()
    shown = client.get(m.path)
    found = re.search(r'id="sign-in-to-continue" href="([^"]+)"', shown.text)
    assert found, shown.text
    signin_url = html.unescape(found.group(1))
    assert signin_url.startswith("/signin?")
    page = client.get(signin_url)
    assert f'name="next" value="{m.path}"' in page.text
    signed = client.post(
        "/signin/local", data={"user": "alice", "csrf": csrf_of(page.text), "next": m.path}
    )
    assert signed.status_code == 303 and signed.headers["Location"] == m.path
    assert client.get(m.path).status_code == 200
    assert_untouched(app, m)


@pytest.mark.parametrize("elsewhere", ["https://evil.example/x", "//evil.example/x", "/\\evil"])
def test_signing_in_never_sends_you_off_the_gateway(app: Flask, elsewhere: str) -> None:
    client = app.test_client()
    page = client.get("/signin", query_string={"next": elsewhere})
    assert 'name="next" value="/"' in page.text
    signed = client.post(
        "/signin/local", data={"user": "alice", "csrf": csrf_of(page.text), "next": elsewhere}
    )
    assert signed.status_code == 303 and signed.headers["Location"] == "/"


@pytest.mark.parametrize("user", ["alice", "erin"])
def test_get_and_head_signed_in_change_nothing(app: Flask, m: Minted, user: str) -> None:
    client = signed_in(app, user)
    for _ in range(3):
        page = client.get(m.path)
        head = client.head(m.path)
        assert set_cookies(page) == [] and set_cookies(head) == []
        assert head.data == b""
        if user == "alice":
            assert page.status_code == head.status_code == 200
            assert 'id="confirm"' in page.text
            assert f'<form method="post" action="{m.path}">' in page.text
            assert "<script" not in page.text  # a button to press: nothing submits it for you
        else:
            assert page.status_code == head.status_code == 403
            assert REFUSED in page.text and 'id="confirm"' not in page.text
    assert_untouched(app, m)
    assert_alice_redeems(app, m)


def test_a_mail_scanner_opening_the_link_a_hundred_times_spends_nothing(
    app: Flask, m: Minted
) -> None:
    forgetful = app.test_client(use_cookies=False)
    keeping = app.test_client()
    for index in range(100):
        client = forgetful if index % 3 else keeping
        response = client.head(m.path) if index % 2 else client.get(m.path)
        assert response.status_code == 200, index
        if response.request.method == "GET":
            assert "Sign in to continue" in response.text
    # One that presses buttons too gets nowhere: a signed-out POST has no CSRF token.
    assert forgetful.post(m.path, data={"csrf": ""}).status_code == 403
    assert_untouched(app, m)
    assert_alice_redeems(app, m)


# -- refusals: one page for all, each attempt recorded -------------------------------


def other_token(m: Minted, *, key_line: str | None = None, **changes: Any) -> str:
    """A token for alice's request signed with `key_line` (default: the gateway's key)."""
    claims = dataclasses.replace(claims_of(m), **changes)
    keyring = parse_keys(key_line or m.keys, "keys")
    return mint_link_token(claims, keyring, secrets.token_bytes(NONCE_BYTES))


def tampered(token: str) -> str:
    version, key_id, body, signature = token.split(".")
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    return ".".join([version, key_id, flipped, signature])


def post_link(client: FlaskClient, token: str) -> Any:
    """Press a link's button, with the session's CSRF token (the refusals are the link's)."""
    csrf = csrf_of(client.get("/signin").text)
    return client.post(f"/link/{token}", data={"csrf": csrf})


def test_every_refusal_gets_the_same_page_and_is_recorded_with_its_reason(
    app: Flask, m: Minted
) -> None:
    claims = claims_of(m)
    alice, erin = signed_in(app, "alice"), signed_in(app, "erin")
    late_app = gateway(m, now=fixed_clock(claims.expires + timedelta(minutes=1)))
    late = signed_in(late_app, "alice")
    cases = [
        ("bad_signature", alice, tampered(m.token)),
        ("unknown_key", alice, other_token(m, key_line=key_line("other"))),
        ("bad_signature", alice, other_token(m, key_line=key_line("test"))),
        ("wrong_purpose", alice, other_token(m, purpose="something-else")),
        ("malformed", alice, "not-a-token"),
        ("not_requester", erin, m.token),
        ("expired", late, m.token),
    ]
    pages = []
    for _, client, token in cases:
        shown = client.get(f"/link/{token}")
        pressed = post_link(client, token)
        assert shown.status_code == pressed.status_code == 403, token
        pages += [same_page(shown.text), same_page(pressed.text)]
    assert redemption_count(app) == 0 and deployment_count(app) == 0
    # The same link, used: redeemed once, then pressed again from the new session.
    assert redeem(alice, m).status_code == 303
    again = post_link(alice, m.token)
    assert again.status_code == 403
    pages.append(same_page(again.text))
    assert REFUSED in pages[0]
    assert all(page == pages[0] for page in pages)
    expected = [reason for reason, _, _ in cases] + ["redeemed", "used"]
    assert outcomes(app) == expected
    rows = attempts(app)
    tokens = [token for _, _, token in cases] + [m.token, m.token]
    assert [row["link_digest"] for row in rows] == [link_digest(token) for token in tokens]
    assert [row["who"] for row in rows] == ["alice"] * 5 + ["erin", "alice", "alice", "alice"]
    # Only a digest: no column of any attempt holds a token, whole or in part.
    for row, token in zip(rows, tokens, strict=True):
        for value in row.values():
            assert token not in str(value)
            assert token.split(".")[-1] not in str(value)


def test_single_use_is_per_request_a_second_link_dies_with_the_first(app: Flask, m: Minted) -> None:
    resent = other_token(m)  # the merge hook re-sending the link after a mail failure
    assert resent != m.token
    alice = signed_in(app, "alice")
    assert redeem(alice, m).status_code == 303
    refused = post_link(alice, resent)
    assert refused.status_code == 403 and REFUSED in refused.text
    assert alice.get(f"/link/{resent}").status_code == 403
    assert outcomes(app) == ["redeemed", "used"]
    assert redemption_count(app) == deployment_count(app) == 1


def test_a_link_pressed_before_its_slot_is_refused_and_kept_for_the_slot(m: Minted) -> None:
    clock = Clock()
    app = gateway(m, now=clock)
    opens = datetime.now(UTC) + timedelta(minutes=30)
    early = other_token(m, not_before=opens)
    alice = signed_in(app, "alice")
    # Its requester is told when to come back; the link is kept.
    shown = alice.get(f"/link/{early}")
    assert shown.status_code == 409 and "its deploy slot starts" in shown.text
    refused = post_link(alice, early)
    assert refused.status_code == 409 and "open this link again then" in refused.text
    assert outcomes(app) == ["not_yet"]
    # Anyone else sees the one page for every refusal.
    erin = signed_in(app, "erin")
    assert erin.get(f"/link/{early}").status_code == 403
    assert redemption_count(app) == deployment_count(app) == 0
    clock.moment = opens + timedelta(minutes=1)
    assert post_link(alice, early).status_code == 303
    assert outcomes(app) == ["not_yet", "redeemed"]
    deployment = app.extensions["bs"].deployments.get(1)
    assert deployment.slot_start == opens.replace(microsecond=0)


# -- the forge is read again before the link is spent --------------------------------


def retag(m: Minted, commit: str) -> None:
    """Point release_2 back at `commit` (undoing `move_tag`)."""
    work = m.world.root / "work" / "frontend"
    git(work, "tag", "-f", "-a", "-m", "Release release_2", "release_2", commit)
    git(work, "push", "-q", "--force", str(m.world.app_bare(FRONTEND)), "refs/tags/release_2")


@pytest.mark.parametrize("change", ["tag moved", "deployed version moved"])
def test_redemption_reverifies_from_the_forge_and_keeps_the_link(
    app: Flask, m: Minted, change: str
) -> None:
    if change == "tag moved":
        move_tag(m.world, "release_2", b"print('not what was reviewed')\n")
    else:
        m.world.deploy(FRONTEND, "release_2")
    alice = signed_in(app, "alice")
    shown = alice.get(m.path)
    assert shown.status_code == 409 and "Not deployable now" in shown.text
    pressed = alice.post(m.path, data={"csrf": csrf_of(shown.text)})
    assert pressed.status_code == 409
    assert "This release cannot be deployed now" in pressed.text
    assert "has not been used up" in pressed.text
    # Someone else learns nothing of why: the one refusal page.
    erin = signed_in(app, "erin")
    assert REFUSED in post_link(erin, m.token).text
    assert outcomes(app) == ["not_verified", "not_requester"]
    assert redemption_count(app) == deployment_count(app) == 0
    # Put back, the same link works: it was never spent.
    if change == "tag moved":
        retag(m, m.release_2)
    else:
        m.world.deploy(FRONTEND, "release_1")
    assert redeem(alice, m).status_code == 303
    assert redemption_count(app) == deployment_count(app) == 1


# -- fifty redemptions at once -------------------------------------------------------


@pytest.fixture
def fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped afterwards."""
    server: str = request.getfixturevalue("postgres_url")
    name = f"gateway_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_fifty_concurrent_redemptions_exactly_one_wins(
    m: Minted, store: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("fresh_postgres") if store == "postgresql" else None
    app = gateway(m, store=url)
    assert engine_of(app).dialect.name == store
    clients = [signed_in(app, "alice") for _ in range(THREADS)]

    def csrf(client: FlaskClient) -> str:
        page = client.get(m.path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(csrf, clients))
    assert len(set(tokens)) == THREADS  # fifty sessions, fifty CSRF tokens
    barrier = threading.Barrier(THREADS, timeout=60)

    def press(index: int) -> tuple[int, str, str]:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return (0, "", "barrier broken")
        response = clients[index].post(m.path, data={"csrf": tokens[index]})
        return response.status_code, response.headers.get("Location", ""), response.text

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(press, range(THREADS)))
    try:
        statuses = Counter(status for status, _, _ in results)
        assert statuses == Counter({303: 1, 403: THREADS - 1}), results
        assert [where for status, where, _ in results if status == 303] == ["/deployments/1"]
        assert all(REFUSED in body for status, _, body in results if status == 403)
        assert deployment_count(app) == redemption_count(app) == 1
        assert Counter(outcomes(app)) == Counter({"redeemed": 1, "used": THREADS - 1})
    finally:
        engine_of(app).dispose()
