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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from bs.core.audit_deployments import deployment_problems, merge_mark
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
    short,
)
from bs.core.pulls import Review
from bs.errors import BsError

__all__ = [
    "DEPLOYED_STATES", "RAN_STATES", "AuditFacts", "AuditReport", "DeploymentFacts", "Entry",
    "Finding", "FollowUpState", "LateReview", "MergedRequest", "UnreviewedEmergency",
    "judge_emergency", "parse_since", "verify_chain",
]  # fmt: skip

#: Findings: each one breaks the chain (README and `bs audit --help` list them all).
BREAKS = (
    "no-request", "commit-mismatch", "digest-mismatch", "deployed-twice", "follow-up-deployed",
    "approval-missing", "emergency-unreviewed", "deployed-outside-bs", "record-mismatch",
    "no-redemption", "not-approved", "deployed-unreadable",
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
    #: Each deployed pull request's mark from the merge hook: "approval" (it found the
    #: policy met and minted), "no-link" (it refused), "" (none); None when not read.
    merge_marks: Mapping[int, str] | None = None
    #: Apps whose deployed source could not be read, and why.
    deployed_errors: Mapping[str, str] = field(default_factory=dict)


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

    def deployment_in_scope(d: DeploymentFacts) -> bool:
        # Filed under one app, recording another's request: both apps' audits see it.
        apps = {d.app, str(d.field("app"))}
        return any(in_scope(a, d.at) for a in apps)

    requests = {r.key: r for r in facts.requests}
    ran = sorted((d for d in facts.deployments if d.ran), key=lambda d: d.id)  # as recorded
    findings: list[Finding] = []
    first_of: dict[str, DeploymentFacts] = {}
    checked = 0
    for deployment in ran:
        earlier = first_of.setdefault(deployment.key, deployment)
        if not deployment_in_scope(deployment):
            continue
        checked += 1
        problems = deployment_problems(
            deployment, requests.get(deployment.key), None if earlier is deployment else earlier,
            facts.reviews,
        )  # fmt: skip
        problems += merge_mark(deployment, requests.get(deployment.key), facts.merge_marks)
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
                                 f"(`bs follow-up {s.app} {s.request_id}` opens one; a "
                                 "follow-up merged with them met but no mark: run `bs hook "
                                 "closed` on it).",
                                 s.deployed_at))  # fmt: skip
        elif not s.overdue and which == "notice":
            found.append(Finding("awaiting-review", s.app, s.request_id, s.deployment_id,
                                 f"{name}: its follow-up review is due by {iso(s.due)}; {s.why}",
                                 s.deployed_at))  # fmt: skip
    return found


def _outside_bs(facts: AuditFacts, app: str | None, now: datetime) -> list[Finding]:
    """What each app runs now must be what bs deployed last (or is deploying)."""
    found = [
        Finding("deployed-unreadable", name, None, None, f"what {name} runs now cannot be "
                f"read ({why}), so whether something deployed it outside bs is unknown. Fix "
                "its deployed source, or give the audit its credentials.", now)
        for name, why in sorted(facts.deployed_errors.items()) if app is None or name == app
    ]  # fmt: skip
    for name, running_now in sorted(facts.deployed_now.items()):
        mine = [d for d in facts.deployments if d.app == name]
        done = [d for d in mine if d.state == "succeeded" and d.record_key is not None]
        if (app is not None and name != app) or not done:
            continue
        # The order bs recorded them in: each gateway's clock may differ, but each deploy
        # starts from what the one before left.
        last = max(done, key=lambda d: d.id)
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
                f"{last.text('to', 'tag') or 'untagged'}) deployed {short(last.text('to', 'commit'))}:"
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
