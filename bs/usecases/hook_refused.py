"""A merged request whose policy is not met: mint nothing, and say why.

An admin can merge past a failing check; the merge hook then comments on the
pull request and mails the requester and the app's review list. A merged pull
request that touches ``requests/`` but holds no request bs can read (it also
changes other files, say) is refused the same way, not ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bs.config import BsConfig
from bs.core.explain import explain_text, md_escape
from bs.core.pulls import PullRequest
from bs.errors import BsError
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.usecases.check import CheckReport
from bs.usecases.notify import (
    BOT_MARK,
    deliver,
    posted_by_me,
    prepare,
    release_context,
    requester_address,
    require_address,
    subject_tag,
    unreadable_context,
)


@dataclass(frozen=True)
class RefusedMerge:
    pull: PullRequest
    summary: str
    explanation: str
    emailed: tuple[str, ...]
    sent_via: tuple[str, ...]
    commented: bool


def refuse_merged(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    report: CheckReport,
    *,
    now: Callable[[], datetime],
) -> RefusedMerge:
    """For a merged request whose policy is not met: mint nothing, say why."""
    pull, request, app = report.pull, report.request, report.app
    repo = config.requests_repo
    verdict = report.verdict
    explanation = explain_text(verdict, report.heading)
    assert request is not None and app is not None
    try:
        recipients = [requester_address(forge, config.mail, report)]
    except BsError:
        if not app.review_list:
            raise
        recipients = []  # the review list still hears of an unapproved merge
    recipients.extend(a for a in app.review_list if a not in recipients)
    context = release_context(request, app, pull) | {
        "title": f"Merged without approval: no deploy link for {request.app}",
        "summary": verdict.summary,
        "explanation": explanation.splitlines(),
        "merger": pull.merged_by or "someone",
    }
    outgoing = Outgoing(
        template="refused",
        subject=f"{subject_tag(request)} No deploy link: #{pull.number} merged without approval",
        to=tuple(recipients),
        context=context,
        thread=f"{request.app}/{request.id}",
    )
    prepared = prepare(config.mail, [outgoing], now)
    commented = False
    if not posted_by_me(forge, repo, pull.number, "no-link"):
        forge.add_comment(repo, pull.number, _no_link_comment(pull, verdict.summary))
        commented = True
    sent = deliver(mailer, prepared)
    return RefusedMerge(
        pull, verdict.summary, explanation, tuple(recipients), tuple(sent), commented
    )


def refuse_unreadable(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    report: CheckReport,
    why: str,
    *,
    now: Callable[[], datetime],
) -> RefusedMerge:
    """A merged pull request that touches requests/ but holds no readable request."""
    pull = report.pull
    repo = config.requests_repo
    recipients = [require_address(pull.author, forge, config.mail)]
    app = report.app
    if app is not None:
        recipients.extend(a for a in app.review_list if a not in recipients)
    context = unreadable_context(pull, repo) | {
        "title": "Merged without a valid request: no deploy link",
        "summary": why,
        "explanation": explain_text(report.verdict, report.heading).splitlines(),
        "merger": pull.merged_by or "someone",
    }
    outgoing = Outgoing(
        template="refused",
        subject=f"No deploy link: #{pull.number} merged without a valid request",
        to=tuple(recipients),
        context=context,
    )
    prepared = prepare(config.mail, [outgoing], now)
    commented = False
    if not posted_by_me(forge, repo, pull.number, "no-link"):
        forge.add_comment(repo, pull.number, _no_link_comment(pull, why))
        commented = True
    sent = deliver(mailer, prepared)
    return RefusedMerge(pull, why, "", tuple(recipients), tuple(sent), commented)


def _no_link_comment(pull: PullRequest, why: str) -> str:
    return (
        f"{BOT_MARK.format(kind='no-link')}\n"
        f"**No deploy link was minted.** This pull request was merged by "
        f"{md_escape(pull.merged_by or 'someone')}, but its approval policy is not met: "
        f"{md_escape(why)}\n\n"
        "The merge does not release anything. To release it, open a new request and have "
        "it approved as the policy asks."
    )
