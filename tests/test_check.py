"""`bs check` and `bs merge` end to end: a local forge, real git repositories, the CLI.

Each test builds a small app (release_1 deployed, release_2 tagged), opens a
request for release_2 with `bs open-request`, changes something (a review, a
push, a moved tag, a broken policy...) and runs `bs check PR --json`, asserting
the outcome, the exit status, the message and the `bs/policy` status posted on
the pull request's head commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bs.core.pulls import CommitStatus, ReviewState
from bs.errors import BsError
from bs.forges import local_records as records
from bs.forges.local import LocalForge
from tests.conftest import STANDARD_POLICY, Result, WorkRepo, World, git, git_bytes

REQUESTS = "alphagov/release-requests"
FRONTEND = "alphagov/frontend"
MIGRATION = "db/migrate/20240101_add_users.rb"
NO_MIGRATION = "nothing under db/migrate/**, db/schema.rb changed"
NEEDS_DEPLOYER = "Needs 1 more approval from alphagov/deployers"
SEPARATE_PR = (
    "a request's pull request changes nothing but requests/<app>/<id>.yaml and its patch; "
    "open a separate pull request for anything else"
)
NOT_CHECKED = "not checked: the request could not be read"


# -- building a request ---------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A request opened by `bs open-request`, and the app's commits."""

    number: int
    request_id: str
    request_file: str
    patch_file: str
    patch_sha256: str
    branch: str
    release_1: str
    release_2: str


def open_release(world: World, *, requester: str = "alice", migration: bool = False) -> Opened:
    """frontend: release_1 deployed, release_2 (annotated) tagged; a request for release_2."""
    app = world.add_app("frontend")
    app.write("README.md", "frontend\n")
    app.write("app/main.py", "print(1)\n")
    release_1 = app.commit("one")
    app.tag("release_1")
    app.write("app/main.py", "print(2)\n")
    if migration:
        app.write(MIGRATION, "create_table :users\n")
    release_2 = app.commit("two")
    app.tag("release_2", annotated=True)
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_1")
    result = world.bs("open-request", "frontend", "release_2", "--json", user=requester)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return Opened(
        number=data["pull_request"]["number"],
        request_id=data["id"],
        request_file=data["request_file"],
        patch_file=data["patch_file"],
        patch_sha256=data["patch_sha256"],
        branch=f"request/frontend/{data['id']}",
        release_1=release_1,
        release_2=release_2,
    )


def forge(world: World, user: str = "bob") -> LocalForge:
    return LocalForge(world.forge, user=user)


def head(world: World, number: int) -> str:
    return forge(world).get_pull_request(REQUESTS, number).head_sha


def branch_file(world: World, opened: Opened, path: str) -> bytes:
    return git_bytes(world.requests_bare, "show", f"refs/heads/{opened.branch}:{path}")


def push(
    world: World,
    opened: Opened,
    user: str,
    files: dict[str, bytes] | None = None,
) -> str:
    """Push a commit to the request's branch as `user`, through the forge; return it.

    Without `files`, the request's own two files are pushed again unchanged:
    a new head commit with the same tree, so only the head moves.
    """
    if files is None:
        files = {
            path: branch_file(world, opened, path)
            for path in (opened.request_file, opened.patch_file)
        }
    staged = world.root / "staged" / user
    sources: list[tuple[str, Path]] = []
    for i, (path, content) in enumerate(files.items()):
        source = staged / str(i)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(content)
        sources.append((path, source))
    before = head(world, opened.number)
    commit = forge(world, user).push_files(REQUESTS, opened.branch, sources, f"Push by {user}")
    assert commit != before
    assert head(world, opened.number) == commit
    return commit


def review(
    world: World, number: int, user: str, state: ReviewState = "APPROVED", body: str = ""
) -> int:
    return forge(world, user).submit_review(REQUESTS, number, state, body).id


