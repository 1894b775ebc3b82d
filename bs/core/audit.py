"""The audit's chain, judged: each deployment the gateway recorded, back to a merged request.

Pure: the facts (the requests repository's history, its pull requests, the
gateway's records, the forge's reviews, what is deployed now, the state of
each deployed emergency's follow-up) are gathered first by
``bs.usecases.audit`` and passed in with `now`. The chain holds when every
deployment that ran deploys the pinned commit and digest of a request merged
on the default branch, once, each approver its record names having approved
the reviewed head on the forge before the merge; when every deployed
emergency's follow-up review was approved in time; and when what is deployed
now is what bs deployed last. Each break is a `Finding` with a stable `kind`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from bs.core.audit_facts import (
    DEPLOYED_STATES,
    RAN_STATES,
    DeploymentFacts,
    FollowUpState,
    LateReview,
    MergedRequest,
    UnreviewedEmergency,
    approved_by,
    instant,
    iso,
    judge_emergency,
)
from bs.core.pulls import PullRequest, Review
from bs.errors import BsError

__all__ = [
    "DEPLOYED_STATES", "RAN_STATES", "AuditFacts", "AuditReport", "DeploymentFacts", "Entry",
    "Finding", "FollowUpState", "LateReview", "MergedRequest", "UnreviewedEmergency",
    "judge_emergency", "parse_since", "verify_chain",
]  # fmt: skip

#: Findings: each one breaks the chain.
BREAKS = (
    "no-request", "commit-mismatch", "digest-mismatch", "deployed-twice", "follow-up-deployed",
    "approval-missing", "emergency-unreviewed", "deployed-outside-bs", "record-mismatch",
    "no-redemption",
)  # fmt: skip
#: Notices: worth knowing, not a break.
NOTICES = (
    "awaiting-review", "reviewed-late", "unreadable-request", "request-changed",
    "no-pull-request", "reviews-not-checked",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """A break in the chain (or, among notices, something worth knowing)."""

    kind: str
    app: str
    request_id: str | None
    deployment_id: int | None
    message: str
    #: What it is about happened then (for --since); `now` for what is true now.
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "app": self.app, "request": self.request_id,
                "deployment": self.deployment_id, "at": iso(self.at),
                "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One line of the audit trail: a deployment, or a request that was not deployed."""

    at: datetime
    app: str
    request_id: str | None
    kind: str
    pull_request: int | None
    from_tag: str | None
    from_commit: str | None
    to_tag: str | None
    to_commit: str | None
    requester: str | None
    requested_at: datetime | None
    approvers: tuple[str, ...]
    merged_by: str | None
    merged_at: datetime | None
    merge_commit: str | None
    deployment_id: int | None
    deployed_by: str | None
    #: The deployment's state; None for a request not deployed.
    state: str | None
    patch_sha256: str | None
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditFacts:
    requests: Sequence[MergedRequest]
    deployments: Sequence[DeploymentFacts]
    #: Each deployed pull request's reviews; None when not cross-checked (--no-reviews).
    reviews: Mapping[int, Sequence[Review]] | None
    #: What each app with a succeeded deployment runs now (None: nothing deployed).
    deployed_now: Mapping[str, str | None]
    emergencies: Sequence[UnreviewedEmergency | LateReview] = ()


@dataclass(frozen=True)
class AuditReport:
    since: datetime | None
    app: str | None
    entries: list[Entry]
    findings: list[Finding]
    notices: list[Finding]
    requests_checked: int
    deployments_checked: int

    @property
    def intact(self) -> bool:
        return not self.findings


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 instant with its zone."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BsError(
            f"--since {text!r} is not a date or an instant: give YYYY-MM-DD (midnight UTC) or "
            "an ISO 8601 instant with its zone, such as 2026-11-25T09:30:00Z."
        )
    return moment.astimezone(UTC)


