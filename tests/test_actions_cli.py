"""`bs check` and `bs hook` in GitHub Actions: `$GITHUB_EVENT_PATH` and the job summary.

With neither PR nor `--event`, the commands read the event payload GitHub
Actions names in `$GITHUB_EVENT_PATH`; a `workflow_run` payload from a fork's
pull request (GitHub leaves `workflow_run.pull_requests` empty) is matched to
the open pull request by its head commit and head repository. When
`$GITHUB_STEP_SUMMARY` is set, they append a Markdown job summary: the verdict
and its explanation, or what the hook did, never an address but the review
list's, never a link. Output and exit statuses are as without them.

The payloads are GitHub's own examples (octokit/webhooks' in
../shared/github/webhooks/) with the pull request's fields set to the local
forge's; the `workflow_run` payload is built with the fields bs reads.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.checkhelpers import (
    NEEDS_DEPLOYER,
    REQUESTS,
    forge,
    head,
    latest_status,
    open_release,
    push,
    review,
)
from tests.conftest import Result, World
from tests.hookhelpers import (
    BOT,
    GATEWAY,
    REVIEW_LIST,
    approve_and_merge,
    hook,
    key_line,
    links,
    open_frontend,
    outbox,
    with_bot,
)

WEBHOOKS = Path(__file__).resolve().parents[2] / "shared" / "github" / "webhooks"
API = "https://api.github.com"


# -- event payloads -------------------------------------------------------------------


@cache
def _example(kind: str, action: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((WEBHOOKS / kind / f"{action}.payload.json").read_text())
    return loaded


def _repository(example: dict[str, Any], full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    repo = copy.deepcopy(example)
    repo.update(
        name=name, full_name=full_name, default_branch="main", url=f"{API}/repos/{full_name}"
    )
    repo["owner"]["login"] = owner
    return repo


def github_event(world: World, kind: str, action: str, number: int) -> dict[str, Any]:
    """GitHub's example `kind`/`action` payload, about pull request `number` of the forge."""
    payload = copy.deepcopy(_example(kind, action))
    found = forge(world).get_pull_request(REQUESTS, number)
    repository = _repository(payload["repository"], REQUESTS)
    body = payload["pull_request"]
    body.update(
        number=number,
        title=found.title,
        body=found.body,
        state=found.state,
        url=f"{API}/repos/{REQUESTS}/pulls/{number}",
        html_url=f"https://github.com/{REQUESTS}/pull/{number}",
    )
    body["user"]["login"] = found.author
    body["head"].update(ref=found.head_ref, sha=found.head_sha, repo=repository)
    body["head"]["label"] = f"alphagov:{found.head_ref}"
    body["base"].update(ref=found.base, repo=repository)
    if "number" in payload:
        payload["number"] = number
    payload["repository"] = repository
    payload["sender"]["login"] = found.author
    return payload


def workflow_run_event(
    world: World,
    number: int,
    *,
    listed: list[dict[str, Any]] | None = None,
    head_repo: str = REQUESTS,
    head_sha: str | None = None,
) -> dict[str, Any]:
    """A `workflow_run` completed event for a bs-events.yml run about pull request
    `number`; `listed` is `workflow_run.pull_requests` (default: that pull request)."""
    found = forge(world).get_pull_request(REQUESTS, number)
    sha = head_sha or found.head_sha
    if listed is None:
        listed = [listed_pull(number, REQUESTS, found.head_ref, sha)]
    return {
        "action": "completed",
        "workflow_run": {
            "id": 30433642,
            "name": "bs-events",
            "event": "pull_request",
            "status": "completed",
            "conclusion": "success",
            "head_branch": found.head_ref,
            "head_sha": sha,
            "path": ".github/workflows/bs-events.yml",
            "pull_requests": listed,
            "actor": {"login": found.author, "type": "User"},
            "head_repository": {"full_name": head_repo, "url": f"{API}/repos/{head_repo}"},
            "repository": {"full_name": REQUESTS, "url": f"{API}/repos/{REQUESTS}"},
        },
        "workflow": {"name": "bs-events", "path": ".github/workflows/bs-events.yml"},
        "repository": {"full_name": REQUESTS, "default_branch": "main"},
        "sender": {"login": found.author, "type": "User"},
    }


def listed_pull(number: int, base_repo: str, ref: str, sha: str) -> dict[str, Any]:
    """An entry of `workflow_run.pull_requests`, as GitHub lists them."""
    repo = {"id": 1, "url": f"{API}/repos/{base_repo}", "name": base_repo.split("/")[1]}
    return {
        "url": f"{API}/repos/{base_repo}/pulls/{number}",
        "id": 279147437,
        "number": number,
        "head": {"ref": ref, "sha": sha, "repo": repo},
        "base": {"ref": "main", "sha": "0" * 40, "repo": repo},
    }


