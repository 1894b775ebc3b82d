"""The deploy gateway, attacked a second time: do the first review's fixes hold, and what else?

Each test marked ``xfail(strict=True, reason="BUG: ...")`` reproduces a weakness this
review found: it fails today and passes once the weakness is fixed (strict: the mark must
then go). What was tried and held is listed in the review's report, not here.
"""

from __future__ import annotations

import base64
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
import responses
import yaml
from flask import Flask
from gunicorn.config import Config
from pydantic import ValidationError
from werkzeug.serving import make_server

from bs.core.request import VersionRef
from bs.core.tags import TagScheme
from bs.deployconfig import CommandDeploy, JenkinsDeploy
from bs.deployers import DeployJob
from bs.deployers.command import CommandDeployer
from bs.deployers.github_workflow import WorkflowDeployer
from bs.errors import BsError
from bs.gateway.gunicorn_conf import RedactingLogger
from bs.gateway.serve import RedactingHandler
from bs.store import open_store
from bs.store.deployments import Deployments
from tests.gatewayhelpers import Minted, gateway, redeem, set_deploy, sign_in
from tests.gatewaytesthelpers import fresh_minted, press_deploy, wait_finished
from tests.hardeninghelpers import Browser, served
from tests.oauthhelpers import ENV, ORG
from tests.test_deployer_workflow import (
    DISPATCH_URL,
    JOB,
    NOW,
    RUN_PAGE,
    RUN_URL,
    RUNS_URL,
    TOKEN,
    FakeTime,
    config,
    given_workflow,
    job,
    jobs,
    run,
    runs,
)

#: Shaped like a deploy link (bs1.KEY.PAYLOAD.SIGNATURE); the tests only look for it in logs.
LINK_TOKEN = "bs1.a2V5.cGF5bG9hZC1vZi1hLWRlcGxveS1saW5r.c2lnbmF0dXJlLW9mLWl0"


@pytest.fixture
def m(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Minted:
    return fresh_minted(tmp_path_factory, tmp_path)


# === logs: the link token and forged lines ==========================================


def _gunicorn_atoms(raw_uri: str, path_info: str) -> dict[str, Any]:
    """gunicorn's access-log atoms for one request, through the shipped RedactingLogger."""
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": raw_uri, "PATH_INFO": path_info,
        "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7",
    }  # fmt: skip
    response = SimpleNamespace(status="200 OK", sent=0, headers=[])
    atoms: dict[str, Any] = RedactingLogger(Config()).atoms(
        response, [("Host", "gateway.example")], environ, timedelta(milliseconds=2)
    )
    return atoms


@pytest.mark.parametrize("spelling", ["//link/{t}", "//link//{t}", "//%6Cink/{t}"])
def test_gunicorn_s_access_log_holds_no_link_sent_with_a_leading_double_slash(
    spelling: str,
) -> None:
    target = spelling.format(t=LINK_TOKEN)
    atoms = _gunicorn_atoms(target, target.replace("%6C", "l"))
    assert [key for key, value in atoms.items() if LINK_TOKEN in str(value)] == []


