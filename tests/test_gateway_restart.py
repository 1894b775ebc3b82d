"""A gateway killed during a deploy, then started again on the same store.

Driven over HTTP (`requests`) against ``bs serve`` subprocesses. The deploy command
sleeps (`minted(..., pause=PAUSE)`); once its first line is in the log, the gateway
process alone gets SIGKILL, as from a crash or the OOM killer. Its process group is
left be: the deploy command runs in a session of its own (bs/deployers/command.py,
``start_new_session``), so neither a SIGKILL of the gateway nor one of its group
reaches it, and it may run on. That is why bs calls the outcome unknown.

What bs promises (bs/store/deployments.py): a gateway that dies stops renewing its
app lock; the lock is freed within twice ``gateway.lock_timeout``; the deployment it was
running is then marked ``interrupted``, its outcome unknown, and never run again by
bs. So, after a restart: the record says interrupted, Deploy is refused (the command
never runs a second time, even long after its pause), the app's lock is free for
another deployment, and the deployed ref was not moved by bs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import requests
from bs.gateway.serve import store_url
from bs.store import open_store
from bs.store.deployments import Deployments
from bs.workspace import Workspace
from tests.browserhelpers import Served, set_gateway, start_gateway
from tests.conftest import World
from tests.gatewayhelpers import Minted, csrf_of, minted

#: Seconds the deploy command sleeps between its first line and its second.
PAUSE = 5.0
#: Seconds to wait for anything that should happen promptly (a state, a line, an exit).
PROMPTLY = 20.0


def wait_for(what: str, check: Callable[[], Any], limit: float = PROMPTLY) -> Any:
    """Poll `check` until it returns something truthy; fail (not assert) after `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"waited {limit:g} s for {what}")


def sign_in(http: requests.Session, url: str, user: str) -> None:
    page = http.get(f"{url}/signin")
    answer = http.post(
        f"{url}/signin/local",
        data={"user": user, "csrf": csrf_of(page.text), "next": "/"},
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def start_the_deploy(http: requests.Session, url: str, m: Minted) -> None:
    """Open alice's link, confirm it, press Deploy; return once the command has printed."""
    sign_in(http, url, "alice")
    page = http.get(url + m.path)
    assert page.status_code == 200, page.text
    opened = http.post(url + m.path, data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert opened.status_code == 303 and opened.headers["Location"] == "/deployments/1"
    page = http.get(f"{url}/deployments/1")
    assert 'id="deploy"' in page.text, page.text
    pressed = http.post(
        f"{url}/deployments/1/deploy", data={"csrf": csrf_of(page.text)}, allow_redirects=False
    )
    assert pressed.status_code == 303, pressed.text
    wait_for(
        "the deploy to run and print its first line",
        lambda: (
            (p := progress(http, url))["state"] == "running"
            and any("deploying frontend release_2" in line["line"] for line in p["lines"])
        ),
    )


def progress(http: requests.Session, url: str) -> dict[str, Any]:
    answer = http.get(f"{url}/deployments/1/progress")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def store_of(world: World) -> Deployments:
    """The store the gateway uses (bs.yaml's gateway.store, the default SQLite file), with
    its lock timeout."""
    workspace = Workspace(world.checkout)
    ttl = timedelta(seconds=workspace.config.gateway.lock_timeout)
    return Deployments(open_store(store_url(workspace, {})), lock_ttl=ttl)


def lock_holder(store: Deployments) -> int | None:
    return store.lock_holder("frontend", datetime.now(UTC))


def deploy_commands(m: Minted) -> list[int]:
    """Live processes running this test's deploy command (found by its `runs` argument)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(m.runs).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def cleaning_up(m: Minted, gateways: list[Served]) -> Iterator[None]:
    """Whatever happens: stop every gateway started, and kill (by pid) a deploy command
    the killed gateway left running."""
    try:
        yield
    finally:
        for served in gateways:
            served.stop()
        for pid in deploy_commands(m):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_gateway_killed_mid_deploy_restarts_with_it_interrupted_and_never_reruns_it(
    world: World, tmp_path: Path
) -> None:
    m = minted(world, tmp_path, pause=PAUSE)
    set_gateway(world, lock_timeout=2)
    before = m.deployed_commit()
    store = store_of(world)
    logs, http, gateways = tmp_path / "logs", requests.Session(), list[Served]()
    with cleaning_up(m, gateways):
        first = start_gateway(world, m.keys, logs)
        gateways.append(first)
        start_the_deploy(http, first.url, m)
        pressed = time.monotonic()
        first.kill()
        # The dead gateway's lock is held until it expires, so nothing else starts meanwhile.
        assert lock_holder(store) == 1
        wait_for("the dead gateway's lock to expire", lambda: lock_holder(store) is None, 20)

        second = start_gateway(world, m.keys, logs)  # the same checkout: the same store
        gateways.append(second)
        found = progress(http, second.url)  # the session survived: sessions are in the store
        assert found["state"] == "interrupted", found
        assert "unknown" in found["summary"] and "will not run it again" in found["summary"]
        page = http.get(f"{second.url}/deployments/1")
        assert 'id="deploy"' not in page.text and "unknown" in page.text, page.text

        # Pressing Deploy anyway is refused, and nothing runs.
        again = http.post(f"{second.url}/deployments/1/deploy", data={"csrf": csrf_of(page.text)})
        assert again.status_code == 409, again.text
        assert "Not deployed:" in again.text and "unknown" in again.text
        assert lock_holder(store) is None  # another deployment of frontend could start

        # Past the command's pause (the orphaned command has ended by then): still one run,
        # still interrupted, and the deployed ref never moved (bs did not record an outcome).
        wait_for("the orphaned deploy command to end", lambda: not deploy_commands(m))
        wait_for("the pause to pass", lambda: time.monotonic() - pressed > PAUSE + 1)
        assert m.run_count() == 1
        found = progress(http, second.url)
        assert found["state"] == "interrupted" and found["attempts"] == 1, found
        lines = [line["line"] for line in found["lines"]]
        assert not any("deployed version recorded" in line for line in lines), lines
        assert m.deployed_commit() == before
        assert lock_holder(store) is None
    for served in gateways:
        assert m.token not in served.log(), served.log()


def test_a_gateway_restarted_before_the_dead_lock_expires_still_reports_it_interrupted(
    world: World, tmp_path: Path
) -> None:
    m = minted(world, tmp_path, pause=PAUSE)
    # Long enough for the restart to finish well before the dead gateway's lock expires.
    set_gateway(world, lock_timeout=4)
    store = store_of(world)
    logs, http, gateways = tmp_path / "logs", requests.Session(), list[Served]()
    with cleaning_up(m, gateways):
        first = start_gateway(world, m.keys, logs)
        gateways.append(first)
        start_the_deploy(http, first.url, m)
        first.kill()
        second = start_gateway(world, m.keys, logs)
        gateways.append(second)
        if lock_holder(store) != 1:
            pytest.fail("the restart took longer than the lock: this test shows nothing")
        wait_for("the dead gateway's lock to expire", lambda: lock_holder(store) is None, 20)
        # The lock has expired: its deployment is interrupted, whoever looks at it.
        found = progress(http, second.url)
        assert found["state"] == "interrupted", found
        page = http.get(f"{second.url}/deployments/1")
        assert "unknown" in page.text, page.text
