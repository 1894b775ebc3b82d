"""Emergencies in `bs audit`: deployed, their follow-up review is due within the policy's
`emergency.review_within` (3 days by default) of the deploy; overdue, the chain is broken.

The emergency and its follow-up are made with the forge's own calls and the deployment
written to the store as the gateway writes one (tests/audithelpers.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest
from bs.usecases.emergencies import unreviewed_emergencies
from bs.usecases.follow_up import follow_up_id
from bs.workspace import Workspace
from tests.audithelpers import (
    Deployed,
    audit,
    audit_json,
    deployed_world,
    insert_deployment,
    kinds,
    mark_follow_up,
    merged_request,
    record_for,
    release_request,
    tag_release_3,
)
from tests.checkhelpers import FRONTEND, forge, publish_policy
from tests.conftest import STANDARD_POLICY
from tests.hookhelpers import BOT

EMERGENCY_ID = "20261125-eeeeeeeeeeeeeeee"


@pytest.fixture
def d(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Deployed:
    """The deployed world, its policy's follow-up reviews due within 3 days."""
    deployed = deployed_world(tmp_path_factory, tmp_path)
    review_within(deployed, "3d")
    return deployed


def review_within(d: Deployed, duration: str | None) -> None:
    """Publish the standard policy with `emergency.review_within: DURATION` (None: with no
    emergency section at all)."""
    policy = yaml.safe_load(STANDARD_POLICY)
    policy.pop("emergency", None)
    if duration is not None:
        policy["emergency"] = {"approval": "deployer approval", "review_within": duration}
    publish_policy(d.world, yaml.safe_dump(policy, sort_keys=False))


def emergency(
    d: Deployed, *, deployed_ago: timedelta, state: str = "succeeded"
) -> tuple[ReleaseRequest, PullRequest, int]:
    """An emergency release_2 -> release_3, approved by bob, merged, and deployed
    `deployed_ago`; the request, its pull request and its deployment's id."""
    release_3 = tag_release_3(d)
    request, patch = release_request(
        d, EMERGENCY_ID, from_=("release_2", d.release_2), to=("release_3", release_3),
        emergency=True,
    )  # fmt: skip
    pull = merged_request(d, request, patch)
    deployed = insert_deployment(
        d, record_for(pull, request, ["bob"]), state=state,
        finished_at=datetime.now(UTC) - deployed_ago,
    )  # fmt: skip
    if state == "succeeded":  # as the gateway moves it after the deploy
        d.world.deploy(FRONTEND, "release_3")
    return request, pull, deployed


def follow_up(
    d: Deployed, request: ReleaseRequest, *, merged: bool = True, **changes: object
) -> PullRequest:
    """The emergency's follow-up as bs opens it (same release, follow_up_of), by bs's user."""
    assert request.from_ is not None
    follow, patch = release_request(
        d, follow_up_id(request), from_=(str(request.from_.tag), request.from_.commit),
        to=(str(request.to.tag), request.to.commit), follow_up_of=request.id,
    )  # fmt: skip
    follow = follow.model_copy(update=changes) if changes else follow
    return merged_request(d, follow, patch, author=BOT, merger="bob" if merged else None)


def test_an_emergency_never_reviewed_breaks_the_chain_once_overdue(d: Deployed) -> None:
    _, _, deployed = emergency(d, deployed_ago=timedelta(days=4))
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert (
        f"emergency-unreviewed: emergency frontend/{EMERGENCY_ID} (deployment #{deployed}"
    ) in result.stdout
    assert "no follow-up review was opened" in result.stdout
    assert f"`bs follow-up frontend {EMERGENCY_ID}` opens one" in result.stdout
    _, data = audit_json(d.world)
    assert kinds(data) == ["emergency-unreviewed"]
    (entry,) = [e for e in data["entries"] if e["request"] == EMERGENCY_ID]
    assert entry["kind"] == "emergency" and entry["findings"] == ["emergency-unreviewed"]


def test_an_emergency_inside_its_review_time_is_a_notice(d: Deployed) -> None:
    emergency(d, deployed_ago=timedelta(hours=1))
    result = audit(d.world)
    assert result.exit_code == 0, result.output
    assert "awaiting-review: emergency frontend/" in result.stdout
    _, data = audit_json(d.world)
    assert (kinds(data), kinds(data, "notices")) == ([], ["awaiting-review"])