def test_gunicorn_never_logs_a_link_opened_with_a_leading_double_slash(
    m: Minted, tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    with served(m, log, env={"GUNICORN_CMD_ARGS": "--access-logfile -"}) as gunicorn:
        alice = Browser(gunicorn.base)
        alice.sign_in("alice")
        page = alice.http.get(f"{gunicorn.base}//link/{m.token}", timeout=10)
        assert page.status_code == 200 and 'name="csrf"' in page.text  # the link's own page
    assert m.token not in log.read_text()


FORGED = '/healthz%0D%0A198.51.100.1 - alice [25/Nov/2026:15:00:00 +0000] "POST /deploy" 303'


def test_a_request_cannot_write_a_line_of_its_own_into_gunicorn_s_access_log() -> None:
    atoms = _gunicorn_atoms(FORGED, "/healthz\r\n198.51.100.1 ...")
    assert "\n" not in atoms["r"] and "\r" not in atoms["r"], atoms["r"]
    assert "\n" not in atoms["U"] and "\r" not in atoms["U"], atoms["U"]


@pytest.fixture
def bs_serve(caplog: pytest.LogCaptureFixture) -> Iterator[int]:
    """`bs serve`'s server and request handler (RedactingHandler) on a free loopback port,
    in front of a stand-in app (the handler, not the app, writes these log lines)."""
    app = Flask("stand-in")

    @app.get("/link/<token>")
    def _link(token: str) -> str:
        return "a link page"

    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join(5)


def _raw(port: int, request_line: str) -> bytes:
    """Send one raw request; what came back (b"" when the server just hung up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(f"{request_line}\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    return answer


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    time.sleep(0.1)  # the handler thread logs after it answers
    return "\n".join(record.getMessage() for record in caplog.records)


def test_bs_serve_never_logs_a_link_from_a_malformed_request_line(
    bs_serve: int, caplog: pytest.LogCaptureFixture
) -> None:
    _raw(bs_serve, f"GET /link/{LINK_TOKEN} (copied with a stray word) HTTP/1.1")
    logged = _logged(caplog)
    assert logged
    assert LINK_TOKEN not in logged, logged


def test_bs_serve_answers_a_malformed_request_line_with_a_400(bs_serve: int) -> None:
    answer = _raw(bs_serve, "GET /a b HTTP/1.1")
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"), answer


def test_a_request_cannot_write_a_line_of_its_own_into_bs_serve_s_log(
    bs_serve: int, caplog: pytest.LogCaptureFixture
) -> None:
    target = FORGED.replace(" ", "%20").replace('"', "%22")
    _raw(bs_serve, f"GET {target} HTTP/1.1")
    time.sleep(0.1)  # the handler thread logs after it answers
    lines = [r.getMessage() for r in caplog.records if r.name == "bs.gateway.access"]
    assert lines
    assert all("\n" not in line and "\r" not in line for line in lines), lines


# === deployer output: a secret in another form than the one it was given ==============

PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDx9k3Qm2Lr0Vt7b6mJv0xk3p5cR8n1Ww5Zq2hX0dYk9wAAAJgS1oRYEtaE\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
TOKEN_WITH_SYMBOLS = "dpl/Kq7+Zr2v9Wm4Tx1=Ns8c"

#: name -> (the variable, its value, a deploy script printing it as real tools do,
#: what must never be shown)
SECRET_FORMS: dict[str, tuple[str, str, str, str]] = {
    # `sh -x` tracing `printf '%s' "$DEPLOY_KEY" > key`, or a tool dumping what it loaded:
    "a multi-line key, line by line": (
        "DEPLOY_KEY", PEM,
        "import os\nprint('+ printf %s', os.environ['DEPLOY_KEY'], flush=True)\n",
        PEM.splitlines()[1],
    ),
    # `curl -v -u deploy:$DEPLOY_TOKEN https://...` prints the header it sends:
    "an Authorization: Basic header (curl -v)": (
        "DEPLOY_TOKEN", TOKEN_WITH_SYMBOLS,
        "import base64, os\nsecret = ('deploy:' + os.environ['DEPLOY_TOKEN']).encode()\n"
        "print('> Authorization: Basic ' + base64.b64encode(secret).decode(), flush=True)\n",
        base64.b64encode(f"deploy:{TOKEN_WITH_SYMBOLS}".encode()).decode(),
    ),
    # a webhook call logged with its query string:
    "URL-encoded in a query": (
        "DEPLOY_TOKEN", TOKEN_WITH_SYMBOLS,
        "import os, urllib.parse\nt = urllib.parse.quote(os.environ['DEPLOY_TOKEN'], safe='')\n"
        "print('POST https://hooks.example/deploy?token=' + t + ' -> 200', flush=True)\n",
        quote(TOKEN_WITH_SYMBOLS, safe=""),
    ),
}  # fmt: skip


@pytest.mark.parametrize("form", list(SECRET_FORMS))
def test_the_deploy_log_shows_no_secret_in_another_form(
    m: Minted, tmp_path: Path, form: str
) -> None:
    name, value, script_text, never_shown = SECRET_FORMS[form]
    script = tmp_path / "echo_secret.py"
    script.write_text(script_text)
    set_deploy(m.world, {"kind": "command", "argv": [sys.executable, str(script)], "env": [name]})
    app = gateway(m, env={name: value})
    alice = app.test_client()
    sign_in(alice, "alice")
    redeem(alice, m)
    assert press_deploy(alice).status_code == 303
    assert wait_finished(alice)["state"] == "succeeded"
    bob = app.test_client()  # any signed-in member may watch a deployment
    sign_in(bob, "bob")
    shown = bob.get("/deployments/1/progress").text + bob.get("/deployments/1").text
    assert "[redacted]" in shown or never_shown in shown  # the line is there...
    assert never_shown not in shown  # ...but not the secret


# === cookies behind a TLS proxy =====================================================


def test_behind_a_tls_proxy_the_session_cookie_is_secure_and_host_prefixed(m: Minted) -> None:
    path = m.world.checkout / "bs.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["gateway"] = {"url": "https://deploy.example.gov.uk", "github": {"org": ORG}}
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    m.world.publish("The gateway, behind nginx on this machine")
    app = gateway(m, env=ENV, host="127.0.0.1")  # nginx on :443 proxies to 127.0.0.1:8421
    page = app.test_client().get("/signin")  # the session that will carry the sign-in
    assert page.status_code == 200
    (cookie,) = page.headers.getlist("Set-Cookie")
    assert cookie.startswith("__Host-"), cookie
    assert "; Secure" in cookie, cookie
    assert "Strict-Transport-Security" in page.headers


# === the GitHub-workflow deployer follows someone else's run ========================


def test_a_workflow_deploy_does_not_report_another_dispatch_s_run_as_its_own() -> None:
    fake = FakeTime()
    theirs = run(9002, "completed", "success", created_at="2025-06-01T12:00:01Z")
    ours = run(9003, "in_progress", created_at="2025-06-01T12:00:02Z")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as github:
        given_workflow(github)
        github.get(RUNS_URL, json=runs())  # listed before the dispatch: no run yet
        github.post(DISPATCH_URL, status=204)  # an older GitHub (GHES): no run details
        github.get(RUNS_URL, json=runs(ours, theirs))  # both dispatches' runs appear
        github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "completed", "success")))
        deployer = WorkflowDeployer(
            config(), {"BS_GITHUB_DEPLOY_TOKEN": TOKEN}, sleep=fake.sleep, clock=fake.clock,
            now=lambda: NOW,
        )  # fmt: skip
        lines: list[str] = []
        outcome = deployer.deploy(JOB, lines.append, lambda: False)
    assert outcome.url != RUN_PAGE, "followed run 9002, which another dispatch started"
    assert not outcome.ok, outcome


# === a tag name that is an option ===================================================


def test_a_tag_filled_into_the_deploy_command_cannot_be_an_option(tmp_path: Path) -> None:
    pwned = tmp_path / "PWNED"
    tag = f"--upload-pack=touch${{IFS}}{pwned};git-upload-pack-1"
    # A valid ref (git itself only refuses a leading '-' in `git tag`)...
    src = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run(
        ["git", "-C", str(src), "-c", "user.name=a", "-c", "user.email=a@example.gov.uk",
         "commit", "-q", "--allow-empty", "-m", "release"], check=True,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(src), "update-ref", f"refs/tags/{tag}", "HEAD"], check=True)
    # ...is no release tag of any scheme, nor a tag a release request may name...
    assert not TagScheme("regex", r".+-(\d+)").matches(tag)
    with pytest.raises(ValueError, match="tag"):
        VersionRef(tag=tag, commit="a" * 40)
    # ...and a deploy command would not take it as an option, were it given one.
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(src), str(work)], check=True)
    deploy = CommandDeploy(kind="command", argv=["git", "fetch", "origin", "{tag}"], timeout=30)
    deployer = CommandDeployer(deploy, {"PATH": "/usr/bin:/bin"}, cwd=work)
    said: list[str] = []
    job_ = DeployJob("frontend", "alphagov/frontend", tag, "a" * 40, 1)
    outcome = deployer.deploy(job_, said.append, lambda: False)
    assert not outcome.ok and "an option" in outcome.summary
    assert not pwned.exists(), "the tag ran a command"


# === deploy locks across gateway instances ==========================================


def test_a_live_deploy_is_not_interrupted_by_another_instance_s_fast_clock(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"  # PostgreSQL in production: same SQL
    ttl = timedelta(seconds=60)
    a, b = Deployments(open_store(url), lock_ttl=ttl), Deployments(open_store(url), lock_ttl=ttl)
    t0 = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    with a.engine.begin() as connection:
        made = a.create(
            connection, request_key="frontend/20300107-aaaaaaaaaaaaaaaa", app="frontend",
            pull_request=1, requester="alice", record={}, slot_start=t0,
            slot_end=t0 + timedelta(hours=2), now=t0,
        )  # fmt: skip
    skew = timedelta(seconds=50)  # instance B's clock runs 50 s ahead of A's
    assert a.start(made, "frontend", by="alice", holder="A", now=t0) == 1
    for tick in range(1, 5):  # A renews every ttl/4, as run_deploy's keep_lock does
        now_a = t0 + tick * ttl / 4
        b.recover_stale(now_a - timedelta(seconds=1) + skew)  # someone opens B's home page
        assert a.renew(made, "frontend", "A", now_a), f"A lost its lock at renewal {tick}"
    found = a.get(made)
    assert found is not None and found.state == "running", found


# === Jenkins credentials in the clear ===============================================


def test_a_jenkins_deployer_refuses_to_send_its_token_over_plain_http() -> None:
    with pytest.raises(ValidationError):
        JenkinsDeploy.model_validate({"kind": "jenkins", "url": "http://deploy.example.gov.uk"})


# === the tag-moved check when the forge does not answer =============================

MOVE_TAG = """\
import os, pathlib, subprocess, sys
bare, here = sys.argv[1:3]
os.environ.update(GIT_AUTHOR_NAME="m", GIT_AUTHOR_EMAIL="m@example.gov.uk",
                  GIT_COMMITTER_NAME="m", GIT_COMMITTER_EMAIL="m@example.gov.uk")
tree = subprocess.run(["git", "--git-dir", bare, "rev-parse", "release_2^{tree}"],
                      capture_output=True, text=True, check=True).stdout.strip()
other = subprocess.run(["git", "--git-dir", bare, "commit-tree", tree, "-p", "release_2^{commit}",
                        "-m", "not reviewed"], capture_output=True, text=True, check=True).stdout.strip()
subprocess.run(["git", "--git-dir", bare, "update-ref", "refs/tags/release_2", other], check=True)
pathlib.Path(here, "moved").write_text(other)
print("deployed release_2 at", other, flush=True)
"""


def test_a_tag_moved_during_the_deploy_is_not_recorded_when_the_forge_then_fails(
    m: Minted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = m.world.app_bare("alphagov/frontend")
    script = tmp_path / "move_tag.py"
    script.write_text(MOVE_TAG)
    argv = [sys.executable, str(script), str(bare), str(tmp_path)]
    set_deploy(m.world, {"kind": "command", "argv": argv, "timeout": 60})
    app = gateway(m)
    forge = app.extensions["bs"].deploy.forge
    list_tags = forge.list_tags

    def flaky(repo: str) -> Any:
        if (tmp_path / "moved").exists():  # from the moment the tag moved, the forge is down
            raise BsError("GitHub answered 502 Bad Gateway while listing the tags")
        return list_tags(repo)

    monkeypatch.setattr(forge, "list_tags", flaky)
    alice = app.test_client()
    sign_in(alice, "alice")
    redeem(alice, m)
    assert press_deploy(alice).status_code == 303
    progress = wait_finished(alice)
    assert (tmp_path / "moved").exists(), progress[
        "lines"
    ]  # what went out is not what was approved
    assert progress["state"] != "succeeded", progress