def verify_chain(
    facts: AuditFacts, *, now: datetime, since: datetime | None = None, app: str | None = None
) -> AuditReport:
    """Judge the chain; findings, notices and entries are kept to `app` and `since`."""

    def in_scope(app_: str, at: datetime) -> bool:
        return (app is None or app_ == app) and (since is None or at >= since)

    requests = {r.key: r for r in facts.requests}
    ran = sorted((d for d in facts.deployments if d.ran), key=lambda d: d.id)  # as recorded
    findings: list[Finding] = []
    first_of: dict[str, DeploymentFacts] = {}
    checked = 0
    for deployment in ran:
        earlier = first_of.setdefault(deployment.key, deployment)
        if not in_scope(deployment.app, deployment.at):
            continue
        checked += 1
        problems = _deployment_problems(
            deployment, requests.get(deployment.key), None if earlier is deployment else earlier,
            facts.reviews,
        )  # fmt: skip
        findings += [
            Finding(kind, deployment.app, deployment.key.partition("/")[2], deployment.id,
                    message, deployment.at)
            for kind, message in problems
        ]  # fmt: skip
    findings += _emergency_findings(facts.emergencies, "emergency-unreviewed", in_scope)
    findings += _outside_bs(facts, app, now)
    notices = _emergency_findings(facts.emergencies, "notice", in_scope)
    notices += [n for n in _request_notices(facts.requests) if in_scope(n.app, n.at)]
    if facts.reviews is None:
        notices.append(Finding("reviews-not-checked", app or "*", None, None,
                               "approvers were not cross-checked against the forge's reviews "
                               "(--no-reviews)", now))  # fmt: skip
    scoped = [r for r in facts.requests if in_scope(r.app, r.merged_at)]
    entries = [e for e in _entries(facts, requests, findings) if in_scope(e.app, e.at)]
    entries.sort(key=lambda e: (e.at, e.deployment_id or 0), reverse=True)
    return AuditReport(since, app, entries, findings, notices, len(scoped), checked)


def _deployment_problems(
    deployment: DeploymentFacts,
    found: MergedRequest | None,
    earlier: DeploymentFacts | None,
    reviews: Mapping[int, Sequence[Review]] | None,
) -> list[tuple[str, str]]:
    d, key = deployment, deployment.key
    name = f"deployment #{d.id} ({key})"
    problems: list[tuple[str, str]] = []
    if d.record_key is None:
        # Nothing in it can be compared: say that, not every comparison that fails.
        return [("record-mismatch", f"{name}: its record does not name its app and request; "
                 "the gateway always writes them. Find out who wrote it.")]  # fmt: skip
    if d.record_key != d.request_key:
        problems.append(("record-mismatch", f"deployment #{d.id} is stored under "
                         f"{d.request_key} but its record names {d.record_key}; the gateway "
                         "writes both from one request. Find out who changed the row."))  # fmt: skip
    if not d.redeemed:
        problems.append(("no-redemption", f"{name} has no redeemed deploy link in the store; the "
                         "gateway creates a deployment only when a link is redeemed, so this row "
                         "was written outside bs. Find out who wrote it."))  # fmt: skip
    if earlier is not None:
        problems.append(("deployed-twice", f"{name} deploys {key} again: deployment "
                         f"#{earlier.id} deployed it on {iso(earlier.at)}. A request is deployed "
                         "once; to deploy a release again, open a new request."))  # fmt: skip
    request = found.request if found else None
    if found is None or request is None or found.pull is None or not found.pull.merged:
        problems.append(("no-request", f"{name}: {_missing(found, key)}; the gateway deploys only "
                         "requests merged through a pull request. Find out what was deployed "
                         "and who recorded it."))  # fmt: skip
        return problems
    pull = found.pull
    commit, digest = d.text("to", "commit"), d.text("patch_sha256")
    if commit != request.to.commit:
        problems.append(("commit-mismatch", f"{name} deployed {_short(commit)}, but the request "
                         f"pins {request.to.tag or '(untagged)'} {request.to.commit[:12]}; check "
                         "what was deployed, and who changed the record."))  # fmt: skip
    if digest != request.patch.sha256:
        problems.append(("digest-mismatch", f"{name} records patch SHA-256 {_short(digest)}, but "
                         f"the request pins {request.patch.sha256[:12]}; the reviewed diff is not "
                         "the one recorded. Check who changed the record."))  # fmt: skip
    if d.field("pull_request") != pull.number or d.pull_request != pull.number:
        problems.append(("record-mismatch", f"{name} names pull request #{d.field('pull_request')}"
                         f" (row: #{d.pull_request}), but #{pull.number} merged the request."))  # fmt: skip
    elif d.text("head") != pull.head_sha:
        problems.append(("record-mismatch", f"{name} records the reviewed head "
                         f"{_short(d.text('head'))}, but pull request #{pull.number} merged "
                         f"{pull.head_sha[:12]}."))  # fmt: skip
    if request.kind == "follow-up":
        problems.append(("follow-up-deployed", f"{name} deploys a follow-up request, which "
                         f"reviews emergency {request.follow_up_of} after the fact and is never "
                         "deployable. Find out how it was deployed."))  # fmt: skip
    if reviews is not None:
        problems += _approvals(name, d, pull, reviews.get(pull.number, ()))
    return problems


