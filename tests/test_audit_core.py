"""The audit's chain, judged in the pure core (bs.core.audit): plain facts in, findings out.

A base world (one request, merged and deployed, approved on the forge) from a factory,
then each case changes one fact and says which kinds it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bs.core.audit import AuditFacts, MergedRequest, parse_since, verify_chain
from bs.core.audit_facts import DeploymentFacts, FollowUpState, LateReview, judge_emergency
from bs.core.pulls import PullRequest, Review
from bs.core.request import ReleaseRequest
from bs.errors import BsError

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
FROM, TO, HEAD, MERGE = "a" * 40, "b" * 40, "c" * 40, "d" * 40
DIGEST = "e" * 64
ID = "20261102-aaaaaaaaaaaaaaaa"


def request(request_id: str = ID, **fields: Any) -> ReleaseRequest:
    return ReleaseRequest.from_document({
        "version": 1, "id": request_id, "app": "frontend", "requested_by": "alice",
        "requested_at": "2026-11-02T09:00:00Z", "from": {"tag": "release_1", "commit": FROM},
        "to": {"tag": "release_2", "commit": TO},
        "patch": {"file": f"requests/frontend/{request_id}.patch", "sha256": DIGEST,
                  "files_changed": 1, "insertions": 1, "deletions": 0, "commits": 1},
    } | fields)  # fmt: skip


def pull(number: int = 1, **fields: Any) -> PullRequest:
    return replace(
        PullRequest(number, "url", "title", "", "alice", "main", f"request/frontend/{ID}", HEAD,
                    "closed", merged=True, merged_by="bob", merge_commit_sha=MERGE,
                    merged_at=T0 + timedelta(hours=1)),
        **fields,
    )  # fmt: skip


def merged(req: ReleaseRequest | None = None, **fields: Any) -> MergedRequest:
    req = req or request()
    base = MergedRequest(req.app, req.id, f"requests/frontend/{req.id}.yaml", MERGE,
                         T0 + timedelta(hours=1), req, pull=pull())  # fmt: skip
    return replace(base, **fields)


def record(**changes: Any) -> dict[str, Any]:
    return {
        "pull_request": 1, "app": "frontend", "request": ID, "requester": "alice",
        "approvers": [{"user": "bob", "approved_at": "2026-11-02T09:30:00Z"}],
        "merged_by": "bob", "merged_at": "2026-11-02T10:00:00Z",
        "from": {"tag": "release_1", "commit": FROM}, "to": {"tag": "release_2", "commit": TO},
        "head": HEAD, "merge_commit": MERGE, "patch_sha256": DIGEST,
    } | changes  # fmt: skip


def deployment(id_: int = 1, *, at: datetime | None = None, **fields: Any) -> DeploymentFacts:
    done = at or T0 + timedelta(hours=2)
    base = DeploymentFacts(id_, f"frontend/{ID}", "frontend", 1, "alice", record(), "succeeded",
                           1, "alice", done - timedelta(minutes=5), done - timedelta(minutes=2),
                           done)  # fmt: skip
    return replace(base, **fields)


def approval(user: str = "bob", **fields: Any) -> Review:
    return replace(Review(1, user, "APPROVED", HEAD, "", T0 + timedelta(minutes=30)), **fields)


def facts(**changes: Any) -> AuditFacts:
    base = AuditFacts([merged()], [deployment()], {1: [approval()]}, {"frontend": TO})
    return replace(base, **changes)


def judged(f: AuditFacts, **options: Any) -> tuple[list[str], list[str]]:
    report = verify_chain(f, now=NOW, **options)
    return [x.kind for x in report.findings], [x.kind for x in report.notices]


def test_the_base_world_is_intact() -> None:
    report = verify_chain(facts(), now=NOW)
    assert report.intact and report.notices == []
    assert (report.requests_checked, report.deployments_checked) == (1, 1)
    (entry,) = report.entries
    assert (entry.requester, entry.approvers, entry.merged_by, entry.deployed_by) == (
        "alice", ("bob",), "bob", "alice",
    )  # fmt: skip
    assert (entry.to_commit, entry.patch_sha256, entry.state) == (TO, DIGEST, "succeeded")


CASES: list[tuple[str, Callable[[], AuditFacts], list[str]]] = [
    ("no request on the default branch", lambda: facts(requests=[]), ["no-request"]),
    ("the pull request not merged",
     lambda: facts(requests=[merged(pull=pull(merged=False, merged_at=None))]), ["no-request"]),
    ("pushed without a pull request", lambda: facts(requests=[merged(pull=None)]), ["no-request"]),
    ("an unreadable request file",
     lambda: facts(requests=[merged(request=None, problem="bad")]), ["no-request"]),
    ("another commit", lambda: facts(deployments=[deployment(record=record(
        to={"tag": "release_2", "commit": FROM}))], deployed_now={"frontend": FROM}),
     ["commit-mismatch"]),
    ("another digest", lambda: facts(deployments=[deployment(record=record(
        patch_sha256="f" * 64))]), ["digest-mismatch"]),
    ("a row under another key", lambda: facts(deployments=[deployment(
        request_key="frontend/20261102-bbbbbbbbbbbbbbbb")]), ["record-mismatch"]),
    ("a record naming another pull request",
     lambda: facts(deployments=[deployment(record=record(pull_request=7))]), ["record-mismatch"]),
    ("a record naming another head (nobody approved that one)",
     lambda: facts(deployments=[deployment(record=record(head=FROM))]),
     ["record-mismatch", "approval-missing"]),
    ("an unreadable record", lambda: facts(deployments=[deployment(record={})]),
     ["record-mismatch"]),
    ("no link redeemed", lambda: facts(deployments=[deployment(redeemed=False)]),
     ["no-redemption"]),
    ("deployed twice", lambda: facts(deployments=[deployment(), deployment(
        2, request_key="frontend/x", at=T0 + timedelta(days=1))]),
     ["record-mismatch", "deployed-twice"]),
    ("a second row that never ran", lambda: facts(deployments=[deployment(), deployment(
        2, request_key="frontend/x", state="ready", attempts=0)]), []),
    ("a failed deploy retried is one deployment",
     lambda: facts(deployments=[deployment(attempts=3)]), []),
    ("a follow-up deployed", lambda: facts(requests=[merged(request(
        follow_up_of="20261101-cccccccccccccccc"))]), ["follow-up-deployed"]),
    ("the approval removed", lambda: facts(reviews={1: []}), ["approval-missing"]),
    ("an approval of another head",
     lambda: facts(reviews={1: [approval(commit_id=FROM)]}), ["approval-missing"]),
    ("an approval after the merge", lambda: facts(reviews={1: [approval(
        submitted_at=T0 + timedelta(hours=2))]}), ["approval-missing"]),
    ("an approval dismissed", lambda: facts(reviews={1: [approval(state="DISMISSED")]}),
     ["approval-missing"]),
    ("someone else's approval", lambda: facts(reviews={1: [approval("carol")]}),
     ["approval-missing"]),
    ("logins compare without case", lambda: facts(reviews={1: [approval("Bob")]}), []),
    ("a record naming no approver",
     lambda: facts(deployments=[deployment(record=record(approvers=[]))]), ["approval-missing"]),
    ("the reviews not cross-checked", lambda: facts(reviews=None), []),
    ("deployed outside bs", lambda: facts(deployed_now={"frontend": FROM}),
     ["deployed-outside-bs"]),
    ("nothing deployed now", lambda: facts(deployed_now={"frontend": None}),
     ["deployed-outside-bs"]),
    ("deploying now: the running one's commit may be live", lambda: facts(
        deployments=[deployment(record=record(to={"commit": FROM})), deployment(
            2, request_key="frontend/20261102-bbbbbbbbbbbbbbbb", state="running",
            record=record(request="20261102-bbbbbbbbbbbbbbbb"), at=T0 + timedelta(days=1))],
        deployed_now={"frontend": TO}), ["commit-mismatch", "no-request"]),
    ("interrupted since: its commit may be live", lambda: facts(
        deployments=[deployment(), deployment(
            2, request_key="frontend/20261102-bbbbbbbbbbbbbbbb", state="interrupted",
            record=record(request="20261102-bbbbbbbbbbbbbbbb", to={"commit": FROM}),
            at=T0 + timedelta(days=1))],
        deployed_now={"frontend": FROM}), ["no-request"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_break_is_flagged_with_its_kind(
    name: str, make: Callable[[], AuditFacts], expected: list[str]
) -> None:
    assert sorted(judged(make())[0]) == sorted(expected)


def test_since_limits_what_is_listed_and_flagged_not_what_is_checked_against() -> None:
    old = deployment(2, request_key="frontend/x", record=record(request="x"), at=T0)
    new = deployment(at=T0 + timedelta(days=5))
    f = facts(deployments=[old, new])
    assert sorted(judged(f)[0]) == ["no-request"]
    report = verify_chain(f, now=NOW, since=T0 + timedelta(days=1))
    # The request was merged before `since`: the deployment since then is still checked
    # against it, and found right.
    assert report.findings == [] and report.deployments_checked == 1
    assert report.requests_checked == 0
    assert [e.deployment_id for e in report.entries] == [1]
    # A second deployment since then of a request deployed before it is still twice.
    again = deployment(3, request_key="frontend/y", at=T0 + timedelta(days=6))
    f = facts(deployments=[deployment(at=T0 + timedelta(hours=3)), again])
    assert "deployed-twice" in judged(f, since=T0 + timedelta(days=1))[0]


def test_an_app_limits_the_audit() -> None:
    other = merged(request("20261102-bbbbbbbbbbbbbbbb", app="backend"), app="backend")
    f = facts(requests=[merged(), other], deployed_now={"frontend": FROM})
    report = verify_chain(f, now=NOW, app="backend")
    assert report.findings == [] and [e.app for e in report.entries] == ["backend"]
    assert judged(f, app="frontend")[0] == ["deployed-outside-bs"]


def test_entries_are_newest_first_with_requests_not_deployed() -> None:
    later = merged(request("20261102-bbbbbbbbbbbbbbbb"), committed_at=T0 + timedelta(days=3),
                   pull=pull(2, merged_at=T0 + timedelta(days=3)))  # fmt: skip
    report = verify_chain(facts(requests=[merged(), later]), now=NOW)
    assert [(e.request_id, e.state) for e in report.entries] == [
        ("20261102-bbbbbbbbbbbbbbbb", None), (ID, "succeeded"),
    ]  # fmt: skip


def test_request_notices() -> None:
    f = facts(requests=[merged(changed_later=True), merged(
        request("20261102-bbbbbbbbbbbbbbbb"), pull=None, id="20261102-bbbbbbbbbbbbbbbb")])  # fmt: skip
    assert judged(f) == ([], ["request-changed", "no-pull-request"])


# -- emergencies ------------------------------------------------------------------------

EMERGENCY = merged(request(emergency=True, reason="Outage"))
# The review clock starts when the deployer started (T0 here), not when it finished.
DEPLOYED = deployment(at=T0 + timedelta(minutes=2), started_at=T0)
WITHIN = timedelta(days=3)


def follow(
    merged_at: datetime | None, *, approved: bool = True, same: bool = True
) -> FollowUpState:
    return FollowUpState("20261102-ffffffffffffffff", 9, merged_at, approved, same)


@pytest.mark.parametrize(
    ("follow_ups", "now", "outcome"),
    [
        ([], T0 + timedelta(days=1), "awaiting: no follow-up review was opened"),
        ([], T0 + timedelta(days=3), "overdue: no follow-up review was opened"),
        ([follow(None, approved=False)], T0 + timedelta(days=4),
         "overdue: its follow-up #9 is not approved yet"),
        ([follow(T0 + timedelta(days=1), approved=False)], T0 + timedelta(days=4),
         "overdue: its follow-up #9 was merged without bs finding"),
        ([follow(T0 + timedelta(days=1), same=False)], T0 + timedelta(days=4),
         "overdue: its follow-up #9 reviews another release"),
        ([follow(T0 + timedelta(days=1))], T0 + timedelta(days=4), "in time"),
        ([follow(T0 + timedelta(days=3))], T0 + timedelta(days=4), "in time"),
        ([follow(T0 + timedelta(days=5))], T0 + timedelta(days=6), "late"),
    ],
)  # fmt: skip
def test_judge_emergency(follow_ups: list[FollowUpState], now: datetime, outcome: str) -> None:
    found = judge_emergency(EMERGENCY, DEPLOYED, follow_ups, WITHIN, now)
    if outcome == "in time":
        assert found is None
    elif outcome == "late":
        assert isinstance(found, LateReview) and found.reviewed_at == T0 + timedelta(days=5)
    else:
        assert found is not None and not isinstance(found, LateReview)
        state, _, why = outcome.partition(": ")
        assert found.overdue == (state == "overdue") and found.why.startswith(why)
        assert (found.due, found.requester, found.reason) == (T0 + WITHIN, "alice", "Outage")
        assert found.follow_up_pull == (9 if follow_ups else None)


def test_emergency_states_become_findings_and_notices() -> None:
    overdue = judge_emergency(EMERGENCY, DEPLOYED, [], WITHIN, NOW)
    waiting = judge_emergency(EMERGENCY, DEPLOYED, [], WITHIN, T0 + timedelta(hours=1))
    late = judge_emergency(EMERGENCY, DEPLOYED, [follow(T0 + timedelta(days=5))], WITHIN, NOW)
    assert overdue and waiting and late
    base = facts(requests=[EMERGENCY], deployments=[DEPLOYED])
    assert judged(replace(base, emergencies=[overdue])) == (["emergency-unreviewed"], [])
    assert judged(replace(base, emergencies=[waiting])) == ([], ["awaiting-review"])
    assert judged(replace(base, emergencies=[late])) == ([], ["reviewed-late"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
        ("2026-11-25T09:30:00Z", datetime(2026, 11, 25, 9, 30, tzinfo=UTC)),
        ("2026-11-25T10:30:00+01:00", datetime(2026, 11, 25, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "2026-02-30", "2026-11-25T09:30", "last week", "25/11/2026"])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(BsError, match="is not a date or an instant"):
        parse_since(text)


def test_every_kind_is_documented_in_the_readme_and_the_help() -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from bs.cli.cmd_audit import audit as audit_command
    from bs.core.audit import BREAKS, NOTICES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    helped = " ".join(CliRunner().invoke(audit_command, ["--help"]).output.split())
    for kind in (*BREAKS, *NOTICES):
        assert f"`{kind}`" in readme, kind
        assert kind in helped, kind
