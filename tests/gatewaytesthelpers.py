"""More helpers for the gateway tests (tests/test_gateway_{links,deploy,security}.py).

`fresh_minted` gives each test what `gatewayhelpers.minted` gives it, a merged and
approved request for frontend's release_2 with alice's deploy link, but copied from
one template built once per test process (building it runs `bs open-request`,
`bs check`, `bs merge` and the merge hook: about a second each time). The copy is
made independent of the template: the checkout's remote points at the copy's forge
and the app's deploy command at the copy's own `runs` file. erin is a user of the
local forge (not a requester, not a reviewer): the "someone else" of these tests.
"""

from __future__ import annotations

import copy
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from bs.core.links import DEPLOY_LINK, LinkClaims, parse_keys, verify_link_token
from bs.store.ledger import LinkLedger
from bs.store.tables import deployments, link_redemptions, web_sessions
from tests.conftest import TEAMS, USERS, WorkRepo, World, git
from tests.gatewayhelpers import (
    Minted,
    command_deploy,
    csrf_of,
    gateway,
    minted,
    set_deploy,
    sign_in,
)
from tests.hookhelpers import outbox, set_users

ERIN = "erin@example.gov.uk"
COOKIE = "bs_session"
#: What differs between two people's copies of one page: their CSRF token and their name.
_CSRF_VALUE = re.compile(r'(name="csrf" value=")[^"]+(")')
_SIGNED_IN_AS = re.compile(r"(Signed in as <strong>)[^<]+(</strong>)")


@dataclass
class _Template:
    world: World
    made: Minted


_TEMPLATES: dict[Path, _Template] = {}


def _build_template(root: Path) -> _Template:
    """What tests/conftest.py's `world` fixture and `minted` make, once, in `root`."""
    forge = root / "forge"
    forge.mkdir(parents=True)
    (forge / "users.yaml").write_text(yaml.safe_dump(USERS))
    (forge / "teams.yaml").write_text(yaml.safe_dump(TEAMS))
    seed = WorkRepo(root / "work" / "release-requests")
    seed.write(
        "bs.yaml",
        "version: 1\nforge: {kind: local, path: ../forge}\nrequests_repo: alphagov/release-requests\n",
    )
    seed.write("requests/.keep", "")
    seed.write(".gitignore", ".bs/\n")
    seed.commit("Requests repository")
    seed.push_to(forge / "alphagov" / "release-requests.git")
    checkout = root / "checkout"
    git(root, "clone", "-q", str(forge / "alphagov" / "release-requests.git"), str(checkout))
    world = World(root=root, forge=forge, checkout=checkout)
    made = minted(world, root)
    set_users(world, erin=ERIN)
    return _Template(world, made)


def fresh_minted(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, *, pause: float = 0.0
) -> Minted:
    """A copy of the template's world and link in `tmp_path`, deploying with `pause`."""
    base = tmp_path_factory.getbasetemp()
    template = _TEMPLATES.get(base)
    if template is None:
        template = _TEMPLATES[base] = _build_template(tmp_path_factory.mktemp("minted-template"))
    root = tmp_path / "world"
    shutil.copytree(template.world.root, root, symlinks=True)
    world = World(
        root=root,
        forge=root / "forge",
        checkout=root / "checkout",
        apps=copy.deepcopy(template.world.apps),
    )
    git(world.checkout, "remote", "set-url", "origin", str(world.requests_bare))
    runs = root / "runs.txt"
    runs.unlink(missing_ok=True)
    set_deploy(world, command_deploy(runs, pause))
    made = template.made
    return Minted(world, made.number, made.token, made.keys, runs, made.release_2)


# -- reading the gateway's state ------------------------------------------------------


def claims_of(made: Minted) -> LinkClaims:
    """The link's claims (its slot: `not_before`, `expires`), checked with its key."""
    keyring = parse_keys(made.keys, "the test keys")
    return verify_link_token(made.token, keyring, purpose=DEPLOY_LINK, now=datetime.now(UTC))


