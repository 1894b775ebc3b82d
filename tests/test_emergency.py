"""Emergencies end to end on the local forge: `bs open-request --emergency`, the on-call
approval, the short slot no freeze holds back, the deploy through the gateway, and the
follow-up request that then needs the normal rules and whose merge mints nothing.

The world (tests/emergencyhelpers.py): frontend with release_1 < release_2 < release_3,
release_2 deployed; carol is on call (and a deployer), bob a deployer only. In the first
test alice is made a deployer too, so that her approval of her own emergency's
follow-up would count were she not its requester.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bs.core.ids import REQUEST_ID_RANDOM_BYTES, new_request_id
from bs.core.links import DEPLOY_LINK, parse_keys, verify_link_token
from bs.core.request import ReleaseRequest
from bs.core.slots import deploy_slot
from bs.policyfiles import Policies, WorkingTree
from bs.usecases.follow_up import follow_up_id, follow_up_request
from tests.checkhelpers import (
    FRONTEND,
    REQUESTS,
    check,
    check_named,
    expect,
    failed_checks,
    forge,
    ignored,
)
from tests.conftest import World, git_bytes
from tests.emergencyhelpers import (
    ALICE,
    REASON,
    as_minted,
    build_frontend,
    deploy_via_gateway,
    deployed_commit,
    freeze_ends,
    gateway_as,
    merge_approved,
    merged_request,
    mint,
    mint_by_hand,
    new_keys,
    open_as,
    open_hand_made,
    policy_frozen_now,
    policy_without_emergency,
    request_branches,
    request_document,
    set_teams,
    subject,
)
from tests.gatewayhelpers import csrf_of, sign_in
from tests.gatewaytesthelpers import deployment_count, wait_mail
from tests.hookhelpers import (
    APPROVAL_MARK,
    BOT,
    LINK,
    REVIEW_LIST,
    comments_marked,
    events_of,
    hook,
    merged_at,
    now,
    outbox,
    pull,
    recipients,
    text_of,
    whole,
)

FOLLOW_UP_MARK = "<!-- bs:follow-up-approved -->"
NEEDS_ON_CALL = "Needs 1 more approval from alphagov/on-call"
NEEDS_DEPLOYER = "Needs 1 more approval from alphagov/deployers"


def link_tokens(world: World) -> list[str]:
    return [token for message in outbox(world) for token in LINK.findall(whole(message))]


# -- the whole flow --------------------------------------------------------------------


def test_an_emergency_from_request_to_deploy_and_its_follow_up_review(
    world: World, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    started = now()  # the freeze is around this day, whenever the test ends
    releases = build_frontend(world, policy=policy_frozen_now(started), runs=runs)
    set_teams(world, deployers=["alice", "bob", "carol"])

    # alice asks, in an emergency.
    opened, data = open_as(world, "release_3", "--emergency", "--reason", REASON)
    assert (data["kind"], data["emergency"], data["rollback"]) == ("emergency", True, False)
    emergency_id = opened.request_id
    branch = f"request/frontend/{emergency_id}"
    document = request_document(forge(world), branch, opened.request_file)
    assert (document["emergency"], document["reason"]) == (True, REASON)
    assert "rollback" not in document and "follow_up_of" not in document
    found = pull(world, opened.number)
    assert found.title == "EMERGENCY release frontend release_3 (from release_2)"
    assert found.body.startswith("> [!WARNING]\n> EMERGENCY (break-glass): ")
    assert REASON in found.body

    # The review list is told it is an emergency; only the on-call team is asked.
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    (review_mail,) = outbox(world)
    assert recipients(review_mail) == [REVIEW_LIST]
    assert subject(review_mail) == (
        f"[frontend] EMERGENCY request #{opened.number}: release_2 -> release_3 by alice"
    )
    assert "*** EMERGENCY (break-glass): the policy's emergency rule applies" in text_of(
        review_mail
    )
    (asked,) = events_of(world, opened.number, "review_requested")
    assert (asked["users"], asked["teams"]) == ([], ["alphagov/on-call"])

    # Pending until the engineer on call approves: a deployer is not enough.
    expect(world, opened.number, "pending", 1, NEEDS_ON_CALL)
    forge(world, "bob").submit_review(REQUESTS, opened.number, "APPROVED", "Go")
    data = expect(world, opened.number, "pending", 1, NEEDS_ON_CALL)
    assert ignored(data, "on-call approval") == [("bob", "not in alphagov/on-call")]
    assert world.bs("merge", str(opened.number), user="bob").exit_code != 0
    merge_approved(world, opened.number, "carol")

    # The merge mints a link for 30 minutes from the merge, freeze or no freeze.
    keys = new_keys()
    token, hooked = mint(world, opened.number, keys)
    merged = merged_at(world, opened.number)
    record = hooked["approval"]
    assert (record["kind"], record["emergency"], record["rollback"]) == ("emergency", True, False)
    claims = verify_link_token(token, parse_keys(keys, "keys"), purpose=DEPLOY_LINK, now=now())
    assert (claims.not_before, claims.expires) == (merged, merged + timedelta(minutes=30))
    policy = Policies(WorkingTree(world.checkout)).policy("standard")  # as published
    normal = deploy_slot(merged, policy.schedule_for("release"))
    assert normal.start == freeze_ends(started) > merged + timedelta(hours=1)  # a release waits
    approved_mail = outbox(world)[-1]
    assert subject(approved_mail) == "[frontend] EMERGENCY Approved: your deploy link for release_3"
    assert (
        "| Approved by | carol (" in comments_marked(world, opened.number, APPROVAL_MARK)[0]["body"]
    )

    # Deployed through the gateway, which opens the follow-up as its own forge user.
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    app = gateway_as(made, BOT)
    confirm, progress = deploy_via_gateway(app, made)
    assert "<h1>Deploy frontend (EMERGENCY)?</h1>" in confirm
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(world) == releases.release_3
    assert runs.read_text() == f"frontend release_3 {releases.release_3}\n"
    stored = app.extensions["bs"].deployments.get(1)
    assert (stored.state, stored.record["emergency"], stored.record["kind"]) == (
        "succeeded", True, "emergency",
    )  # fmt: skip
    follow_number = opened.number + 1
    follow = pull(world, follow_number)
    opened_line = (
        "EMERGENCY: follow-up review opened, under the normal rules: pull request "
        f"#{follow_number} {follow.url}"
    )
    assert opened_line in [line["line"] for line in progress["lines"]]
    deployed_mail = wait_mail(made, "[frontend] EMERGENCY Deployed: release_3")
    # The review list hears of an emergency's outcome too.
    assert sorted(recipients(deployed_mail)) == [ALICE, "carol@example.gov.uk", REVIEW_LIST]
    assert opened_line in text_of(deployed_mail).replace("\n", " ")

    # The follow-up: the same release, marked follow_up_of, opened by the bot.
    emergency = merged_request(forge(world), "frontend", emergency_id)
    follow_id = follow_up_id(emergency)
    assert (
        follow.title == "Follow-up review: emergency release of frontend release_3 (from release_2)"
    )
    assert (follow.author, follow.head_ref, follow.state) == (
        BOT, f"request/frontend/{follow_id}", "open",
    )  # fmt: skip
    assert (
        f"Follow-up review of emergency request `{emergency_id}` (#{opened.number})" in follow.body
    )
    follow_doc = request_document(
        forge(world), follow.head_ref, f"requests/frontend/{follow_id}.yaml"
    )
    assert follow_doc["follow_up_of"] == emergency_id
    assert "emergency" not in follow_doc
    emergency_doc = request_document(forge(world), "main", opened.request_file)
    for key in ("app", "requested_by", "from", "to", "reason"):
        assert follow_doc[key] == emergency_doc[key], key
    assert follow_doc["patch"] == emergency_doc["patch"] | {
        "file": f"requests/frontend/{follow_id}.patch"
    }
    assert git_bytes(
        world.requests_bare, "show", f"{follow.head_ref}:requests/frontend/{follow_id}.patch"
    ) == git_bytes(world.requests_bare, "show", f"main:{opened.patch_file}")

    # Asking for it again finds the open one.
    again = world.bs("follow-up", "frontend", emergency_id, user="alice")
    assert again.exit_code == 0, again.output
    assert again.stdout == f"Follow-up {follow_id} is open already: #{follow_number} {follow.url}\n"
    assert len(forge(world).list_pull_requests(REQUESTS, "open")) == 1

    # Its review mail says FOLLOW-UP; its check needs a deployer, never alice herself.
    assert hook(world, "opened", str(follow_number)).exit_code == 0
    assert subject(outbox(world)[-1]) == (
        f"[frontend] FOLLOW-UP request #{follow_number}: release_2 -> release_3 by alice"
    )
    (asked,) = events_of(world, follow_number, "review_requested")
    assert (asked["users"], asked["teams"]) == ([], ["alphagov/dba", "alphagov/deployers"])
    data = expect(world, follow_number, "pending", 1, NEEDS_DEPLOYER)
    assert check_named(data, "request") == {
        "name": "request", "ok": True,
        "message": f"follow-up {follow_id} reviews emergency request {emergency_id} by alice",
    }  # fmt: skip
    assert check_named(data, "deployed")["ok"] is True
    forge(world, "alice").submit_review(REQUESTS, follow_number, "APPROVED", "Mine")
    data = expect(world, follow_number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("alice", "the requester")]
    minted_before = link_tokens(world)
    merge_approved(world, follow_number, "bob")

    # Merged with the normal rules met: recorded, mailed, and nothing minted.
    closed = hook(world, "closed", str(follow_number), env={"BS_LINK_KEYS": keys})
    assert closed.exit_code == 0, closed.output
    assert closed.stdout.splitlines()[:2] == [
        f"Follow-up #{follow_number} approved: emergency request {emergency_id} of frontend is "
        "now reviewed (by bob).",
        "No deploy link minted: the release is out already.",
    ]
    (comment,) = comments_marked(world, follow_number, FOLLOW_UP_MARK)
    assert comment["user"] == BOT and "approved by bob" in comment["body"]
    assert comments_marked(world, follow_number, APPROVAL_MARK) == []
    reviewed_mail = outbox(world)[-1]
    assert sorted(recipients(reviewed_mail)) == [ALICE, REVIEW_LIST]
    assert subject(reviewed_mail) == (
        f"[frontend] FOLLOW-UP Reviewed: emergency {emergency_id} (release_3) approved after "
        "the fact"
    )
    assert "No deploy link comes with this" in text_of(reviewed_mail)
    assert link_tokens(world) == minted_before  # no new link anywhere
    assert deployed_commit(world) == releases.release_3

    done = world.bs("follow-up", "frontend", emergency_id, user="alice")
    assert done.exit_code == 0, done.output
    assert (
        done.stdout == f"Follow-up {follow_id} of {emergency_id} is merged and approved already.\n"
    )


def test_a_follow_up_the_gateway_could_not_open_is_opened_by_hand_and_never_deployed(
    world: World, tmp_path: Path
) -> None:
    """The gateway has no forge identity here, so it cannot open the follow-up: the log
    and the mail say how to. alice opens it with `bs follow-up`; once merged, a link for
    it (minted by hand) is refused by the gateway."""
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    merge_approved(world, opened.number, "carol")
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    app = gateway_as(made, None)
    _, progress = deploy_via_gateway(app, made)
    assert progress["state"] == "succeeded", progress
    assert deployed_commit(world) == releases.release_3
    by_hand = f"open it with `bs follow-up frontend {opened.request_id}`"
    (said,) = [line["line"] for line in progress["lines"] if "follow-up" in line["line"]]
    assert said.startswith("EMERGENCY: the follow-up review could not be opened (")
    assert said.endswith(by_hand)
    mail = wait_mail(made, "[frontend] EMERGENCY Deployed: release_3")
    assert by_hand in text_of(mail).replace("\n", " ")
    assert forge(world).list_pull_requests(REQUESTS, "open") == []

    result = world.bs("follow-up", "frontend", opened.request_id, "--json", user="alice")
    assert result.exit_code == 0, result.output
    said_json = json.loads(result.stdout)
    follow_number = said_json["pull_request"]["number"]
    emergency = merged_request(forge(world), "frontend", opened.request_id)
    assert said_json == {
        "app": "frontend", "emergency": opened.request_id, "follow_up": follow_up_id(emergency),
        "merged": False, "opened_now": True,
        "pull_request": {"number": follow_number, "url": pull(world, follow_number).url},
    }  # fmt: skip
    assert pull(world, follow_number).author == "alice"
    again = world.bs("follow-up", "frontend", opened.request_id, "--json", user="bob")
    assert json.loads(again.stdout)["opened_now"] is False
    assert json.loads(again.stdout)["pull_request"]["number"] == follow_number

    # alice opened it, so she could hold a link for it: the gateway refuses it anyway.
    merge_approved(world, follow_number, "bob")
    assert hook(world, "closed", str(follow_number), env={"BS_LINK_KEYS": keys}).exit_code == 0
    follow = merged_request(forge(world), "frontend", follow_up_id(emergency))
    forged = mint_by_hand(keys, follow, pull(world, follow_number), "alice", now())
    client = app.test_client()
    sign_in(client, "alice")
    page = client.get(f"/link/{forged}")
    refusal = f"pull request #{follow_number} is a follow-up review: it is never deployed"
    assert page.status_code == 409 and refusal in page.text
    deployments_before = deployment_count(app)
    confirmed = client.post(f"/link/{forged}", data={"csrf": csrf_of(page.text)})
    assert confirmed.status_code == 409 and refusal in confirmed.text
    assert deployment_count(app) == deployments_before
    assert runs.read_text().count("\n") == 1  # only the emergency itself


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "   "])
def test_an_emergency_without_a_reason_is_refused(world: World, reason: str | None) -> None:
    build_frontend(world)
    args = ["open-request", "frontend", "release_3", "--emergency"]
    result = world.bs(*args, *(["--reason", reason] if reason is not None else []))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "bs: error: an emergency request must say why: add --reason TEXT (what is broken, and "
        "why it cannot wait for the usual review).\n"
    )
    assert request_branches(world) == []
    assert forge(world).list_pull_requests(REQUESTS, "open") == []


def test_an_emergency_under_a_policy_without_an_emergency_section_is_refused(
    world: World,
) -> None:
    build_frontend(world, policy=policy_without_emergency())
    result = world.bs("open-request", "frontend", "release_3", "--emergency", "-r", REASON)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "bs: error: frontend's policy standard has no emergency: section, so it allows no "
        "emergency requests: ask without --emergency, or add one to policies/standard.yaml "
        '(see README.md, "Emergencies").\n'
    )
    assert request_branches(world) == []
    # Without --emergency the same release is asked for as usual.
    assert world.bs("open-request", "frontend", "release_3", user="alice").exit_code == 0


def test_a_hand_made_follow_up_that_differs_from_the_emergency_fails_the_request_check(
    world: World,
) -> None:
    """Follow-ups of the merged emergency release_1 -> release_3 that are consistent
    releases themselves, so that only the request check can tell: release_1 -> release_2;
    and release_1 -> release_6, a commit with release_3's tree, whose patch is the
    emergency's byte for byte."""
    releases = build_frontend(world, deployed="release_1")
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    merge_approved(world, opened.number, "carol")
    emergency = merged_request(forge(world), "frontend", opened.request_id)
    patch = git_bytes(world.requests_bare, "show", f"main:{opened.patch_file}")
    differs = (
        f"it does not describe emergency request {opened.request_id} (app, requester, from, to "
        "and patch digest must be the same): a follow-up reviews exactly what was deployed"
    )

    dry = world.bs("open-request", "frontend", "release_2", "--dry-run", "--json", user="alice")
    assert dry.exit_code == 0, dry.output
    dry_data = json.loads(dry.stdout)
    folder = Path(dry_data["dry_run_dir"])
    other = yaml.safe_load((folder / Path(dry_data["request_file"]).name).read_text())
    other["follow_up_of"] = opened.request_id
    made = open_hand_made(
        forge(world, BOT),
        ReleaseRequest.from_document(other),
        (folder / Path(dry_data["patch_file"]).name).read_bytes(),
    )
    _, data = check(world, made.number)
    assert failed_checks(data) == ["request"], data["checks"]
    assert check_named(data, "request")["message"] == differs
    assert (data["outcome"], data["exit_code"]) == ("failed", 2)

    releases.work.checkout(releases.release_3)
    same_tree = releases.work.commit("rebuild")  # empty: release_3's tree
    releases.work.tag("release_6")
    releases.work.push_to(world.app_bare(FRONTEND))
    request_id = new_request_id(now(), secrets.token_bytes(REQUEST_ID_RANDOM_BYTES))
    retagged = follow_up_request(
        emergency, f"requests/frontend/{request_id}.patch", now=now()
    ).model_copy(
        update={
            "id": request_id,
            "to": emergency.to.model_copy(update={"tag": "release_6", "commit": same_tree}),
            "patch": emergency.patch.model_copy(
                update={"file": f"requests/frontend/{request_id}.patch", "commits": 3}
            ),
        }
    )
    made = open_hand_made(forge(world, BOT), retagged, patch)
    _, data = check(world, made.number)
    assert failed_checks(data) == ["request"], data["checks"]
    assert check_named(data, "request")["message"] == differs

    # The emergency's own follow-up, made the same way, passes.
    follow = follow_up_request(
        emergency, f"requests/frontend/{follow_up_id(emergency)}.patch", now=now()
    )
    right = open_hand_made(forge(world, BOT), follow, patch)
    _, data = check(world, right.number)
    assert failed_checks(data) == [], data["checks"]
    assert data["summary"] == NEEDS_DEPLOYER


