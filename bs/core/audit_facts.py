"""The audit's facts: requests as merged, the gateway's deployments, emergencies' follow-ups.

Plain data, read by ``bs.usecases.audit_sources`` and judged by ``bs.core.audit``;
`judge_emergency` says whether a deployed emergency was reviewed in time
(``bs.usecases.emergencies`` gathers what it needs, for the audit and ``bs status``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bs.core.pulls import PullRequest, Review, approves_before_merge
from bs.core.request import ReleaseRequest

#: A deployment in one of these states has run (its deployer was started).
RAN_STATES = ("running", "succeeded", "failed", "interrupted")
#: The release reached production, or may have (an interrupted deploy's outcome is unknown).
DEPLOYED_STATES = ("succeeded", "interrupted")


@dataclass(frozen=True)
class MergedRequest:
    """A request file as it arrived on the default branch (its first-parent history)."""

    app: str
    id: str
    path: str
    #: The default branch's commit that added it, and that commit's time.
    commit: str
    committed_at: datetime
    #: None when the file is not a request bs can read; `problem` says why.
    request: ReleaseRequest | None
    problem: str | None = None
    #: Modified or deleted on the default branch after it was added.
    changed_later: bool = False
    #: The merged pull request of its branch (``request/<app>/<id>``), if any.
    pull: PullRequest | None = None

    @property
    def key(self) -> str:
        return f"{self.app}/{self.id}"

    @property
    def merged_at(self) -> datetime:
        return self.pull.merged_at if self.pull and self.pull.merged_at else self.committed_at

    @property
    def kind(self) -> str:
        return self.request.kind if self.request else "unreadable"


@dataclass(frozen=True)
class DeploymentFacts:
    """A row of the gateway's ``deployments`` table, and whether its link was redeemed."""

    id: int
    request_key: str
    app: str
    pull_request: int
    requester: str
    #: The approval record the merge hook built and the gateway kept (see hook_merged).
    record: Mapping[str, Any]
    state: str
    attempts: int
    deployed_by: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    redeemed: bool = True

    @property
    def ran(self) -> bool:
        return self.attempts > 0 or self.state in RAN_STATES

    @property
    def at(self) -> datetime:
        return self.finished_at or self.started_at or self.created_at

    @property
    def record_key(self) -> str | None:
        app, request = self.record.get("app"), self.record.get("request")
        return f"{app}/{request}" if isinstance(app, str) and isinstance(request, str) else None

    @property
    def key(self) -> str:
        """The request it deploys, by its record (the row's key only when the record has none)."""
        return self.record_key or self.request_key

    def field(self, *path: str) -> Any:
        """``record[path[0]][path[1]]...``, or None where any step is missing."""
        value: Any = self.record
        for name in path:
            value = value.get(name) if isinstance(value, Mapping) else None
        return value

    def text(self, *path: str) -> str | None:
        value = self.field(*path)
        return value if isinstance(value, str) else None

    @property
    def approvers(self) -> tuple[str, ...]:
        found = self.field("approvers")
        people = found if isinstance(found, list) else []
        return tuple(str(a["user"]) for a in people if isinstance(a, Mapping) and a.get("user"))


@dataclass(frozen=True)
class FollowUpState:
    """A follow-up review of an emergency, as far as the forge and the history tell."""

    request_id: str
    pull_number: int | None
    #: When it was merged; None while it is open.
    merged_at: datetime | None
    #: Merged, and the merge hook marked it approved (the normal rules met).
    approved: bool
    #: It reviews the emergency's own release (same to commit and digest).
    same_release: bool = True


@dataclass(frozen=True)
class UnreviewedEmergency:
    """An emergency deployed whose follow-up review is not approved yet."""

    app: str
    request_id: str
    requester: str
    reason: str
    deployment_id: int
    deployed_at: datetime
    follow_up_pull: int | None
    due: datetime
    overdue: bool
    #: Where the follow-up stands, in words.
    why: str


@dataclass(frozen=True)
class LateReview:
    """An emergency whose follow-up was approved, but after it was due."""

    app: str
    request_id: str
    deployment_id: int
    deployed_at: datetime
    follow_up_pull: int | None
    due: datetime
    reviewed_at: datetime


def judge_emergency(
    emergency: MergedRequest,
    deployment: DeploymentFacts,
    follow_ups: Sequence[FollowUpState],
    review_within: timedelta,
    now: datetime,
) -> UnreviewedEmergency | LateReview | None:
    """Whether a deployed emergency was reviewed after the fact, within `review_within` of
    its deploy: None when it was in time."""
    # From when its deployer started: a deployment stuck, then marked interrupted, must
    # not get its clock reset by when it was recovered.
    deployed_at = deployment.started_at or deployment.at
    due = deployed_at + review_within
    approved = sorted(
        (f for f in follow_ups if f.approved and f.same_release and f.merged_at is not None),
        key=lambda f: f.merged_at or due,
    )
    if approved:
        first = approved[0]
        assert first.merged_at is not None
        if first.merged_at <= due:
            return None
        return LateReview(emergency.app, emergency.id, deployment.id, deployed_at,
                          first.pull_number, due, first.merged_at)  # fmt: skip
    open_ = [f for f in follow_ups if f.merged_at is None and f.pull_number is not None]
    merged = [f for f in follow_ups if f.merged_at is not None]
    if open_:
        why, pull = f"its follow-up #{open_[0].pull_number} is not approved yet", open_[0]
    elif merged:
        pull = merged[0]
        why = (
            f"its follow-up #{pull.pull_number} reviews another release"
            if not pull.same_release
            else f"its follow-up #{pull.pull_number} was merged without bs finding the "
            "normal rules met (no approval mark from the merge hook)"
        )
    else:
        why, pull = "no follow-up review was opened", None
    request = emergency.request
    return UnreviewedEmergency(
        app=emergency.app, request_id=emergency.id,
        requester=request.requested_by if request else deployment.requester,
        reason=(request.reason or "") if request else "", deployment_id=deployment.id,
        deployed_at=deployed_at, follow_up_pull=pull.pull_number if pull else None, due=due,
        overdue=now >= due, why=why,
    )  # fmt: skip


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def approved_by(
    reviews: Mapping[int, Sequence[Review]] | None, pull: PullRequest | None
) -> tuple[str, ...]:
    """Who approved a merged pull request's head before its merge, where its reviews were
    read (a follow-up's: who reviewed the emergency after the fact)."""
    if reviews is None or pull is None or pull.number not in reviews:
        return ()
    found = reviews[pull.number]
    return tuple(
        sorted({r.user for r in found if approves_before_merge(r, pull.head_sha, pull.merged_at)})
    )


def short(value: str | None) -> str:
    return value[:12] if value else "(none)"