def inject_review(world: World, number: int, user: str, state: ReviewState, commit: str) -> None:
    """A review record the forge's own rules would refuse (the author approving their own)."""
    forge_dir = world.forge / f"{REQUESTS}.forge"
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with records.locked(world.forge):
        review_id = records.next_number(forge_dir, "review")
        records.append_record(
            forge_dir / "pulls" / f"{number}.jsonl",
            {"type": "review", "id": review_id, "user": user, "state": state,
             "commit_id": commit, "body": "", "at": at},
        )  # fmt: skip


def publish_policy(world: World, text: str) -> None:
    (world.checkout / "policies" / "standard.yaml").write_text(text)
    world.publish()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- running bs check -----------------------------------------------------------------


def check(world: World, number: int, *extra: str, user: str = "carol") -> tuple[Result, Any]:
    """`bs check N --json` as `user`; the result and its parsed JSON."""
    result = world.bs("check", str(number), "--json", *extra, user=user)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 1, 2), result.output
    data = json.loads(result.stdout)
    assert data["exit_code"] == result.exit_code
    assert data["pull_request"] == number
    assert data["head_sha"] == head(world, number)
    return result, data


def expect(
    world: World, number: int, outcome: str, exit_code: int, summary: str, *extra: str
) -> Any:
    """Check `number`; assert outcome, exit status, summary and the status posted."""
    result, data = check(world, number, *extra)
    assert (data["outcome"], result.exit_code) == (outcome, exit_code), data
    assert data["summary"] == summary
    state = {"met": "success", "pending": "pending", "rejected": "failure", "failed": "failure"}
    assert data["status"]["state"] == state[outcome]
    if "--no-status" not in extra:
        assert data["status_posted"] is True
        posted = latest_status(world, data["head_sha"])
        assert posted is not None
        assert (posted.state, posted.description) == (state[outcome], data["status"]["description"])
        assert len(posted.description) <= 140
        if len(summary) <= 139:
            assert posted.description == summary
    return data


def only_check_fails(world: World, number: int, name: str, message: str) -> Any:
    """Check `number`: invalid, with check `name` failing alone with `message`."""
    data = expect(world, number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, name) == {"name": name, "ok": False, "message": message}
    assert failed_checks(data) == [name]
    return data


def statuses(world: World, sha: str) -> list[CommitStatus]:
    return [s for s in forge(world).list_statuses(REQUESTS, sha) if s.context == "bs/policy"]


def latest_status(world: World, sha: str) -> CommitStatus | None:
    found = statuses(world, sha)
    return found[0] if found else None


def check_named(data: Any, name: str) -> dict[str, Any]:
    found = [c for c in data["checks"] if c["name"] == name]
    assert len(found) == 1, data["checks"]
    return dict(found[0])


def rule(data: Any, name: str) -> dict[str, Any]:
    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "rule" in node:
            return [node]
        return [r for child in node["children"] for r in walk(child)]

    found = [r for r in walk(data["policy"]["approval"]) if r["rule"] == name]
    assert len(found) == 1
    return found[0]


def ignored(data: Any, rule_name: str = "deployer approval") -> list[tuple[str, str]]:
    return [(i["user"], i["reason"]) for i in rule(data, rule_name)["ignored"]]


def failed_checks(data: Any) -> list[str]:
    return [c["name"] for c in data["checks"] if c["ok"] is False]


def could_not_evaluate(result: Result, *names: str) -> str:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    return result.stderr


# -- 1. pending, then met ---------------------------------------------------------------


def test_pending_without_review_then_met_when_a_deployer_approves(world: World) -> None:
    opened = open_release(world)
    sha = head(world, opened.number)

    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert all(c["ok"] is True for c in data["checks"]), data["checks"]
    assert [c["name"] for c in data["checks"]] == [
        "open", "base", "files", "request", "app", "tag", "deployed", "ancestry", "digest", "pushes",
    ]  # fmt: skip
    assert check_named(data, "digest")["message"] == (
        f"the patch, the request and git agree: sha256 {opened.patch_sha256[:12]}"
    )
    assert check_named(data, "pushes")["message"] == "the head commit was pushed by alice"
    assert data["policy"]["name"] == "standard"
    assert rule(data, "deployer approval")["status"] == "pending"
    assert rule(data, "database migrations")["status"] == "skipped"
    assert rule(data, "database migrations")["condition"] == NO_MIGRATION
    posted = latest_status(world, sha)
    assert posted is not None and posted.creator == "carol"

    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert data["policy"]["approved_by"] == ["bob"]
    assert rule(data, "deployer approval")["approved_by"] == ["bob"]
    # Newest first: the success now stands on the same head, above the pending.
    assert [s.state for s in statuses(world, sha)] == ["success", "pending"]


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