def test_a_follow_up_of_a_request_that_is_no_emergency_fails(world: World) -> None:
    build_frontend(world)
    opened, _ = open_as(world, "release_3", "--reason", "A normal release")
    merge_approved(world, opened.number, "bob")
    normal = merged_request(forge(world), "frontend", opened.request_id)
    refused = world.bs("follow-up", "frontend", opened.request_id, user="alice")
    assert refused.exit_code == 1, refused.output
    assert refused.stderr == (
        f"bs: error: request {opened.request_id} is not an emergency: there is nothing to "
        "follow up.\n"
    )
    patch = git_bytes(world.requests_bare, "show", f"main:{opened.patch_file}")
    follow = follow_up_request(normal, f"requests/frontend/{follow_up_id(normal)}.patch", now=now())
    made = open_hand_made(forge(world, BOT), follow, patch)
    _, data = check(world, made.number)
    assert failed_checks(data) == ["request"], data["checks"]
    assert check_named(data, "request")["message"] == (
        f"request {opened.request_id} is not an emergency: only emergencies are followed up"
    )


def test_a_follow_up_of_an_emergency_not_merged_fails(world: World) -> None:
    build_frontend(world)
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    refused = world.bs("follow-up", "frontend", opened.request_id, user="alice")
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.startswith(
        f"bs: error: request {opened.request_id} of frontend is not on {REQUESTS}'s default branch"
    )
    assert len(forge(world).list_pull_requests(REQUESTS, "open")) == 1


