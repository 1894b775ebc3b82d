"""Emergencies, after the fact: the follow-up request, and its approval.

An emergency is approved under the policy's short emergency rule. Once it is
deployed, bs opens a follow-up request: the same release (app, from, to,
patch), marked ``follow_up_of``, which needs the policy's normal rules. When
it is merged with the policy met, the merge hook records that here and mints
nothing: the release is already out. Until then the emergency is listed by
``bs status`` and, once overdue, flagged by ``bs audit``.

The follow-up's id is derived from the emergency's, so opening it twice (the
gateway, then someone running ``bs follow-up``) finds the first one.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bs.config import BsConfig
from bs.core.explain import md_escape
from bs.core.ids import REQUEST_ID_RANDOM_BYTES, new_request_id
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, patch_file_path, request_branch, request_file_path
from bs.errors import BsError
from bs.forges import bot_login
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.requestfile import load_request
from bs.usecases.check import CheckReport
from bs.usecases.notify import (
    BOT_MARK,
    address_of,
    deliver,
    marked,
    posted_by_me,
    prepare,
    release_context,
    subject_tag,
)
from bs.usecases.request_body import pull_request_title
from bs.yamlio import dump_yaml

#: The merge hook's mark on a follow-up it found approved; `bs audit` looks for it.
FOLLOW_UP_APPROVED = "follow-up-approved"


@dataclass(frozen=True)
class FollowUpApproved:
    """A merged follow-up whose policy is met: the emergency it follows is now reviewed."""

    pull: PullRequest
    request: ReleaseRequest
    approvers: tuple[str, ...]
    emailed: tuple[str, ...]
    commented: bool


@dataclass(frozen=True)
class FollowUp:
    """The follow-up request of an emergency, and its pull request (None once merged)."""

    request_id: str
    branch: str
    pull: PullRequest | None
    opened_now: bool
    merged: bool = False


#: Follow-ups tried per emergency: a new one when the last was merged unapproved.
MAX_FOLLOW_UPS = 5


def follow_up_id(emergency: ReleaseRequest, attempt: int = 1) -> str:
    """The `attempt`-th follow-up's request id: the emergency's day, and randomness derived
    from its id (and the attempt, after the first)."""
    which = "" if attempt == 1 else f"{attempt} "
    seed = hashlib.sha256(
        f"bs follow-up {which}of {emergency.app}/{emergency.id}".encode()
    ).digest()
    return new_request_id(emergency.requested_at, seed[:REQUEST_ID_RANDOM_BYTES])


def follow_up_ids(emergency: ReleaseRequest) -> list[str]:
    return [follow_up_id(emergency, n) for n in range(1, MAX_FOLLOW_UPS + 1)]


def follow_up_request(
    emergency: ReleaseRequest, patch_path: str, *, now: datetime, request_id: str | None = None
) -> ReleaseRequest:
    return emergency.model_copy(
        update={
            "id": request_id or follow_up_id(emergency),
            "requested_at": now,
            "emergency": False,
            "follow_up_of": emergency.id,
            "patch": emergency.patch.model_copy(update={"file": patch_path}),
        }
    )


def read_merged_request(
    forge: Forge, config: BsConfig, app: str, request_id: str
) -> ReleaseRequest:
    """A request as merged on the requests repository's default branch."""
    repo = config.requests_repo
    path = request_file_path(app, request_id)
    data = forge.read_file(repo, path, forge.default_branch(repo))
    if data is None:
        raise BsError(
            f"request {request_id} of {app} is not on {repo}'s default branch ({path}): "
            "only a merged emergency request is followed up."
        )
    return load_request(data, path)


