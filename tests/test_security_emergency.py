"""Security review of emergencies, rollbacks and follow-ups, as a developer-attacker.

The attacker may open requests, push to their branch, open pull requests by hand with
any files, edit a request's YAML, and approve others' requests when in a team; or is a
reviewer in one team only. Each test under "findings" reproduces a problem found and
fixed since; the other tests are properties checked that hold, kept as guards.

The world (tests/emergencyhelpers.py): frontend with release_1 < release_2 < release_3,
release_2 deployed; alice requests; bob is a deployer; carol is on call and a deployer;
dave is a DBA. Some tests make dave the only engineer on call, so that an approval under
the emergency rule is not also one under the normal rule.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bs.core.links import DEPLOY_LINK, parse_keys, verify_link_token
from bs.core.policy import Policy
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, request_branch, request_file_path
from bs.errors import BsError
from bs.forges.local import LocalForge
from bs.usecases.follow_up import follow_up_id, follow_up_request, open_follow_up
from bs.workspace import Workspace
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
)
from tests.conftest import STANDARD_POLICY, World, git, git_bytes
from tests.emergencyhelpers import (
    REASON,
    as_minted,
    build_frontend,
    deploy_via_gateway,
    freeze_ends,
    gateway_as,
    merge_approved,
    merged_request,
    mint,
    new_keys,
    open_as,
    open_hand_made,
    policy_frozen_now,
    set_teams,
)
from tests.gatewayhelpers import set_deploy, sign_in
from tests.hookhelpers import (
    BOT,
    LINK,
    hook,
    html_of,
    move_tag,
    now,
    outbox,
    pull,
    set_merged_at,
    whole,
)

NEEDS_ON_CALL = "Needs 1 more approval from alphagov/on-call"
NEEDS_DEPLOYER = "Needs 1 more approval from alphagov/deployers"
_EMERGENCY = "emergency:\n  approval: on-call approval\n  slot: 30m\n  review_within: 2d\n"
_DISAPPROVAL = "disapproval:\n  teams: [alphagov/deployers, alphagov/dba]\n"
_DEPLOYER_RULE = "    requires:\n      count: 1\n      teams: [alphagov/deployers]\n"


# -- policies ----------------------------------------------------------------------------


def without(text: str, section: str) -> str:
    assert text.count(section) == 1, section
    return text.replace(section, "")


def policy_allowing_author() -> str:
    """The standard policy whose deployer rule counts the requester's own approval: on a
    release the forge never lets the author approve their own pull request anyway."""
    assert STANDARD_POLICY.count(_DEPLOYER_RULE) == 1
    return STANDARD_POLICY.replace(
        _DEPLOYER_RULE, _DEPLOYER_RULE + "    options: {allow_author: true}\n"
    )


def publish(world: World, text: str) -> None:
    (world.checkout / "policies" / "standard.yaml").write_text(text)
    world.publish()


def rejections(data: Any) -> list[str]:
    return [r["user"] for r in data["policy"]["rejections"]]


def links_sent(world: World) -> list[str]:
    return [token for message in outbox(world) for token in LINK.findall(whole(message))]


def merged_emergency(world: World, *, on_call: str = "carol") -> tuple[Any, ReleaseRequest]:
    """alice's emergency release_2 -> release_3, approved by `on_call` and merged."""
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    merge_approved(world, opened.number, on_call)
    return opened, merged_request(forge(world), "frontend", opened.request_id)


def follow_up_by(world: World, emergency_id: str, user: str) -> Any:
    """`bs follow-up frontend ID --json` as `user`."""
    result = world.bs("follow-up", "frontend", emergency_id, "--json", user=user)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- findings ------------------------------------------------------------------------------


def test_a_deployers_rejection_of_an_emergency_is_heard_without_a_disapproval_section(
    world: World,
) -> None:
    build_frontend(world, policy=without(STANDARD_POLICY, _DISAPPROVAL))
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    forge(world, "bob").submit_review(REQUESTS, opened.number, "CHANGES_REQUESTED", "Not this")
    _, data = check(world, opened.number)
    assert data["outcome"] == "rejected", data["summary"]
    assert rejections(data) == ["bob"]


