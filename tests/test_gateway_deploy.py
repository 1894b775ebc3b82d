"""The deployment page and its Deploy button: who may press it, when, what a failure
leaves, one deploy of an app at a time (at the gateway and in the store's lock), what a
success changes; and the read-only pages (home, /healthz)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bs.store import open_store
from bs.store.deployments import INTERRUPTED, Busy, Deployments, NotStartable
from tests.checkhelpers import FRONTEND
from tests.conftest import git
from tests.gatewayhelpers import Minted, csrf_of, gateway, redeem, set_deploy
from tests.gatewaytesthelpers import (
    Clock,
    app_fixture,  # noqa: F401 (a fixture)
    claims_of,
    deployment_state,
    fresh_minted,
    minted_fixture,  # noqa: F401 (a fixture)
    press_deploy,
    signed_in,
    wait_finished,
    wait_mail,
    wait_running,
)
from tests.hookhelpers import recipients

PAGE = "/deployments/1"


def redeemed(app: Flask, m: Minted) -> FlaskClient:
    """alice's browser, after pressing her link's button: the session that may deploy."""
    client = signed_in(app, "alice")
    response = redeem(client, m)
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    return client


def post_deploy(client: FlaskClient) -> tuple[int, str]:
    """POST Deploy with the session's own CSRF token (from the page's sign-out form)."""
    page = client.get(PAGE)
    response = client.post(PAGE + "/deploy", data={"csrf": csrf_of(page.text)})
    return response.status_code, response.text


# -- who may deploy -------------------------------------------------------------------


def test_only_the_requester_in_the_session_her_link_opened_may_deploy(
    app: Flask, m: Minted
) -> None:
    alice = redeemed(app, m)
    erin = signed_in(app, "erin")
    page = erin.get(PAGE)
    assert page.status_code == 200  # anyone signed in may watch
    assert 'id="deploy"' not in page.text
    assert "Only alice, who asked for this release, may deploy it." in page.text
    assert post_deploy(erin)[0] == 403
    # alice again, but signed in afresh rather than through the link.
    other_alice = signed_in(app, "alice")
    page = other_alice.get(PAGE)
    assert 'id="deploy"' not in page.text
    assert "Deploy from the session your deploy link opened" in page.text
    assert post_deploy(other_alice)[0] == 403
    assert m.run_count() == 0 and deployment_state(app) == "ready"
    # The session the link opened may.
    assert press_deploy(alice).status_code == 303
    assert wait_finished(alice)["state"] == "succeeded"
    assert m.run_count() == 1


@pytest.mark.parametrize("when", ["before the slot", "after the slot"])
def test_deploy_outside_the_slot_is_refused_and_runs_nothing(m: Minted, when: str) -> None:
    clock = Clock()
    app = gateway(m, now=clock)
    alice = redeemed(app, m)
    deployment = app.extensions["bs"].deployments.get(1)
    if when == "before the slot":
        clock.moment = deployment.slot_start - timedelta(minutes=1)
        why = "The deploy slot has not started yet."
    else:
        clock.moment = deployment.slot_end
        why = "The deploy slot has ended"
    page = alice.get(PAGE)
    assert 'id="deploy"' not in page.text and why in page.text
    assert "(not open now)" in page.text
    status, text = post_deploy(alice)
    assert status == 409
    assert "Not deployed: the deploy slot has" in text
    assert m.run_count() == 0 and deployment_state(app) == "ready"
    # The slot is the link's: it ends when the link expires.
    assert deployment.slot_end == claims_of(m).expires


def test_no_deployer_configured_refuses_deploy_naming_apps_yaml(app: Flask, m: Minted) -> None:
    set_deploy(m.world, None)
    alice = redeemed(app, m)
    status, text = post_deploy(alice)
    assert status == 409
    assert "frontend has no deployer" in text and "policies/apps.yaml" in text
    assert m.run_count() == 0 and deployment_state(app) == "ready"


# -- failure, retry, success ----------------------------------------------------------


def test_a_failed_deploy_is_recorded_and_may_be_tried_again(app: Flask, m: Minted) -> None:
    alice = redeemed(app, m)
    m.fail_next_deploys(3)
    assert press_deploy(alice).status_code == 303
    progress = wait_finished(alice)
    assert progress["state"] == "failed"
    assert progress["summary"] == "the command exited with status 3"
    assert progress["attempts"] == 1
    assert m.deployed_commit() != m.release_2  # nothing recorded as deployed
    failed = wait_mail(m, "[frontend] Deploy failed: release_2")
    assert sorted(recipients(failed)) == ["alice@example.gov.uk", "bob@example.gov.uk"]
    page = alice.get(PAGE)
    assert ">Try again</button>" in page.text
    Path(str(m.runs) + ".exit").unlink()
    assert press_deploy(alice).status_code == 303
    progress = wait_finished(alice)
    assert progress["state"] == "succeeded", progress
    assert progress["attempts"] == 2
    assert m.run_count() == 2
    attempts = {line["attempt"] for line in progress["lines"]}
    assert attempts == {1, 2}
    assert m.deployed_commit() == m.release_2


def test_after_success_the_release_is_deployed_once_and_everyone_is_told(
    app: Flask, m: Minted
) -> None:
    alice = redeemed(app, m)
    assert press_deploy(alice).status_code == 303
    progress = wait_finished(alice)
    assert progress["state"] == "succeeded"
    lines = [line["line"] for line in progress["lines"]]
    assert any(line.startswith("deploying frontend release_2 ") for line in lines)
    assert m.deployed_commit() == m.release_2
    told = wait_mail(m, "[frontend] Deployed: release_2")
    assert sorted(recipients(told)) == ["alice@example.gov.uk", "bob@example.gov.uk"]
    tags = m.world.bs("tags", "frontend", "--json")
    assert tags.exit_code == 0, tags.output
    assert json.loads(tags.stdout)["deployed"] == {"tag": "release_2", "commit": m.release_2}
    assert "frontend: deployed release_2" in m.world.bs("tags", "frontend").stdout
    # Nothing more: the link is spent, the page offers no button, a Deploy is refused.
    assert alice.get(m.path).status_code == 403
    assert alice.post(m.path, data={"csrf": csrf_of(alice.get(PAGE).text)}).status_code == 403
    page = alice.get(PAGE)
    assert 'id="deploy"' not in page.text
    status, text = post_deploy(alice)
    assert status == 409 and "this release is already deployed" in text
    assert m.run_count() == 1
    assert deployment_state(app) == "succeeded"


# -- one deploy of an app at a time ---------------------------------------------------


def test_a_second_deploy_while_one_runs_is_refused(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    m = fresh_minted(tmp_path_factory, tmp_path, pause=1.5)
    app = gateway(m)
    alice = redeemed(app, m)
    page = alice.get(PAGE)
    csrf = csrf_of(page.text)
    assert alice.post(PAGE + "/deploy", data={"csrf": csrf}).status_code == 303
    wait_running(alice, m)
    again = alice.post(PAGE + "/deploy", data={"csrf": csrf})
    assert again.status_code == 409
    assert "this deployment is already running" in again.text
    assert 'id="deploy"' not in alice.get(PAGE).text
    assert wait_finished(alice)["state"] == "succeeded"
    assert m.run_count() == 1


T0 = datetime(2030, 7, 8, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def new_deployment(store: Deployments, key: str) -> int:
    with store.engine.begin() as connection:
        return store.create(
            connection, request_key=f"frontend/{key}", app="frontend", pull_request=1,
            requester="alice", record={"request": key}, slot_start=T0,
            slot_end=T0 + timedelta(hours=2), now=T0,
        )  # fmt: skip


def test_the_store_lock_one_deploy_per_app_until_its_ttl_passes(tmp_path: Path) -> None:
    store = Deployments(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}"), lock_ttl=TTL)
    first, second = new_deployment(store, "one"), new_deployment(store, "two")
    assert store.start(first, "frontend", by="alice", holder="gw-a", now=T0) == 1
    assert store.lock_holder("frontend", T0) == first
    assert store.start(second, "frontend", by="alice", holder="gw-b", now=T0) == Busy(first)
    assert store.start(first, "frontend", by="alice", holder="gw-b", now=T0) == Busy(first)
    # Renewed, the lock outlives its first ttl.
    assert store.renew(first, "frontend", "gw-a", T0 + timedelta(seconds=50))
    late = T0 + TTL + timedelta(seconds=1)
    assert store.recover_stale(late) == []
    assert store.start(second, "frontend", by="alice", holder="gw-b", now=late) == Busy(first)
    # Not renewed for two ttls (its gateway died; one ttl is allowed for clock differences
    # between instances): freed, and the deployment is interrupted.
    assert store.recover_stale(T0 + timedelta(seconds=50) + 2 * TTL - timedelta(seconds=1)) == []
    dead = T0 + timedelta(seconds=50) + 2 * TTL + timedelta(seconds=1)
    assert store.recover_stale(dead) == [first]
    assert store.lock_holder("frontend", dead) is None
    interrupted = store.get(first)
    assert interrupted is not None
    assert interrupted.state == "interrupted" and interrupted.summary == INTERRUPTED
    assert not store.renew(first, "frontend", "gw-a", dead)  # the old holder lost it
    # Never started again; trying leaves the lock free.
    assert store.start(first, "frontend", by="alice", holder="gw-a", now=dead) == NotStartable(
        "interrupted"
    )
    assert store.lock_holder("frontend", dead) is None
    assert store.start(second, "frontend", by="alice", holder="gw-b", now=dead) == 1


def test_an_interrupted_deployment_cannot_be_deployed_again(m: Minted) -> None:
    clock = Clock()
    app = gateway(m, now=clock)
    alice = redeemed(app, m)
    found = app.extensions["bs"]
    # Another gateway process started it, then died without renewing its lock.
    started = found.deployments.start(1, "frontend", by="alice", holder="gone", now=clock())
    assert started == 1
    clock.moment = datetime.now(UTC) + 2 * found.deployments.lock_ttl + timedelta(seconds=1)
    assert alice.get("/").status_code == 200  # the home page recovers stale locks
    assert deployment_state(app) == "interrupted"
    page = alice.get(PAGE)
    assert 'id="deploy"' not in page.text and "bs will not run it again" in page.text
    status, text = post_deploy(alice)
    assert status == 409 and "bs will not run it again" in text
    assert m.run_count() == 0


# -- read-only pages ------------------------------------------------------------------


def test_healthz(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"ok": True}


def test_home_lists_apps_and_recent_deployments_only_when_signed_in(app: Flask, m: Minted) -> None:
    client = app.test_client()
    away = client.get("/")
    assert away.status_code == 303 and away.headers["Location"].startswith("/signin")
    alice = redeemed(app, m)
    page = alice.get("/")
    assert page.status_code == 200
    release_1 = git(m.world.app_bare(FRONTEND), "rev-parse", "release_1^{commit}")
    assert (
        f"<tr><td>frontend</td><td>release_1 ({release_1[:12]})</td>"
        "<td>1 tag behind</td><td>release_2</td></tr>"
    ) in page.text
    assert f'<a href="{PAGE}">#1</a></td><td>frontend</td><td>release_2</td>' in page.text
    assert '<td class="state-ready">ready</td>' in page.text
    recent = page.text.split('id="recent"', 1)[1]
    assert f'<a href="{PAGE}">#1</a></td><td>frontend</td><td>release_2</td>' in recent
    assert 'id="deploy"' not in page.text  # nothing on it deploys
    assert m.token not in page.text
