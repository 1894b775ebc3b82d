"""Emergencies and rollbacks end to end on the fake GitHub (tests/githubflowhelpers.py),
as tests/test_emergency.py and tests/test_rollback.py run them on the local forge:
`bs open-request --emergency`, the on-call team asked and its approval, the 30-minute
slot no freeze holds back, the deploy through the gateway acting as the App, which opens
the follow-up pull request; the follow-up checked under the normal rules, merged, and
marked by the App with nothing minted. Then a rollback: the reverse patch, the ancestry
check, the rollback rule, and the deployed ref moved back.

The world (tests/githubworld.py): frontend's release_1 < release_2 < release_3, release_1
deployed; carol is on call and a deployer, bob a deployer, dave a DBA, erin outside the
organisation's teams. The requests repository requires bs/policy to merge.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from github import GithubException

from bs.core.links import DEPLOY_LINK, parse_keys, verify_link_token
from bs.core.request import ReleaseRequest
from bs.core.verdict import STATUS_CONTEXT
from bs.usecases.follow_up import follow_up_id
from tests.conftest import git, git_bytes
from tests.emergencyhelpers import freeze_ends, policy_frozen_now, subject
from tests.githubflowhelpers import (
    ALICE,
    BOT_LOGIN,
    FOLLOW_UP_MARK,
    REASON,
    check_on_open,
    check_on_review,
    deploy,
    deployed_commit,
    gateway_app,
    hook_closed,
    hook_opened,
    link_tokens,
    mails,
    merge,
    minted_link,
    open_request,
    require_policy_status,
    review,
    set_deployed,
)
from tests.githubworld import APP_REPO, KEY, REQUESTS, GitHubWorld, gh_world
from tests.hookhelpers import APPROVAL_MARK, REVIEW_LIST, recipients, text_of

__all__ = ["gh_world"]

NEEDS_ON_CALL = "Needs 1 more approval from alphagov/on-call"
NEEDS_DEPLOYER = "Needs 1 more approval from alphagov/deployers"


def on_main(world: GitHubWorld, path: str) -> bytes:
    return git_bytes(world.fake.repo(REQUESTS).git.path, "show", f"main:{path}")


def on_branch(world: GitHubWorld, branch: str, path: str) -> dict[str, Any]:
    text = world.fake.repo(REQUESTS).git.git("show", f"refs/heads/{branch}:{path}")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def publish_policy(world: GitHubWorld, text: str) -> None:
    """An admin changes policies/standard.yaml on the requests repository's main."""
    world.fake.commit(
        REQUESTS, {"policies/standard.yaml": text}, branch="main", message="Freeze", author="bob"
    )
    git(world.checkout, "pull", "-q", "--ff-only", "origin", "main")


def comments_marked(world: GitHubWorld, number: int, mark: str) -> list[dict[str, str]]:
    found = world.fake.repo(REQUESTS).comments.get(number, [])
    return [c for c in found if c["body"].startswith(mark)]


def latest_policy_status(world: GitHubWorld, sha: str) -> tuple[str, str]:
    found = [
        s for s in world.fake.repo(REQUESTS).statuses.get(sha, []) if s["context"] == STATUS_CONTEXT
    ]
    return found[-1]["state"], found[-1]["creator"]


def ignored(data: Any, rule_name: str) -> list[tuple[str, str]]:
    """Who `rule_name` of the check's policy did not count, and why."""

    def walk(node: Any) -> list[Any]:
        return [node] if "rule" in node else [r for c in node["children"] for r in walk(c)]

    (found,) = [r for r in walk(data["policy"]["approval"]) if r["rule"] == rule_name]
    return [(i["user"], i["reason"]) for i in found["ignored"]]


def check_named(data: Any, name: str) -> dict[str, Any]:
    (found,) = [c for c in data["checks"] if c["name"] == name]
    return dict(found)


# -- an emergency, and its follow-up ---------------------------------------------------


