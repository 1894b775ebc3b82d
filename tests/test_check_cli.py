"""`bs check` end to end: its output and options, and when it cannot evaluate.

The text output, exit status 3 (a broken policy, a missing pull request, an
unusable event file), `--summary` (Markdown appended to a file), `--no-status`
and `--event` (a GitHub webhook payload naming the pull request).

Each test builds a small app (release_1 deployed, release_2 tagged), opens a
request for release_2 with `bs open-request`, changes something and runs
`bs check PR --json`, asserting the outcome, the exit status, the message and the
`bs/policy` status posted on the pull request's head commit (helpers in
tests/checkhelpers.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.checkhelpers import (
    FRONTEND,
    NEEDS_DEPLOYER,
    NO_MIGRATION,
    REQUESTS,
    could_not_evaluate,
    expect,
    forge,
    head,
    latest_status,
    open_release,
    publish_policy,
    push,
    review,
    statuses,
)
from tests.conftest import WorkRepo, World

# -- the text output ------------------------------------------------------------------


def test_text_output_pending_then_met(world: World) -> None:
    opened = open_release(world)
    sha = head(world, opened.number)
    result = world.bs("check", str(opened.number), user="carol")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"bs/policy: not met yet: {NEEDS_DEPLOYER}"
    assert lines[1] == (
        f"Pull request #{opened.number} by alice, head {sha[:12]}: "
        "Release frontend release_2 (from release_1)"
    )
    assert lines[2] == (
        f"Request {opened.request_id}: frontend release_1 -> release_2, 1 file, +1 -1, 1 commit"
    )
    assert "  ✓ digest: the patch, the request and git agree" in result.stdout
    assert "Policy standard" in result.stdout
    assert "  … all of: pending" in lines
    assert (
        "    … deployer approval: pending: needs 1 more approval from alphagov/deployers" in lines
    )
    assert f"    - database migrations: skipped ({NO_MIGRATION})" in lines
    assert lines[-1] == f"Posted bs/policy = pending on {sha[:12]}."

    review(world, opened.number, "bob")
    result = world.bs("check", str(opened.number), user="carol")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("bs/policy: met: Approved by bob\n")
    assert "    ✓ deployer approval: satisfied (approved by bob)" in result.stdout
    assert result.stdout.splitlines()[-1] == f"Posted bs/policy = success on {sha[:12]}."


# -- 15. could not evaluate -------------------------------------------------------------


def test_a_broken_policy_on_the_default_branch_could_not_evaluate(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    publish_policy(world, "version: 1\nrules: [unclosed\n")
    result = world.bs("check", str(opened.number), "--json", user="carol")
    could_not_evaluate(result, f"could not evaluate #{opened.number}", "policies/standard.yaml")
    # The pull request says why it cannot merge: an `error` status, never a success.
    [posted] = statuses(world, head(world, opened.number))
    assert posted.state == "error"
    assert posted.description.startswith("Could not evaluate: policies/standard.yaml (on main): ")
    assert len(posted.description) <= 140
    # With --no-status, nothing is posted even then.
    publish_policy(world, "version: 1\nrules: [still unclosed\n")
    push(world, opened, "alice")
    world.bs("check", str(opened.number), "--no-status", user="carol")
    assert statuses(world, head(world, opened.number)) == []


def test_a_missing_pull_request_could_not_evaluate(world: World) -> None:
    open_release(world)
    result = world.bs("check", "42", "--json", user="carol")
    message = could_not_evaluate(result, "#42")
    assert "could not evaluate #42" in message


# -- 16. --summary, --no-status, --event ------------------------------------------------


def test_summary_appends_markdown(world: World, tmp_path: Path) -> None:
    opened = open_release(world)
    summary = tmp_path / "summary.md"
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER, "--summary", str(summary))
    text = summary.read_text()
    assert text.startswith(f"### ⏳ bs/policy: not met yet\n\n{NEEDS_DEPLOYER}\n")
    assert "| ✓ | digest | the patch, the request and git agree" in text
    assert "#### Policy `standard`" in text
    assert (
        "- … **deployer approval**: pending: needs 1 more approval from alphagov/deployers" in text
    )

    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob", "--summary", str(summary))
    text = summary.read_text()
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == ["### ⏳ bs/policy: not met yet", "### ✅ bs/policy: met"]  # appended
    assert "### ✅ bs/policy: met\n\nApproved by bob\n" in text


def test_no_status_posts_nothing(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob", "--no-status")
    assert data["status_posted"] is False
    assert statuses(world, data["head_sha"]) == []
    result = world.bs("check", str(opened.number), "--no-status", user="carol")
    assert result.exit_code == 0
    assert "Posted" not in result.stdout
    assert statuses(world, data["head_sha"]) == []


def test_save_facts_writes_a_fixture_that_bs_policy_test_passes(world: World) -> None:
    """A real pull request's facts become a `bs policy test` case expecting today's verdict."""
    opened = open_release(world, migration=True)
    review(world, opened.number, "bob")
    fixture = world.checkout / "policies" / "tests" / "pr.yaml"
    fixture.parent.mkdir(exist_ok=True)
    result = world.bs("check", str(opened.number), "--no-status", "--save-facts", str(fixture))
    assert result.exit_code == 1, result.output
    text = fixture.read_text()
    assert "outcome: pending" in text and "database migrations: pending" in text
    assert "user: bob" in text and "db/migrate/" in text
    ran = world.bs("policy", "test", str(fixture), "--json")
    assert ran.exit_code == 0, ran.output
    [case] = json.loads(ran.stdout)["cases"]
    assert (case["outcome"], case["passed"]) == ("pending", True)
    # Editing the expectation to what the policy should say makes the fixture fail.
    fixture.write_text(text.replace("outcome: pending", "outcome: met"))
    failed = world.bs("policy", "test", str(fixture))
    assert failed.exit_code == 1
    assert "outcome is pending" in failed.stdout


def pull_request_event(world: World, number: int, action: str = "synchronize") -> dict[str, Any]:
    """A trimmed GitHub `pull_request` webhook payload (octokit/webhooks' shape)."""
    pull = forge(world).get_pull_request(REQUESTS, number)
    api = f"https://api.github.com/repos/{REQUESTS}"
    repository = {
        "id": 1,
        "name": "release-requests",
        "full_name": REQUESTS,
        "owner": {"login": "alphagov", "type": "Organization"},
        "default_branch": "main",
    }
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"{api}/pulls/{number}",
            "id": 279147437,
            "html_url": f"https://github.com/{REQUESTS}/pull/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": pull.title,
            "user": {"login": pull.author, "type": "User"},
            "body": pull.body,
            "head": {
                "label": f"alphagov:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "repo": repository,
            },
            "base": {"label": "alphagov:main", "ref": "main", "sha": "0" * 40, "repo": repository},
            "merged": False,
            "draft": False,
        },
        "repository": repository,
        "sender": {"login": pull.author, "type": "User"},
    }