def engine_of(app: Flask) -> Engine:
    engine: Engine = app.extensions["bs"].settings.engine
    return engine


def attempts(app: Flask) -> list[dict[str, object]]:
    return LinkLedger(engine_of(app)).attempts()


def outcomes(app: Flask) -> list[object]:
    return [row["outcome"] for row in attempts(app)]


def count(app: Flask, table: Any) -> int:
    with engine_of(app).connect() as connection:
        found = connection.execute(select(func.count()).select_from(table)).scalar_one()
    return int(found)


def deployment_count(app: Flask) -> int:
    return count(app, deployments)


def redemption_count(app: Flask) -> int:
    return count(app, link_redemptions)


def session_count(app: Flask) -> int:
    return count(app, web_sessions)


def deployment_state(app: Flask, deployment_id: int = 1) -> str:
    found = app.extensions["bs"].deployments.get(deployment_id)
    assert found is not None
    state: str = found.state
    return state


# -- pages ---------------------------------------------------------------------------


def same_page(html: str) -> str:
    """`html` without what differs between two people's copies of one page."""
    return _SIGNED_IN_AS.sub(r"\1NAME\2", _CSRF_VALUE.sub(r"\1TOKEN\2", html))


def session_cookie(client: FlaskClient, name: str = COOKIE) -> str | None:
    base = client.application.config.get("BS_TEST_BASE_URL", "http://localhost")
    found = client.get_cookie(name, domain=urlsplit(base).hostname or "localhost")
    return None if found is None else found.value


def set_cookies(response: Any) -> list[str]:
    headers: list[str] = response.headers.getlist("Set-Cookie")
    return headers


def press_deploy(client: FlaskClient, deployment_id: int = 1, *, shown: bool = True) -> Any:
    """Open the deployment page and press its Deploy (or Try again) button; with
    `shown` false, post the page's form though the page offers no button."""
    page = client.get(f"/deployments/{deployment_id}")
    assert page.status_code == 200, page.text
    assert ('id="deploy"' in page.text) == shown, page.text
    return client.post(f"/deployments/{deployment_id}/deploy", data={"csrf": csrf_of(page.text)})


def wait_finished(client: FlaskClient, deployment_id: int = 1, limit: float = 30.0) -> Any:
    """The progress JSON once the deploy has left `ready` and `running`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        progress = client.get(f"/deployments/{deployment_id}/progress").get_json()
        if progress["state"] not in ("running", "ready"):
            return progress
        time.sleep(0.02)
    raise AssertionError(f"deployment {deployment_id} did not finish in {limit} s")


def wait_running(client: FlaskClient, made: Minted, limit: float = 15.0) -> None:
    """Until the deploy command has started (it appends to `runs` first thing)."""
    deadline = time.monotonic() + limit
    while made.run_count() == 0:
        assert time.monotonic() < deadline, "the deploy command never started"
        time.sleep(0.02)


def wait_mail(made: Minted, subject: str, limit: float = 15.0) -> EmailMessage:
    """The newest message with `subject` (the outcome mail follows the record's update)."""
    deadline = time.monotonic() + limit
    while True:
        found = [message for message in outbox(made.world) if message["Subject"] == subject]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no mail {subject!r}"
        time.sleep(0.02)


@dataclass
class Clock:
    """A gateway clock a test can set: the real time until `moment` is set."""

    moment: datetime | None = None

    def __call__(self) -> datetime:
        return self.moment if self.moment is not None else datetime.now(UTC)


# -- fixtures the gateway test modules share -------------------------------------------


@pytest.fixture(name="m")
def minted_fixture(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Minted:
    """A fresh copy of the merged, approved world with alice's link."""
    return fresh_minted(tmp_path_factory, tmp_path)


@pytest.fixture(name="app")
def app_fixture(m: Minted) -> Flask:
    """The gateway on that world, as bs serve makes it."""
    return gateway(m)


def signed_in(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, user)
    return client