def write(world: World, payload: dict[str, Any], name: str = "event.json") -> Path:
    path = world.root / name
    path.write_text(json.dumps(payload, indent=2))
    return path


def actions(event: Path | str = "", summary: Path | str = "") -> dict[str, str]:
    """What GitHub Actions sets for a step ("" is unset, as in a shell)."""
    return {"GITHUB_EVENT_PATH": str(event), "GITHUB_STEP_SUMMARY": str(summary)}


def check_in_actions(world: World, event: Path, summary: Path, *args: str) -> Result:
    return world.bs("check", *args, user="carol", env=actions(event, summary))


# -- bs check --------------------------------------------------------------------------


def test_check_reads_the_event_of_github_event_path_and_writes_the_job_summary(
    world: World,
) -> None:
    opened = open_release(world)
    sha = head(world, opened.number)
    by_number = world.bs("check", str(opened.number), user="carol", env=actions())
    event = write(world, github_event(world, "pull_request", "synchronize", opened.number))
    summary = world.root / "summary.md"

    result = check_in_actions(world, event, summary)
    assert result.exit_code == 1, result.output
    # The same output and exit status as with the number given.
    assert (result.stdout, result.stderr) == (by_number.stdout, by_number.stderr)
    assert result.stdout.splitlines()[-1] == f"Posted bs/policy = pending on {sha[:12]}."
    posted = latest_status(world, sha)
    assert posted is not None and posted.state == "pending"

    text = summary.read_text()
    assert text.startswith(f"### ⏳ bs/policy: not met yet\n\n{NEEDS_DEPLOYER}\n")
    assert f"Pull request #{opened.number} by alice, head {sha[:12]}" in text
    assert "| ✓ | digest | the patch, the request and git agree" in text
    assert "- … **deployer approval**: pending: needs 1 more approval from alphagov/deployers" in (
        text
    )
    assert "http" not in text

    # Each run appends its own; approved, it is met.
    review(world, opened.number, "bob")
    event = write(world, github_event(world, "pull_request_review", "submitted", opened.number))
    result = check_in_actions(world, event, summary)
    assert result.exit_code == 0, result.output
    headings = [line for line in summary.read_text().splitlines() if line.startswith("### ")]
    assert headings == ["### ⏳ bs/policy: not met yet", "### ✅ bs/policy: met"]


def test_the_pull_request_is_the_event_s_not_another(world: World) -> None:
    opened = open_release(world)
    payload = github_event(world, "pull_request", "opened", opened.number)
    payload["number"] = payload["pull_request"]["number"] = 42
    event = write(world, payload)
    summary = world.root / "summary.md"

    result = check_in_actions(world, event, summary, "--json")
    assert result.exit_code == 3, result.output
    said = "could not evaluate #42: alphagov/release-requests has no pull request #42"
    assert f"bs: error: {said}" in result.stderr
    assert summary.read_text() == (
        "### ⚠️ bs check: error\n\n"
        "could not evaluate #42: alphagov/release-requests has no pull request #42.\n\n"
    )
    assert latest_status(world, head(world, opened.number)) is None


def test_a_pr_or_event_given_wins_over_github_event_path(world: World) -> None:
    opened = open_release(world)
    missing = world.root / "no-such-event.json"
    summary = world.root / "summary.md"
    # PR given: $GITHUB_EVENT_PATH (a file that does not exist) is not read.
    result = world.bs("check", str(opened.number), user="carol", env=actions(missing, summary))
    assert result.exit_code == 1, result.output
    # --event given: it is read, not $GITHUB_EVENT_PATH.
    event = write(world, github_event(world, "pull_request", "opened", opened.number))
    result = world.bs("check", "--event", str(event), user="carol", env=actions(missing, summary))
    assert result.exit_code == 1, result.output
    assert summary.read_text().count("### ⏳ bs/policy: not met yet") == 2
    # Neither, and not in GitHub Actions: say which.
    result = world.bs("check", user="carol", env=actions())
    assert result.exit_code == 3
    assert "say which pull request: give its number (PR) or --event FILE" in result.stderr


def test_summary_given_wins_over_github_step_summary(world: World) -> None:
    opened = open_release(world)
    step, given = world.root / "step.md", world.root / "given.md"
    result = world.bs(
        "check", str(opened.number), "--summary", str(given), user="carol", env=actions("", step)
    )
    assert result.exit_code == 1, result.output
    assert given.read_text().startswith("### ⏳ bs/policy: not met yet")
    assert not step.exists()