def test_event_file_names_the_pull_request(world: World, tmp_path: Path) -> None:
    open_release(world)  # #1, left alone
    second = open_release_3(world)
    review(world, second, "bob")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(world, second)))

    result = world.bs("check", "--event", str(event), "--json", user="carol")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["pull_request"], data["outcome"], data["summary"]) == (
        second,
        "met",
        "Approved by bob",
    )
    posted = latest_status(world, head(world, second))
    assert posted is not None and posted.state == "success"

    # A pull_request_review event carries the number only inside pull_request.
    payload = pull_request_event(world, second, "submitted")
    del payload["number"]
    payload["review"] = {"id": 1, "user": {"login": "bob"}, "state": "approved"}
    event.write_text(json.dumps(payload))
    result = world.bs("check", "--event", str(event), "--json", "--no-status", user="carol")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pull_request"] == second


def open_release_3(world: World) -> int:
    """A second request, for a new release_3, after the first: its pull request number."""
    app = WorkRepo.__new__(WorkRepo)
    app.path = world.root / "work" / "frontend"
    app.write("app/main.py", "print(3)\n")
    app.commit("three")
    app.tag("release_3")
    app.push_to(world.app_bare(FRONTEND))
    result = world.bs("open-request", "frontend", "release_3", "--json", user="alice")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["pull_request"]["number"])


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no such event file"),
        ("{not json", "not a readable JSON event payload"),
        ('{"action": "completed", "check_suite": {}}', "the event names no pull request"),
    ],
    ids=["missing", "not-json", "no-pull-request"],
)
def test_an_unusable_event_file_could_not_evaluate(
    world: World, tmp_path: Path, content: str | None, said: str
) -> None:
    opened = open_release(world)
    event = tmp_path / "event.json"
    if content is not None:
        event.write_text(content)
    result = world.bs("check", "--event", str(event), "--json", user="carol")
    assert said in result.stderr, result.output
    assert statuses(world, head(world, opened.number)) == []
    could_not_evaluate(result, str(event))


def test_a_pull_request_outside_requests_is_not_judged_and_does_not_block(app_world: World) -> None:
    """A policy or code change (nothing under requests/) gets a success bs/policy saying
    code owners review it: a required status must not block such changes forever."""
    from bs.forges.local import LocalForge

    bob = LocalForge(app_world.forge, user="bob")
    change = app_world.root / "standard.yaml"
    change.write_text((app_world.checkout / "policies" / "standard.yaml").read_text() + "\n")
    bob.create_branch(
        "alphagov/release-requests", "policy", "main", [("policies/standard.yaml", change)], "Tidy"
    )
    pull = bob.open_pull_request(
        "alphagov/release-requests", head="policy", base="main", title="Tidy", body=""
    )
    result = app_world.bs("check", str(pull.number), user="bob")
    assert result.exit_code == 0, result.output
    assert "Not a release request (nothing under requests/)" in result.output
    statuses = bob.list_statuses("alphagov/release-requests", pull.head_sha)
    assert [(s.context, s.state) for s in statuses] == [("bs/policy", "success")]