# -- 2. the requester and the pushers ---------------------------------------------------


def test_the_requester_cannot_review_their_own_request(world: World) -> None:
    opened = open_release(world)
    result = world.bs("review", str(opened.number), "--approve", user="alice")
    assert result.exit_code == 1, result.output
    assert "you cannot review your own request" in result.stderr
    with pytest.raises(BsError, match="cannot review your own request"):
        review(world, opened.number, "alice")
    assert forge(world).list_reviews(REQUESTS, opened.number) == []
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)


def test_an_approval_by_someone_who_pushed_to_the_branch_is_ignored(world: World) -> None:
    opened = open_release(world)
    pushed = push(world, opened, "carol")
    assert git(world.requests_bare, "diff", "--name-only", opened.branch + "~1", pushed) == ""
    review(world, opened.number, "carol")

    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert check_named(data, "pushes")["message"] == "the head commit was pushed by carol"
    assert ignored(data) == [("carol", "pushed to the request's branch")]
    assert rule(data, "deployer approval")["approved_by"] == []

    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert ignored(data) == [("carol", "pushed to the request's branch")]


def test_the_requesters_own_approval_is_ignored(world: World) -> None:
    """bob, a deployer, requests; an approval by bob (which the forge itself refuses,
    so it is written as a record) is ignored as the requester's."""
    opened = open_release(world, requester="bob")
    inject_review(world, opened.number, "bob", "APPROVED", head(world, opened.number))
    assert [(r.user, r.state) for r in forge(world).list_reviews(REQUESTS, opened.number)] == [
        ("bob", "APPROVED")
    ]

    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("bob", "the requester")]

    review(world, opened.number, "carol")
    data = expect(world, opened.number, "met", 0, "Approved by carol")
    assert ignored(data) == [("bob", "the requester")]


def test_allow_author_lets_the_requester_approve_though_they_pushed_the_branch(
    world: World,
) -> None:
    """The requester always pushes the request's branch: that push is theirs as the
    requester, ruled by allow_author, not by allow_pushers."""
    opened = open_release(world, requester="bob")
    inject_review(world, opened.number, "bob", "APPROVED", head(world, opened.number))
    lenient = STANDARD_POLICY.replace(
        "      teams: [alphagov/deployers]\n",
        "      teams: [alphagov/deployers]\n    options: {allow_author: true}\n",
        1,
    )
    assert lenient != STANDARD_POLICY
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("bob", "the requester")]
    publish_policy(world, lenient)
    expect(world, opened.number, "met", 0, "Approved by bob")


def test_a_rule_nobody_may_approve_any_more_fails(world: World) -> None:
    """bob (a deployer) requests and carol, the other deployer, pushes: nobody is left."""
    opened = open_release(world, requester="bob")
    push(world, opened, "carol")
    review(world, opened.number, "carol")
    summary = (
        "Rule 'deployer approval' cannot be met: it needs 1 approval from alphagov/deployers, "
        "and only 0 people there may approve this request"
    )
    data = expect(world, opened.number, "failed", 2, summary)
    assert failed_checks(data) == []
    assert rule(data, "deployer approval")["status"] == "failed"
    assert ignored(data) == [("carol", "pushed to the request's branch")]


def test_a_head_moved_outside_the_forge_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    bare = world.requests_bare
    before = head(world, opened.number)
    outside = git(bare, "commit-tree", f"{before}^{{tree}}", "-p", before, "-m", "sneaky")
    git(bare, "update-ref", f"refs/heads/{opened.branch}", outside)
    review(world, opened.number, "bob")  # approving the new head does not help

    message = (
        "the head commit was not pushed through the forge, so who pushed it is unknown and no "
        "approval can be trusted: close this and open a new request"
    )
    only_check_fails(world, opened.number, "pushes", message)