def open_follow_up(
    forge: Forge, config: BsConfig, emergency: ReleaseRequest, *, now: Callable[[], datetime],
    emergency_pull: int | None = None,
) -> FollowUp:  # fmt: skip
    """Open the follow-up request of a merged `emergency`, unless it exists already."""
    if not emergency.emergency:
        raise BsError(f"request {emergency.id} is not an emergency: there is nothing to follow up.")
    repo = config.requests_repo
    base = forge.default_branch(repo)
    for request_id in follow_up_ids(emergency):
        branch = request_branch(emergency.app, request_id)
        request_path = request_file_path(emergency.app, request_id)
        if forge.read_file(repo, request_path, base) is None:
            break
        if _approved(forge, config, branch):
            return FollowUp(request_id, branch, None, opened_now=False, merged=True)
        # Merged without the normal rules met (an admin merge): the emergency is still
        # unreviewed, so a new follow-up, under the next id.
    else:
        raise BsError(
            f"emergency {emergency.id} has had {MAX_FOLLOW_UPS} follow-ups merged without "
            "approval: open one by hand, or ask an admin why they were merged."
        )
    created: str | None = None
    if forge.resolve_branch(repo, branch) is not None:
        # Its name is derived from the emergency's id, so anyone could have made it first.
        _check_is_follow_up(forge, repo, branch, request_path, emergency)
        existing = next(
            (
                p for p in forge.list_pull_requests(repo, "open")
                if p.head_ref == branch and p.head_repo in (None, repo)
            ),
            None,
        )  # fmt: skip
        if existing is not None:
            return FollowUp(request_id, branch, existing, opened_now=False)
        patch_path = patch_file_path(
            emergency.app, request_id, compressed=emergency.patch.file.endswith(".gz")
        )
        request = follow_up_request(emergency, patch_path, now=now(), request_id=request_id)
    else:
        request, created = _push_follow_up(forge, repo, base, branch, emergency, now=now)
    try:
        pull = forge.open_pull_request(
            repo, head=branch, base=base, title=pull_request_title(request),
            body=follow_up_body(request, emergency, emergency_pull),
        )  # fmt: skip
    except BaseException:
        if created is not None:  # no branch without its pull request; never another's
            forge.delete_branch(repo, branch, sha=created)
        raise
    return FollowUp(request_id, branch, pull, opened_now=True)


def _approved(forge: Forge, config: BsConfig, branch: str) -> bool:
    """Whether the merged follow-up of `branch` carries the merge hook's approval mark."""
    repo = config.requests_repo
    pull = next(
        (p for p in forge.list_pull_requests(repo, "closed") if p.merged and p.head_ref == branch),
        None,
    )
    if pull is None:
        return False
    me = bot_login(config) or forge.current_user()
    return marked(forge.list_comments(repo, pull.number), me, FOLLOW_UP_APPROVED)


def _push_follow_up(
    forge: Forge, repo: str, base: str, branch: str, emergency: ReleaseRequest, *,
    now: Callable[[], datetime],
) -> tuple[ReleaseRequest, str]:  # fmt: skip
    """The follow-up's two files, committed on its new branch: the request and its commit."""
    expected = [patch_file_path(emergency.app, emergency.id, compressed=c) for c in (False, True)]
    if emergency.patch.file not in expected:  # the check makes it so; an admin merge may not
        raise BsError(
            f"emergency {emergency.id}'s patch.file is {emergency.patch.file!r}, not "
            f"{expected[0]}: its follow-up cannot be opened from it."
        )
    patch = forge.read_file(repo, emergency.patch.file, base)
    if patch is None:
        raise BsError(
            f"the emergency's patch {emergency.patch.file} is not on {repo}'s default branch: "
            "its follow-up cannot be opened."
        )
    request_id = branch.rsplit("/", 1)[1]
    compressed = emergency.patch.file.endswith(".gz")
    patch_path = patch_file_path(emergency.app, request_id, compressed=compressed)
    request = follow_up_request(emergency, patch_path, now=now(), request_id=request_id)
    work = Path(tempfile.mkdtemp(prefix=f"bs-follow-up-{request_id}-"))
    try:
        (work / "request.yaml").write_text(dump_yaml(request.to_document()), encoding="utf-8")
        (work / "patch").write_bytes(patch)
        files = [
            (request_file_path(request.app, request_id), work / "request.yaml"),
            (patch_path, work / "patch"),
        ]
        created = forge.create_branch(repo, branch, base, files, pull_request_title(request))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return request, created


