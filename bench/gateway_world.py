"""The gateway benchmark's world: a merged, approved request with its deploy link,
made with the bs CLI as demo/demo.sh does; the gateway under gunicorn (`serve`);
and `Client`, a browser signed in to it.

Built fresh under ``.bench/gateway/`` on each run (a few seconds)::

    forge/users.yaml, teams.yaml               alice (developer), bob (deployer), release-bot
    forge/alphagov/frontend.git                release_1..release_3; deployed-to-production
                                               at release_2
    forge/alphagov/release-requests.git        bs.yaml, this project's policies/ and deploy/
    release-requests/                          the checkout bs and the gateway run in
    outbox/                                    the mail bs sent: alice's deploy link

alice asks for frontend release_3 (``bs open-request``), bob approves and merges
it (``bs review --approve``, ``bs check``, ``bs merge``) and the merge hook
(``bs hook closed``) mints her link with a key from ``bs keys generate``. More
links for the same request are minted here, in-process, from the first one's
claims. No link or key is ever printed.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import Engine, text

import requests
from bench.world import BenchError, bench_env, git

ROOT = Path(__file__).resolve().parent.parent
APP = "frontend"
REQUESTER = "alice"
APPROVER = "bob"
USERS = {
    "alice": "alice@example.gov.uk",
    "erin": "erin@example.gov.uk",
    "bob": "bob@example.gov.uk",
    "carol": "carol@example.gov.uk",
    "dave": "dave@example.gov.uk",
    "release-bot": "releases@example.gov.uk",
}
TEAMS = {
    "alphagov/developers": ["alice", "erin"],
    "alphagov/deployers": ["bob", "carol"],
    "alphagov/dba": ["dave"],
    "alphagov/on-call": ["carol"],
}
_LINK = re.compile(r"/link/([A-Za-z0-9._-]+)")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_REFUSED = "<h1>This link cannot be used</h1>"
_TOKEN = re.compile(r"bs1\.[A-Za-z0-9._-]*")
#: Seconds any one request to the gateway may take.
TIMEOUT = 120.0
#: Seconds to wait for the gateway's /healthz, and for it to stop.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class GatewayWorld:
    root: Path
    checkout: Path
    #: The environment the gateway starts from (no BS_* but what it is given).
    env: Mapping[str, str] = field(repr=False)
    keys: str = field(repr=False)
    #: The link the merge hook mailed to alice.
    token: str = field(repr=False)
    build_seconds: float = 0.0

    def mint(self, count: int) -> list[str]:
        """`count` more links of the same request, each with its own nonce."""
        from bs.core.links import (
            DEPLOY_LINK,
            NONCE_BYTES,
            mint_link_token,
            parse_keys,
            verify_link_token,
        )

        keyring = parse_keys(self.keys, "BS_LINK_KEYS")
        claims = verify_link_token(self.token, keyring, purpose=DEPLOY_LINK, now=datetime.now(UTC))
        tokens = [
            mint_link_token(claims, keyring, secrets.token_bytes(NONCE_BYTES)) for _ in range(count)
        ]
        if len(set(tokens) | {self.token}) != count + 1:
            raise BenchError("two minted links are the same")
        return tokens


def _bs(bs: str, env: Mapping[str, str], cwd: Path, *args: str, user: str | None = None) -> str:
    run_env = dict(env) | ({"BS_USER": user} if user else {})
    proc = subprocess.run(
        [bs, *args], cwd=cwd, env=run_env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        # bs never prints a link or a key on failure; its own words say what went wrong.
        detail = (proc.stderr or proc.stdout).strip()
        raise BenchError(f"bs {' '.join(args)} (as {user or env.get('BS_USER')}) failed: {detail}")
    return proc.stdout


def _commit(env: Mapping[str, str], repo: Path, message: str) -> None:
    git(env, "add", "-A", cwd=repo)
    git(env, "commit", "-q", "-m", message, cwd=repo)


def build(root: Path, bs: str) -> GatewayWorld:
    """The world of demo/demo.sh sections 1-8, under `root` (deleted first)."""
    started = time.perf_counter()
    root = root.resolve()
    if root.exists():
        shutil.rmtree(root)
    forge, seed = root / "forge", root / "seed"
    (forge / "alphagov").mkdir(parents=True)
    seed.mkdir()
    gitconfig = root / "gitconfig"
    gitconfig.write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[user]\n\tname = Dev\n\temail = dev@example.gov.uk\n"
    )
    env = bench_env(root) | {"GIT_CONFIG_GLOBAL": str(gitconfig)}
    (forge / "users.yaml").write_text("".join(f"{u}: {a}\n" for u, a in USERS.items()))
    (forge / "teams.yaml").write_text(yaml.safe_dump(TEAMS, default_flow_style=None))

    app = seed / APP
    git(env, "init", "-q", app)
    (app / "app" / "views").mkdir(parents=True)
    (app / "Gemfile").write_text('source "https://rubygems.org"\ngem "rails"\n')
    view = app / "app" / "views" / "index.html.erb"
    view.write_text("<h1>GOV.UK</h1>\n")
    _commit(env, app, "First version")
    git(env, "tag", "release_1", cwd=app)
    view.write_text("<h1>GOV.UK</h1>\n<p>Welcome</p>\n")
    _commit(env, app, "Add a welcome")
    git(env, "tag", "-a", "release_2", "-m", "Release 2", cwd=app)
    view.write_text('<h1>GOV.UK</h1>\n<p>Welcome</p>\n<div class="cookie-banner"></div>\n')
    _commit(env, app, "Cookie banner")
    git(env, "tag", "release_3", cwd=app)
    app_bare = forge / "alphagov" / f"{APP}.git"
    git(env, "clone", "-q", "--bare", app, app_bare)
    git(env, "branch", "deployed-to-production", "release_2", cwd=app_bare)

    requests_seed = seed / "release-requests"
    git(env, "init", "-q", requests_seed)
    shutil.copytree(ROOT / "policies", requests_seed / "policies")
    shutil.copytree(ROOT / "deploy", requests_seed / "deploy")
    (requests_seed / "requests").mkdir()
    (requests_seed / "requests" / ".keep").touch()
    # gateway.url is set to the gateway's own address before each start (see `serve`).
    write_config(requests_seed, "http://127.0.0.1:8421")
    _commit(env, requests_seed, "Requests repository")
    requests_bare = forge / "alphagov" / "release-requests.git"
    git(env, "clone", "-q", "--bare", requests_seed, requests_bare)
    checkout = root / "release-requests"
    git(env, "clone", "-q", requests_bare, checkout)

    _bs(bs, env, checkout, "open-request", APP, "release_3", "--reason", "Bench", user=REQUESTER)
    _bs(bs, env, checkout, "review", "1", "--approve", user=APPROVER)
    _bs(bs, env, checkout, "check", "1", user=REQUESTER)
    _bs(bs, env, checkout, "merge", "1", user=APPROVER)
    keys = _bs(bs, env, checkout, "keys", "generate", "--id", "bench").strip()
    _bs(bs, env | {"BS_LINK_KEYS": keys}, checkout, "hook", "closed", "1", user="release-bot")
    token = _find_link(root / "outbox", USERS[REQUESTER])
    gateway_env = {k: v for k, v in env.items() if not k.startswith("BS_")}
    return GatewayWorld(
        root, checkout, gateway_env, keys, token, build_seconds=time.perf_counter() - started
    )


def write_config(checkout: Path, gateway_url: str) -> None:
    (checkout / "bs.yaml").write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "forge": {"kind": "local", "path": "../forge"},
                "requests_repo": "alphagov/release-requests",
                "mail": {
                    "kind": "outbox",
                    "path": "../outbox",
                    "from": "GOV.UK releases <releases@example.gov.uk>",
                },
                "gateway": {"url": gateway_url, "store": "sqlite:///../gateway.sqlite"},
            },
            sort_keys=False,
        )
    )


def _find_link(outbox: Path, to: str) -> str:
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to not in str(message["To"]):
            continue
        body = message.get_body(preferencelist=("plain",))
        found = _LINK.search(body.get_content() if body is not None else "")
        if found:
            return found.group(1)
    raise BenchError(f"no deploy link for {to} in {outbox}: did the merge hook mint one?")


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU so far of gunicorn's master and workers, with the children
        they waited for (the gateway's git processes), from Linux's /proc."""
        pids = [self.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
            pids += [int(pid) for pid in children.split()]
        ticks = 0
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                ticks += sum(int(field) for field in fields[11:15])  # u/s time, cu/cs time
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(world: GatewayWorld, store: str, log: Path) -> Iterator[Server]:
    """gunicorn running the gateway on `store`, as production would.

    gateway.url in the checkout's bs.yaml is set to the address (the Origin
    check compares with it). The server is always stopped, its whole group.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    write_config(world.checkout, base)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    run = world.root / "run"  # gunicorn's control socket: here, not in $HOME/.gunicorn
    run.mkdir(mode=0o700, exist_ok=True)
    env = dict(world.env) | {
        "XDG_RUNTIME_DIR": str(run),
        "BS_LINK_KEYS": world.keys,
        "BS_GATEWAY_HOST": "127.0.0.1",
        "BS_GATEWAY_STORE": store,
    }
    argv = [gunicorn, "-c", "python:bs.gateway.gunicorn_conf", "-b", f"127.0.0.1:{port}",
            "bs.gateway.wsgi:app"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=world.checkout, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_healthy(proc, base, log)
        yield Server(base, proc.pid)
    finally:
        _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with status {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"the gateway did not answer /healthz in {START_TIMEOUT:g} s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful), then SIGQUIT, then SIGKILL to the group gunicorn leads."""
    for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGKILL):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):  # workers left behind by a killed master
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(log: Path, lines: int = 25) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(_LINK.sub("/link/[redacted]", text).splitlines()[-lines:])


