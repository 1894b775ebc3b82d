"""Helpers for tests/test_gateway_hardening.py: a clock to move, deploys to wait for, and
the gateway under gunicorn as production runs it (``-c python:bs.gateway.gunicorn_conf``).

`served` starts gunicorn on a free loopback port in the world's checkout, with
``BS_GATEWAY_HOST=127.0.0.1`` so the local sign-in works over real HTTP; `Browser`
is a ``requests`` session that signs in, redeems a link and presses Deploy the way a
person's browser does.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import requests
from tests.gatewayhelpers import CSRF, Minted


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


def wait_for(path: Path, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether process `pid` is running (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- gunicorn ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Served:
    base: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def served(minted_: Minted, log: Path, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """The gateway under gunicorn with the shipped settings module, on loopback."""
    port = free_port()
    full_env = {
        "BS_DIR": str(minted_.world.checkout), "BS_GATEWAY_HOST": "127.0.0.1",
        "BS_LINK_KEYS": minted_.keys, "PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
        "GIT_CONFIG_GLOBAL": os.environ["GIT_CONFIG_GLOBAL"], "GIT_CONFIG_NOSYSTEM": "1",
    } | dict(env or {})  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "-c", "python:bs.gateway.gunicorn_conf"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "-b", f"127.0.0.1:{port}", "bs.gateway.wsgi:app"],
            cwd=minted_.world.checkout, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Served(base, port, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Browser:
    """A person's browser on a served gateway."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def _csrf(self, path: str) -> str:
        page = self.http.get(self.base + path, timeout=10)
        found = CSRF.search(page.text)
        assert found, page.text
        return found.group(1)

    def post(self, path: str, data: Mapping[str, str], csrf_from: str) -> requests.Response:
        sent = {"csrf": self._csrf(csrf_from)} | dict(data)
        return self.http.post(self.base + path, data=sent, allow_redirects=False, timeout=10)

    def sign_in(self, user: str) -> None:
        signed = self.post("/signin/local", {"user": user, "next": "/"}, "/signin")
        assert signed.status_code == 303, signed.text

    def redeem(self, minted_: Minted) -> str:
        """Press the link's button; the deployment page's path."""
        done = self.post(minted_.path, {}, minted_.path)
        assert done.status_code == 303, done.text
        location: str = done.headers["Location"]
        assert re.fullmatch(r"/deployments/\d+", location), location
        return location

    def deploy(self, page: str) -> None:
        pressed = self.post(f"{page}/deploy", {}, page)
        assert pressed.status_code == 303, pressed.text

    def state(self, page: str) -> str:
        state: str = self.http.get(f"{self.base}{page}/progress", timeout=10).json()["state"]
        return state