def test_a_summary_that_cannot_be_written_changes_no_exit_status(world: World) -> None:
    opened = open_release(world)
    event = write(world, github_event(world, "pull_request", "opened", opened.number))
    folder = world.root / "a-folder"
    folder.mkdir()
    result = check_in_actions(world, event, folder)
    assert result.exit_code == 1, result.output
    assert f"bs: warning: {folder}: cannot append the summary (" in result.stderr
    assert result.stdout.splitlines()[-1].startswith("Posted bs/policy = pending on ")


# -- workflow_run: the privileged check after bs-events.yml ---------------------------------


def test_workflow_run_names_its_pull_request(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    summary = world.root / "summary.md"
    event = write(world, workflow_run_event(world, opened.number))
    result = check_in_actions(world, event, summary, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pull_request"] == opened.number
    posted = latest_status(world, head(world, opened.number))
    assert posted is not None and posted.state == "success"
    assert summary.read_text().startswith("### ✅ bs/policy: met\n\nApproved by bob\n")


def test_another_repository_s_pull_request_listed_is_passed_over(world: World) -> None:
    opened = open_release(world)
    pull = forge(world).get_pull_request(REQUESTS, opened.number)
    # GitHub may list a pull request of another repository with the same head: #7 of
    # alphagov/elsewhere is not #7 of the requests repository; the head finds the right one.
    other = listed_pull(7, "alphagov/elsewhere", pull.head_ref, pull.head_sha)
    event = write(world, workflow_run_event(world, opened.number, listed=[other]))
    result = check_in_actions(world, event, world.root / "summary.md", "--json", "--no-status")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["pull_request"] == opened.number


def test_workflow_run_from_a_fork_is_found_by_its_head_commit_and_repository(
    world: World,
) -> None:
    first = open_release(world)
    second = open_release_again(world)  # another open pull request, with another head
    assert head(world, second) != head(world, first.number)
    review(world, first.number, "bob")
    summary = world.root / "summary.md"
    event = write(world, workflow_run_event(world, first.number, listed=[]))
    result = check_in_actions(world, event, summary, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pull_request"] == first.number
    posted = latest_status(world, head(world, first.number))
    assert posted is not None and posted.state == "success"
    assert summary.read_text().startswith("### ✅ bs/policy: met")


def test_workflow_run_matching_no_open_pull_request_is_one_clear_error(world: World) -> None:
    opened = open_release(world)
    old = head(world, opened.number)
    summary = world.root / "summary.md"
    cases = {
        "another repository's head": workflow_run_event(
            world, opened.number, listed=[], head_repo="mallory/release-requests"
        ),
        "a head pushed over since": workflow_run_event(world, opened.number, listed=[]),
    }
    push(world, opened, "alice")
    assert head(world, opened.number) != old
    for payload in cases.values():
        event = write(world, payload)
        result = check_in_actions(world, event, summary, "--json")
        assert result.exit_code == 3, result.output
        head_repo = payload["workflow_run"]["head_repository"]["full_name"]
        assert result.stderr == (
            f"bs: error: could not evaluate: {event}: the workflow run names no pull request, "
            f"and the open pull requests of {REQUESTS} whose head is {old[:12]} from "
            f"{head_repo} are none: exactly one was expected (pushed to since, or closed?).\n"
        )
    assert latest_status(world, head(world, opened.number)) is None
    assert summary.read_text().count("### ⚠️ bs check: error") == 2

    # Without the head to look for, the event names no pull request.
    payload = workflow_run_event(world, opened.number, listed=[])
    del payload["workflow_run"]["head_sha"]
    result = check_in_actions(world, write(world, payload), summary)
    assert result.exit_code == 3
    assert "names no pull request (workflow_run.pull_requests is empty" in result.stderr


# -- bs hook ----------------------------------------------------------------------------


def test_hook_opened_reads_github_event_path_and_summarises_the_mail(world: World) -> None:
    opened = open_frontend(with_bot(world))
    event = write(world, github_event(world, "pull_request", "opened", opened.number))
    summary = world.root / "summary.md"
    result = hook(world, "opened", env=actions(event, summary))
    assert result.exit_code == 0, result.output
    assert f"Emailed the review list of frontend about #{opened.number}" in result.stdout
    (message,) = outbox(world)
    assert f"Release request #{opened.number}:" in message["Subject"]
    assert summary.read_text() == (
        f"### 📧 bs hook opened: review mail sent for #{opened.number}\n\n"
        f"frontend request `{opened.request_id}`: bs/policy says {NEEDS_DEPLOYER}\n\n"
        "Emailed the review list of frontend, with the patch attached:\n\n"
        f"- `{REVIEW_LIST}`\n\n"
        "Asked alphagov/dba, alphagov/deployers for reviews.\n\n"
    )


def test_hook_errors_are_summarised_with_the_same_exit_status(world: World) -> None:
    open_frontend(with_bot(world))
    event = write(world, {"action": "opened", "sender": {"login": BOT}})
    summary = world.root / "summary.md"
    result = hook(world, "opened", env=actions(event, summary))
    assert result.exit_code == 1
    assert "the event names no pull request" in result.stderr
    assert summary.read_text().startswith("### ⚠️ bs hook opened: error\n\n")
    assert outbox(world) == []


def test_hook_closed_summary_says_a_link_was_minted_and_never_shows_it(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    event = write(world, github_event(world, "pull_request", "closed", opened.number))
    summary = world.root / "summary.md"
    env = actions(event, summary) | {"BS_LINK_KEYS": key_line()}
    result = hook(world, "closed", env=env)
    assert result.exit_code == 0, result.output
    assert f"Approval recorded for #{opened.number}" in result.stdout

    (message,) = outbox(world)
    (token,) = links(message)
    text = summary.read_text()
    assert text.startswith(f"### ✅ bs hook closed: #{opened.number} approved, deploy link minted")
    for row in (
        "| app | frontend |",
        f"| request | `{opened.request_id}` |",
        "| requester | alice |",
        f"| from | release\\_1 `{opened.release_1}` |",
        f"| to | release\\_2 `{opened.release_2}` |",
        f"| patch | sha256 `{opened.patch_sha256}` |",
    ):
        assert row in text.splitlines(), row
    assert "| approved by | bob at " in text
    assert "The deploy link was emailed to the requester, alice; it is never shown here." in text
    for secret in (token, "/link/", "bs1.", GATEWAY, "http", "alice@example.gov.uk"):
        assert secret not in text, secret


def test_hook_closed_summarises_an_admin_merge_and_a_removal(world: World) -> None:
    opened = open_frontend(with_bot(world))
    merged = world.bs("merge", str(opened.number), "--admin", user="bob")
    assert merged.exit_code == 0, merged.output
    summary = world.root / "summary.md"
    event = write(world, github_event(world, "pull_request", "closed", opened.number))
    result = hook(world, "closed", env=actions(event, summary) | {"BS_LINK_KEYS": key_line()})
    assert result.exit_code == 2, result.output
    text = summary.read_text()
    assert text.startswith(
        f"### ⛔ bs hook closed: #{opened.number} was merged, but its policy is not met: "
        f"no deploy link\n\nWhy: {NEEDS_DEPLOYER}\n\n```text\nbs/policy: not met yet: "
    )
    assert f"\n```\n\nCommented on #{opened.number}. Emailed the requester and the review " in (
        text
    )
    assert "alice@example.gov.uk" not in text and "/link/" not in text

    # A request closed unmerged: removed, and its requester told.
    second = open_release_again(world)
    forge(world, "bob").close_pull_request(REQUESTS, second)
    event = write(world, github_event(world, "pull_request", "closed", second))
    result = hook(world, "closed", env=actions(event, summary))
    assert result.exit_code == 0, result.output
    branch = forge(world).get_pull_request(REQUESTS, second).head_ref
    assert summary.read_text().endswith(
        f"### 🗑️ bs hook closed: request #{second} closed by bob\n\n"
        f"- Deleted branch `{branch}`.\n"
        "- Emailed the requester, alice.\n\n"
    )


def open_release_again(world: World) -> int:
    """A new request for release_2 (the first was merged without deploying it)."""
    result = world.bs("open-request", "frontend", "release_2", "--json", user="alice")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["pull_request"]["number"])


def test_a_forge_that_learns_from_events_is_given_the_payload(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub's API does not say who closed a pull request; its event does."""
    from bs.forges.local import LocalForge

    noted: list[tuple[str, str | None]] = []

    def note_event(self: LocalForge, repo: str, payload: dict[str, Any]) -> None:
        noted.append((repo, payload.get("action")))

    monkeypatch.setattr(LocalForge, "note_event", note_event, raising=False)
    with_bot(world)
    opened = open_release(world)
    forge(world, "bob").close_pull_request(REQUESTS, opened.number)
    event = write(world, github_event(world, "pull_request", "closed", opened.number))
    result = world.bs("hook", "closed", user=BOT, env=actions(event))
    assert result.exit_code == 0, result.output
    assert noted == [(REQUESTS, "closed")]
    world.bs("hook", "closed", str(opened.number), user=BOT, env=actions(event))
    assert noted == [(REQUESTS, "closed")]  # a PR given: no event read