def test_an_emergency_on_github_from_request_to_deploy_and_its_follow_up_review(
    gh_world: GitHubWorld,
) -> None:
    w, fake = gh_world, gh_world.fake
    require_policy_status(w)
    started = datetime.now(UTC)
    publish_policy(w, policy_frozen_now(started))  # a normal release would wait for it
    fake.teams[("alphagov", "deployers")].members["alice"] = "member"
    release_1, release_3 = w.tags["release_1"], w.tags["release_3"]

    # alice asks, in an emergency: the title, the body and the request file say so.
    data = open_request(w, "release_3", "--emergency", "--reason", REASON)
    assert (data["kind"], data["emergency"], data["rollback"]) == ("emergency", True, False)
    number, emergency_id = data["pull_request"]["number"], data["id"]
    pull = fake.pull(REQUESTS, number)
    assert pull.title == "EMERGENCY release frontend release_3 (from release_1)"
    assert (pull.body or "").startswith("> [!WARNING]\n> EMERGENCY (break-glass): ")
    assert REASON in (pull.body or "")
    document = on_branch(w, pull.head_ref, data["request_file"])
    assert (document["emergency"], document["reason"]) == (True, REASON)
    assert "rollback" not in document and "follow_up_of" not in document

    # The opened hook: the review list told first; only the on-call team asked on GitHub.
    hook_opened(w, number)
    assert (pull.requested_teams, pull.requested_reviewers) == (["on-call"], [])
    (review_mail,) = mails(w)
    assert recipients(review_mail) == [REVIEW_LIST]
    assert subject(review_mail) == (
        f"[frontend] EMERGENCY request #{number}: release_1 -> release_3 by alice"
    )

    # Pending until the engineer on call approves: a deployer is not enough, nor a merge.
    result, checked = check_on_open(w, number, "check-emergency-opened")
    assert (result.exit_code, checked["outcome"], checked["summary"]) == (
        1,
        "pending",
        NEEDS_ON_CALL,
    )
    assert latest_policy_status(w, pull.head_sha) == ("pending", BOT_LOGIN)
    review(w, number, "bob")
    result, checked = check_on_review(w, "check-emergency-bob")
    assert (result.exit_code, checked["summary"]) == (1, NEEDS_ON_CALL)
    assert ignored(checked, "on-call approval") == [("bob", "not in alphagov/on-call")]
    with pytest.raises(GithubException) as refused:
        merge(w, number)
    assert refused.value.status == 405  # the ruleset: bs/policy is not success
    review(w, number, "carol")
    result, checked = check_on_review(w, "check-emergency-carol")
    assert (result.exit_code, checked["outcome"]) == (0, "met"), checked
    assert latest_policy_status(w, pull.head_sha) == ("success", BOT_LOGIN)
    merge(w, number)

    # The merged hook mints a link for 30 minutes from the merge, freeze or no freeze.
    _, hooked = hook_closed(w, number)
    record = hooked["approval"]
    assert (record["kind"], record["emergency"], record["rollback"]) == ("emergency", True, False)
    assert [a["user"] for a in record["approvers"]] == ["carol"]
    merged = fake.pull(REQUESTS, number).merged_at
    assert merged is not None
    token = minted_link(w)
    claims = verify_link_token(token, parse_keys(KEY, "keys"), purpose=DEPLOY_LINK, now=merged)
    assert (claims.not_before, claims.expires) == (merged, merged + timedelta(minutes=30))
    assert freeze_ends(started) > merged + timedelta(hours=1)  # a release would have waited
    assert subject(mails(w)[-1]) == "[frontend] EMERGENCY Approved: your deploy link for release_3"
    (approval,) = comments_marked(w, number, APPROVAL_MARK)
    assert approval["user"] == BOT_LOGIN and "| Approved by | carol (" in approval["body"]

    # The gateway, as the App, deploys it and opens the follow-up pull request on GitHub.
    app = gateway_app(w)
    confirm, progress = deploy(app, token, 1)
    assert "<h1>Deploy frontend (EMERGENCY)?</h1>" in confirm
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(w) == release_3
    assert (w.root / "deploys.txt").read_text() == "frontend release_3\n"
    stored = app.extensions["bs"].deployments.get(1)
    assert (stored.state, stored.record["kind"], stored.record["emergency"]) == (
        "succeeded", "emergency", True,
    )  # fmt: skip
    follow_number = number + 1
    follow = fake.pull(REQUESTS, follow_number)
    opened_line = (
        "EMERGENCY: follow-up review opened, under the normal rules: pull request "
        f"#{follow_number} {fake.web_url}/{REQUESTS}/pull/{follow_number}"
    )
    assert opened_line in [line["line"] for line in progress["lines"]]

    # The follow-up: the same release, marked follow_up_of, opened by the App.
    emergency_doc = yaml.safe_load(on_main(w, data["request_file"]))
    follow_id = follow_up_id(ReleaseRequest.from_document(emergency_doc))
    assert (follow.user, follow.head_repo.full_name, follow.head_ref, follow.state) == (
        BOT_LOGIN, REQUESTS, f"request/frontend/{follow_id}", "open",
    )  # fmt: skip
    assert follow.title == (
        "Follow-up review: emergency release of frontend release_3 (from release_1)"
    )
    assert f"Follow-up review of emergency request `{emergency_id}` (#{number})" in (
        follow.body or ""
    )
    follow_doc = on_branch(w, follow.head_ref, f"requests/frontend/{follow_id}.yaml")
    assert follow_doc["follow_up_of"] == emergency_id and "emergency" not in follow_doc
    for key in ("app", "requested_by", "from", "to", "reason"):
        assert follow_doc[key] == emergency_doc[key], key
    assert follow_doc["patch"] == emergency_doc["patch"] | {
        "file": f"requests/frontend/{follow_id}.patch"
    }
    assert git_bytes(
        fake.repo(REQUESTS).git.path,
        "show",
        f"{follow.head_sha}:requests/frontend/{follow_id}.patch",
    ) == on_main(w, data["patch_file"])
    again = w.bs("follow-up", "frontend", emergency_id, user="alice")
    assert again.exit_code == 0, again.output
    assert again.stdout == (
        f"Follow-up {follow_id} is open already: #{follow_number} "
        f"{fake.web_url}/{REQUESTS}/pull/{follow_number}\n"
    )

    # Checked under the normal rules: the dba and deployers asked, never alice herself.
    w.record_push("opened", follow_number)
    hook_opened(w, follow_number)
    assert sorted(follow.requested_teams) == ["dba", "deployers"]
    assert subject(mails(w)[-1]) == (
        f"[frontend] FOLLOW-UP request #{follow_number}: release_1 -> release_3 by alice"
    )
    result, checked = check_on_open(w, follow_number, "check-follow-up-opened")
    assert (result.exit_code, checked["summary"]) == (1, NEEDS_DEPLOYER), checked
    assert check_named(checked, "request") == {
        "name": "request", "ok": True,
        "message": f"follow-up {follow_id} reviews emergency request {emergency_id} by alice",
    }  # fmt: skip
    assert check_named(checked, "deployed")["ok"] is True
    review(w, follow_number, "alice")
    result, checked = check_on_review(w, "check-follow-up-alice")
    assert (result.exit_code, checked["summary"]) == (1, NEEDS_DEPLOYER)
    assert ignored(checked, "deployer approval") == [("alice", "the requester")]
    minted_before = link_tokens(w)
    review(w, follow_number, "bob")
    result, checked = check_on_review(w, "check-follow-up-bob")
    assert (result.exit_code, checked["outcome"]) == (0, "met"), checked
    merge(w, follow_number)

    # Merged with the normal rules met: marked by the App, mailed, and nothing minted.
    _, closed = hook_closed(w, follow_number)
    assert (closed["outcome"], closed["minted"], closed["follows_up"], closed["approvers"]) == (
        "follow-up-approved", False, emergency_id, ["bob"],
    )  # fmt: skip
    (mark,) = comments_marked(w, follow_number, FOLLOW_UP_MARK)
    assert mark["user"] == BOT_LOGIN and "approved by bob" in mark["body"]
    assert comments_marked(w, follow_number, APPROVAL_MARK) == []
    reviewed = mails(w)[-1]
    assert sorted(recipients(reviewed)) == [ALICE, REVIEW_LIST]
    assert subject(reviewed) == (
        f"[frontend] FOLLOW-UP Reviewed: emergency {emergency_id} (release_3) approved after "
        "the fact"
    )
    assert "No deploy link comes with this" in text_of(reviewed)
    assert link_tokens(w) == minted_before
    assert deployed_commit(w) == release_3 != release_1
    done = w.bs("follow-up", "frontend", emergency_id, user="alice")
    assert (
        done.stdout == f"Follow-up {follow_id} of {emergency_id} is merged and approved already.\n"
    )
    hook_closed(w, follow_number)  # the closed event again: nothing more
    assert len(comments_marked(w, follow_number, FOLLOW_UP_MARK)) == 1


