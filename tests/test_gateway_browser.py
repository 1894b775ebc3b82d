"""The gateway as people use it: ``bs serve`` as a real server, driven through Debian's Chromium.

Each test builds a world (tests/gatewayhelpers.py's `minted`: an approved, merged
request and alice's deploy link), runs ``bs serve`` on it and drives a browser:
alice signs in, opens her link, confirms, deploys and watches the log fill; the
link then refuses everyone, as it does another user, an expired link of the same
request and a form posted without its CSRF token. No token ever reaches the
gateway's log.

A browser sends ``Origin: null`` with the gateway's forms (its pages say
``Referrer-Policy: no-referrer``); the gateway then trusts ``Sec-Fetch-Site:
same-origin``, which no page can forge. The first test shows a plain browser can
post every form.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, Response, expect

from bs.core.links import (
    DEPLOY_LINK,
    NONCE_BYTES,
    mint_link_token,
    parse_keys,
    verify_link_token,
)
from tests.browserhelpers import (  # noqa: F401 (chromium_fixture: the `chromium` fixture)
    ACTION_TIMEOUT_MS,
    Served,
    chromium_fixture,
    new_page,
    serving,
)
from tests.conftest import World
from tests.gatewayhelpers import Minted, minted
from tests.hookhelpers import set_users

REFUSED = "This link cannot be used"
#: Long enough for a deploy to be seen running, and its log to grow while the page is open.
PAUSE = 2.0
#: Milliseconds Playwright waits for the deploy to finish (the command's PAUSE, plus slack).
FINISH_MS = 30_000


def sign_in(page: Page, served: Served, user: str) -> None:
    """The local sign-in page: pick `user`, press Sign in."""
    page.goto(f"{served.url}/signin")
    page.locator("select#user").select_option(user)
    page.locator("button#sign-in").click()
    page.wait_for_url(lambda url: "/signin" not in url)


def csrf_on(page: Page) -> str:
    """The session's CSRF token, from any form of the page (the header's sign-out form)."""
    value = page.locator('input[name="csrf"]').first.get_attribute("value")
    assert value, page.content()
    return value


def assert_refused(response: Response | None, page: Page) -> None:
    assert response is not None and response.status == 403, response
    expect(page.locator("h1")).to_have_text(REFUSED)
    expect(page.locator("button#confirm")).to_have_count(0)


def assert_token_never_logged(served: Served, *tokens: str) -> None:
    log = served.log()
    assert "GET /link/[redacted]" in log or "POST /link/[redacted]" in log, log
    for token in tokens:
        signature = token.rsplit(".", 1)[-1]
        assert token not in log and signature not in log, log


def expired_link(m: Minted) -> str:
    """A link for the same request, signed with the same keys, whose slot ended 5 min ago."""
    keyring = parse_keys(m.keys, "BS_LINK_KEYS")
    claims = verify_link_token(m.token, keyring, purpose=DEPLOY_LINK, now=datetime.now(UTC))
    past = datetime.now(UTC) - timedelta(minutes=5)
    ended = replace(claims, expires=past, not_before=past - timedelta(hours=1))
    return mint_link_token(ended, keyring, secrets.token_bytes(NONCE_BYTES))


def test_a_browser_can_post_the_gateways_own_forms(
    world: World, tmp_path: Path, chromium: Browser
) -> None:
    m = minted(world, tmp_path)
    with serving(world, m.keys, tmp_path / "logs") as served:
        context = chromium.new_context()  # a plain browser: no workaround
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{served.url}/signin")
        page.locator("select#user").select_option("alice")
        with (
            page.expect_request(f"{served.url}/signin/local") as sent,
            page.expect_response(f"{served.url}/signin/local") as answered,
        ):
            page.locator("button#sign-in").click()
        origin = sent.value.headers.get("origin")
        status = answered.value.status
        page.wait_for_load_state()
        shown = page.locator("main").inner_text()
        context.close()
    # Signed in and sent on (303), whatever the fix: a same-origin referrer policy (then the
    # browser sends the real origin) or an Origin check that leaves "null" to the CSRF token.
    assert status == 303, (status, origin, shown)


def test_alice_deploys_from_her_link_which_then_refuses(
    world: World, tmp_path: Path, chromium: Browser
) -> None:
    m = minted(world, tmp_path, pause=PAUSE)
    before = m.deployed_commit()
    with serving(world, m.keys, tmp_path / "logs") as served:
        page = new_page(chromium, served)
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # (a) Signed out, the link only offers to sign in; signing in comes back to it.
        page.goto(served.url + m.path)
        page.locator("a#sign-in-to-continue").click()
        page.wait_for_url(re.compile(r"/signin\?next="))
        page.locator("select#user").select_option("alice")
        page.locator("button#sign-in").click()
        page.wait_for_url(lambda url: url == served.url + m.path)
        expect(page.locator("#requester")).to_have_text("alice")
        page.locator("button#confirm").click()
        page.wait_for_url(f"{served.url}/deployments/1")
        assert m.run_count() == 0, "opening the deployment must not deploy"
        deploy = page.locator("button#deploy")
        expect(deploy).to_have_text("Deploy release_2 to frontend")

        deploy.click()
        page.wait_for_url(f"{served.url}/deployments/1")
        state, log = page.locator("#state"), page.locator("pre#log")
        expect(state).to_have_text("running")
        expect(log).to_contain_text("deploying frontend release_2")
        first_seen = log.inner_text()
        # From here the page is not reloaded: deployment.js polls /progress and appends.
        navigations: list[str] = []
        polled: list[int] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        page.on("response", lambda r: polled.append(r.status) if "/progress" in r.url else None)
        expect(state).to_have_text("succeeded", timeout=FINISH_MS)
        expect(log).to_contain_text("step two")
        expect(log).to_contain_text("deployed version recorded")
        expect(page.locator("#summary")).to_contain_text("exited with status 0")
        expect(page.locator("#deploy-form")).to_be_hidden()
        assert "step two" not in first_seen, first_seen
        assert navigations == [] and polled and set(polled) == {200}, (navigations, polled)
        assert errors == [], errors  # no script error, no CSP violation
        assert m.run_count() == 1
        assert m.deployed_commit() == m.release_2 != before

        # (b) The same link again, in the same browser and session: refused, nothing more.
        assert_refused(page.goto(served.url + m.path), page)
        refused = page.request.post(served.url + m.path, form={"csrf": csrf_on(page)})
        assert refused.status == 403 and REFUSED in refused.text(), refused.text()
        assert page.request.get(f"{served.url}/deployments/2").status == 404
        page.goto(f"{served.url}/deployments/1")
        expect(page.locator("#state")).to_have_text("succeeded")
        expect(page.locator("button#deploy")).to_have_count(0)
        assert m.run_count() == 1
        assert m.deployed_commit() == m.release_2
        page.context.close()
    assert_token_never_logged(served, m.token)


def test_another_user_is_refused_and_the_link_is_not_spent(
    world: World, tmp_path: Path, chromium: Browser
) -> None:
    m = minted(world, tmp_path)
    set_users(world, erin="erin@example.gov.uk")
    with serving(world, m.keys, tmp_path / "logs") as served:
        # (c) erin, in a browser context of her own: the same refusal as any bad link.
        erin = new_page(chromium, served)
        sign_in(erin, served, "erin")
        expect(erin.locator("header .who strong")).to_have_text("erin")
        assert_refused(erin.goto(served.url + m.path), erin)
        posted = erin.request.post(served.url + m.path, form={"csrf": csrf_on(erin)})
        assert posted.status == 403 and REFUSED in posted.text(), posted.text()
        assert erin.request.get(f"{served.url}/deployments/1").status == 404
        erin.context.close()

        # The link is not spent: alice can still open it.
        alice = new_page(chromium, served)
        sign_in(alice, served, "alice")
        alice.goto(served.url + m.path)
        alice.locator("button#confirm").click()
        alice.wait_for_url(f"{served.url}/deployments/1")
        expect(alice.locator("button#deploy")).to_be_visible()
        alice.context.close()
    assert m.run_count() == 0
    assert_token_never_logged(served, m.token)


def test_an_expired_link_is_refused_and_spends_nothing(
    world: World, tmp_path: Path, chromium: Browser
) -> None:
    m = minted(world, tmp_path)
    expired = expired_link(m)
    with serving(world, m.keys, tmp_path / "logs") as served:
        # (d) A well-signed link of alice's own request, for alice, whose slot has ended.
        page = new_page(chromium, served)
        sign_in(page, served, "alice")
        assert_refused(page.goto(f"{served.url}/link/{expired}"), page)
        posted = page.request.post(f"{served.url}/link/{expired}", form={"csrf": csrf_on(page)})
        assert posted.status == 403 and REFUSED in posted.text(), posted.text()
        # The refusals spent nothing: the request's live link still opens its confirmation.
        page.goto(served.url + m.path)
        expect(page.locator("button#confirm")).to_be_visible()
        page.context.close()
    assert m.run_count() == 0
    assert_token_never_logged(served, m.token, expired)


def test_a_post_without_its_csrf_token_is_forbidden_and_redeems_nothing(
    world: World, tmp_path: Path, chromium: Browser
) -> None:
    m = minted(world, tmp_path)
    with serving(world, m.keys, tmp_path / "logs") as served:
        page = new_page(chromium, served)
        sign_in(page, served, "alice")
        page.goto(served.url + m.path)
        expect(page.locator("button#confirm")).to_be_visible()
        csrf = csrf_on(page)

        # (e) A form like the confirmation's, but without the csrf field, submitted by the page.
        with page.expect_navigation() as navigation:
            page.evaluate(
                """(action) => {
                    const form = document.createElement("form");
                    form.method = "post";
                    form.action = action;
                    document.body.appendChild(form);
                    form.submit();
                }""",
                m.path,
            )
        response = navigation.value
        assert response is not None and response.status == 403
        expect(page.locator("main")).to_contain_text("This form has expired")
        # The same without a browser form: no token, a wrong one, or the right one from elsewhere.
        url = served.url + m.path
        attempts: list[tuple[dict[str, str | float | bool], dict[str, str], str]] = [
            ({}, {}, "This form has expired"),
            ({"csrf": csrf + "x"}, {}, "This form has expired"),
            ({"csrf": csrf}, {"Origin": "https://attacker.example"}, "from another site"),
        ]
        for form, headers, why in attempts:
            refused = page.request.post(url, form=form, headers=headers)
            assert refused.status == 403 and why in refused.text(), (form, headers, refused.text())
            assert REFUSED not in refused.text()  # stopped before the link was even looked at
        assert page.request.get(f"{served.url}/deployments/1").status == 404

        # Nothing was redeemed: the real button still works, once.
        page.goto(url)
        page.locator("button#confirm").click()
        page.wait_for_url(re.compile(r"/deployments/1$"))
        expect(page.locator("button#deploy")).to_be_visible()
        page.context.close()
    assert m.run_count() == 0
    assert_token_never_logged(served, m.token)