def test_a_closed_pull_request_fails_and_gets_no_status(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    forge(world, "alice").close_pull_request(REQUESTS, opened.number)
    result, data = check(world, opened.number)
    assert (data["outcome"], result.exit_code) == ("failed", 2)
    assert data["summary"] == "Invalid request: the pull request is closed without being merged"
    assert data["status_posted"] is False
    assert statuses(world, data["head_sha"]) == []


# -- 3. outside the team ----------------------------------------------------------------


def test_an_approval_from_outside_the_team_is_ignored(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "dave")
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("dave", "not in alphagov/deployers")]

    result = world.bs("check", str(opened.number), user="carol")
    assert result.exit_code == 1, result.output
    assert "      ignored: dave: not in alphagov/deployers" in result.stdout.splitlines()


# -- 4. an approval of an earlier commit ------------------------------------------------


def test_an_approval_of_an_earlier_commit_does_not_count(world: World) -> None:
    opened = open_release(world)
    first = head(world, opened.number)
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")

    second = push(world, opened, "alice")
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert data["head_sha"] == second
    assert ignored(data) == [("bob", "approved an earlier commit")]
    # Each commit keeps its own status: the new head is pending, the old one stays success.
    status_first, status_second = latest_status(world, first), latest_status(world, second)
    assert status_first is not None and status_first.state == "success"
    assert status_second is not None and status_second.state == "pending"

    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert ignored(data) == []


# -- 5. changes requested, then dismissed -----------------------------------------------


def test_changes_requested_reject_until_dismissed(world: World) -> None:
    opened = open_release(world)
    dave = review(world, opened.number, "dave", "CHANGES_REQUESTED", "Not during the election")
    review(world, opened.number, "bob")

    data = expect(world, opened.number, "rejected", 2, "Rejected by dave: Not during the election")
    assert data["policy"]["rejections"] == [{"user": "dave", "comment": "Not during the election"}]
    assert rule(data, "deployer approval")["status"] == "satisfied"

    result = world.bs("check", str(opened.number), user="carol")
    assert result.exit_code == 2
    assert result.stdout.startswith(
        "bs/policy: rejected: Rejected by dave: Not during the election"
    )
    assert "  ✗ rejected by dave: Not during the election" in result.stdout

    forge(world, "carol").dismiss_review(REQUESTS, opened.number, dave, "The election is over")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert data["policy"]["rejections"] == []


# -- 6. a pull request that changes anything else -------------------------------------


@pytest.mark.parametrize(
    ("path", "content"),
    [
        # Anyone in developers could approve under this policy, were it read from the request.
        (
            "policies/standard.yaml",
            STANDARD_POLICY.replace("[alphagov/deployers]\n", "[alphagov/developers]\n"),
        ),
        (".github/workflows/x.yml", "on: push\njobs: {}\n"),
    ],
)
def test_a_pull_request_that_also_changes_another_file_is_invalid(
    world: World, path: str, content: str
) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    push(world, opened, "alice", {path: content.encode()})
    review(world, opened.number, "bob")  # approving the new head changes nothing

    message = f"it also changes {path}: {SEPARATE_PR}"
    data = only_check_fails(world, opened.number, "files", message)
    for name in ("tag", "deployed", "ancestry", "digest"):
        assert check_named(data, name) == {"name": name, "ok": None, "message": NOT_CHECKED}
    assert data["policy"] is None
    posted = latest_status(world, data["head_sha"])
    assert posted is not None
    assert posted.description.startswith(f"Invalid request: it also changes {path}: ")
    assert posted.description.endswith("…")


# -- 7 and 8. the digests ---------------------------------------------------------------


def edited_patch(world: World, opened: Opened) -> bytes:
    original = branch_file(world, opened, opened.patch_file)
    edited = original.replace(b"+print(2)", b"+print(3)")
    assert edited != original
    return edited


