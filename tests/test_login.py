"""``bs login`` / ``whoami`` / ``logout`` and the token store, against a mocked GitHub.

The device-flow bodies are GitHub's as quoted in ../shared/github/oauth.md
section 1 (JSON, ``Accept: application/json``; errors come back as HTTP 200
with an ``error`` field; descriptions the docs leave out are its placeholders).
``GET /user`` answers with the subset's private-user example, validated
against ``private-user``; PyGithub adds ``:443`` to the API URLs it calls.

No test touches the real keyring (PYTHON_KEYRING_BACKEND is always set), the
real home folder (conftest's HOME), a real ``gh`` (PATH is an empty folder),
or the network (``responses``), and none waits (the clock is fake).
"""

from __future__ import annotations

import importlib
import json
import logging
import stat
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest
import responses
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

import requests
from bs.auth import device, tokens
from bs.errors import BsError
from tests.conftest import Result, run_bs
from tests.githubshapes import example, validate

CLIENT_ID = "Iv1.abc"
WEB = "https://github.com"
CODE_URL = f"{WEB}/login/device/code"
TOKEN_URL = f"{WEB}/login/oauth/access_token"
USER_URL = "https://api.github.com:443/user"
#: oauth.md 1.1 and 1.2, verbatim.
DEVICE_CODE = "3584d83530557fdd1f46af8289938c8ef79f9dc5"
CODE_BODY = {
    "device_code": DEVICE_CODE,
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://github.com/login/device",
    "expires_in": 900,
    "interval": 5,
}
TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
TOKEN_BODY = {"access_token": TOKEN, "token_type": "bearer", "scope": "repo,gist"}
SLOW_DOWN = {
    "error": "slow_down",
    "error_description": "Too many requests have been made in the same timeframe.",
    "error_uri": "https://docs.github.com",
    "interval": 10,
}
INCORRECT_CLIENT = {
    "error": "incorrect_client_credentials",
    "error_description": "The client_id and/or client_secret passed are incorrect.",
    "error_uri": "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials",
}
NO_KEYRING = "keyring.backends.fail.Keyring"
MEMORY_KEYRING = "tests.test_login.MemoryKeyring"
GITHUB_YAML = (
    f"version: 1\nforge: {{kind: github, client_id: {CLIENT_ID}}}\n"
    "requests_repo: alphagov/release-requests\n"
)


def error(code: str) -> dict[str, str]:
    """A device-flow error body as oauth.md 1.4 shows (its placeholders for the text)."""
    return {"error": code, "error_description": "…", "error_uri": "…"}


def user() -> dict[str, Any]:
    body = example("private-user-response-with-public-and-private-profile-information")
    validate(body, "private-user")
    return body


