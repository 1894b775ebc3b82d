"""Helpers for the tests that drive the gateway as a real server, some through a real browser.

`chromium` is a session-scoped fixture: Playwright's sync API on Debian's own
Chromium (/usr/bin/chromium), never a browser Playwright downloads. When it is
missing the tests fail, never skip: a missing browser must not quietly turn the
browser tests off. A test module uses it with
``from tests.browserhelpers import chromium_fixture  # noqa: F401``.

`new_page(browser, served)` opens a page in a fresh context (its own cookies: a
separate person).

`serving(world, keys, logs)` runs ``bs serve`` as a subprocess from the world's
checkout on a port the OS picks (``--port 0``: the gateway announces the port it
bound, so two xdist workers never race for one), waits for ``/healthz`` and yields
a `Served` with its base URL; its stdout and stderr go to files a test can read
(say, to check that no link token was logged). It is always stopped: SIGTERM,
then SIGKILL. `Served.kill()` stops it at once with SIGKILL, as a crash would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

import requests
from tests.conftest import World

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds a page action (a click, a navigation) may take before the test fails.
ACTION_TIMEOUT_MS = 10_000
#: Seconds a gateway has to start listening and answer /healthz.
START_TIMEOUT = 30.0
#: Seconds a gateway has to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
LISTENING = re.compile(r"bs gateway listening on (http://[^\s]+?:\d+) ")


@pytest.fixture(scope="session", name="chromium")
def chromium_fixture() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (one per session, so one per xdist worker)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Run `make test` "
            "(or `apt-get install chromium`); never `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Served:
    """A running ``bs serve``."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def log(self) -> str:
        """Everything the gateway has written so far, stdout then stderr."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the gateway process alone (not the deploy commands it started, which
        run in their own sessions), as a crash or the OOM killer would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (the gateway stops its deploys and exits), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


def set_gateway(world: World, **settings: object) -> None:
    """Merge `settings` into the checkout's bs.yaml gateway: block and publish it."""
    path = world.checkout / "bs.yaml"
    config = yaml.safe_load(path.read_text())
    config["gateway"] = {**(config.get("gateway") or {}), **settings}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.publish("Gateway settings")


def gateway_env(keys: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A small environment: the keys, PATH, HOME and the tests' isolated git config."""
    env = {"BS_LINK_KEYS": keys, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "XDG_STATE_HOME"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env | dict(extra or {})


def start_gateway(
    world: World, keys: str, logs: Path, *, env: Mapping[str, str] | None = None
) -> Served:
    """Start ``bs serve --port 0`` in the world's checkout; return it once /healthz answers.

    `logs` is a folder for its output files (numbered, so a restarted gateway
    gets its own). On any failure to start, the process is stopped and the
    test fails with what it printed."""
    logs.mkdir(parents=True, exist_ok=True)
    number = len(list(logs.glob("gateway-*.stderr"))) + 1
    stdout, stderr = logs / f"gateway-{number}.stdout", logs / f"gateway-{number}.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bs", "serve", "--port", "0"],
            cwd=world.checkout,
            env=gateway_env(keys, env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a Ctrl-C at the terminal reaches pytest, not it
        )
    served = Served("", process, stdout, stderr)
    try:
        served.url = _wait_until_up(served)
    except BaseException:
        served.stop()
        raise
    return served


def _wait_until_up(served: Served) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    url = ""
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"bs serve exited with status {served.process.returncode}:\n{served.log()}")
        if not url:
            found = LISTENING.search(served.stderr.read_text(errors="replace"))
            url = found.group(1) if found else ""
        if url:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except requests.ConnectionError:
                pass
        time.sleep(0.05)
    pytest.fail(f"bs serve did not answer /healthz within {START_TIMEOUT:g} s:\n{served.log()}")


@contextmanager
def serving(
    world: World, keys: str, logs: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`start_gateway`, always stopped when the block ends."""
    served = start_gateway(world, keys, logs, env=env)
    try:
        yield served
    finally:
        served.stop()


def new_page(browser: Browser, served: Served) -> Page:
    """A page in a new browser context (no cookies shared with any other). Closed with its
    context by the caller."""
    del served  # the gateway the page will visit: nothing to set up for it
    context = browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context.new_page()