def test_a_patch_edited_by_hand_fails_the_digest_check(world: World) -> None:
    opened = open_release(world)
    patch = edited_patch(world, opened)
    push(world, opened, "alice", {opened.patch_file: patch})
    review(world, opened.number, "bob")

    message = (
        f"{opened.patch_file} does not match the request's sha256 (the file's is "
        f"{sha256(patch)[:12]}, the request says {opened.patch_sha256[:12]}): the patch was edited"
    )
    data = only_check_fails(world, opened.number, "digest", message)
    assert check_named(data, "files")["ok"] is True


def test_a_digest_edited_to_match_an_edited_patch_fails_against_git(world: World) -> None:
    opened = open_release(world)
    patch = edited_patch(world, opened)
    request = branch_file(world, opened, opened.request_file).decode()
    assert request.count(opened.patch_sha256) == 1
    request = request.replace(opened.patch_sha256, sha256(patch))
    push(world, opened, "alice", {opened.patch_file: patch, opened.request_file: request.encode()})
    review(world, opened.number, "bob")

    message = (
        f"the diff git computes for this release ({opened.patch_sha256[:12]}) is not the one in "
        f"the request ({sha256(patch)[:12]}): the request's digest and patch do not describe this release"
    )
    only_check_fails(world, opened.number, "digest", message)


# -- 9 and 10. the tag and the deployed version -----------------------------------------


def test_a_tag_moved_after_opening_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")

    git(world.app_bare(FRONTEND), "tag", "-f", "release_2", opened.release_1)
    message = (
        f"tag release_2 now points at {opened.release_1[:12]}, not the pinned "
        f"{opened.release_2[:12]}: it was moved after the request was opened; open a new request"
    )
    only_check_fails(world, opened.number, "tag", message)

    git(world.app_bare(FRONTEND), "tag", "-d", "release_2")
    message = (
        f"tag release_2 no longer exists: it was pinned to {opened.release_2[:12]}; "
        "open a new request"
    )
    data = expect(world, opened.number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, "tag") == {"name": "tag", "ok": False, "message": message}


def test_the_deployed_version_moving_after_opening_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    world.deploy(FRONTEND, "release_2")

    message = (
        "the deployed version changed since this request was opened "
        f"(was {opened.release_1[:12]}, now {opened.release_2[:12]}): open a new one"
    )
    only_check_fails(world, opened.number, "deployed", message)


# -- 11 and 12. the base branch and one request per pull request ------------------------


def test_a_pull_request_retargeted_to_another_branch_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    git(world.requests_bare, "branch", "staging", "main")
    forge(world, "alice").retarget_pull_request(REQUESTS, opened.number, "staging")

    message = (
        "the pull request targets 'staging', not the default branch 'main': retarget it to main"
    )
    only_check_fails(world, opened.number, "base", message)


def test_a_second_request_file_in_the_same_pull_request_fails(world: World) -> None:
    opened = open_release(world)
    other = f"requests/frontend/{opened.request_id[:9]}{'a' * 16}.yaml"
    assert other != opened.request_file
    push(world, opened, "alice", {other: branch_file(world, opened, opened.request_file)})
    review(world, opened.number, "bob")

    both = ", ".join(sorted([opened.request_file, other]))
    message = f"it adds 2 request files ({both}): one request per pull request"
    data = expect(world, opened.number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, "files") == {"name": "files", "ok": False, "message": message}


# -- 13. bs merge ---------------------------------------------------------------------