def bad_credentials() -> dict[str, str]:
    body = {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    validate(body, "basic-error")
    return body


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory, loaded by name through PYTHON_KEYRING_BACKEND."""

    # Below fail.Keyring's 0, so keyring never picks it on its own for another test.
    priority = -1
    stored: ClassVar[dict[tuple[str, str], str]] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.stored.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class FakeClock:
    """A monotonic clock that `sleep` moves forward; it records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _no_outside_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No token, keyring or gh from the machine running the tests."""
    for name in ("BS_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", NO_KEYRING)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    MemoryKeyring.stored.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("bs.cli.cmd_login.clock", fake.clock)
    monkeypatch.setattr("bs.cli.cmd_login.sleep", fake.sleep)
    return fake


@pytest.fixture
def github():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A requests-repo checkout whose bs.yaml names a GitHub forge with an OAuth app."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "bs.yaml").write_text(GITHUB_YAML)
    return tmp_path / "repo"


def home() -> Path:
    return Path.home()  # conftest's temporary HOME


def token_path(host: str = "github.com") -> Path:
    return home() / ".config" / "bs" / "tokens" / host


def env(**extra: str) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def form(call: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def mock_flow(github: responses.RequestsMock, *answers: dict[str, Any], web: str = WEB) -> None:
    github.post(f"{web}/login/device/code", json=CODE_BODY)
    for answer in answers:
        github.post(f"{web}/login/oauth/access_token", json=answer)


def sign_in(clock: FakeClock, web: str = WEB) -> str:
    return device.sign_in(
        web, CLIENT_ID, show=lambda code: None, clock=clock.clock, sleep=clock.sleep
    )


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == "" or "Open" in result.stdout
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("bs: error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("bs: error: ")


# --- the device flow ------------------------------------------------------------------------


def test_pending_then_token_polls_at_githubs_interval(github, clock):
    mock_flow(github, error("authorization_pending"), error("authorization_pending"), TOKEN_BODY)
    shown: list[device.DeviceCode] = []
    token = device.sign_in(WEB, CLIENT_ID, show=shown.append, clock=clock.clock, sleep=clock.sleep)
    assert token == TOKEN
    assert [(c.user_code, c.verification_uri) for c in shown] == [
        ("WDJB-MJHT", "https://github.com/login/device")
    ]
    assert DEVICE_CODE not in repr(shown[0])
    assert clock.sleeps == [5, 5, 5]
    code_call, *polls = github.calls
    assert form(code_call) == {"client_id": CLIENT_ID, "scope": "repo read:org user:email"}
    assert all(call.request.headers["Accept"] == "application/json" for call in github.calls)
    assert [form(call) for call in polls] == 3 * [
        {
            "client_id": CLIENT_ID,
            "device_code": DEVICE_CODE,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        }
    ]


def test_slow_down_uses_the_interval_github_sends(github, clock):
    mock_flow(github, error("authorization_pending"), SLOW_DOWN, TOKEN_BODY)
    assert sign_in(clock) == TOKEN
    assert clock.sleeps == [5, 5, 10]


def test_slow_down_without_an_interval_adds_five_seconds(github, clock):
    without = {key: value for key, value in SLOW_DOWN.items() if key != "interval"}
    mock_flow(github, without, without, TOKEN_BODY)
    assert sign_in(clock) == TOKEN
    assert clock.sleeps == [5, 10, 15]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (error("expired_token"), "the sign-in code expired before it was entered"),
        (error("access_denied"), "sign-in was cancelled in the browser"),
        (INCORRECT_CLIENT, "does not know the OAuth app in forge.client_id in bs.yaml"),
        (error("incorrect_device_code"), "refused the sign-in (incorrect_device_code: …)"),
    ],
)
def test_poll_errors_are_one_clear_message(github, clock, answer, message):
    mock_flow(github, error("authorization_pending"), answer)
    with pytest.raises(BsError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
        sign_in(clock)
    assert DEVICE_CODE not in raised.value.message


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 400, "json": error("device_flow_disabled")},
        {"status": 400, "json": error("unauthorized_client")},
        {"status": 404, "body": "Not Found"},
    ],
)
def test_device_flow_disabled(github, clock, answer):
    github.post(CODE_URL, **answer)
    with pytest.raises(BsError, match="enable 'Device Flow' in the app's settings"):
        sign_in(clock)
    assert clock.sleeps == []


def test_the_code_expiring_stops_the_polling(github, clock):
    github.post(CODE_URL, json={**CODE_BODY, "expires_in": 12})
    github.post(TOKEN_URL, json=error("authorization_pending"))
    with pytest.raises(BsError, match="code expired"):
        sign_in(clock)
    assert clock.sleeps == [5, 5, 5]
    assert len(github.calls) == 3  # the code, then two polls: the third would be too late


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": 502, "body": "<html>Bad gateway</html>"}, "failed (502 Bad Gateway)"),
        ({"status": 200, "body": "<html>sign in</html>"}, "did not answer with JSON"),
        ({"body": requests.ConnectionError("refused")}, "cannot reach GitHub"),
    ],
)
def test_network_and_server_failures(github, clock, answer, message):
    github.post(CODE_URL, **answer)
    with pytest.raises(BsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sign_in(clock)


# --- where the token comes from -------------------------------------------------------------


def fake_gh(tmp_path: Path, script: str) -> None:
    gh = tmp_path / "bin" / "gh"
    gh.write_text(f"#!/bin/sh\n{script}\n")
    gh.chmod(0o755)


GH_SCRIPT = (
    'if [ "$*" = "auth token --hostname github.com" ]; then echo gho_fromgh; exit 0; fi\n'
    "echo 'no oauth token found' >&2; exit 1"
)


def test_token_sources_in_order(tmp_path):
    fake_gh(tmp_path, GH_SCRIPT)
    both = env(BS_GITHUB_TOKEN="gho_bs", GITHUB_TOKEN="gho_actions")
    assert tokens.token_source(both, WEB) == tokens.FoundToken("gho_bs", "BS_GITHUB_TOKEN")
    actions = env(GITHUB_TOKEN="gho_actions")
    assert tokens.token_source(actions, WEB) == tokens.FoundToken("gho_actions", "GITHUB_TOKEN")
    assert tokens.store_token(env(), WEB, TOKEN) == "~/.config/bs/tokens/github.com"
    found = tokens.token_source(env(), WEB)
    assert found == tokens.FoundToken(TOKEN, "~/.config/bs/tokens/github.com")
    assert TOKEN not in repr(found)
    token_path().unlink()
    assert tokens.token_source(env(), WEB) == tokens.FoundToken("gho_fromgh", "gh auth token")
    assert tokens.github_token(env(), WEB) == "gho_fromgh"


def test_gh_failing_or_hanging_is_no_token(tmp_path, monkeypatch):
    fake_gh(tmp_path, "echo 'not logged in' >&2; exit 1")
    assert tokens.token_source(env(), WEB) is None
    with pytest.raises(BsError) as raised:
        tokens.github_token(env(), WEB)
    assert raised.value.message == (
        "not signed in to github.com: run `bs login`, or set BS_GITHUB_TOKEN"
    )
    monkeypatch.setattr(tokens, "GH_TIMEOUT", 0.2)
    fake_gh(tmp_path, "exec /bin/sleep 5")
    assert tokens.token_source(env(), WEB) is None
    # gh is asked about the configured host only.
    fake_gh(tmp_path, GH_SCRIPT)
    assert tokens.token_source(env(), "https://ghe.example.com") is None


def test_file_is_private_and_written_atomically():
    tokens.store_token(env(), WEB, TOKEN)
    path = token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == TOKEN + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["github.com"]  # no temporary left
    tokens.store_token(env(), WEB, "gho_second")
    assert tokens.github_token(env(), WEB) == "gho_second"


def test_xdg_config_home_decides_the_folder(tmp_path):
    config = tmp_path / "config"
    assert tokens.store_token(env(XDG_CONFIG_HOME=str(config)), WEB, TOKEN) == str(
        config / "bs" / "tokens" / "github.com"
    )
    assert (config / "bs" / "tokens" / "github.com").is_file()


def test_too_open_or_linked_files_are_refused(tmp_path):
    tokens.store_token(env(), WEB, TOKEN)
    path = token_path()
    path.chmod(0o644)
    with pytest.raises(BsError, match=r"may be read by other users \(mode 644\): run `chmod 600 "):
        tokens.token_source(env(), WEB)
    path.rename(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").chmod(0o600)
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BsError, match="is a symbolic link"):
        tokens.token_source(env(), WEB)


def test_injected_keyring_backend():
    ring = MemoryKeyring()
    assert tokens.store_token(env(), WEB, TOKEN, backend=ring) == "the system keyring"
    assert ring.stored == {("battlestations", "github.com"): TOKEN}
    assert not token_path().exists()
    assert tokens.token_source(env(), WEB, backend=ring) == tokens.FoundToken(
        TOKEN, "the system keyring"
    )
    # A backend that stores nothing is no keyring: the file is used.
    assert tokens.store_token(env(), WEB, TOKEN, backend=fail.Keyring()).startswith("~/")
    assert tokens.delete_token(env(), WEB, backend=ring) == [
        "the system keyring",
        "~/.config/bs/tokens/github.com",
    ]
    assert ring.stored == {}


# --- the commands ---------------------------------------------------------------------------


def test_login_stores_the_token_in_a_private_file(repo, github, clock, caplog):
    # PyGithub sets its logger to INFO when imported: import it first, then open it up.
    importlib.import_module("github")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    mock_flow(github, error("authorization_pending"), TOKEN_BODY)
    github.get(USER_URL, json=user())
    result = run_bs(repo, "login")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Open https://github.com/login/device and enter WDJB-MJHT",
        "Signed in to github.com as octocat (token in ~/.config/bs/tokens/github.com)",
    ]
    assert "Waiting for you to approve in the browser" in result.stderr
    assert clock.sleeps == [5, 5]
    assert github.calls[-1].request.headers["Authorization"] == f"token {TOKEN}" or (
        github.calls[-1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    )
    assert stat.S_IMODE(token_path().stat().st_mode) == 0o600
    assert token_path().read_text().strip() == TOKEN
    for secret in (TOKEN, DEVICE_CODE):
        assert secret not in result.output
        assert secret not in caplog.text
    assert "/user" in caplog.text  # PyGithub logged the request, without the token


def test_login_json_and_the_system_keyring(repo, github, clock, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", MEMORY_KEYRING)
    mock_flow(github, TOKEN_BODY)
    github.get(USER_URL, json=user())
    result = run_bs(repo, "login", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "login": "octocat",
        "host": "github.com",
        "stored_in": "keyring",
        "where": "the system keyring",
    }
    assert "enter WDJB-MJHT" in result.stderr
    assert MemoryKeyring.stored == {("battlestations", "github.com"): TOKEN}
    assert not token_path().exists()
    assert TOKEN not in result.output
    whoami = run_bs(repo, "whoami")
    assert whoami.stdout == "octocat on github.com (token from the system keyring)\n"


def test_login_on_github_enterprise(repo, github, clock):
    (repo / "bs.yaml").write_text(
        "version: 1\nrequests_repo: alphagov/release-requests\nforge:\n  kind: github\n"
        f"  client_id: {CLIENT_ID}\n  web_url: https://ghe.example.com\n"
        "  api_url: https://ghe.example.com/api/v3\n"
    )
    ghe = "https://ghe.example.com"
    github.post(
        f"{ghe}/login/device/code",
        json={**CODE_BODY, "verification_uri": f"{ghe}/login/device"},
    )
    github.post(f"{ghe}/login/oauth/access_token", json=TOKEN_BODY)
    github.get("https://ghe.example.com:443/api/v3/user", json=user())
    result = run_bs(repo, "login")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Open https://ghe.example.com/login/device and enter WDJB-MJHT",
        "Signed in to ghe.example.com as octocat (token in ~/.config/bs/tokens/ghe.example.com)",
    ]
    assert token_path("ghe.example.com").is_file()
    assert not token_path().exists()


def test_login_errors_are_one_line(repo, github, clock):
    mock_flow(github, error("access_denied"))
    result = run_bs(repo, "login")
    assert one_line_error(result) == (
        "sign-in was cancelled in the browser: run bs login to try again"
    )
    assert not token_path().exists()


def test_login_refused_new_token_is_not_stored(repo, github, clock):
    mock_flow(github, TOKEN_BODY)
    github.get(USER_URL, status=401, json=bad_credentials())
    assert "(401)" in one_line_error(run_bs(repo, "login"))
    assert not token_path().exists()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "version: 1\nforge: {kind: github}\nrequests_repo: alphagov/release-requests\n",
            "bs.yaml has no forge.client_id",
        ),
        (
            "version: 1\nforge: {kind: local, path: forge}\nrequests_repo: a/b\n",
            "bs.yaml's forge.kind is local",
        ),
    ],
)
def test_login_needs_a_github_oauth_app(repo, yaml_text, message):
    (repo / "bs.yaml").write_text(yaml_text)
    assert one_line_error(run_bs(repo, "login")).startswith(message)


def test_whoami_says_where_the_token_came_from(repo, github, tmp_path):
    github.get(USER_URL, json=user())
    result = run_bs(repo, "whoami", "--json", env={"GITHUB_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert '"source": "GITHUB_TOKEN"' in result.stdout
    assert TOKEN not in result.output
    fake_gh(tmp_path, GH_SCRIPT)
    github.get(USER_URL, json=user())
    assert run_bs(repo, "whoami").stdout == "octocat on github.com (token from gh auth token)\n"


def test_whoami_with_a_revoked_token(repo, github):
    tokens.store_token(env(), WEB, TOKEN)
    github.get(USER_URL, status=401, json=bad_credentials())
    result = run_bs(repo, "whoami")
    assert one_line_error(result) == (
        "the token from ~/.config/bs/tokens/github.com was refused by GitHub (401): "
        "run bs login again"
    )
    assert TOKEN not in result.output


def test_whoami_not_signed_in_and_a_too_open_file(repo):
    assert one_line_error(run_bs(repo, "whoami")) == (
        "not signed in to github.com: run `bs login`, or set BS_GITHUB_TOKEN"
    )
    tokens.store_token(env(), WEB, TOKEN)
    token_path().chmod(0o640)
    assert f"run `chmod 600 {token_path()}`" in one_line_error(run_bs(repo, "whoami"))


def test_logout(repo):
    tokens.store_token(env(), WEB, TOKEN)
    result = run_bs(repo, "logout")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "Signed out of github.com: removed the token from ~/.config/bs/tokens/github.com."
    )
    assert "https://github.com/settings/applications" in result.stdout
    assert not token_path().exists()
    again = run_bs(repo, "logout", env={"GITHUB_TOKEN": TOKEN})
    assert again.stdout == "No token stored for github.com: nothing to remove.\n"
    assert "GITHUB_TOKEN is still set" in again.stderr
    assert TOKEN not in again.output


def test_logout_from_the_keyring_and_gh_still_signed_in(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", MEMORY_KEYRING)
    tokens.store_token(env(), WEB, TOKEN)
    fake_gh(tmp_path, GH_SCRIPT)
    result = run_bs(repo, "logout")
    assert result.stdout.splitlines()[0] == (
        "Signed out of github.com: removed the token from the system keyring."
    )
    assert "run gh auth logout" in result.stdout
    assert MemoryKeyring.stored == {}
    as_json = run_bs(repo, "logout", "--json", env={"BS_GITHUB_TOKEN": TOKEN})
    assert json.loads(as_json.stdout) == {
        "host": "github.com",
        "removed_from": [],
        "still_used": "BS_GITHUB_TOKEN",
    }
    assert TOKEN not in as_json.output


def test_commands_have_help(repo):
    for command in ("login", "whoami", "logout"):
        result = run_bs(repo, command, "-h")
        assert result.exit_code == 0
        assert "Example:" in result.stdout
