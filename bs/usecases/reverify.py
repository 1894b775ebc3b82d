"""The gateway's own check, from the forge, before a link is consumed and before each deploy.

A valid link proves the merge hook once found the policy met. The gateway
trusts nothing it has not read itself: the pull request must be merged, the
policy (from the default branch) met by the reviews recorded before the
merge, the tag still on the pinned commit and the deployed version still
the one the request starts from. It runs the same code as ``bs check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bs.config import AppConfig, BsConfig
from bs.core.links import LinkClaims
from bs.core.request import ReleaseRequest
from bs.core.slots import NoSlot, deploy_slot
from bs.errors import BsError
from bs.ports import Forge
from bs.usecases.hook_closed import NotARequest
from bs.usecases.hook_merged import approval_record, approvals_of, evaluate_merged


@dataclass(frozen=True)
class Verified:
    request: ReleaseRequest
    app: AppConfig
    #: The approval record (as the merge hook commented it).
    record: dict[str, Any]
    #: The deploy window: the policy's slot, never past the link's expiry.
    slot_start: datetime
    slot_end: datetime


@dataclass(frozen=True)
class NotVerified:
    """Why the release may not be deployed now, in words for its requester."""

    why: str


def reverify(forge: Forge, config: BsConfig, claims: LinkClaims) -> Verified | NotVerified:
    """Everything the deploy depends on, read again from the forge now."""
    repo = config.requests_repo
    try:
        pull = forge.get_pull_request(repo, claims.pull_request)
    except BsError as exc:
        return NotVerified(f"pull request #{claims.pull_request} cannot be read: {exc.message}")
    if not pull.merged or pull.merged_at is None:
        return NotVerified(f"pull request #{pull.number} is not merged")
    if pull.author.lower() != claims.requester.lower():
        return NotVerified(f"pull request #{pull.number} was not opened by {claims.requester}")
    try:
        report = evaluate_merged(forge, config, pull)
    except BsError as exc:
        return NotVerified(exc.message)
    if isinstance(report, NotARequest):
        return NotVerified(f"pull request #{pull.number} is not a release request: {report.why}")
    request, app, policy = report.request, report.app, report.policy
    assert request is not None and app is not None and policy is not None
    if (request.app, request.id) != (claims.app, claims.request_id):
        return NotVerified(f"pull request #{pull.number} holds another request")
    if request.follow_up_of is not None:
        return NotVerified(
            f"pull request #{pull.number} is a follow-up review: it is never deployed"
        )
    if report.verdict.outcome != "met":
        failed = [c.message for c in report.verdict.checks if c.ok is False]
        return NotVerified(
            "the approval no longer holds: " + ("; ".join(failed) or report.verdict.summary)
        )
    try:
        slot = deploy_slot(pull.merged_at, policy.schedule_for(request.kind))
    except NoSlot as exc:
        return NotVerified(str(exc))
    approvals = approvals_of(forge, repo, pull, report.verdict.approvers)
    return Verified(
        request=request,
        app=app,
        record=approval_record(report, approvals, slot),
        slot_start=max(slot.start, claims.not_before),
        slot_end=min(slot.end, claims.expires),
    )