def _check_is_follow_up(
    forge: Forge, repo: str, branch: str, path: str, emergency: ReleaseRequest
) -> None:
    """Refuse a branch of the follow-up's name that does not hold this emergency's follow-up."""
    data = forge.read_file(repo, path, branch)
    found: ReleaseRequest | None = None
    if data is not None:
        try:
            found = load_request(data, path)
        except BsError:
            found = None
    if found is None or found.follow_up_of != emergency.id or not found.same_release_as(emergency):
        raise BsError(
            f"branch {branch} of {repo} exists but does not hold the follow-up of emergency "
            f"{emergency.id}: delete that branch (it was not made by bs), then run "
            f"`bs follow-up {emergency.app} {emergency.id}` again."
        )


def follow_up_body(
    request: ReleaseRequest, emergency: ReleaseRequest, emergency_pull: int | None
) -> str:
    start = request.from_
    where = f" (#{emergency_pull})" if emergency_pull else ""
    lines = [
        "> [!WARNING]",
        f"> Follow-up review of emergency request `{emergency.id}`{where}, deployed under the "
        "policy's emergency rule. Review it as you would any release: it needs the normal "
        "rules. Merging it records the review and mints no deploy link.",
        "",
        f"**{emergency.requested_by}** released **{emergency.app}** in an emergency.",
        "",
        "| | tag | commit |",
        "|---|---|---|",
        f"| before | {md_escape(start.tag or '(untagged)') if start else '(nothing)'} | "
        f"{start.commit if start else ''} |",
        f"| released | {md_escape(request.to.tag or '(untagged)')} | {request.to.commit} |",
        "",
        f"Patch: `{request.patch.file}` (the emergency's, unchanged), SHA-256 "
        f"`{request.patch.sha256}`.",
    ]
    if emergency.reason:
        lines += ["", "The emergency's reason:", ""]
        lines += [f"> {md_escape(line)}" for line in emergency.reason.splitlines()]
    lines += ["", f"Request id `{request.id}`. Opened by bs after the emergency deploy."]
    return "\n".join(lines) + "\n"


def record_follow_up(
    forge: Forge, mailer: Mailer, config: BsConfig, report: CheckReport, *,
    now: Callable[[], datetime],
) -> FollowUpApproved:  # fmt: skip
    """A follow-up merged with the normal rules met: say so on it, and tell the requester
    and the review list. Nothing is minted: the release is out already."""
    pull, request, app = report.pull, report.request, report.app
    assert request is not None and app is not None and request.follow_up_of is not None
    repo = config.requests_repo
    approvers = report.verdict.approvers
    recipients: list[str] = []
    for address in [address_of(request.requested_by, forge, config.mail), *app.review_list]:
        if address and address not in recipients:
            recipients.append(address)
    context = release_context(request, app, pull) | {
        "title": f"Reviewed: emergency release of {request.app} "
        f"{request.to.tag or request.to.commit[:12]}",
        "emergency_id": request.follow_up_of,
        "approvers": list(approvers),
        "merger": pull.merged_by or "unknown",
    }
    outgoing = Outgoing(
        template="follow_up",
        subject=f"{subject_tag(request)} Reviewed: emergency {request.follow_up_of} "
        f"({context['to_label']}) approved after the fact",
        to=tuple(recipients),
        context=context,
        thread=f"{request.app}/{request.follow_up_of}",
    )
    prepared = prepare(config.mail, [outgoing], now) if recipients else []
    commented = False
    if not posted_by_me(forge, repo, pull.number, FOLLOW_UP_APPROVED):
        forge.add_comment(
            repo, pull.number,
            f"{BOT_MARK.format(kind=FOLLOW_UP_APPROVED)}\n**Follow-up approved.** Emergency "
            f"request `{request.follow_up_of}` is now reviewed under the normal rules, "
            f"approved by {md_escape(', '.join(approvers) or 'nobody')}. No deploy link is "
            "minted: the release is out already.\n",
        )  # fmt: skip
        commented = True
    deliver(mailer, prepared)
    return FollowUpApproved(pull, request, tuple(approvers), tuple(recipients), commented)