def _approvals(
    name: str, d: DeploymentFacts, pull: PullRequest, reviews: Sequence[Review]
) -> list[tuple[str, str]]:
    """Each approver the record names must have approved its reviewed head before the merge."""
    if not d.approvers:
        return [("approval-missing", f"{name}: its record names no approver.")]
    head = d.text("head") or pull.head_sha
    merged_at = pull.merged_at or instant(d.text("merged_at"))  # the forge says when
    missing = []
    for user in d.approvers:
        if not any(
            r.user.lower() == user.lower() and r.state == "APPROVED" and r.commit_id == head
            and (merged_at is None or r.submitted_at <= merged_at)
            for r in reviews
        ):  # fmt: skip
            missing.append(user)
    return [
        ("approval-missing", f"{name}: its record names {user} as an approver, but pull request "
         f"#{pull.number} has no approval by {user} of the reviewed head {head[:12]} before the "
         f"merge ({iso(merged_at)}). Check its reviews: one was removed, or the record forged.")
        for user in missing
    ]  # fmt: skip


def _missing(found: MergedRequest | None, key: str) -> str:
    if found is None:
        return f"no request {key} is on the default branch"
    if found.request is None:
        return f"its request file {found.path} cannot be read ({found.problem})"
    if found.pull is None:
        return (f"request {key} reached the default branch in {found.commit[:12]}, not through "
                "a merged pull request")  # fmt: skip
    return f"the pull request of request {key}, #{found.pull.number}, is not merged"


def _emergency_findings(
    states: Sequence[UnreviewedEmergency | LateReview],
    which: str,
    in_scope: Callable[[str, datetime], bool],
) -> list[Finding]:
    found = []
    for s in states:
        if not in_scope(s.app, s.deployed_at):
            continue
        name = f"emergency {s.app}/{s.request_id} (deployment #{s.deployment_id}, {iso(s.deployed_at)})"
        if isinstance(s, LateReview):
            if which == "notice":
                found.append(Finding("reviewed-late", s.app, s.request_id, s.deployment_id,
                                     f"{name}: its follow-up #{s.follow_up_pull} was approved "
                                     f"{iso(s.reviewed_at)}, after it was due ({iso(s.due)})",
                                     s.deployed_at))  # fmt: skip
        elif s.overdue and which != "notice":
            found.append(Finding("emergency-unreviewed", s.app, s.request_id, s.deployment_id,
                                 f"{name}: its follow-up review was due by {iso(s.due)} and "
                                 f"{s.why}. Have it approved under the normal rules "
                                 f"(`bs follow-up {s.app} {s.request_id}` opens it).",
                                 s.deployed_at))  # fmt: skip
        elif not s.overdue and which == "notice":
            found.append(Finding("awaiting-review", s.app, s.request_id, s.deployment_id,
                                 f"{name}: its follow-up review is due by {iso(s.due)}; {s.why}",
                                 s.deployed_at))  # fmt: skip
    return found


