"""Rollbacks end to end on the local forge: `bs open-request --rollback` back to an older
release, the reverse diff, the policy's rollback rule, and the deploy that moves the
deployed version back; and every way of asking for one that is not a rollback.

The world (tests/emergencyhelpers.py): frontend with release_1 < release_2 < release_3
on main and release_4 on a maintenance branch off release_1. erin is made a member of
the on-call team alone: the rollback rule counts her approval, the normal one would not.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.checkhelpers import (
    FRONTEND,
    REQUESTS,
    check,
    check_named,
    edit_request,
    expect,
    failed_checks,
    forge,
    ignored,
    replace_once,
    rule,
)
from tests.conftest import World, git, git_bytes
from tests.emergencyhelpers import (
    ALICE,
    Releases,
    as_minted,
    build_frontend,
    deploy_via_gateway,
    deployed_commit,
    gateway_as,
    merge_approved,
    merged_request,
    mint,
    new_keys,
    open_as,
    request_branches,
    request_document,
    set_teams,
    subject,
)
from tests.gatewaytesthelpers import wait_mail
from tests.hookhelpers import (
    BOT,
    LINK,
    REVIEW_LIST,
    events_of,
    hook,
    merged_at,
    outbox,
    pull,
    recipients,
    set_users,
    text_of,
)

REASON = "release_2 breaks search"


def expect_pending(world: World, number: int) -> Any:
    """`bs check`: pending, exit 1 (the summary's wording is tested on its own below)."""
    result, data = check(world, number)
    assert (data["outcome"], result.exit_code) == ("pending", 1), data
    return data


def with_erin_on_call(world: World) -> None:
    set_users(world, erin="erin@example.gov.uk")
    set_teams(world, on_call=["carol", "erin"])


# -- the whole flow --------------------------------------------------------------------


def test_a_rollback_from_request_to_deploy(world: World, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, deployed="release_3", runs=runs)
    with_erin_on_call(world)
    app_bare = world.app_bare(FRONTEND)

    opened, data = open_as(world, "release_1", "--rollback", "--reason", REASON)
    assert (data["kind"], data["emergency"], data["rollback"]) == ("rollback", False, True)

    # The patch is the reverse diff, from the deployed release_3 back to release_1.
    reverse = git_bytes(
        app_bare, "diff", "--binary", "--full-index", releases.release_3, releases.release_1
    )
    branch = f"request/frontend/{opened.request_id}"
    committed = git_bytes(world.requests_bare, "show", f"{branch}:{opened.patch_file}")
    assert committed == reverse
    assert b"deleted file mode" in reverse  # what release_2 and release_3 added goes
    assert data["patch_sha256"] == hashlib.sha256(reverse).hexdigest()
    document = request_document(forge(world), branch, opened.request_file)
    assert document["rollback"] is True and "emergency" not in document
    assert document["from"] == {"tag": "release_3", "commit": releases.release_3}
    assert document["to"] == {"tag": "release_1", "commit": releases.release_1}
    assert document["patch"]["sha256"] == data["patch_sha256"]
    taken_out = git(app_bare, "rev-list", "--count", releases.release_3, f"^{releases.release_1}")
    assert document["patch"]["commits"] == int(taken_out) == 2

    found = pull(world, opened.number)
    assert found.title == "Rollback frontend to release_1 (from release_3)"
    assert found.body.startswith("> [!WARNING]\n> ROLLBACK: back to an older release.")
    assert "**alice** asks to roll back **frontend** to production." in found.body
    assert "2 commits undone, " in found.body
    commits_listed = found.body.split("<summary>Commits taken out</summary>")[1]
    assert "three (Test)" in commits_listed and "two (Test)" in commits_listed

    # The review list hears it is a rollback; the rollback rule's people are asked.
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    (review_mail,) = outbox(world)
    assert recipients(review_mail) == [REVIEW_LIST]
    assert subject(review_mail) == (
        f"[frontend] ROLLBACK request #{opened.number}: release_3 -> release_1 by alice"
    )
    assert "*** ROLLBACK: back to an older release." in text_of(review_mail)
    (asked,) = events_of(world, opened.number, "review_requested")
    assert {"alphagov/deployers", "alphagov/on-call"} <= set(asked["teams"])

    # The check: ancestry the other way round; erin, on call only, may approve a rollback.
    data = expect_pending(world, opened.number)
    assert check_named(data, "ancestry") == {
        "name": "ancestry", "ok": True,
        "message": f"a rollback: the deployed {releases.release_3[:12]} descends from release_1",
    }  # fmt: skip
    assert failed_checks(data) == []
    forge(world, "dave").submit_review(REQUESTS, opened.number, "APPROVED", "Fine by me")
    data = expect_pending(world, opened.number)
    assert ignored(data, "on-call approval") == [("dave", "not in alphagov/on-call")]
    merge_approved(world, opened.number, "erin")

    # The merge mints a link for the usual slot; the mail says ROLLBACK.
    keys = new_keys()
    token, hooked = mint(world, opened.number, keys)
    record = hooked["approval"]
    assert (record["kind"], record["emergency"], record["rollback"]) == ("rollback", False, True)
    assert [a["user"] for a in record["approvers"]] == ["erin"]
    merged = merged_at(world, opened.number).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["slot"]["start"] == merged
    assert (
        subject(outbox(world)[-1]) == "[frontend] ROLLBACK Approved: your deploy link for release_1"
    )

    # Deployed: the deployed version goes back to release_1, and no follow-up is opened.
    made = as_minted(world, opened.number, token, keys, runs, releases.release_1)
    app = gateway_as(made, BOT)
    confirm, progress = deploy_via_gateway(app, made)
    assert "<h1>Deploy frontend (ROLLBACK)?</h1>" in confirm
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(world) == releases.release_1
    assert runs.read_text() == f"frontend release_1 {releases.release_1}\n"
    mail = wait_mail(made, "[frontend] ROLLBACK Deployed: release_1")
    assert sorted(recipients(mail)) == [ALICE, "erin@example.gov.uk"]
    assert "*** A rollback to an older release." in text_of(mail)
    assert forge(world).list_pull_requests(REQUESTS, "open") == []
    assert not any("follow-up" in line["line"] for line in progress["lines"])

    # What is deployed is release_1 now: release_2 and release_3 are newer again.
    tags = json.loads(world.bs("tags", "frontend", "--json").stdout)
    assert tags["deployed"] == {"tag": "release_1", "commit": releases.release_1}
    newer = {t["tag"]: t["newer"] for t in tags["tags"]}
    assert (newer["release_2"], newer["release_3"]) == (True, True)
    again = world.bs("open-request", "frontend", "release_3", "--dry-run", "--json")
    assert again.exit_code == 0, again.output
    assert merged_request(forge(world), "frontend", opened.request_id).rollback is True


@pytest.mark.parametrize("approver", ["bob", "carol"])
def test_a_deployer_or_the_engineer_on_call_meets_the_rollback_rule(
    world: World, approver: str
) -> None:
    build_frontend(world, deployed="release_3")
    opened, _ = open_as(world, "release_2", "--rollback")
    forge(world, approver).submit_review(REQUESTS, opened.number, "APPROVED", "Go back")
    data = expect(world, opened.number, "met", 0, f"Approved by {approver}")
    assert check_named(data, "ancestry")["ok"] is True


def _migration_rollback(world: World) -> int:
    """release_5 (deployed) adds a migration after release_3; a rollback to release_3."""
    releases = build_frontend(world, deployed="release_1")
    releases.work.write("db/migrate/20261125_add_orders.rb", "create_table :orders\n")
    releases.work.commit("migrate")
    releases.work.tag("release_5")
    releases.work.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_5")
    opened, _ = open_as(world, "release_3", "--rollback")
    return opened.number


def test_a_rollback_that_undoes_a_migration_still_needs_a_dba(world: World) -> None:
    number = _migration_rollback(world)
    forge(world, "bob").submit_review(REQUESTS, number, "APPROVED", "Go back")
    data = expect_pending(world, number)
    assert rule(data, "deployer approval")["status"] == "satisfied"
    assert rule(data, "database migrations")["status"] == "pending"
    forge(world, "dave").submit_review(REQUESTS, number, "APPROVED", "Drop it")
    expect(world, number, "met", 0, "Approved by bob, dave")


def test_the_summary_names_only_what_is_still_missing(world: World) -> None:
    number = _migration_rollback(world)
    forge(world, "bob").submit_review(REQUESTS, number, "APPROVED", "Go back")
    expect(
        world, number, "pending", 1,
        "Needs 1 more approval from alphagov/dba: db/migrate/20261125_add_orders.rb changed",
    )  # fmt: skip


def test_the_summary_of_a_pending_any_of_offers_the_alternatives(world: World) -> None:
    build_frontend(world, deployed="release_3")
    opened, _ = open_as(world, "release_1", "--rollback")
    summary = expect_pending(world, opened.number)["summary"]
    assert "alphagov/deployers" in summary and "alphagov/on-call" in summary, summary
    assert "more rule" not in summary, summary


def test_an_emergency_rollback_says_both_and_its_follow_up_checks_it_as_a_rollback(
    world: World, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, deployed="release_3", runs=runs)
    opened, data = open_as(world, "release_1", "--rollback", "--emergency", "-r", REASON)
    assert (data["kind"], data["emergency"], data["rollback"]) == ("emergency", True, True)
    found = pull(world, opened.number)
    assert found.title == "EMERGENCY rollback frontend to release_1 (from release_3)"
    assert "EMERGENCY (break-glass)" in found.body and "ROLLBACK: back to" in found.body
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    assert subject(outbox(world)[-1]) == (
        f"[frontend] EMERGENCY ROLLBACK request #{opened.number}: release_3 -> release_1 by alice"
    )
    # The emergency's rule: on call alone, a deployer is not enough.
    forge(world, "bob").submit_review(REQUESTS, opened.number, "APPROVED", "Go back")
    expect(world, opened.number, "pending", 1, "Needs 1 more approval from alphagov/on-call")
    merge_approved(world, opened.number, "carol")
    keys = new_keys()
    token, hooked = mint(world, opened.number, keys)
    slot = hooked["approval"]["slot"]
    merged = merged_at(world, opened.number)
    assert (slot["start"], slot["end"]) == (
        merged.strftime("%Y-%m-%dT%H:%M:%SZ"),
        (merged + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    made = as_minted(world, opened.number, token, keys, runs, releases.release_1)
    confirm, progress = deploy_via_gateway(gateway_as(made, BOT), made)
    assert "<h1>Deploy frontend (EMERGENCY ROLLBACK)?</h1>" in confirm
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(world) == releases.release_1
    wait_mail(made, "[frontend] EMERGENCY ROLLBACK Deployed: release_1")

    # Its follow-up is still a rollback: ancestry the other way round, the normal rules.
    (follow,) = forge(world).list_pull_requests(REQUESTS, "open")
    assert follow.title.startswith("Follow-up review: ")
    follow_id = follow.head_ref.removeprefix("request/frontend/")
    document = request_document(
        forge(world), follow.head_ref, f"requests/frontend/{follow_id}.yaml"
    )
    assert (document["rollback"], document["follow_up_of"]) == (True, opened.request_id)
    data = expect(
        world, follow.number, "pending", 1, "Needs 1 more approval from alphagov/deployers"
    )
    assert failed_checks(data) == []
    assert check_named(data, "ancestry")["message"] == (
        f"a rollback: the deployed {releases.release_3[:12]} descends from release_1"
    )


# -- refusals ---------------------------------------------------------------------------


def _refused(world: World, tag: str, *flags: str) -> str:
    result = world.bs("open-request", "frontend", tag, *flags)
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("bs: error: frontend: ") and result.stderr.count("\n") == 1
    assert request_branches(world) == []
    assert forge(world).list_pull_requests(REQUESTS, "open") == []
    return result.stderr.removeprefix("bs: error: ").rstrip("\n")


def test_a_rollback_with_nothing_deployed_is_refused(world: World) -> None:
    build_frontend(world, deployed=None)
    assert _refused(world, "release_1", "--rollback") == (
        "frontend: nothing is deployed, so there is nothing to roll back. "
        "Ask for release_1 without --rollback."
    )


def test_a_rollback_to_what_is_deployed_is_refused(world: World) -> None:
    releases = build_frontend(world, deployed="release_3")
    assert _refused(world, "release_3", "--rollback") == (
        f"frontend: release_3 ({releases.release_3[:12]}) is what is deployed now: nothing to "
        "roll back. Ask for an older tag (see `bs tags frontend`)."
    )


def _not_in_history(releases: Releases, tag: str, deployed: str) -> str:
    commit = {"release_3": releases.release_3, "release_4": releases.forked}[tag]
    return (
        f"frontend: {tag} ({commit[:12]}) is not in the history of the deployed {deployed}: "
        "a rollback goes back to an earlier release. If it is newer, ask without --rollback."
    )


def test_a_rollback_to_a_newer_tag_is_refused(world: World) -> None:
    releases = build_frontend(world, deployed="release_2")
    message = _refused(world, "release_3", "--rollback")
    assert message == _not_in_history(
        releases, "release_3", f"release_2 ({releases.release_2[:12]})"
    )


def test_a_rollback_to_a_tag_on_another_branch_is_refused(world: World) -> None:
    releases = build_frontend(world, deployed="release_3")
    message = _refused(world, "release_4", "--rollback")
    assert message == _not_in_history(
        releases, "release_4", f"release_3 ({releases.release_3[:12]})"
    )


def test_a_rollback_to_a_tag_later_in_the_scheme_is_refused(world: World) -> None:
    """release_9 points at release_2's commit, which the deployed release_3 descends from:
    in the history, but after release_3 in the scheme, so not a rollback."""
    releases = build_frontend(world, deployed="release_3")
    releases.work.tag("release_9", rev=releases.release_2)
    releases.work.push_to(world.app_bare(FRONTEND))
    message = _refused(world, "release_9", "--rollback")
    assert message.startswith(
        "frontend: release_9 does not come before the deployed release_3 in the tag scheme"
    )
    assert message.endswith("although the deployed commit descends from it: it is not a rollback.")


def test_an_older_tag_without_rollback_is_refused_suggesting_it(world: World) -> None:
    build_frontend(world, deployed="release_3")
    message = _refused(world, "release_1")
    assert "release_1" in message and "release_3" in message
    assert message.endswith("or, to go back to it, add --rollback.")


def test_a_rollback_request_made_a_release_by_hand_fails_the_ancestry_check(
    world: World,
) -> None:
    """alice removes `rollback: true` from her request: a release from release_3 to the
    older release_1 is no release at all, and the check says so."""
    releases = build_frontend(world, deployed="release_3")
    opened, _ = open_as(world, "release_1", "--rollback")
    assert check(world, opened.number)[1]["outcome"] == "pending"
    edit_request(world, opened, replace_once("rollback: true\n", ""))
    _, data = check(world, opened.number)
    assert (data["outcome"], data["exit_code"]) == ("failed", 2)
    assert "ancestry" in failed_checks(data)
    assert check_named(data, "ancestry")["message"] == (
        f"release_1 does not descend from the deployed {releases.release_3[:12]}: it is not newer"
    )
    # Merged anyway, by an admin: the merge hook mints nothing.
    assert world.bs("merge", str(opened.number), "--admin", user="bob").exit_code == 0
    closed = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": new_keys()})
    assert closed.exit_code == 2, closed.output
    assert not any(LINK.search(text_of(message)) for message in outbox(world))
