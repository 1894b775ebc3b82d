"""What the hooks share: people's addresses, the release as mail shows it, sending.

An address comes from bs.yaml's ``mail.addresses`` first (what the
organisation says), then the forge (``users.yaml`` locally), then the one the
requester recorded in their request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from bs.config import AppConfig, MailCommon
from bs.core.pulls import Comment, PullRequest
from bs.core.request import ReleaseRequest, kind_words
from bs.core.words import count_noun
from bs.errors import BsError
from bs.mail.compose import Outgoing, render_message
from bs.ports import Forge, Mailer
from bs.usecases.check import CheckReport
from bs.usecases.request_body import kind_notice

BOT_MARK = "<!-- bs:{kind} -->"


def address_of(
    login: str, forge: Forge, mail: MailCommon, recorded: str | None = None
) -> str | None:
    folded = {name.lower(): address for name, address in mail.addresses.items()}
    return folded.get(login.lower()) or forge.user_email(login) or recorded


def require_address(login: str, forge: Forge, mail: MailCommon, recorded: str | None = None) -> str:
    address = address_of(login, forge, mail, recorded)
    if address is None:
        raise BsError(
            f"no email address for {login}: add it under mail.addresses in bs.yaml "
            "(login: address). Nothing was changed or sent."
        )
    return address


def recorded_address(report: CheckReport) -> str | None:
    """The address the request file records, trusted only when nobody but the requester
    pushed or committed to the request's branch (anyone else could have changed it)."""
    if report.request is None or report.approval_facts is None:
        return None
    return None if report.approval_facts.contributors else report.request.requester_email


def requester_of(report: CheckReport) -> str:
    """Who asked: the pull request's author, as the forge says; for a follow-up (opened by
    bs), the emergency's requester, as the check established it."""
    facts = report.approval_facts
    return facts.requester if facts is not None else report.pull.author


def requester_address(forge: Forge, mail: MailCommon, report: CheckReport) -> str:
    """The requester's address (see `requester_of`)."""
    return require_address(requester_of(report), forge, mail, recorded_address(report))


def unreadable_context(pull: PullRequest, repo: str) -> dict[str, Any]:
    """What messages about a pull request with no readable request can still say."""
    return {
        "readable": False, "title": "", "notice": "", "kind": "release", "app": "(no readable request)", "repo": repo, "request_id": "(none)",
        "requester": pull.author, "reason": "", "from_label": "?", "to_label": "?",
        "from_commit": "?", "to_commit": "?", "stats": "?", "digest": "?",
        "pull_number": pull.number, "pull_url": pull.url,
    }  # fmt: skip


def subject_tag(request: ReleaseRequest) -> str:
    """``[frontend]``, ``[frontend] EMERGENCY``, ``[frontend] ROLLBACK``: leads every subject,
    so an unusual request stands out in an inbox."""
    words = kind_words(
        emergency=request.emergency,
        rollback=request.rollback,
        follow_up=request.follow_up_of is not None,
    )
    return " ".join([f"[{request.app}]", *words])


def version_label(tag: str | None, commit: str) -> str:
    return tag or commit[:12]


def release_context(request: ReleaseRequest, app: AppConfig, pull: PullRequest) -> dict[str, Any]:
    """The facts every message about a request shows, as the templates name them."""
    patch = request.patch
    return {
        "readable": True,
        "title": "",
        "notice": kind_notice(request),
        "kind": request.kind,
        "app": request.app,
        "repo": app.repo,
        "request_id": request.id,
        # The check made sure requested_by agrees (a follow-up is opened by bs, for them).
        "requester": request.requested_by,
        "reason": request.reason or "",
        "from_label": version_label(request.from_.tag, request.from_.commit)
        if request.from_
        else "nothing deployed (first deploy)",
        "to_label": version_label(request.to.tag, request.to.commit),
        "from_commit": request.from_.commit if request.from_ else "(none)",
        "to_commit": request.to.commit,
        "stats": f"{count_noun(patch.commits, 'commit')}, "
        f"{count_noun(patch.files_changed, 'file')} changed, "
        f"+{patch.insertions:,} -{patch.deletions:,}",
        "digest": patch.sha256,
        "pull_number": pull.number,
        "pull_url": pull.url,
    }


def prepare(
    mail: MailCommon, messages: Sequence[Outgoing], now: Callable[[], datetime]
) -> list[EmailMessage]:
    """Render every message before anything is changed: a bad address fails here."""
    return [render_message(message, mail, now()) for message in messages]


def deliver(mailer: Mailer, messages: Sequence[EmailMessage]) -> list[str]:
    """Send each message; where each went. Stops at the first failure (a BsError)."""
    return [mailer.send(message) for message in messages]


def posted_by_me(forge: Forge, repo: str, number: int, kind: str) -> bool:
    """Whether bs (as the acting user) already left its `kind` comment: hooks run again
    after a failure, and say things once."""
    return marked(forge.list_comments(repo, number), forge.current_user(), kind)


def marked(comments: Sequence[Comment], me: str, kind: str) -> bool:
    """Whether `me` (bs's acting user) left its `kind` mark among `comments`."""
    mark = BOT_MARK.format(kind=kind)
    return any(c.user.lower() == me.lower() and c.body.startswith(mark) for c in comments)
