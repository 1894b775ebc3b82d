"""The gateway end to end through Flask's test client: link, redemption, deploy, record."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.checkhelpers import FRONTEND
from tests.conftest import World, git
from tests.gatewayhelpers import csrf_of, gateway, minted, redeem, sign_in
from tests.gatewaytesthelpers import wait_finished
from tests.hookhelpers import outbox, recipients


def test_link_to_finished_deployment(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    client = gateway(link).test_client()
    # Not signed in: a sign-in page, nothing spent.
    first = client.get(link.path)
    assert first.status_code == 200 and "Sign in to continue" in first.text
    sign_in(client, "alice")
    response = redeem(client, link)
    assert response.status_code == 303
    page_url = response.headers["Location"]
    assert page_url == "/deployments/1"
    page = client.get(page_url)
    assert "Deploy release_2 to frontend" in page.text
    started = client.post(page_url + "/deploy", data={"csrf": csrf_of(page.text)})
    assert started.status_code == 303, started.text
    progress = wait_finished(client)
    assert progress["state"] == "succeeded", progress
    log = client.get(page_url + "/progress").get_json()["lines"]
    assert any("deploying frontend release_2" in line["line"] for line in log)
    assert link.run_count() == 1
    assert link.deployed_commit() == link.release_2
    # The outcome mail goes to alice and bob.
    last = outbox(world)[-1]
    assert sorted(recipients(last)) == ["alice@example.gov.uk", "bob@example.gov.uk"]
    assert "Deployed: release_2" in last["Subject"]
    # The same link again: refused, and nothing more deployed.
    again = client.get(link.path)
    assert again.status_code == 403


def test_serve_on_a_port_in_use_is_one_clear_error(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = world.bs("serve", "--port", str(port), env={"BS_LINK_KEYS": link.keys})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"bs: error: cannot listen on 127.0.0.1:{port}: Address already in use. "
        "Stop what uses it, or pick another port with --port."
    )


def test_home_shows_open_requests_and_what_each_needs(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)  # request #1 merged; frontend's release_1 deployed
    work = world.root / "work" / "frontend"  # frontend's history, as minted built it
    (work / "app" / "main.py").write_text("print(3)\n")
    git(work, "commit", "-q", "-am", "three")
    git(work, "tag", "release_3")
    git(work, "push", "-q", str(world.app_bare(FRONTEND)), "main", "release_3")
    opened = world.bs("open-request", "frontend", "release_3", "--json", user="alice")
    assert opened.exit_code == 0, opened.output
    client = gateway(link).test_client()
    sign_in(client, "bob")
    rows = re.search(r'<table class="list" id="requests">(.*?)</table>', client.get("/").text, re.S)
    assert rows and "not checked yet" in rows.group(1) and ">2<" in rows.group(1)
    assert world.bs("check", "2", user="carol").exit_code == 1  # pending: posts bs/policy
    rows = re.search(r'<table class="list" id="requests">(.*?)</table>', client.get("/").text, re.S)
    assert rows and "pending: " in rows.group(1) and "approval" in rows.group(1)


def test_serve_json_says_where_it_listens_and_logs_json_lines(world: World, tmp_path: Path) -> None:
    link = minted(world, tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BS_LINK_KEYS": link.keys}
    process = subprocess.Popen(
        [sys.executable, "-m", "bs", "serve", "--port", "0", "--json"],
        cwd=world.checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        started = json.loads(process.stdout.readline())
        assert started["links"] == "http://127.0.0.1:8421"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", started["listening"])
        with urllib.request.urlopen(started["listening"] + link.path) as page:
            assert page.status == 200
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    logged = [json.loads(line) for line in errors.splitlines() if line.strip()]
    access = [entry for entry in logged if entry["logger"] == "bs.gateway.access"]
    assert access and access[0]["message"].endswith('"GET /link/[redacted]" 200')
    assert link.token not in errors
