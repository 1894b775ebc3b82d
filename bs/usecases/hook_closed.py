"""``bs hook closed``: a request's pull request was closed, merged, or rejected.

- Closed without merging, or rejected by an eligible reviewer: the request
  is removed (pull request closed, branch deleted) and the requester is told
  who denied it and what they said.
- Merged: see `bs.usecases.hook_merged`, which re-evaluates the policy and
  mints a deploy link only when it is met.

Everything is safe to run again: a re-run after a mail failure closes nothing
twice and sends the mail again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bs.config import BsConfig
from bs.core.pulls import PullRequest
from bs.errors import BsError
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.usecases.check import CheckReport, check_pull_request
from bs.usecases.notify import release_context, require_address, send_all


@dataclass(frozen=True)
class Removal:
    pull: PullRequest
    requester: str
    denier: str
    how: str
    comment: str
    closed_now: bool
    branch_deleted: bool
    emailed: str
    sent_via: tuple[str, ...]


def remove_denied_request(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    pull: PullRequest,
    *,
    now: Callable[[], datetime],
) -> Removal:
    repo = config.requests_repo
    report: CheckReport | None = None
    with contextlib.suppress(BsError):  # who denied it matters more than why it is invalid
        report = check_pull_request(forge, repo, pull.number, post_status=False)
    policy = report.verdict.policy if report is not None else None
    rejection = policy.rejections[0] if policy is not None and policy.rejections else None
    if pull.state == "open" and rejection is None:
        raise BsError(
            f"pull request #{pull.number} is open and no eligible reviewer has rejected it: "
            "nothing to remove. `bs hook closed` removes requests that are closed or rejected."
        )
    if rejection is not None:
        denier, how, comment = rejection.user, "rejected", rejection.comment
    else:
        denier = pull.closed_by or "someone"
        how = "withdrawn" if denier.lower() == pull.author.lower() else "closed"
        said = [
            c for c in forge.list_comments(repo, pull.number) if c.user.lower() == denier.lower()
        ]
        comment = said[-1].body if said else ""
    request = report.request if report is not None else None
    address = require_address(
        pull.author, forge, config.mail, request.requester_email if request else None
    )
    closed_now = False
    if pull.state == "open":
        pull = forge.close_pull_request(repo, pull.number)
        closed_now = True
    branch_deleted = False
    if forge.resolve_branch(repo, pull.head_ref) is not None:
        forge.delete_branch(repo, pull.head_ref)
        branch_deleted = True
    if request is not None and report is not None and report.app is not None:
        context = release_context(request, report.app, pull)
        subject_what = f"[{request.app}] {context['to_label']}"
        thread = f"{request.app}/{request.id}"
    else:  # the request could not be read: say what we can
        context = {
            "app": "(unreadable request)", "repo": repo, "request_id": "(unknown)",
            "requester": pull.author, "reason": "", "from_label": "?", "to_label": "?",
            "from_commit": "?", "to_commit": "?", "stats": "?", "digest": "?",
            "pull_number": pull.number, "pull_url": pull.url,
        }  # fmt: skip
        subject_what, thread = "Release", None
    context |= {
        "title": f"Release request {how} by {denier}",
        "outcome": {"rejected": "rejected", "closed": "closed", "withdrawn": "withdrawn"}[how],
        "denier": denier,
        "comment": comment,
    }
    outgoing = Outgoing(
        template="rejected",
        subject=f"{subject_what} request #{pull.number} {how} by {denier}",
        to=(address,),
        context=context,
        reply_to=None,
        thread=thread,
    )
    sent = send_all(mailer, config.mail, [outgoing], now)
    return Removal(
        pull, pull.author, denier, how, comment, closed_now, branch_deleted, address, tuple(sent)
    )