def reset_store(engine: Engine) -> None:
    """Forget the request's redemption and deployment, so another link of it can win."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM deployments"))
        connection.execute(text("DELETE FROM link_redemptions"))


def log_leaks(log: Path, tokens: list[str]) -> bool:
    """Whether the gateway's log holds any link token or part of one."""
    text = log.read_text(errors="replace")
    return "/link/bs1" in text or any(token.rpartition(".")[2] in text for token in tokens)


# -- a browser ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    seconds: float
    status: int
    #: redeemed (303 to a deployment), refused (403, the link page), or what else came back
    kind: str
    #: For an error: what requests said, with any link token redacted.
    detail: str = ""


class Client:
    """A browser: its own session (cookies, connections), signed in as alice."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.path = f"/link/{token}"
        self.http = requests.Session()
        self.csrf = ""

    def _csrf_of(self, page: requests.Response, what: str) -> str:
        found = _CSRF.search(page.text)
        if not found:
            raise BenchError(f"{what}: {page.status_code}, no form in the page")
        return found.group(1)

    def sign_in(self) -> None:
        page = self.http.get(f"{self.base}/signin", timeout=TIMEOUT)
        sent = self.http.post(
            f"{self.base}/signin/local", data={"user": REQUESTER, "csrf": self._csrf_of(
                page, "GET /signin")},
            headers={"Origin": self.base}, allow_redirects=False, timeout=TIMEOUT,
        )  # fmt: skip
        if sent.status_code != 303:
            raise BenchError(f"local sign-in as {REQUESTER}: {sent.status_code}, not 303")

    def open_link(self, expect: int = 200) -> None:
        """GET the link's page (the confirmation, or the refusal once spent) for the CSRF token."""
        page = self.http.get(self.base + self.path, timeout=TIMEOUT)
        if page.status_code != expect:
            raise BenchError(f"GET /link/[token]: {page.status_code}, not {expect}")
        self.csrf = self._csrf_of(page, "GET /link/[token]")

    def hang_up(self) -> None:
        """Close the session's connections (its cookies stay): the next POST opens its own.

        gunicorn closes a connection idle for its keep-alive (2 s), as it would the
        page's before anyone clicks; a POST sent on one just as it closes fails."""
        self.http.close()

    def redeem(self) -> Outcome:
        start = time.perf_counter()
        try:
            sent = self.http.post(
                self.base + self.path, data={"csrf": self.csrf}, headers={"Origin": self.base},
                allow_redirects=False, timeout=TIMEOUT,
            )  # fmt: skip
        except requests.RequestException as exc:
            detail = _TOKEN.sub("[token]", str(exc))
            return Outcome(time.perf_counter() - start, 0, f"error {type(exc).__name__}", detail)
        seconds = time.perf_counter() - start
        if sent.status_code == 303 and "/deployments/" in sent.headers.get("Location", ""):
            return Outcome(seconds, 303, "redeemed")
        if sent.status_code == 403 and _REFUSED in sent.text:
            return Outcome(seconds, 403, "refused")
        return Outcome(seconds, sent.status_code, f"HTTP {sent.status_code}")
