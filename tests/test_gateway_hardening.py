"""The deploy gateway, attacked (SECURITY.md): each test here is an attempt that was tried.

Tests marked ``xfail(strict=True, reason="BUG: ...")`` reproduce a weakness found
in the review: they fail today and will pass once it is fixed (strict: a fix that
lands makes them XPASS, and the mark must then go). The unmarked tests are
attempts the gateway withstood, kept so it goes on withstanding them.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import responses
import yaml
from flask import Flask
from gunicorn.config import Config
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

import requests
from bs.gateway.gunicorn_conf import RedactingLogger
from bs.store import open_store
from bs.store.deployments import Deployments
from bs.store.tables import web_sessions
from tests.checkhelpers import FRONTEND, publish_policy
from tests.conftest import STANDARD_POLICY, World, git
from tests.gatewayhelpers import (
    Minted,
    command_deploy,
    csrf_of,
    gateway,
    minted,
    redeem,
    set_deploy,
    sign_in,
)
from tests.gatewaytesthelpers import press_deploy, wait_finished
from tests.hardeninghelpers import (
    Browser,
    Clock,
    alive,
    served,
    wait_for,
)
from tests.oauthhelpers import ENV, callback, mock_github, sign_in_with_github, start

EVIL = "evil.example"


def _redeemed(world: World, tmp_path: Path, **gateway_args: Any) -> tuple[Minted, Flask, Any]:
    """alice's link, redeemed in her browser: (the link, the gateway, her test client)."""
    link = minted(world, tmp_path)
    app = gateway(link, **gateway_args)
    client = app.test_client()
    sign_in(client, "alice")
    assert redeem(client, link).headers["Location"] == "/deployments/1"
    return link, app, client


def _stored_text(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row.data for row in connection.execute(select(web_sessions.c.data))]


# === open redirect ===================================================================


@pytest.mark.parametrize("how", ["local", "github"])
def test_signing_in_never_sends_you_to_another_site_not_even_via_a_tab(
    world: World, tmp_path: Path, how: str
) -> None:
    link = minted(world, tmp_path)
    sign_in_with_github(world)
    client = gateway(link, env=ENV).test_client()  # loopback: both ways to sign in
    crafted = f"/\t/{EVIL}/deploy-links"  # ?next=/%09/evil.example/... in the mailed URL
    page = client.get("/signin", query_string={"next": crafted})
    if how == "local":
        signed = client.post(
            "/signin/local", data={"user": "alice", "csrf": csrf_of(page.text), "next": crafted}
        )
    else:
        with responses.RequestsMock() as rsps:
            mock_github(rsps, "alice")
            signed = callback(client, start(client, crafted))
    assert signed.status_code == 303
    assert EVIL not in signed.headers["Location"], signed.headers["Location"]


# === secrets in logs, pages and the store ============================================


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DATABASE_URL", "postgresql://deploy:Hunter2-prod-pw@db.internal/frontend"),
        ("REGISTRY_PASS", "rp-5f1c0e7b9d2a4c6e8f0a"),
    ],
)
def test_the_deployer_s_output_never_shows_a_secret_it_was_given(
    world: World, tmp_path: Path, name: str, secret: str
) -> None:
    link = minted(world, tmp_path)
    script = tmp_path / "configure.py"
    script.write_text(f"import os\nprint('using', os.environ[{name!r}], flush=True)\n")
    set_deploy(world, {"kind": "command", "argv": [sys.executable, str(script)], "env": [name]})
    app = gateway(link, env={name: secret})
    alice = app.test_client()
    sign_in(alice, "alice")
    redeem(alice, link)
    assert press_deploy(alice).status_code == 303
    assert wait_finished(alice)["state"] == "succeeded"
    bob = app.test_client()  # any signed-in member may watch a deployment
    sign_in(bob, "bob")
    shown = bob.get("/deployments/1/progress").text + bob.get("/deployments/1").text
    assert "using " in shown
    assert secret not in shown
    assert "Hunter2" not in shown