@pytest.mark.parametrize("kind", ["release", "emergency"])
def test_without_disapproval_everyone_any_rule_counts_may_reject(kind: str) -> None:
    policy = Policy.model_validate(yaml.safe_load(without(STANDARD_POLICY, _DISAPPROVAL)))
    every_team = {"alphagov/deployers", "alphagov/dba", "alphagov/on-call"}
    assert set(policy.approvers().teams) == every_team
    assert set(policy.disapprovers(kind).teams) == every_team  # type: ignore[arg-type]


def test_the_emergency_requester_never_counts_on_the_follow_up_even_with_allow_author(
    world: World,
) -> None:
    build_frontend(world, policy=policy_allowing_author())
    set_teams(world, deployers=["alice", "bob", "carol"])
    opened, _ = merged_emergency(world)
    follow = follow_up_by(world, opened.request_id, BOT)
    number = follow["pull_request"]["number"]
    assert pull(world, number).author == BOT
    forge(world, "alice").submit_review(REQUESTS, number, "APPROVED", "My own emergency: fine")
    data = expect(world, number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("alice", "the requester")]


def tag_moving_deploy(world: World, runs: Path, tag: str, target: str) -> dict[str, Any]:
    """A deploy command that succeeds, moving the app's `tag` to `target` while it runs
    (as a requester with tag rights would, to ship something else)."""
    script = runs.parent / "move_tag_deploy.py"
    script.write_text(
        "import subprocess, sys\n"
        "bare, tag, target, runs = sys.argv[1:5]\n"
        "subprocess.run(['git', '-C', bare, 'tag', '-f', tag, target], check=True)\n"
        "open(runs, 'a').write('deployed\\n')\n"
    )
    bare = str(world.app_bare(FRONTEND))
    return {"kind": "command", "argv": [sys.executable, str(script), bare, tag, target, str(runs)]}