def test_merge_is_refused_until_bs_check_posts_success(world: World) -> None:
    opened = open_release(world)
    sha = head(world, opened.number)
    number = str(opened.number)

    result = world.bs("merge", number, user="bob")
    assert result.exit_code == 1, result.output
    assert "the required status bs/policy has not been posted" in result.stderr

    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    result = world.bs("merge", number, user="bob")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"bs: error: #{number} cannot be merged: bs/policy is pending on {sha[:12]} ({NEEDS_DEPLOYER}). "
        f"Run `bs check {number}` to see why."
    )
    assert not forge(world).get_pull_request(REQUESTS, opened.number).merged

    review(world, opened.number, "bob")
    # Approved, but not merged until bs check has posted success.
    result = world.bs("merge", number, user="bob")
    assert result.exit_code == 1, result.output
    assert "bs/policy is pending" in result.stderr

    expect(world, opened.number, "met", 0, "Approved by bob")
    # A push after the check: the new head has no status, so the merge is refused again.
    pushed = push(world, opened, "alice")
    result = world.bs("merge", number, user="bob")
    assert result.exit_code == 1, result.output
    assert f"bs/policy has not been posted on {pushed[:12]}" in result.stderr
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")
    posted = statuses(world, pushed)

    result = world.bs("merge", number, "--json", user="bob")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    pull = forge(world).get_pull_request(REQUESTS, opened.number)
    assert pull.merged and pull.merged_by == "bob"
    assert data == {"pull_request": opened.number, "merged": True, "merged_by": "bob",
                    "merge_commit_sha": pull.merge_commit_sha, "admin": False}  # fmt: skip
    main_files = git(world.requests_bare, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert {opened.request_file, opened.patch_file} <= set(main_files)

    # Checked again once merged: still met, and no status is posted on a closed pull request.
    result, data = check(world, opened.number)
    assert (data["outcome"], data["status_posted"]) == ("met", False)
    assert statuses(world, pushed) == posted


def test_merge_as_admin_bypasses_a_pending_policy(world: World) -> None:
    opened = open_release(world)
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    result = world.bs("merge", str(opened.number), "--admin", user="carol")
    assert result.exit_code == 0, result.output
    pull = forge(world).get_pull_request(REQUESTS, opened.number)
    assert pull.merged and pull.merged_by == "carol"
    assert result.stdout.strip() == (
        f"carol merged #{opened.number} as an admin, bypassing bs/policy: {pull.merge_commit_sha}"
    )


# -- 14. a migration needs a DBA --------------------------------------------------------


def test_a_migration_release_also_needs_a_dba(world: World) -> None:
    opened = open_release(world, migration=True)
    condition = f"{MIGRATION} changed"
    needs_dba = f"Needs 1 more approval from alphagov/dba: {condition}"

    data = expect(world, opened.number, "pending", 1, f"{NEEDS_DEPLOYER} (and 1 more rule)")
    assert rule(data, "database migrations")["condition"] == condition

    review(world, opened.number, "bob")
    data = expect(world, opened.number, "pending", 1, needs_dba)
    assert rule(data, "deployer approval")["status"] == "satisfied"
    assert rule(data, "database migrations")["status"] == "pending"
    assert ignored(data, "database migrations") == [("bob", "not in alphagov/dba")]

    review(world, opened.number, "dave")
    data = expect(world, opened.number, "met", 0, "Approved by bob, dave")
    assert rule(data, "database migrations")["approved_by"] == ["dave"]


# -- 15. could not evaluate -------------------------------------------------------------


def test_a_broken_policy_on_the_default_branch_could_not_evaluate(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    publish_policy(world, "version: 1\nrules: [unclosed\n")
    result = world.bs("check", str(opened.number), "--json", user="carol")
    could_not_evaluate(result, f"could not evaluate #{opened.number}", "policies/standard.yaml")
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


# -- 17. the policy comes from the default branch ---------------------------------------


def test_the_policy_is_read_from_the_default_branch_not_the_working_tree(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "dave")
    # dave would count under the working tree's policy, which is not published.
    (world.checkout / "policies" / "standard.yaml").write_text(
        STANDARD_POLICY.replace(
            "      count: 1\n      teams: [alphagov/deployers]",
            "      count: 1\n      teams: [alphagov/dba]",
        )
    )
    assert (world.checkout / "policies" / "standard.yaml").read_text() != STANDARD_POLICY
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("dave", "not in alphagov/deployers")]

    world.publish("DBAs deploy")
    expect(world, opened.number, "met", 0, "Approved by dave")