def _outside_bs(facts: AuditFacts, app: str | None, now: datetime) -> list[Finding]:
    """What each app runs now must be what bs deployed last (or is deploying)."""
    found = []
    for name, running_now in sorted(facts.deployed_now.items()):
        mine = [d for d in facts.deployments if d.app == name]
        done = [d for d in mine if d.state == "succeeded" and d.record_key is not None]
        if (app is not None and name != app) or not done:
            continue
        last = max(done, key=lambda d: (d.at, d.id))
        # A deployment running now, or interrupted since (its outcome unknown), may be live.
        expected = {last.text("to", "commit")} | {
            d.text("to", "commit") for d in mine
            if d.state == "running" or (d.state == "interrupted" and d.id > last.id)
        }  # fmt: skip
        if running_now not in expected:
            now_label = running_now[:12] if running_now else "nothing (per its deployed source)"
            found.append(Finding(
                "deployed-outside-bs", name, last.key.partition("/")[2], last.id,
                f"{name} runs {now_label} now, but the last deployment bs recorded (#{last.id}, "
                f"{last.text('to', 'tag') or 'untagged'}) deployed {_short(last.text('to', 'commit'))}:"
                f" something deployed {name} outside bs. Find out what, then release through a "
                "request.", now,
            ))  # fmt: skip
    return found


def _request_notices(requests: Sequence[MergedRequest]) -> list[Finding]:
    notices = []
    for r in requests:
        at = r.merged_at
        if r.request is None:
            notices.append(Finding("unreadable-request", r.app, r.id, None,
                                   f"{r.path} on the default branch cannot be read: {r.problem}",
                                   at))  # fmt: skip
        elif r.pull is None:
            notices.append(Finding("no-pull-request", r.app, r.id, None,
                                   f"{r.path} reached the default branch in {r.commit[:12]} "
                                   "without a merged pull request", at))  # fmt: skip
        if r.changed_later:
            notices.append(Finding("request-changed", r.app, r.id, None,
                                   f"{r.path} was changed or removed on the default branch after "
                                   "it was merged; the audit uses it as merged", at))  # fmt: skip
    return notices


def _entries(
    facts: AuditFacts, requests: Mapping[str, MergedRequest], findings: Sequence[Finding]
) -> list[Entry]:
    by_deployment: dict[int, list[str]] = {}
    for f in findings:
        if f.deployment_id is not None and f.kind not in by_deployment.setdefault(
            f.deployment_id, []
        ):
            by_deployment[f.deployment_id].append(f.kind)
    entries, deployed = [], set()
    for d in facts.deployments:
        found = requests.get(d.key)
        deployed.add(d.key)
        start = d.field("from")
        entries.append(Entry(
            at=d.at, app=d.app, request_id=d.key.partition("/")[2],
            kind=found.kind if found else str(d.field("kind") or "unknown"),
            pull_request=d.pull_request,
            from_tag=d.text("from", "tag"), from_commit=d.text("from", "commit") if start else None,
            to_tag=d.text("to", "tag"), to_commit=d.text("to", "commit"), requester=d.requester,
            requested_at=found.request.requested_at if found and found.request else None,
            approvers=d.approvers,
            merged_by=(found.pull.merged_by if found and found.pull else None)
            or d.text("merged_by"),
            merged_at=instant(d.text("merged_at")) or (found.merged_at if found else None),
            merge_commit=found.commit if found else d.text("merge_commit"),
            deployment_id=d.id, deployed_by=d.deployed_by, state=d.state,
            patch_sha256=d.text("patch_sha256"), findings=tuple(by_deployment.get(d.id, ())),
        ))  # fmt: skip
    for r in facts.requests:
        if r.key in deployed:
            continue
        q = r.request
        entries.append(Entry(
            at=r.merged_at, app=r.app, request_id=r.id, kind=r.kind,
            pull_request=r.pull.number if r.pull else None,
            from_tag=q.from_.tag if q and q.from_ else None,
            from_commit=q.from_.commit if q and q.from_ else None,
            to_tag=q.to.tag if q else None, to_commit=q.to.commit if q else None,
            requester=q.requested_by if q else None,
            requested_at=q.requested_at if q else None,
            approvers=approved_by(facts.reviews, r.pull),
            merged_by=r.pull.merged_by if r.pull else None, merged_at=r.merged_at,
            merge_commit=r.commit, deployment_id=None, deployed_by=None, state=None,
            patch_sha256=q.patch.sha256 if q else None,
            findings=tuple(f.kind for f in findings
                           if f.deployment_id is None and f.request_id == r.id),
        ))  # fmt: skip
    return entries


def _short(value: str | None) -> str:
    return value[:12] if value else "(none)"
