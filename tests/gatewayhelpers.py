"""Helpers for the gateway tests: a merged, approved request with its link, and a gateway.

`minted` builds on hookhelpers: frontend with release_1 deployed, a request for
release_2 approved by bob and merged, the merge hook run with a fresh key, and
alice's link read from her mail. The app's `deploy:` is a command running
`DEPLOY_SCRIPT`, which prints a few lines and appends one line per run to
`runs` (so a test can count deploys). `gateway` makes the Flask app the way
`bs serve` does (`build_settings` + `build_app`), optionally with a fake clock.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bs.gateway.serve import build_app, build_settings
from bs.workspace import Workspace
from tests.checkhelpers import FRONTEND
from tests.conftest import World, git
from tests.hookhelpers import (
    LINK,
    approve_and_merge,
    hook,
    key_line,
    open_frontend,
    outbox,
    recipients,
    text_of,
    with_bot,
)

DEPLOY_SCRIPT = """\
import pathlib, sys, time
app, tag, commit, runs = sys.argv[1:5]
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0
print(f"deploying {app} {tag} {commit}", flush=True)
with open(runs, "a") as f:
    f.write(f"{app} {tag} {commit}\\n")
time.sleep(pause)
print("step two", flush=True)
code = int(pathlib.Path(runs + ".exit").read_text()) if pathlib.Path(runs + ".exit").exists() else 0
sys.exit(code)
"""
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Minted:
    world: World
    number: int
    token: str
    keys: str
    runs: Path
    release_2: str

    @property
    def path(self) -> str:
        return f"/link/{self.token}"

    def run_count(self) -> int:
        return len(self.runs.read_text().splitlines()) if self.runs.exists() else 0

    def fail_next_deploys(self, code: int = 3) -> None:
        Path(str(self.runs) + ".exit").write_text(str(code))

    def deployed_commit(self) -> str:
        bare = self.world.app_bare(FRONTEND)
        return git(bare, "rev-parse", "refs/heads/deployed-to-production")


def set_deploy(world: World, deploy: Mapping[str, Any] | None) -> None:
    """Set frontend's deploy: block in apps.yaml and publish it to the default branch."""
    if deploy is None:
        world.apps["frontend"].pop("deploy", None)
    else:
        world.apps["frontend"]["deploy"] = dict(deploy)
    world.write_apps()


def command_deploy(runs: Path, pause: float = 0.0, timeout: float = 60) -> dict[str, Any]:
    script = runs.parent / "deploy_script.py"
    script.write_text(DEPLOY_SCRIPT)
    return {
        "kind": "command",
        "argv": [sys.executable, str(script), "{app}", "{tag}", "{commit}", str(runs), str(pause)],
        "timeout": timeout,
    }


def minted(world: World, tmp_path: Path, *, pause: float = 0.0) -> Minted:
    opened = open_frontend(with_bot(world), reason="Cookie banner")
    approve_and_merge(world, opened.number)
    runs = tmp_path / "runs.txt"
    set_deploy(world, command_deploy(runs, pause))
    keys = key_line("test")
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": keys})
    assert result.exit_code == 0, result.output
    mails = [m for m in outbox(world) if recipients(m) == ["alice@example.gov.uk"]]
    found = LINK.search(text_of(mails[-1]))
    assert found, text_of(mails[-1])
    return Minted(world, opened.number, found.group(1), keys, runs, opened.release_2)


def gateway(
    minted_: Minted,
    *,
    now: Callable[[], datetime] | None = None,
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    store: str | None = None,
) -> Flask:
    full_env = {"BS_LINK_KEYS": minted_.keys, "PATH": "/usr/bin:/bin"} | dict(env or {})
    if store:
        full_env["BS_GATEWAY_STORE"] = store
    settings = build_settings(Workspace(minted_.world.checkout), full_env, host=host)
    if now is not None:
        settings.now = now
    app = build_app(settings)
    app.testing = True
    app.test_client_class = GatewayClient
    app.config["BS_TEST_BASE_URL"] = settings.config.gateway.url
    return app


class GatewayClient(FlaskClient):
    """A test client that speaks to the gateway by its own name (gateway.url), as a browser
    that followed a link would: the gateway refuses other host names."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not (args and isinstance(args[0], str) and "://" in args[0]):
            kwargs.setdefault("base_url", self.application.config["BS_TEST_BASE_URL"])
        return super().open(*args, **kwargs)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def sign_in(client: FlaskClient, user: str) -> None:
    page = client.get("/signin")
    response = client.post("/signin/local", data={"user": user, "csrf": csrf_of(page.text)})
    assert response.status_code == 303, response.text


def redeem(client: FlaskClient, minted_: Minted) -> Any:
    """Open the link (signed in), then press its button; the POST's response."""
    page = client.get(minted_.path)
    assert page.status_code == 200, page.text
    return client.post(minted_.path, data={"csrf": csrf_of(page.text)})


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment.astimezone(UTC)
