"""``bs hook opened``: tell the app's review list about a new request.

The mail carries what reviewers need to decide: the release (from the
request, as the checker verified it), what ``bs/policy`` says now, a link to
the pull request, and the complete patch, attached when it is small enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bs import gitcmd
from bs.config import BsConfig
from bs.core.checks import CheckResult
from bs.core.policy import Policy
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest
from bs.core.words import readable_size
from bs.errors import BsError
from bs.mail.compose import Attachment, Outgoing
from bs.ports import Forge, Mailer
from bs.usecases.check import check_pull_request
from bs.usecases.notify import (
    address_of,
    deliver,
    prepare,
    recorded_address,
    release_context,
    subject_tag,
)

#: How many commits and files the review mail lists before "and N more".
LISTED_COMMITS, LISTED_FILES = 50, 100


def _release_lists(
    forge: Forge, repo: str, request: ReleaseRequest, checks: tuple[CheckResult, ...]
) -> dict[str, Any]:
    """The release's commits and files, from the app's repository, once the checker has
    confirmed the request's commits are the release's; nothing otherwise."""
    confirmed = all(c.ok for c in checks if c.name in ("tag", "deployed", "ancestry"))
    if not confirmed:
        return {"commits": [], "more_commits": 0, "files": [], "more_files": 0}
    git_dir = forge.git_dir(repo)
    start = request.from_.commit if request.from_ else None
    commits = gitcmd.commit_subjects(git_dir, start, request.to.commit, LISTED_COMMITS)
    files = [
        {"how": word, "paths": " -> ".join(paths)}
        for word, paths in gitcmd.name_status(git_dir, start, request.to.commit)
    ]
    return {
        "commits": commits,
        "more_commits": max(0, request.patch.commits - len(commits)),
        "files": files[:LISTED_FILES],
        "more_files": max(0, len(files) - LISTED_FILES),
    }


@dataclass(frozen=True)
class ReviewMail:
    pull: PullRequest
    request: ReleaseRequest
    recipients: tuple[str, ...]
    attached: bool
    patch_size: int | None
    verdict: str
    sent_via: tuple[str, ...]
    #: Why the patch is not attached, when it is not.
    not_attached_why: str = ""
    #: Who was asked to review on the forge (users, then ORG/TEAM teams).
    reviewers_asked: tuple[str, ...] = ()
    #: Why asking for reviews failed, when it did (the mail still went).
    reviewers_error: str = ""


def _size_text(size: int | None) -> str:
    return "size unknown" if size is None else readable_size(size)


def notify_review_list(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    number: int,
    *,
    now: Callable[[], datetime],
) -> ReviewMail:
    repo = config.requests_repo
    report = check_pull_request(forge, repo, number, post_status=False)
    pull, request, app = report.pull, report.request, report.app
    if request is None or app is None:
        raise BsError(
            f"pull request #{number} is not a request bs can read ({report.verdict.summary}): "
            "no review mail sent."
        )
    if pull.state != "open":
        raise BsError(f"pull request #{number} is closed: no review mail sent.")
    git_dir = forge.git_dir(repo)
    # Only a patch the checker tied to the release is sized, read or attached.
    digest_checked = any(c.name == "digest" and c.ok for c in report.verdict.checks)
    patch_size = (
        gitcmd.blob_size(git_dir, pull.head_sha, request.patch.file) if digest_checked else None
    )
    limit = int(config.mail.attach_patch_below)
    attach = (
        digest_checked
        and request.patch.file.endswith((".patch", ".patch.gz"))
        and patch_size is not None
        and patch_size < limit
        and gitcmd.blob_mode(git_dir, pull.head_sha, request.patch.file) == "100644"
    )
    attachments: tuple[Attachment, ...] = ()
    if attach:
        content = gitcmd.read_blob(git_dir, pull.head_sha, request.patch.file)
        name = request.patch.file.rsplit("/", 1)[-1]
        gzipped = name.endswith(".gz")
        attachments = (
            Attachment(
                name, content, *(("application", "gzip") if gzipped else ("text", "x-diff"))
            ),
        )
    verdict = report.verdict
    problems = [c.message for c in verdict.checks if c.ok is False]
    listed = _release_lists(forge, app.repo, request, verdict.checks)
    context = release_context(request, app, pull) | {
        "title": f"{request.label} request: {request.app} {request.to.tag or request.to.commit[:12]}",
        "verdict": verdict.summary,
        "problems": problems,
        "attached": attach,
        "patch_file": request.patch.file.rsplit("/", 1)[-1],
        "patch_size": _size_text(patch_size),
        "patch_limit": _size_text(limit),
        **listed,
        "diff_from": request.from_.commit if request.from_ else gitcmd.EMPTY_TREE_SHA1,
        "not_attached_why": (
            "bs could not confirm it is the release's own diff"
            if not digest_checked
            else f"it is larger than mail carries here ({_size_text(limit)})"
        ),
    }
    asked, asked_error = _ask_reviewers(forge, repo, pull, report.policy, request)
    recipients = tuple(app.review_list)
    if not recipients:
        return ReviewMail(
            pull, request, (), attach, patch_size, verdict.summary, (), context["not_attached_why"],
            asked, asked_error,
        )  # fmt: skip
    outgoing = Outgoing(
        template="review",
        subject=f"{subject_tag(request)} {'Release request' if request.kind == 'release' else 'request'}"
        f" #{number}: "
        f"{context['from_label']} -> {context['to_label']} by {request.requested_by}",
        to=recipients,
        context=context,
        reply_to=address_of(pull.author, forge, config.mail, recorded_address(report)),
        thread=f"{request.app}/{request.id}",
        attachments=attachments,
    )
    sent = deliver(mailer, prepare(config.mail, [outgoing], now))
    return ReviewMail(
        pull, request, recipients, attach, patch_size, verdict.summary, tuple(sent),
        "" if attach else context["not_attached_why"], asked, asked_error,
    )  # fmt: skip


def _ask_reviewers(
    forge: Forge, repo: str, pull: PullRequest, policy: Policy | None, request: ReleaseRequest
) -> tuple[tuple[str, ...], str]:
    """Ask the people and teams whose approval counts (never the requester) for a review:
    for an emergency, those of its rule only."""
    if policy is None:
        return (), ""
    asked = policy.approvers(request.kind)
    requester = request.requested_by
    users = [u for u in asked.users if u.lower() not in (pull.author.lower(), requester.lower())]
    teams = list(asked.teams)
    try:
        forge.request_reviewers(repo, pull.number, users, teams)
    except BsError as exc:
        return (), exc.message
    return (*users, *teams), ""