def test_the_emergency_json_says_its_kind_and_a_dry_run_pushes_nothing(world: World) -> None:
    build_frontend(world)
    args = ["open-request", "frontend", "release_3", "--emergency", "-r", REASON, "--json"]
    dry = json.loads(world.bs(*args, "--dry-run").stdout)
    assert (dry["kind"], dry["emergency"], dry["rollback"], dry["pull_request"]) == (
        "emergency", True, False, None,
    )  # fmt: skip
    assert request_branches(world) == []
    text = world.bs(*args[:-1])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("Emergency release request ")
    assert "release_2 -> release_3" in text.stdout.splitlines()[0]


def test_a_follow_up_merged_without_approval_tells_the_requester_and_a_new_one_can_be_opened(
    world: World, tmp_path: Path
) -> None:
    """An admin merges the follow-up past its check: the merge hook refuses it and tells
    alice (who asked for the emergency, not bs who opened the follow-up); the emergency
    stays unreviewed, and `bs follow-up` opens a second follow-up under a new id."""
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    merge_approved(world, opened.number, "carol")
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    _, progress = deploy_via_gateway(gateway_as(made, BOT), made)
    assert progress["state"] == "succeeded", progress
    first = opened.number + 1
    assert pull(world, first).author == BOT

    assert world.bs("merge", str(first), "--admin", user="bob").exit_code == 0
    refused = hook(world, "closed", str(first))
    assert refused.exit_code == 2, refused.output
    told = outbox(world)[-1]
    assert ALICE in recipients(told) and "releases@" not in " ".join(recipients(told))

    emergency = merged_request(forge(world), "frontend", opened.request_id)
    again = world.bs("follow-up", "frontend", opened.request_id, "--json", user="alice")
    assert again.exit_code == 0, again.output
    said = json.loads(again.stdout)
    assert (said["opened_now"], said["merged"]) == (True, False)
    assert said["follow_up"] == follow_up_id(emergency, 2) != follow_up_id(emergency)
    second = said["pull_request"]["number"]
    assert second != first
    # Reviewed this time: the emergency is reviewed, and no third one is opened.
    merge_approved(world, second, "bob")
    assert hook(world, "closed", str(second)).exit_code == 0
    done = world.bs("follow-up", "frontend", opened.request_id, "--json", user="alice")
    assert json.loads(done.stdout)["merged"] is True
