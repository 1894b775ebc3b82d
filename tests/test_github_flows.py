"""Whole flows on GitHub, mocked at the HTTP layer by the fake (bodies validated
against GitHub's own schemas, unregistered calls fail): open-request from the
requests repo or a fork, the opened hook, the check driven by GitHub's event
payloads, the closed hook after a merge, and the gateway's re-verification and
deployment record. API calls are counted against the issue's goals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bs.core.verdict import STATUS_CONTEXT
from tests.fakegithub import FakeGitHub
from tests.gatewayhelpers import csrf_of, sign_in
from tests.gatewaytesthelpers import press_deploy, wait_finished
from tests.githubflowhelpers import gateway_app
from tests.githubworld import APP_REPO, BOT, REQUESTS, GitHubWorld, build_world, gh_world
from tests.hookhelpers import LINK, outbox, recipients, text_of

__all__ = ["gh_world"]

#: The issue's goals: API calls per open-request (tag pages aside) and per check
#: (review pages aside).
OPEN_REQUEST_CALLS, CHECK_CALLS = 12, 8
BOT_LOGIN = f"{BOT}[bot]"


def mails(world: GitHubWorld) -> list[EmailMessage]:
    return outbox(world)  # type: ignore[arg-type]  # the same checkout layout


def calls_of(fake: FakeGitHub, mark: int, *, besides: str) -> list[tuple[str, str]]:
    return [c for c in fake.calls_since(mark) if not c[1].endswith(besides)]


def statuses(fake: FakeGitHub, sha: str) -> list[tuple[str, str, str]]:
    found = fake.repo(REQUESTS).statuses.get(sha, [])
    return [(s["context"], s["state"], s["creator"]) for s in found]


def approve(world: GitHubWorld, number: int, login: str, event: str = "APPROVE") -> None:
    client = world.fake.client(world.tokens[login])
    client.get_repo(REQUESTS).get_pull(number).create_review(body="Looks right", event=event)


def check_from(world: GitHubWorld, payload: dict[str, Any], name: str) -> Any:
    return world.bs("check", "--json", user=BOT, env=world.actions(payload, name))


def test_open_request_on_its_own_branch(gh_world: GitHubWorld) -> None:
    fake = gh_world.fake
    mark = len(fake.calls)
    number = gh_world.open_request()
    pull = fake.pull(REQUESTS, number)
    assert (pull.user, pull.head_repo.full_name, pull.base_ref) == ("alice", REQUESTS, "main")
    calls = calls_of(fake, mark, besides="/tags")
    assert len(calls) <= OPEN_REQUEST_CALLS, calls
    # The diff came from the blobless clone, never the compare API.
    assert not [c for c in fake.calls if "/compare/" in c[1]]
    files = fake.repo(REQUESTS).git.git("diff", "--name-only", "main", pull.head_sha).split()
    assert len(files) == 2 and all(f.startswith("requests/frontend/") for f in files)
    patch = next(f for f in files if f.endswith(".patch"))
    text = fake.repo(REQUESTS).git.git("show", f"{pull.head_sha}:{patch}")
    assert "+puts 3" in text and "lib/3.rb" in text and "lib/2.rb" in text


def test_open_request_from_a_fork_when_the_requester_cannot_push(gh_world: GitHubWorld) -> None:
    fake = gh_world.fake
    mark = len(fake.calls)
    number = gh_world.open_request(user="erin")
    pull = fake.pull(REQUESTS, number)
    assert pull.head_repo.full_name == "erin/release-requests"
    assert pull.user == "erin"
    assert ("POST", "/repos/alphagov/release-requests/forks") in fake.calls_since(mark)
    assert not fake.repo(REQUESTS).git.refs("refs/heads/").keys() - {"refs/heads/main"}
    assert len(calls_of(fake, mark, besides="/tags")) <= OPEN_REQUEST_CALLS + 1  # + the fork


def test_the_whole_flow_driven_by_github_events(gh_world: GitHubWorld, tmp_path: Path) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    head = fake.pull(REQUESTS, number).head_sha

    # The opened hook: the review mail, and the policy's reviewers asked on GitHub.
    opened = w.bs("hook", "opened", user=BOT, env=w.actions(fake.webhook(
        "pull_request", "opened", repo=REQUESTS, number=number), "opened"))  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert sorted(fake.pull(REQUESTS, number).requested_teams) == ["dba", "deployers"]
    assert [recipients(m) for m in mails(w)] == [["frontend-reviewers@example.gov.uk"]]

    # The check on pull_request_target: pending, posted as the App.
    mark = len(fake.calls)
    pending = check_from(w, fake.webhook("pull_request", "opened", repo=REQUESTS, number=number),
                         "check-opened")  # fmt: skip
    assert pending.exit_code == 1, pending.output
    assert len(calls_of(fake, mark, besides="/reviews")) <= CHECK_CALLS, fake.calls_since(mark)
    assert statuses(fake, head)[-1] == (STATUS_CONTEXT, "pending", BOT_LOGIN)
    summary = (w.root / "events" / "check-opened.summary.md").read_text()
    assert "deployer approval" in summary

    # bob approves: the unprivileged workflow's run, then the privileged workflow_run check.
    approve(w, number, "bob")
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    mark = len(fake.calls)
    met = check_from(w, run, "check-review")
    assert met.exit_code == 0, met.output
    assert len(calls_of(fake, mark, besides="/reviews")) <= CHECK_CALLS, fake.calls_since(mark)
    assert statuses(fake, head)[-1] == (STATUS_CONTEXT, "success", BOT_LOGIN)

    # bob merges; the closed hook (the merged payload) mints a link and mails it to alice.
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number).merge(merge_method="merge")
    merged = fake.webhook("pull_request", "merged", repo=REQUESTS, number=number)
    closed = w.bs("hook", "closed", "--json", user=BOT, env=w.actions(merged, "closed"))
    assert closed.exit_code == 0, closed.output
    to_alice = [m for m in mails(w) if recipients(m) == ["alice@example.gov.uk"]]
    found = LINK.search(text_of(to_alice[-1]))
    assert found, text_of(to_alice[-1])
    assert found.group(1) not in closed.output
    assert found.group(1) not in (w.root / "events" / "closed.summary.md").read_text()
    comments = fake.repo(REQUESTS).comments[number]
    assert len(comments) == 1 and comments[0]["user"] == BOT_LOGIN
    again = w.bs("hook", "closed", "--json", user=BOT, env=w.actions(merged, "closed-again"))
    assert again.exit_code == 0, again.output
    assert len(fake.repo(REQUESTS).comments[number]) == 1

    # The gateway re-verifies from GitHub, deploys, and moves deployed-to-production.
    client = gateway_client(w, tmp_path)
    sign_in(client, "alice")
    page = client.get(f"/link/{found.group(1)}")
    assert page.status_code == 200, page.text
    assert "release_3" in page.text
    redeemed = client.post(f"/link/{found.group(1)}", data={"csrf": csrf_of(page.text)})
    assert redeemed.status_code == 303, redeemed.text
    pressed = press_deploy(client)
    assert pressed.status_code in (200, 303), pressed.text
    assert wait_finished(client)["state"] == "succeeded"
    deployed = fake.repo(APP_REPO).git.resolve("refs/heads/deployed-to-production")
    assert deployed == w.tags["release_3"]
    assert (w.root / "deploys.txt").read_text() == "frontend release_3\n"


def gateway_client(world: GitHubWorld, tmp_path: Path) -> FlaskClient:
    """The gateway on the GitHub forge, acting as the App, with local sign-in for the test."""
    return gateway_app(world, f"sqlite:///{tmp_path}/g.db").test_client()


@pytest.fixture
def enterprise(tmp_path: Path) -> Iterator[GitHubWorld]:
    with FakeGitHub(tmp_path / "ghe", api_url="https://ghe.example.com/api/v3") as fake:
        yield build_world(fake, tmp_path)


def test_enterprise_base_url(enterprise: GitHubWorld) -> None:
    number = enterprise.open_request()
    result = enterprise.bs("check", str(number), "--no-status", "--json", user=BOT)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["outcome"] == "pending"


def test_the_gateway_acts_as_the_app_with_tokens_it_mints_itself(
    gh_world: GitHubWorld, tmp_path: Path
) -> None:
    """A gateway runs for weeks; an installation token lasts an hour. With the App's key
    in its environment, PyGithub mints installation tokens and renews them."""
    from tests.fakegithub_app import add_app

    app = add_app(gh_world.fake, BOT)
    key_file = tmp_path / "app.pem"
    key_file.write_text(app.private_key)
    key_file.chmod(0o600)
    env = gh_world.env(None) | {
        "BS_GITHUB_APP_ID": str(app.app_id),
        "BS_GITHUB_APP_INSTALLATION_ID": str(app.installation_id),
        "BS_GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
        "BS_GITHUB_APP_SLUG": BOT,
    }
    number = gh_world.open_request()
    result = gh_world.bs("check", str(number), "--json", user=None, env=env)
    assert result.exit_code == 1, result.output
    assert len(app.minted) == 1
    head = gh_world.fake.pull(REQUESTS, number).head_sha
    assert statuses(gh_world.fake, head)[-1] == (STATUS_CONTEXT, "pending", BOT_LOGIN)
    assert app.private_key not in result.output and app.minted[0] not in result.output

    key_file.chmod(0o644)
    refused = gh_world.bs("check", str(number), user=None, env=env)
    assert refused.exit_code == 3  # could not evaluate
    assert f"chmod 600 {key_file}" in refused.stderr
    env["BS_GITHUB_APP_PRIVATE_KEY"] = "not a key"
    del env["BS_GITHUB_APP_PRIVATE_KEY_FILE"]
    refused = gh_world.bs("check", str(number), user=None, env=env)
    assert "is not an RSA private key in PEM form" in refused.stderr
    del env["BS_GITHUB_APP_INSTALLATION_ID"]
    refused = gh_world.bs("check", str(number), user=None, env=env)
    assert "but not BS_GITHUB_APP_INSTALLATION_ID" in refused.stderr


def test_a_rejection_removes_the_request_from_the_review_workflow(gh_world: GitHubWorld) -> None:
    """bob requests changes: bs-check-review's check says `rejected` (a step output) and
    its `remove` job closes the pull request, deletes the branch and tells alice; the
    closed event that follows sends nothing more."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    branch = fake.pull(REQUESTS, number).head_ref
    client = fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number)
    client.create_review(body="Not this week: the freeze", event="REQUEST_CHANGES")
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    output = w.root / "events" / "output.txt"
    checked = w.bs(
        "check", user=BOT, env=w.actions(run, "check-rejected") | {"GITHUB_OUTPUT": str(output)}
    )
    assert checked.exit_code == 2, checked.output
    assert output.read_text() == "outcome=rejected\n"
    removed = w.bs("hook", "closed", user=BOT, env=w.actions(run, "remove"))
    assert removed.exit_code == 0, removed.output
    assert fake.pull(REQUESTS, number).state == "closed"
    assert fake.repo(REQUESTS).git.resolve(f"refs/heads/{branch}") is None
    to_alice = [m for m in mails(w) if recipients(m) == ["alice@example.gov.uk"]]
    assert len(to_alice) == 1
    assert "bob" in text_of(to_alice[0]) and "Not this week: the freeze" in text_of(to_alice[0])
    closed = fake.webhook("pull_request", "closed", repo=REQUESTS, number=number)
    again = w.bs("hook", "closed", user=BOT, env=w.actions(closed, "closed"))
    assert again.exit_code == 0, again.output
    assert len([m for m in mails(w) if recipients(m) == ["alice@example.gov.uk"]]) == 1


def test_a_request_from_a_fork_is_checked_merged_and_minted(gh_world: GitHubWorld) -> None:
    """erin cannot push to the requests repository: her request comes from her fork; its
    head is read from refs/pull/N/head, and GitHub's workflow_run for a fork names no
    pull request (bs finds it by head commit and repository)."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request(user="erin")
    approve(w, number, "bob")
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    assert run["workflow_run"]["pull_requests"] == []
    met = check_from(w, run, "fork-check")
    assert met.exit_code == 0, met.output
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number).merge(merge_method="merge")
    merged = fake.webhook("pull_request", "merged", repo=REQUESTS, number=number)
    closed = w.bs("hook", "closed", user=BOT, env=w.actions(merged, "fork-closed"))
    assert closed.exit_code == 0, closed.output
    to_erin = [m for m in mails(w) if recipients(m) == ["erin@example.gov.uk"]]
    assert to_erin and LINK.search(text_of(to_erin[-1]))