def test_an_emergency_whose_tag_moves_while_deploying_still_needs_its_follow_up(
    world: World, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, emergency = merged_emergency(world)
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    set_deploy(world, tag_moving_deploy(world, runs, "release_3", releases.release_1))
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    _, progress = deploy_via_gateway(gateway_as(made, BOT), made)
    assert runs.read_text() == "deployed\n"  # the deployer ran to the end
    assert "moved" in progress["summary"], progress
    follow_branch = request_branch("frontend", follow_up_id(emergency))
    opened_pulls = forge(world).list_pull_requests(REQUESTS, "open")
    assert [p.head_ref for p in opened_pulls] == [follow_branch]
    audited = world.bs("audit", "--json", user=BOT)
    assert audited.exit_code in (0, 4), audited.output
    data = json.loads(audited.stdout)
    (entry,) = [e for e in data["entries"] if e["request"] == opened.request_id]
    assert entry["deployment"] is not None  # the audit sees the gateway's deployment
    awaiting = [f for f in data["findings"] + data["notices"] if f["request"] == opened.request_id]
    assert [f["kind"] for f in awaiting] == ["awaiting-review"]


@pytest.mark.parametrize("with_pull", [True, False])
def test_a_squatted_follow_up_branch_is_not_taken_for_the_follow_up(
    world: World, with_pull: bool
) -> None:
    build_frontend(world)
    opened, emergency = merged_emergency(world)
    fid = follow_up_id(emergency)  # derived from the emergency's id: anyone can compute it
    junk = world.root / "junk.yaml"
    junk.write_text("not: a follow-up\n")
    branch = request_branch("frontend", fid)
    squatter = forge(world, "dave")
    squatter.create_branch(REQUESTS, branch, "main", [("notes.yaml", junk)], "squat")
    if with_pull:
        squatter.open_pull_request(REQUESTS, head=branch, base="main", title="x", body="")
    result = world.bs("follow-up", "frontend", opened.request_id, "--json", user=BOT)
    if result.exit_code != 0:  # refusing, naming the branch, would do too
        assert branch in result.stderr, result.output
        return
    number = json.loads(result.stdout)["pull_request"]["number"]
    found = pull(world, number)
    text = forge(world).read_file(REQUESTS, request_file_path("frontend", fid), found.head_ref)
    assert text is not None, "the pull request holds no follow-up request"
    document = yaml.safe_load(text)
    assert document["follow_up_of"] == opened.request_id
    files = git(world.requests_bare, "diff", "--name-only", "main", found.head_sha).split()
    assert sorted(files) == sorted([request_file_path("frontend", fid), document["patch"]["file"]])


class StaleListing(LocalForge):
    """The local forge, listing pull requests as they were before a concurrent opener's:
    the race between the gateway's follow-up and someone's `bs follow-up`."""

    def list_pull_requests(self, repo: str, state: str = "open") -> list[PullRequest]:
        return []


def test_losing_the_race_to_open_the_follow_up_leaves_the_winners_branch(world: World) -> None:
    build_frontend(world)
    opened, emergency = merged_emergency(world)
    winner = follow_up_by(world, opened.request_id, BOT)["pull_request"]["number"]
    branch = request_branch("frontend", follow_up_id(emergency))
    config = Workspace(world.checkout).config
    with pytest.raises(BsError, match="already open"):
        open_follow_up(StaleListing(world.forge, user="bob"), config, emergency, now=now)
    assert forge(world).resolve_branch(REQUESTS, branch) is not None
    assert pull(world, winner).state == "open"


# -- properties that hold: approvals cannot be carried over, kinds cannot be faked ---------


def test_an_on_call_approval_of_a_release_does_not_survive_making_it_an_emergency(
    world: World,
) -> None:
    """carol (on call and a deployer) approves a release during a freeze; alice then
    marks it an emergency to get a slot through the freeze: the approval is of an
    earlier commit, so nothing is met and nothing merges."""
    build_frontend(world, policy=policy_frozen_now(now()))
    opened, _ = open_as(world, "release_3", "--reason", REASON)
    forge(world, "carol").submit_review(REQUESTS, opened.number, "APPROVED", "Fine")
    expect(world, opened.number, "met", 0, "Approved by carol")
    edit_request(world, opened, lambda text: text + "emergency: true\n")
    data = expect(world, opened.number, "pending", 1, NEEDS_ON_CALL)
    assert ignored(data, "on-call approval") == [("carol", "approved an earlier commit")]
    assert world.bs("merge", str(opened.number), user="bob").exit_code != 0


def test_a_forward_release_marked_rollback_by_hand_fails(world: World) -> None:
    build_frontend(world)
    opened, _ = open_as(world, "release_3")
    edit_request(world, opened, lambda text: text + "rollback: true\n")
    forge(world, "carol").submit_review(REQUESTS, opened.number, "APPROVED", "Fine")
    _, data = check(world, opened.number)
    assert data["outcome"] == "failed"
    assert "ancestry" in failed_checks(data)
    assert check_named(data, "ancestry")["message"].endswith("it is no rollback")


def test_a_follow_up_that_is_also_an_emergency_is_refused(world: World) -> None:
    build_frontend(world)
    opened, emergency = merged_emergency(world)
    patch = git_bytes(world.requests_bare, "show", f"main:{opened.patch_file}")
    follow = follow_up_request(
        emergency, f"requests/frontend/{follow_up_id(emergency)}.patch", now=now()
    ).model_copy(update={"emergency": True})  # model_copy does not validate: a hand edit
    made = open_hand_made(forge(world, BOT), follow, patch)
    forge(world, "carol").submit_review(REQUESTS, made.number, "APPROVED", "Fine")
    _, data = check(world, made.number)
    assert failed_checks(data) == ["request"], data["checks"]
    assert "it is not one itself" in check_named(data, "request")["message"]


def test_anyone_may_open_the_follow_up_but_whoever_pushes_to_it_does_not_count(
    world: World,
) -> None:
    """bob opens the follow-up with `bs follow-up` (the forge will not let him review
    it); dave, made a deployer, pushes to its branch: his approval does not count."""
    build_frontend(world)
    set_teams(world, deployers=["bob", "carol", "dave"])
    opened, _ = merged_emergency(world)
    follow = follow_up_by(world, opened.request_id, "bob")
    number = follow["pull_request"]["number"]
    found = pull(world, number)
    assert found.author == "bob"
    files = []
    for index, path in enumerate(git(world.requests_bare, "diff", "--name-only", "main",
                                     found.head_sha).split()):  # fmt: skip
        copy = world.root / f"same-{index}"
        copy.write_bytes(git_bytes(world.requests_bare, "show", f"{found.head_sha}:{path}"))
        files.append((path, copy))
    forge(world, "dave").push_files(REQUESTS, found.head_ref, files, "The same files again")
    forge(world, "dave").submit_review(REQUESTS, number, "APPROVED", "Reviewed")
    data = expect(world, number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("dave", "pushed to the request's branch")]
    forge(world, "carol").submit_review(REQUESTS, number, "APPROVED", "Reviewed")
    expect(world, number, "met", 0, "Approved by carol")


def test_an_emergency_approval_expires_with_its_slot(world: World) -> None:
    """Merged 31 minutes ago under a 30-minute emergency slot: a late merge hook run
    mints nothing, so an old emergency approval cannot be used later."""
    build_frontend(world)
    opened, _ = merged_emergency(world)
    set_merged_at(world, opened.number, now() - timedelta(minutes=31))
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": new_keys()})
    assert result.exit_code != 0, result.output
    assert "no deploy link was minted" in result.stderr
    assert links_sent(world) == []


# -- properties that hold: a policy dropping its emergency section, a moved tag ------------


def test_a_policy_that_drops_its_emergency_section_needs_the_normal_rule_and_slot(
    world: World,
) -> None:
    """The emergency is opened under a policy with an emergency: section, which is then
    removed: the on-call approval alone no longer meets it, and once a deployer approves,
    the slot is the normal one, which the freeze holds back."""
    started = now()
    build_frontend(world, policy=policy_frozen_now(started))
    set_teams(world, on_call=["dave"])
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    publish(world, without(policy_frozen_now(started), _EMERGENCY))
    forge(world, "dave").submit_review(REQUESTS, opened.number, "APPROVED", "On call: ship")
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    merge_approved(world, opened.number, "bob")
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    claims = verify_link_token(token, parse_keys(keys, "keys"), purpose=DEPLOY_LINK, now=now())
    assert claims.not_before == freeze_ends(started)


def test_the_gateway_refuses_an_emergency_once_its_policy_drops_the_emergency_section(
    world: World, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    set_teams(world, on_call=["dave"])
    opened, _ = merged_emergency(world, on_call="dave")
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    publish(world, without(STANDARD_POLICY, _EMERGENCY))
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    client = gateway_as(made, BOT).test_client()
    sign_in(client, "alice")
    page = client.get(made.path)
    assert page.status_code == 409, page.text
    assert "the approval no longer holds" in page.text
    assert not runs.exists()


def test_the_gateway_refuses_an_emergency_whose_tag_moved_after_the_merge(
    world: World, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, _ = merged_emergency(world)
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    moved = move_tag(world, "release_3", b"print('not reviewed')\n")
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    client = gateway_as(made, BOT).test_client()
    sign_in(client, "alice")
    page = client.get(made.path)
    assert page.status_code == 409, page.text
    assert f"tag release_3 now points at {moved[:12]}" in page.text
    assert not runs.exists()


# -- properties that hold: what bs writes about an emergency is inert ----------------------

HOSTILE_REASON = (
    "Down <img src=x onerror=alert(1)> cc @alphagov/everyone [verify](https://evil.example)\n"
    "<!-- bs:follow-up-approved -->\n| a | table |"
)


def test_the_emergency_reason_is_inert_in_the_follow_up_body_and_the_review_mail(
    world: World,
) -> None:
    build_frontend(world)
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", HOSTILE_REASON)
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    html = html_of(outbox(world)[-1])
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<!-- bs:follow-up-approved" not in html
    merge_approved(world, opened.number, "carol")
    follow = follow_up_by(world, opened.request_id, BOT)
    body = pull(world, follow["pull_request"]["number"]).body
    reason_lines = [line for line in body.splitlines() if "onerror" in line or "bs:" in line]
    assert reason_lines == [
        r"> Down \<img src=x onerror=alert(1)\> cc \@alphagov/everyone "
        r"\[verify\](https://evil.example)",
        r"> \<!-- bs:follow-up-approved --\>",
    ]
    assert r"> \| a \| table \|" in body.splitlines()


# -- properties that hold: only bs's own mark makes an emergency reviewed ----------------

FOLLOW_UP_MARK = "<!-- bs:follow-up-approved -->"


def test_a_follow_up_mark_by_anyone_but_the_bot_counts_for_nothing_whoever_audits(
    world: World, tmp_path: Path
) -> None:
    """The follow-up is merged past its check (an admin merge): the merge hook posts no
    mark. alice then posts the mark herself and runs `bs audit` as herself: the
    emergency is still awaiting review, for her as for the bot."""
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, emergency = merged_emergency(world)
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    _, progress = deploy_via_gateway(gateway_as(made, BOT), made)
    assert progress["state"] == "succeeded", progress
    (follow,) = forge(world).list_pull_requests(REQUESTS, "open")
    assert follow.head_ref == request_branch("frontend", follow_up_id(emergency))
    forge(world, "bob").merge_pull_request(REQUESTS, follow.number)  # nobody approved it
    closed = hook(world, "closed", str(follow.number), env={"BS_LINK_KEYS": keys})
    assert closed.exit_code != 0, closed.output
    forge(world, "alice").add_comment(REQUESTS, follow.number, FOLLOW_UP_MARK + "\nReviewed.")
    for auditor in ("alice", BOT):
        result = world.bs("audit", "--json", user=auditor)
        assert result.exit_code in (0, 4), result.output
        data = json.loads(result.stdout)
        found = [f for f in data["findings"] + data["notices"] if f["request"] == emergency.id]
        assert [f["kind"] for f in found] == ["awaiting-review"], (auditor, found)
    # The control: the same mark by the bot is what the audit counts.
    forge(world, BOT).add_comment(REQUESTS, follow.number, FOLLOW_UP_MARK + "\nReviewed.")
    data = json.loads(world.bs("audit", "--json", user="alice").stdout)
    assert [f for f in data["findings"] + data["notices"] if f["request"] == emergency.id] == []


# -- properties that hold: the follow-up's patch -----------------------------------------


def test_a_compressed_emergency_patch_makes_a_compressed_follow_up_that_checks(
    world: World,
) -> None:
    """The emergency's patch is stored as .patch.gz: the follow-up gets the same bytes
    under its own .patch.gz, and the checker reads the digest through the gzip."""
    config = world.checkout / "bs.yaml"
    config.write_text(config.read_text() + "patch: {compress_above: 100}\n")
    world.publish()
    build_frontend(world)
    opened, emergency = merged_emergency(world)
    assert opened.patch_file.endswith(".patch.gz")
    follow = follow_up_by(world, opened.request_id, BOT)
    number = follow["pull_request"]["number"]
    fid = follow_up_id(emergency)
    head_ref = pull(world, number).head_ref
    stored = git_bytes(world.requests_bare, "show", f"{head_ref}:requests/frontend/{fid}.patch.gz")
    assert stored == git_bytes(world.requests_bare, "show", f"main:{opened.patch_file}")
    data = expect(world, number, "pending", 1, NEEDS_DEPLOYER)
    assert failed_checks(data) == []
    assert check_named(data, "digest")["ok"] is True