# -- a rollback ---------------------------------------------------------------------------


def test_a_rollback_on_github_from_request_to_deploy(gh_world: GitHubWorld) -> None:
    w, fake = gh_world, gh_world.fake
    require_policy_status(w)
    set_deployed(w, "release_3")
    fake.teams[("alphagov", "on-call")].members["erin"] = "member"  # on call, nothing else
    release_1, release_3 = w.tags["release_1"], w.tags["release_3"]
    app_git = fake.repo(APP_REPO).git.path

    data = open_request(w, "release_1", "--rollback", "--reason", "release_3 breaks search")
    assert (data["kind"], data["emergency"], data["rollback"]) == ("rollback", False, True)
    number = data["pull_request"]["number"]
    pull = fake.pull(REQUESTS, number)
    assert pull.title == "Rollback frontend to release_1 (from release_3)"

    # The patch is the reverse diff, from the deployed release_3 back to release_1.
    reverse = git_bytes(app_git, "diff", "--binary", "--full-index", release_3, release_1)
    assert b"deleted file mode" in reverse  # lib/2.rb and lib/3.rb go
    committed = git_bytes(
        fake.repo(REQUESTS).git.path, "show", f"{pull.head_sha}:{data['patch_file']}"
    )
    assert committed == reverse
    assert data["patch_sha256"] == hashlib.sha256(reverse).hexdigest()
    document = on_branch(w, pull.head_ref, data["request_file"])
    assert document["rollback"] is True and "emergency" not in document
    assert (document["from"], document["to"]) == (
        {"tag": "release_3", "commit": release_3}, {"tag": "release_1", "commit": release_1},
    )  # fmt: skip
    assert document["patch"]["sha256"] == data["patch_sha256"]
    assert document["patch"]["commits"] == 2

    # The check: ancestry the other way round; erin, on call only, meets the rollback rule.
    hook_opened(w, number)
    assert {"deployers", "on-call"} <= set(pull.requested_teams)
    result, checked = check_on_open(w, number, "check-rollback-opened")
    assert (result.exit_code, checked["outcome"]) == (1, "pending"), checked
    assert [c["name"] for c in checked["checks"] if not c["ok"]] == []
    assert check_named(checked, "ancestry") == {
        "name": "ancestry", "ok": True,
        "message": f"a rollback: the deployed {release_3[:12]} descends from release_1",
    }  # fmt: skip
    review(w, number, "erin")
    result, checked = check_on_review(w, "check-rollback-erin")
    assert (result.exit_code, checked["outcome"], checked["summary"]) == (
        0, "met", "Approved by erin",
    ), checked  # fmt: skip
    merge(w, number)

    # The usual slot, from the merge; the mail and the gateway say ROLLBACK.
    _, hooked = hook_closed(w, number)
    record = hooked["approval"]
    assert (record["kind"], record["rollback"], record["emergency"]) == ("rollback", True, False)
    merged = fake.pull(REQUESTS, number).merged_at
    assert merged is not None
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    assert (record["slot"]["start"], record["slot"]["end"]) == (
        merged.strftime(stamp), (merged + timedelta(hours=2)).strftime(stamp),
    )  # fmt: skip
    assert subject(mails(w)[-1]) == "[frontend] ROLLBACK Approved: your deploy link for release_1"
    pulls_before = len(fake.repo(REQUESTS).pulls)
    confirm, progress = deploy(gateway_app(w), minted_link(w), 1)
    assert "<h1>Deploy frontend (ROLLBACK)?</h1>" in confirm
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(w) == release_1
    assert (w.root / "deploys.txt").read_text() == "frontend release_1\n"
    assert len(fake.repo(REQUESTS).pulls) == pulls_before  # no follow-up for a rollback
    assert not any("follow-up" in line["line"] for line in progress["lines"])
    tags = json.loads(w.bs("tags", "frontend", "--json").stdout)
    assert tags["deployed"] == {"tag": "release_1", "commit": release_1}
