"""`bs check` and `bs merge` end to end: whose approval counts, and merging.

Reviews (pending then met, outside the team, an earlier commit, changes
requested then dismissed), the requester and the people who pushed to the
request's branch, pushes outside the forge, closed pull requests, `bs merge`, a
migration that also needs a DBA, and the policy read from the default branch.

Each test builds a small app (release_1 deployed, release_2 tagged), opens a
request for release_2 with `bs open-request`, changes something and runs
`bs check PR --json`, asserting the outcome, the exit status, the message and the
`bs/policy` status posted on the pull request's head commit (helpers in
tests/checkhelpers.py).
"""

from __future__ import annotations

import json

import pytest

from bs.errors import BsError
from tests.checkhelpers import (
    MIGRATION,
    NEEDS_DEPLOYER,
    NO_MIGRATION,
    REQUESTS,
    check,
    check_named,
    expect,
    failed_checks,
    forge,
    head,
    ignored,
    inject_review,
    latest_status,
    only_check_fails,
    open_release,
    publish_policy,
    push,
    review,
    rule,
    statuses,
)
from tests.conftest import STANDARD_POLICY, World, git

# -- 1. pending, then met ---------------------------------------------------------------


def test_pending_without_review_then_met_when_a_deployer_approves(world: World) -> None:
    opened = open_release(world)
    sha = head(world, opened.number)

    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert all(c["ok"] is True for c in data["checks"]), data["checks"]
    assert [c["name"] for c in data["checks"]] == [
        "open", "base", "files", "request", "app", "tag", "deployed", "ancestry", "digest", "stats",
        "pushes",
    ]  # fmt: skip
    assert check_named(data, "digest")["message"] == (
        f"the patch, the request and git agree: sha256 {opened.patch_sha256[:12]}"
    )
    assert check_named(data, "stats")["message"] == (
        "git counts what the request says: 1 file, +1 -1, 1 commit"
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
