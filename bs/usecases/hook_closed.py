"""``bs hook closed``: a request's pull request was closed, merged, or rejected.

- Closed without merging, or rejected by an eligible reviewer: the request
  is removed (pull request closed, its request branch deleted) and the
  requester is told who denied it and what they said.
- Merged: see `bs.usecases.hook_merged`, which re-evaluates the policy and
  mints a deploy link only when it is met.

Only requests are touched: a pull request that adds no request is left
alone, and the only branch ever deleted is the request's own
``request/<app>/<id>``, never the default branch, and only while it still
points at the pull request's head. Safe to run again: a re-run after a mail
failure closes nothing twice and sends the mail again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bs.config import BsConfig
from bs.core.pulls import PullRequest
from bs.core.request import request_branch
from bs.errors import BsError
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.usecases.check import CheckReport, check_pull_request
from bs.usecases.notify import (
    BOT_MARK,
    deliver,
    marked,
    prepare,
    release_context,
    requester_address,
    requester_of,
    subject_tag,
)


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
    #: Removed by an earlier run (its mark is on the pull request): nothing done again.
    already: bool = False


@dataclass(frozen=True)
class NotARequest:
    """A pull request the hooks leave alone: it adds no request bs can read."""

    pull: PullRequest
    why: str
    report: CheckReport
    #: Whether it adds or changes anything under requests/ (a broken request, not none).
    touches_requests: bool


def read_request_report(
    forge: Forge, config: BsConfig, pull: PullRequest
) -> CheckReport | NotARequest:
    report = check_pull_request(forge, config.requests_repo, pull.number, post_status=False)
    if report.request is None or report.app is None or report.approval_facts is None:
        # Every closed pull request fails the "open" check: say what else is wrong.
        failed = [c for c in report.verdict.checks if c.ok is False and c.name != "open"]
        why = failed[0].message if failed else report.verdict.summary
        files = forge.list_pull_files(config.requests_repo, pull.number, pull.head_sha)
        touches = any(f.path.startswith("requests/") for f in files)
        return NotARequest(pull, why, report, touches)
    return report


def remove_denied_request(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    report: CheckReport,
    *,
    now: Callable[[], datetime],
) -> Removal:
    repo = config.requests_repo
    pull, request, app = report.pull, report.request, report.app
    assert request is not None and app is not None
    policy = report.verdict.policy
    rejection = policy.rejections[0] if policy is not None and policy.rejections else None
    if pull.state == "open" and rejection is None:
        raise BsError(
            f"pull request #{pull.number} is open and no eligible reviewer has rejected it: "
            "nothing to remove. `bs hook closed` removes requests that are closed or rejected."
        )
    comments = forge.list_comments(repo, pull.number)
    requester = requester_of(report)
    if rejection is not None:
        denier, how, comment = rejection.user, "rejected", rejection.comment
    else:
        denier = pull.closed_by or "someone"
        how = "withdrawn" if denier.lower() == requester.lower() else "closed"
        said = [c for c in comments if c.user.lower() == denier.lower()]
        comment = said[-1].body if said else ""
    # Everything that can fail for want of set-up fails before anything changes.
    address = requester_address(forge, config.mail, report)
    branch = request_branch(request.app, request.id)
    delete = (
        pull.head_repo == repo  # never a fork's branch of the same name, nor an unknown one
        and pull.head_ref == branch
        and branch != forge.default_branch(repo)
        and forge.resolve_branch(repo, branch) == pull.head_sha
    )
    context = release_context(request, app, pull) | {
        "title": f"Release request {how} by {denier}",
        "outcome": how,
        "denier": denier,
        "comment": comment,
        "branch_deleted": delete,
    }
    outgoing = Outgoing(
        template="rejected",
        subject=f"{subject_tag(request)} {context['to_label']} request #{pull.number} {how} by {denier}",
        to=(address,),
        context=context,
        thread=f"{request.app}/{request.id}",
    )
    prepared = prepare(config.mail, [outgoing], now)
    # Told already (the mark is on the pull request): finish what a failed run left (a
    # close, a branch) and say nothing again. On GitHub, bs's own close runs this hook
    # again (the closed event).
    me = forge.current_user().lower()
    closed_by_me = pull.state == "closed" and (pull.closed_by or "").lower() == me
    # bs closes only after the mail went: its own close means the requester was told
    # (even when the mark could not be posted).
    told = (closed_by_me and me != pull.author.lower()) or marked(comments, me, "removed")
    sent: list[str] = []
    if not told:
        sent = deliver(mailer, prepared)  # first: a failed mail changes nothing
        with contextlib.suppress(BsError):  # the requester was told; the mark only says so
            forge.add_comment(
                repo, pull.number,
                f"{BOT_MARK.format(kind='removed')}\nRequest {how} by {denier}: "
                f"{requester} told by mail.",
            )  # fmt: skip
    closed_now = False
    if pull.state == "open":
        pull = forge.close_pull_request(repo, pull.number)
        closed_now = True
    branch_deleted = False
    if delete:
        forge.delete_branch(repo, branch, sha=pull.head_sha)
        branch_deleted = True
    return Removal(
        pull, requester, denier, how, comment, closed_now, branch_deleted, address, tuple(sent),
        told,
    )  # fmt: skip
