"""An organisation on the fake GitHub: the requests repository, an app, people, teams.

`gh_world` builds it; `GitHubWorld.bs(...)` runs the real CLI in-process with
``forge: {kind: github}``, acting as a person (their token) or as the
organisation's GitHub App (a bot's installation token), the way the workflows
do. Every GitHub call goes through the fake (bodies validated against
GitHub's own schemas, unregistered calls fail the test).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import STANDARD_POLICY, Result, git, run_bs
from tests.fakegithub import FakeGitHub
from tests.hookhelpers import key_line

REQUESTS = "alphagov/release-requests"
APP_REPO = "alphagov/frontend"
BOT = "battlestations"  # the App's slug: it acts as battlestations[bot]
PEOPLE = {
    "alice": "alice@example.gov.uk",
    "bob": "bob@example.gov.uk",
    "carol": "carol@example.gov.uk",
    "dave": "dave@example.gov.uk",
    "erin": "erin@example.gov.uk",  # not in the organisation's teams: no push access
}
TEAMS = {
    "deployers": ["bob", "carol"],
    "dba": ["dave"],
    "on-call": ["carol"],
    "developers": ["alice", "bob", "carol", "dave", "erin"],
}
KEY = key_line("k1")


def bs_yaml(api_url: str = "https://api.github.com", web_url: str = "https://github.com") -> str:
    return (
        "version: 1\n"
        f"forge: {{kind: github, api_url: '{api_url}', web_url: '{web_url}', "
        f"client_id: Iv1.0123456789abcdef, cache: ../cache, app: {BOT}}}\n"
        f"requests_repo: {REQUESTS}\n"
    )


APPS = {
    "version": 1,
    "apps": {
        "frontend": {
            "repo": APP_REPO,
            "tags": {"scheme": "release"},
            "deployed": {"source": "ref", "ref": "deployed-to-production"},
            "policy": "standard",
            "review_list": ["frontend-reviewers@example.gov.uk"],
        }
    },
}


@dataclass
class GitHubWorld:
    fake: FakeGitHub
    root: Path
    checkout: Path
    tokens: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def env(self, user: str | None) -> dict[str, str]:
        env = {
            "XDG_CACHE_HOME": str(self.root / "xdg-cache"),
            "XDG_CONFIG_HOME": str(self.root / "xdg-config"),
            "HOME": str(self.root / "home"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "BS_NO_PROGRESS": "1",
        }
        if user == BOT:
            env |= {"BS_GITHUB_TOKEN": self.tokens[BOT], "BS_GITHUB_APP_SLUG": BOT}
        elif user is not None:
            env["BS_GITHUB_TOKEN"] = self.tokens[user]
        return env

    def bs(
        self, *args: str, user: str | None = "alice", env: Mapping[str, str] | None = None
    ) -> Result:
        result = run_bs(self.checkout, *args, env=self.env(user) | dict(env or {}))
        assert "Traceback" not in result.output, result.output
        assert result.exit_code != 70, result.output
        return result

    def event_file(self, name: str, payload: Mapping[str, Any]) -> Path:
        path = self.root / "events" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(payload))
        return path

    def actions(self, payload: Mapping[str, Any], name: str = "event") -> dict[str, str]:
        """The environment of a workflow step: the event payload and a job summary."""
        summary = self.root / "events" / f"{name}.summary.md"
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_PATH": str(self.event_file(name, payload)),
            "GITHUB_STEP_SUMMARY": str(summary),
            "BS_LINK_KEYS": KEY,
        }

    def app_commit(self, files: Mapping[str, str], message: str) -> str:
        return self.fake.commit(APP_REPO, files, branch="main", message=message, author="bob")

    def open_request(
        self, tag: str = "release_3", user: str = "alice", *, recorded: bool = True
    ) -> int:
        """`bs open-request`; then, as the check workflow does, `bs hook pushed` on the
        opened event (unless `recorded` is false)."""
        result = self.bs("open-request", "frontend", tag, "--json", user=user)
        assert result.exit_code == 0, result.output
        number = json.loads(result.stdout)["pull_request"]["number"]
        assert isinstance(number, int)
        if recorded:
            self.record_push("opened", number)
        return number

    def record_push(self, action: str, number: int, **fields: Any) -> Result:
        """`bs hook pushed` as the App, on the `action` event of pull request `number`."""
        payload = self.fake.webhook("pull_request", action, repo=REQUESTS, number=number, **fields)
        result = self.bs("hook", "pushed", user=BOT, env=self.actions(payload, f"pushed-{action}"))
        assert result.exit_code == 0, result.output
        return result


def build_world(fake: FakeGitHub, root: Path) -> GitHubWorld:
    world = GitHubWorld(fake, root, root / "checkout")
    fake.now = datetime.now(UTC).replace(microsecond=0)  # merges open deploy slots: real time
    for login, email in PEOPLE.items():
        world.tokens[login] = fake.add_user(login, email)
    world.tokens[BOT] = fake.add_user(f"{BOT}[bot]", bot=True)
    for slug, members in TEAMS.items():
        fake.add_team("alphagov", slug, members)
    insiders = {"alice", "bob", "carol", "dave", f"{BOT}[bot]"}
    apps = json.loads(json.dumps(APPS))
    runs = root / "deploys.txt"  # each deploy the gateway runs appends "app tag" here
    apps["apps"]["frontend"]["deploy"] = {
        "kind": "command", "argv": ["sh", "-c", f'echo "$0 $1" >> {runs}', "{app}", "{tag}"],
    }  # fmt: skip
    files = {
        "bs.yaml": bs_yaml(fake.api_url, fake.web_url),
        "policies/apps.yaml": yaml.safe_dump(apps, sort_keys=False),
        "policies/standard.yaml": STANDARD_POLICY,
        "requests/.keep": "",
        ".gitignore": ".bs/\n",
    }
    fake.add_repo(REQUESTS, writers=insiders, files=files)
    fake.add_repo(APP_REPO, writers={"bob", f"{BOT}[bot]"}, files={"app.rb": "puts 1\n"})
    for n in (1, 2, 3):
        sha = world.app_commit({"app.rb": f"puts {n}\n", f"lib/{n}.rb": f"# {n}\n"}, f"Release {n}")
        fake.tag(APP_REPO, f"release_{n}", sha, message=f"Release {n}" if n % 2 else None)
        world.tags[f"release_{n}"] = sha
    fake.repo(APP_REPO).git.update_ref("refs/heads/deployed-to-production", world.tags["release_1"])
    git(root, "clone", "-q", fake.repo(REQUESTS).git.path.as_uri(), str(world.checkout))
    return world


@pytest.fixture
def gh_world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with FakeGitHub(tmp_path / "github") as fake:
        yield build_world(fake, tmp_path)