@pytest.mark.parametrize(
    ("state", "needs_review"),
    [("interrupted", True), ("failed", True), ("succeeded", True), ("ready", False)],
)
def test_an_emergency_whose_deployer_ran_needs_its_review_whatever_the_outcome(
    d: Deployed, state: str, needs_review: bool
) -> None:
    """A failed deploy may have gone out too (the tag moved under it, the lock was lost):
    only one never started (ready, no attempt) needs no review."""
    emergency(d, deployed_ago=timedelta(days=4), state=state)
    code, data = audit_json(d.world)
    assert kinds(data) == (["emergency-unreviewed"] if needs_review else [])
    assert code == (4 if needs_review else 0)


def test_a_follow_up_approved_in_time_by_the_merge_hook_keeps_the_chain(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(hours=2))
    pull = follow_up(d, request)
    mark_follow_up(d, pull.number)
    code, data = audit_json(d.world)
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], [])
    # Whoever runs the audit: the mark counts for being bs's (the local forge's bot).
    assert audit_json(d.world, user="alice")[1]["findings"] == []
    (entry,) = [e for e in data["entries"] if e["pull_request"] == pull.number]
    assert entry["kind"] == "follow-up" and entry["state"] is None


def test_a_follow_up_approved_late_is_a_notice(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(days=4))
    mark_follow_up(d, follow_up(d, request).number)
    result = audit(d.world)
    assert result.exit_code == 0, result.output
    assert "reviewed-late: emergency frontend/" in result.stdout
    assert "after it was due" in result.stdout


def test_a_mark_posted_by_anyone_but_bs_counts_for_nothing(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(days=4))
    pull = follow_up(d, request)
    mark_follow_up(d, pull.number, user="alice")
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert f"its follow-up #{pull.number} was merged without bs finding" in result.stdout


def test_an_open_follow_up_is_named(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(days=4))
    pull = follow_up(d, request, merged=False)
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert f"its follow-up #{pull.number} is not approved yet" in result.stdout


def test_a_follow_up_of_another_release_does_not_review_the_emergency(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(days=4))
    other = request.patch.model_copy(update={"sha256": "1" * 64})
    pull = follow_up(d, request, patch=other)
    mark_follow_up(d, pull.number)
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert f"its follow-up #{pull.number} reviews another release" in result.stdout


def test_a_deployed_follow_up_breaks_the_chain(d: Deployed) -> None:
    request, _, _ = emergency(d, deployed_ago=timedelta(hours=2))
    pull = follow_up(d, request)
    follow = release_request(
        d, follow_up_id(request), from_=("release_2", d.release_2),
        to=("release_3", request.to.commit), follow_up_of=request.id,
    )[0]  # fmt: skip
    deployed = insert_deployment(d, record_for(pull, follow, ["bob"]))
    code, data = audit_json(d.world)
    assert code == 4
    (finding,) = [f for f in data["findings"] if f["kind"] == "follow-up-deployed"]
    assert finding["deployment"] == deployed and "never deployable" in finding["message"]


@pytest.mark.parametrize(
    ("duration", "deployed_ago", "kind"),
    [
        ("12h", timedelta(hours=13), "emergency-unreviewed"),
        ("12h", timedelta(hours=11), "awaiting-review"),
        (None, timedelta(hours=71), "awaiting-review"),  # no emergency: section: 3 days
        (None, timedelta(hours=73), "emergency-unreviewed"),
    ],
)
def test_review_within_comes_from_the_apps_policy_on_the_default_branch(
    d: Deployed, duration: str | None, deployed_ago: timedelta, kind: str
) -> None:
    review_within(d, duration)
    emergency(d, deployed_ago=deployed_ago)
    code, data = audit_json(d.world)
    assert kinds(data) + kinds(data, "notices") == [kind]
    assert code == (4 if kind == "emergency-unreviewed" else 0)


def test_unreviewed_emergencies_for_other_commands(d: Deployed) -> None:
    request, _, deployed = emergency(d, deployed_ago=timedelta(hours=30))
    pull = follow_up(d, request, merged=False)
    from bs.usecases.audit_sources import read_history
    from bs.usecases.audit_store import read_gateway_records

    config = Workspace(d.world.checkout).config
    bs_forge = forge(d.world, BOT)
    history = read_history(bs_forge, config.requests_repo)
    records = read_gateway_records(d.store_url)
    now = datetime.now(UTC)
    (found,) = unreviewed_emergencies(bs_forge, config, history, records.deployments, now)
    assert (found.app, found.request_id, found.requester, found.reason) == (
        "frontend", EMERGENCY_ID, "alice", "The outage",
    )  # fmt: skip
    assert (found.deployment_id, found.follow_up_pull, found.overdue) == (
        deployed, pull.number, False,
    )  # fmt: skip
    assert found.due == found.deployed_at + timedelta(days=3)
    later = unreviewed_emergencies(
        bs_forge, config, history, records.deployments, now + timedelta(days=2)
    )
    assert [e.overdue for e in later] == [True]