def test_a_link_is_never_logged_when_its_page_fails(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = minted(world, tmp_path)
    app = gateway(link)
    app.testing = False  # as in production: the error becomes a 500 page and a log record
    client = app.test_client()
    sign_in(client, "alice")

    def store_down(request_key: str) -> bool:
        raise OperationalError("SELECT link_redemptions", {}, Exception("database is locked"))

    monkeypatch.setattr(app.extensions["bs"].ledger, "is_redeemed", store_down)
    caplog.set_level(logging.DEBUG)
    failed = client.get(link.path)
    assert failed.status_code == 500
    assert link.token not in failed.text
    assert caplog.records  # the failure is logged...
    assert link.token not in caplog.text  # ...without the link


def test_a_link_is_never_kept_in_the_store_while_signing_in_with_github(
    world: World, tmp_path: Path
) -> None:
    link = minted(world, tmp_path)
    sign_in_with_github(world)
    app = gateway(link, env=ENV, host="0.0.0.0")
    client = app.test_client()
    start(client, link.path)  # then the person closes the GitHub tab
    stored = _stored_text(app.extensions["bs"].settings.engine)
    assert stored
    assert not [data for data in stored if link.token in data]


def test_no_gunicorn_access_log_atom_holds_a_link_a_code_or_a_session() -> None:
    token = "bs1.a2V5.cGF5bG9hZA.c2lnbmF0dXJl"
    code, old_sid, new_sid = "9a2c41e7d0b35f68c1e4", "old-session-id-0123", "new-session-id-4567"
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "POST", "RAW_URI": f"/link/{token}?code={code}",
        "PATH_INFO": f"/link/{token}", "QUERY_STRING": f"code={code}",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7",
    }  # fmt: skip

    response = SimpleNamespace(
        status="303 SEE OTHER",
        sent=0,
        headers=[("Location", "/deployments/1"), ("Set-Cookie", f"bs_session={new_sid}")],
    )

    request_headers = [("Cookie", f"bs_session={old_sid}"), ("Host", "gateway.example")]
    atoms = logger.atoms(response, request_headers, environ, timedelta(milliseconds=3))
    holding = {
        key: value
        for key, value in atoms.items()
        if any(secret in str(value) for secret in (token, code, old_sid, new_sid))
    }
    assert holding == {}


