"""A request's pull request was merged: re-check it, then mint its deploy link.

The merge itself proves nothing: an admin can merge past a failing check and
a status can be forged. So the policy is evaluated again here, from the
default branch, with the same code as ``bs check``, on the commit that was
merged. Only when it is met is a link minted and mailed to the requester;
otherwise nothing is minted and the requester and review list are told why.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bs.config import BsConfig
from bs.core.explain import md_escape
from bs.core.links import DEPLOY_LINK, NONCE_BYTES, Keyring, LinkClaims, link_url, mint_link_token
from bs.core.pulls import PullRequest, approves_before_merge
from bs.core.slots import NoSlot, Slot, deploy_slot, describe_instant
from bs.errors import BsError
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.usecases.check import CheckReport
from bs.usecases.follow_up import FollowUpApproved, record_follow_up
from bs.usecases.hook_closed import NotARequest, read_request_report
from bs.usecases.hook_refused import RefusedMerge, refuse_merged, refuse_unreadable
from bs.usecases.notify import (
    BOT_MARK,
    deliver,
    posted_by_me,
    prepare,
    release_context,
    requester_address,
    subject_tag,
)

#: bs hook closed's exit status when a merged request's policy is not met.
EXIT_NOT_MET = 2
EXIT_COULD_NOT_EVALUATE = 3


@dataclass(frozen=True)
class Approval:
    user: str
    at: datetime | None


@dataclass(frozen=True)
class MintedLink:
    """What the hook did for a merged, approved request; `record` holds no secret."""

    pull: PullRequest
    record: dict[str, Any]
    slot: Slot
    emailed: str
    sent_via: tuple[str, ...]
    commented: bool


@dataclass(frozen=True)
class AlreadyMinted:
    """A re-run after the request's link was minted, once the policy no longer holds
    (typically: the release was deployed, so what is deployed moved). Nothing to say."""

    pull: PullRequest
    summary: str


def evaluate_merged(forge: Forge, config: BsConfig, pull: PullRequest) -> CheckReport | NotARequest:
    try:
        return read_request_report(forge, config, pull)
    except BsError as exc:
        raise BsError(
            f"could not evaluate merged pull request #{pull.number}: {exc.message} "
            "No deploy link was minted; run the hook again once that is fixed.",
            exit_code=EXIT_COULD_NOT_EVALUATE,
        ) from None


def approvals_of(
    forge: Forge, repo: str, pull: PullRequest, approvers: tuple[str, ...]
) -> list[Approval]:
    """Each approver with when they approved the merged head (before the merge)."""
    latest: dict[str, datetime] = {}
    for review in forge.list_reviews(repo, pull.number):
        if approves_before_merge(review, pull.head_sha, pull.merged_at):
            latest[review.user.lower()] = review.submitted_at
    return [Approval(user, latest.get(user.lower())) for user in approvers]


def approval_record(report: CheckReport, approvals: list[Approval], slot: Slot) -> dict[str, Any]:
    """What was approved, by whom, and when it may be deployed: no secret in it.

    The merge hook comments it; the gateway keeps it with the deployment.
    """
    pull, request, policy = report.pull, report.request, report.policy
    assert request is not None and policy is not None and pull.merged_at is not None
    merged_at = pull.merged_at.astimezone(UTC)
    requester = pull.author
    return {
        "pull_request": pull.number,
        "app": request.app,
        "request": request.id,
        "requester": requester,
        "approvers": [{"user": a.user, "approved_at": _iso(a.at)} for a in approvals],
        "merged_by": pull.merged_by,
        "merged_at": _iso(merged_at),
        "from": {"tag": request.from_.tag, "commit": request.from_.commit}
        if request.from_
        else None,
        "to": {"tag": request.to.tag, "commit": request.to.commit},
        "head": pull.head_sha,
        "merge_commit": pull.merge_commit_sha,
        "patch_sha256": request.patch.sha256,
        "patch_file": request.patch.file,
        "policy": report.verdict.policy_name,
        "kind": request.kind,
        "emergency": request.emergency,
        "rollback": request.rollback,
        "slot": {
            "start": _iso(slot.start),
            "end": _iso(slot.end),
            "timezone": policy.deploy.timezone,
        },
    }


def mint_for_merged(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    report: CheckReport,
    keyring_loader: Callable[[], Keyring],
    *,
    now: Callable[[], datetime],
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> MintedLink:
    """For a merged request whose policy `report` found met."""
    pull, request, app, policy = report.pull, report.request, report.app, report.policy
    assert request is not None and app is not None and policy is not None
    repo = config.requests_repo
    if pull.merged_at is None:
        raise BsError(
            f"the forge does not say when pull request #{pull.number} was merged, so its deploy "
            "slot cannot be placed: no deploy link was minted."
        )
    merged_at = pull.merged_at.astimezone(UTC)
    schedule = policy.schedule_for(request.kind)
    try:
        slot = deploy_slot(merged_at, schedule)
    except NoSlot as exc:
        raise BsError(f"{exc}: no deploy link was minted. Fix the policy's freezes.") from None
    if now() >= slot.end:
        raise BsError(
            f"the deploy slot of pull request #{pull.number} ended "
            f"{describe_instant(slot.end, policy.deploy.zone)}: no deploy link was minted. "
            f"Open a new request: bs open-request {request.app} {request.to.tag or request.to.commit}"
        )
    # Everything that can fail for want of set-up fails before anything is posted or sent.
    requester = pull.author  # the check made sure requested_by agrees
    address = requester_address(forge, config.mail, report)
    keyring = keyring_loader()
    approvals = approvals_of(forge, repo, pull, report.verdict.approvers)
    zone = policy.deploy.zone
    record = approval_record(report, approvals, slot)
    claims = LinkClaims(
        purpose=DEPLOY_LINK, app=request.app, request_id=request.id, pull_request=pull.number,
        requester=requester, not_before=slot.start, expires=slot.end,
    )  # fmt: skip
    token = mint_link_token(claims, keyring, random_bytes(NONCE_BYTES))
    context = release_context(request, app, pull) | {
        "title": f"Approved: deploy {request.app} {request.to.tag or request.to.commit[:12]}"
        + (f" ({request.label.lower()})" if request.kind != "release" else ""),
        "link": link_url(config.gateway.url, token),
        "slot_start": describe_instant(slot.start, zone),
        "slot_end": describe_instant(slot.end, zone),
        "slot_length": schedule.slot,
        "waited_for": list(slot.waited_for),
        "cut_short_by": slot.cut_short_by or "",
        "approvals": [
            {"user": a.user, "at": describe_instant(a.at, zone) if a.at else ""} for a in approvals
        ],
        "merger": pull.merged_by or "unknown",
        "merged_at": describe_instant(merged_at, zone),
    }
    outgoing = Outgoing(
        template="approved",
        subject=f"{subject_tag(request)} Approved: your deploy link for {context['to_label']}",
        to=(address,),
        context=context,
        thread=f"{request.app}/{request.id}",
    )
    prepared = prepare(config.mail, [outgoing], now)
    commented = False
    if not posted_by_me(forge, repo, pull.number, "approval"):
        forge.add_comment(repo, pull.number, _approval_comment(record, slot, zone))
        commented = True
    sent = deliver(mailer, prepared)
    return MintedLink(pull, record, slot, address, tuple(sent), commented)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _approval_comment(record: dict[str, Any], slot: Slot, zone: Any) -> str:
    approvers = ", ".join(
        f"{a['user']} ({a['approved_at']})" if a["approved_at"] else a["user"]
        for a in record["approvers"]
    )
    start = record["from"]
    rows = [
        ("App", record["app"]),
        ("Request", record["request"]),
        ("Requester", record["requester"]),
        ("Approved by", approvers),
        ("Merged by", f"{record['merged_by']} ({record['merged_at']})"),
        (
            "From",
            f"{start['tag'] or '(untagged)'} {start['commit']}" if start else "nothing deployed",
        ),
        ("To", f"{record['to']['tag'] or '(untagged)'} {record['to']['commit']}"),
        ("Reviewed head", record["head"]),
        ("Patch SHA-256", record["patch_sha256"]),
        (
            "Deploy slot",
            f"{describe_instant(slot.start, zone)} to {describe_instant(slot.end, zone)}",
        ),
    ]
    table = "\n".join(f"| {name} | {md_escape(str(value))} |" for name, value in rows)
    return (
        f"{BOT_MARK.format(kind='approval')}\n"
        "**Approval recorded.** The policy is met on the merged commit; the requester is sent "
        "a single-use deploy link by mail.\n\n| | |\n|---|---|\n" + table + "\n"
    )


def handle_merged(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    pull: PullRequest,
    keyring_loader: Callable[[], Keyring],
    *,
    now: Callable[[], datetime],
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> MintedLink | RefusedMerge | AlreadyMinted | NotARequest | FollowUpApproved:
    report = evaluate_merged(forge, config, pull)
    if isinstance(report, NotARequest):
        if report.touches_requests:  # a broken request merged: as loud as an unapproved one
            return refuse_unreadable(forge, mailer, config, report.report, report.why, now=now)
        return report
    if report.verdict.outcome == "met" and report.request is not None:
        if report.request.follow_up_of is not None:  # reviewed after the fact: no link
            return record_follow_up(forge, mailer, config, report, now=now)
        return mint_for_merged(
            forge, mailer, config, report, keyring_loader, now=now, random_bytes=random_bytes
        )
    if posted_by_me(forge, config.requests_repo, pull.number, "approval"):
        return AlreadyMinted(pull, report.verdict.summary)
    return refuse_merged(forge, mailer, config, report, now=now)