def test_a_request_for_another_host_name_is_refused(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    client = gateway(link).test_client()  # bs serve on 127.0.0.1, local sign-in on
    rebound = f"http://rebound.{EVIL}:8421"  # resolves to 127.0.0.1 by the time it is used
    page = client.get("/signin", base_url=rebound)
    if page.status_code == 200 and 'name="user"' in page.text:
        signed = client.post(
            "/signin/local",
            base_url=rebound,
            data={"user": "alice", "csrf": csrf_of(page.text), "next": "/"},
            headers={"Origin": rebound},
        )
        assert signed.status_code != 303, "signed in as alice from another site's page"
    assert page.status_code == 400


# === deploying outside what was approved =============================================


def test_a_freeze_declared_after_the_link_was_opened_stops_the_deploy(
    world: World, tmp_path: Path
) -> None:
    link, _app, alice = _redeemed(world, tmp_path)
    today = datetime.now(UTC).date()
    freeze = (
        f"  freezes:\n    - {{from: {today - timedelta(days=1)}, to: "
        f"{today + timedelta(days=1)}, reason: Incident freeze}}\n"
    )
    assert "  slot: 2h\n" in STANDARD_POLICY
    publish_policy(world, STANDARD_POLICY.replace("  slot: 2h\n", "  slot: 2h\n" + freeze))
    pressed = press_deploy(alice)
    time.sleep(0.5)
    assert link.run_count() == 0
    assert pressed.status_code == 409


TAG_SCRIPT = """\
import pathlib, subprocess, sys, time
tag, bare, here = sys.argv[1:4]
here = pathlib.Path(here)
(here / "started").write_text("")
while not (here / "go").exists():
    time.sleep(0.02)
commit = subprocess.run(["git", "--git-dir", bare, "rev-parse", tag + "^{commit}"],
                        capture_output=True, text=True, check=True).stdout.strip()
(here / "deployed").write_text(commit)
print("deployed", tag, "at", commit, flush=True)
"""


def test_a_tag_moved_while_the_deployer_runs_is_not_recorded_as_the_approved_release(
    world: World, tmp_path: Path
) -> None:
    link = minted(world, tmp_path)
    bare = world.app_bare(FRONTEND)
    script = tmp_path / "by_tag.py"
    script.write_text(TAG_SCRIPT)
    argv = [sys.executable, str(script), "{tag}", str(bare), str(tmp_path)]
    set_deploy(world, {"kind": "command", "argv": argv, "timeout": 60})
    app = gateway(link)
    client = app.test_client()
    sign_in(client, "alice")
    redeem(client, link)
    assert press_deploy(client).status_code == 303
    wait_for(tmp_path / "started")
    # Someone with push access to the app moves the tag to a commit nobody reviewed.
    tree = git(bare, "rev-parse", f"{link.release_2}^{{tree}}")
    unreviewed = git(bare, "commit-tree", tree, "-p", link.release_2, "-m", "not reviewed")
    git(bare, "update-ref", "refs/tags/release_2", unreviewed)
    (tmp_path / "go").write_text("")
    progress = wait_finished(client)
    assert (tmp_path / "deployed").read_text() == unreviewed  # what actually went out
    assert progress["state"] != "succeeded", progress
    assert link.deployed_commit() != link.release_2


# === locks ===========================================================================


def _lock_timeout(world: World, seconds: float) -> None:
    path = world.checkout / "bs.yaml"
    config = yaml.safe_load(path.read_text())
    config["gateway"] = {"lock_timeout": seconds}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.publish("A short deploy lock")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_transient_store_error_does_not_unlock_a_running_deploy(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = minted(world, tmp_path)
    set_deploy(world, command_deploy(link.runs, pause=3.5))
    _lock_timeout(world, 2)
    app = gateway(link)
    store: Deployments = app.extensions["bs"].deployments
    renew = Deployments.renew
    failures: list[int] = []

    def once_locked(self: Deployments, *args: Any, **kwargs: Any) -> bool:
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE app_locks", {}, Exception("database is locked"))
        return renew(self, *args, **kwargs)

    monkeypatch.setattr(Deployments, "renew", once_locked)
    client = app.test_client()
    sign_in(client, "alice")
    redeem(client, link)
    assert press_deploy(client).status_code == 303
    time.sleep(2.8)  # past the lock's 2 s, well before the deploy's 3.5 s
    assert failures
    held = store.lock_holder("frontend", datetime.now(UTC))
    client.get("/")  # the home page frees expired locks
    progress = wait_finished(client)
    assert held == 1
    assert progress["state"] == "succeeded", progress


def _two_deployments(tmp_path: Path) -> tuple[Deployments, int, int, datetime]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store = Deployments(engine, lock_ttl=timedelta(seconds=60))
    t0 = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    made: list[int] = []
    for key in ("frontend/20300107-aaaaaaaaaaaaaaaa", "frontend/20300107-bbbbbbbbbbbbbbbb"):
        with engine.begin() as connection:
            made_id = store.create(
                connection, request_key=key, app="frontend", pull_request=len(made) + 1,
                requester="alice", record={}, slot_start=t0, slot_end=t0 + timedelta(hours=2),
                now=t0,
            )  # fmt: skip
        made.append(made_id)
    return store, made[0], made[1], t0


def test_a_deploy_whose_lock_went_to_another_learns_it(tmp_path: Path) -> None:
    store, a, b, t0 = _two_deployments(tmp_path)
    assert store.start(a, "frontend", by="alice", holder="gw", now=t0) == 1
    later = t0 + timedelta(seconds=121)  # a's renewals stopped: its lock lapsed (2 ttls)
    assert store.start(b, "frontend", by="alice", holder="gw", now=later) == 1
    assert store.lock_holder("frontend", later) == b
    assert store.renew(a, "frontend", "gw", later) is False


def test_a_stale_deploy_finishing_frees_no_other_deployment_s_lock(tmp_path: Path) -> None:
    store, a, b, t0 = _two_deployments(tmp_path)
    assert store.start(a, "frontend", by="alice", holder="gw", now=t0) == 1
    later = t0 + timedelta(seconds=121)
    assert store.start(b, "frontend", by="alice", holder="gw", now=later) == 1
    store.finish(a, "frontend", "gw", ok=True, summary="done", url=None, now=later)
    assert store.lock_holder("frontend", later) == b


SLOW_DEPLOY = """\
import os, pathlib, sys, time
pathlib.Path(sys.argv[1] + ".new").write_text(str(os.getpid()))
os.replace(sys.argv[1] + ".new", sys.argv[1])
print("deploying", flush=True)
time.sleep(120)
"""


def test_stopping_gunicorn_stops_the_deploys_it_runs(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    pid_file = tmp_path / "deployer.pid"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_DEPLOY)
    argv = [sys.executable, str(script), str(pid_file)]
    set_deploy(world, {"kind": "command", "argv": argv, "timeout": 600})
    pid = 0
    try:
        with served(link, tmp_path / "gunicorn.log") as gateway_:
            alice = Browser(gateway_.base)
            alice.sign_in("alice")
            page = alice.redeem(link)
            alice.deploy(page)
            wait_for(pid_file)
            pid = int(pid_file.read_text())
            assert alice.state(page) == "running"
            gateway_.process.send_signal(signal.SIGTERM)
            gateway_.process.wait(60)
        assert not alive(pid), "the deploy command outlived the gateway that ran it"
    finally:
        if pid and alive(pid):
            subprocess.run(["kill", "-9", str(pid)], check=False)


@pytest.mark.xfail(
    strict=True,
    reason="BUG: with the shipped gunicorn settings (2 workers x 8 threads, no body deadline) "
    "a hundred connections trickling a POST body a byte a second hold every thread: the "
    "gateway stops answering anyone",
)
def test_slow_request_bodies_do_not_starve_the_gateway(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    with served(link, tmp_path / "gunicorn.log") as gateway_:
        head = (
            b"POST /signin/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        slow: list[socket.socket] = []
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(1.0):
                for connection in slow:
                    with contextlib.suppress(OSError):
                        connection.sendall(b"a")

        trickler = threading.Thread(target=trickle, daemon=True)
        answered: list[bool] = []
        try:
            for _ in range(100):
                connection = socket.create_connection(("127.0.0.1", gateway_.port))
                connection.sendall(head)
                slow.append(connection)
                time.sleep(0.01)  # gradually, so both workers take their share
            trickler.start()
            time.sleep(1.0)
            for _ in range(3):
                try:
                    ok = requests.get(f"{gateway_.base}/healthz", timeout=3).status_code == 200
                except requests.RequestException:
                    ok = False
                answered.append(ok)
        finally:
            stop.set()
            for connection in slow:
                connection.close()
    assert answered == [True, True, True]


# === what the pages show =============================================================


def test_the_reviewed_diff_is_the_one_that_was_reviewed(world: World, tmp_path: Path) -> None:
    _link, app, alice = _redeemed(world, tmp_path)
    reviewed = alice.get("/deployments/1/patch").data
    assert reviewed
    record = app.extensions["bs"].deployments.get(1).record
    git(world.checkout, "pull", "-q", "origin", "main")
    (world.checkout / record["patch_file"]).write_text("+ not what anyone reviewed\n")
    world.publish("Edit a merged request's patch")
    shown = alice.get("/deployments/1/patch")
    assert b"not what anyone reviewed" not in shown.data
    assert shown.status_code == 404 or shown.data == reviewed


@pytest.mark.parametrize(
    "attempt",
    ["deployment 2**70", "after 2**70", "after superscript two", "next with a newline"],
)
def test_odd_numbers_and_paths_get_a_clear_answer_not_a_crash(
    world: World, tmp_path: Path, attempt: str
) -> None:
    _link, app, alice = _redeemed(world, tmp_path)
    app.testing = False
    huge = str(2**70)
    if attempt == "deployment 2**70":
        response = alice.get(f"/deployments/{huge}")
    elif attempt == "after 2**70":
        response = alice.get("/deployments/1/progress", query_string={"after": huge})
    elif attempt == "after superscript two":
        response = alice.get("/deployments/1/progress", query_string={"after": "\u00b2"})
    else:
        fresh = app.test_client()
        page = fresh.get("/signin")
        response = fresh.post(
            "/signin/local",
            data={"user": "alice", "csrf": csrf_of(page.text), "next": "/deployments/1\r\nX: y"},
        )
    assert response.status_code < 500, response.status_code


# === attempts the gateway withstood ==================================================


def test_nobody_but_the_requester_in_her_link_s_session_can_press_deploy(
    world: World, tmp_path: Path
) -> None:
    link, app, _alice = _redeemed(world, tmp_path)
    bob = app.test_client()
    sign_in(bob, "bob")
    page = bob.get("/deployments/1")
    assert 'id="deploy"' not in page.text
    token = csrf_of(page.text)
    assert bob.post("/deployments/1/deploy", data={"csrf": token}).status_code == 403
    other_browser = app.test_client()  # alice herself, but not where her link was opened
    sign_in(other_browser, "alice")
    token = csrf_of(other_browser.get("/deployments/1").text)
    assert other_browser.post("/deployments/1/deploy", data={"csrf": token}).status_code == 403
    assert other_browser.head("/deployments/1/deploy").status_code == 405
    assert other_browser.get("/deployments/1/deploy").status_code == 405
    assert link.run_count() == 0


def test_two_deploy_clicks_at_once_run_the_deployer_once(world: World, tmp_path: Path) -> None:
    link, app, alice = _redeemed(world, tmp_path)
    set_deploy(world, command_deploy(link.runs, pause=1.0))
    page = alice.get("/deployments/1")
    token = csrf_of(page.text)
    cookie = alice.get_cookie("bs_session", domain="127.0.0.1")
    assert cookie is not None
    clients = [app.test_client() for _ in range(8)]
    for client in clients:
        client.set_cookie("bs_session", cookie.value, domain="127.0.0.1")
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def press(client: Any) -> None:
        barrier.wait()
        codes.append(client.post("/deployments/1/deploy", data={"csrf": token}).status_code)

    threads = [threading.Thread(target=press, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes).count(303) >= 1 and set(codes) <= {303, 409}
    assert wait_finished(alice)["state"] == "succeeded"
    assert link.run_count() == 1
    assert press_deploy(alice, shown=False).status_code == 409  # and never again
    assert link.run_count() == 1


def test_no_deploy_once_the_slot_has_ended(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    clock = Clock(datetime.now(UTC))
    app = gateway(link, now=clock)
    alice = app.test_client()
    sign_in(alice, "alice")
    redeem(alice, link)
    slot_end = app.extensions["bs"].deployments.get(1).slot_end
    clock.at = slot_end
    assert press_deploy(alice, shown=False).status_code == 409
    clock.at = slot_end + timedelta(hours=1)
    assert press_deploy(alice, shown=False).status_code == 409
    assert link.run_count() == 0


def test_a_cross_site_post_is_refused_even_with_the_right_csrf_token(
    world: World, tmp_path: Path
) -> None:
    link, _app, alice = _redeemed(world, tmp_path)
    token = csrf_of(alice.get("/deployments/1").text)
    for origin in (f"https://{EVIL}", "null", "http://127.0.0.1:8421.evil.example"):
        refused = alice.post(
            "/deployments/1/deploy", data={"csrf": token}, headers={"Origin": origin}
        )
        assert refused.status_code == 403, origin
    assert link.run_count() == 0
    too_big = alice.post("/deployments/1/deploy", data={"csrf": token, "pad": "x" * 70_000})
    assert too_big.status_code == 413
    assert link.run_count() == 0


def test_values_shown_on_pages_are_escaped(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    script = tmp_path / "shout.py"
    script.write_text("print('<script>alert(1)</script><img src=x onerror=alert(2)>')\n")
    set_deploy(world, {"kind": "command", "argv": [sys.executable, str(script)]})
    app = gateway(link)
    alice = app.test_client()
    reflected = alice.get("/signin", query_string={"next": '/x"><script>alert(3)</script>'})
    assert "<script>alert(3)" not in reflected.text
    sign_in(alice, "alice")
    redeem(alice, link)
    assert press_deploy(alice).status_code == 303
    wait_finished(alice)
    page = alice.get("/deployments/1")
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert html.escape("<script>alert(1)</script>") in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert re.search(r"<script[^>]*>[^<]", page.text) is None  # no inline script at all
