"""``bs hook opened|pushed|closed``: what the forge's pull request events trigger.

On GitHub they run in Actions workflows (``--event "$GITHUB_EVENT_PATH"``, the
default there) and append what they did to the job summary
(``$GITHUB_STEP_SUMMARY``): never a deploy link, nor anything secret. On the
local forge, run them yourself after opening or closing a request.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.cli.events import (
    append_summary,
    error_summary,
    event_file,
    event_option,
    pull_number,
    read_payload,
    summary_file,
)
from bs.errors import BsError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bs.usecases.hook_opened import ReviewMail


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _summarised_errors(cli: CliContext, command: str) -> Iterator[Path | None]:
    """The job summary file (or None); an error that stops the hook is summarised too."""
    summary = summary_file(cli.env)
    try:
        yield summary
    except BsError as exc:
        append_summary(summary, error_summary(command, exc.message))
        raise


@click.group("hook")
def hook() -> None:
    """Run the pull request hooks: review mail, removal, deploy links.

    \b
    Example:
      bs hook opened 12
      bs hook closed 12
      bs hook closed --event "$GITHUB_EVENT_PATH"
      bs hook pushed --event "$GITHUB_EVENT_PATH"
    """


@hook.command("opened")
@click.argument("number", metavar="[PR]", type=click.IntRange(min=1), required=False)
@event_option
@json_option
@pass_cli
def opened(cli: CliContext, number: int | None, event_path: Path | None, as_json: bool) -> None:
    """Email the app's review list about request PR: summary, patch, link.

    The patch is attached when smaller than mail.attach_patch_below (1 MB by
    default); a larger one is described and linked instead.

    In GitHub Actions, with neither PR nor --event, the pull request is the
    event's ($GITHUB_EVENT_PATH).

    \b
    Example:
      bs hook opened 12
      bs hook opened     # in GitHub Actions: --event "$GITHUB_EVENT_PATH"
    """
    from bs.usecases.hook_opened import notify_review_list

    with _summarised_errors(cli, "bs hook opened") as summary:
        pr = pull_number(cli, number, event_path)
        sent = notify_review_list(cli.forge, cli.mailer, cli.workspace.config, pr, now=_now)
    from bs.cli.hook_summaries import opened_markdown

    append_summary(summary, opened_markdown(pr, sent))
    if as_json:
        emit_json({"pull_request": pr, "app": sent.request.app, "request": sent.request.id,
                   "recipients": list(sent.recipients), "patch_attached": sent.attached,
                   "patch_bytes": sent.patch_size, "policy": sent.verdict,
                   "sent_via": list(sent.sent_via), "reviewers_asked": list(sent.reviewers_asked),
                   "reviewers_error": sent.reviewers_error or None})  # fmt: skip
        return
    _say_reviewers(pr, sent)
    if not sent.recipients:
        click.echo(f"{sent.request.app} has no review_list in policies/apps.yaml: nothing sent.")
        return
    what = (
        "with the patch attached"
        if sent.attached
        else f"without the patch ({sent.not_attached_why})"
    )
    click.echo(f"Emailed the review list of {sent.request.app} about #{pr}, {what}:")
    for address in sent.recipients:
        click.echo(f"  {address}")
    click.echo(f"Sent via {', '.join(sent.sent_via)}")


def _say_reviewers(pr: int, sent: ReviewMail) -> None:
    """Who was asked to review on the forge (on stderr: the mail's lines stay first)."""
    if sent.reviewers_asked:
        click.echo(f"Asked for reviews on #{pr}: {', '.join(sent.reviewers_asked)}", err=True)
    elif sent.reviewers_error:
        click.echo(f"warning: could not ask for reviews on #{pr}: {sent.reviewers_error}", err=True)


@hook.command("pushed")
@event_option
@json_option
@pass_cli
def pushed(cli: CliContext, event_path: Path | None, as_json: bool) -> None:
    """Record who opened a request or pushed to it, from a GitHub event.

    GitHub keeps no record of who pushed each commit of a pull request; the
    check needs one (a pusher's approval does not count). The privileged
    workflow runs this on every opened and synchronize event, before the
    check: the record is a bs/pushed status on the new head, from the App.

    \b
    Example:
      bs hook pushed     # in GitHub Actions: --event "$GITHUB_EVENT_PATH"
    """
    with _summarised_errors(cli, "bs hook pushed"):
        path = event_file(None, event_path, cli.env)
        if path is None:
            raise BsError("give --event FILE (in GitHub Actions, $GITHUB_EVENT_PATH is read).")
        payload = read_payload(path)
        record = getattr(cli.forge, "record_push", None)
        said = record(cli.workspace.config.requests_repo, payload) if callable(record) else None
    if as_json:
        emit_json({"recorded": said})
    elif said is None:
        click.echo("Nothing to record: not an opened or synchronize event, or a forge that "
                   "records pushes itself (the local forge).")  # fmt: skip
    else:
        click.echo(f"Recorded: {said}")


@hook.command("closed")
@click.argument("number", metavar="[PR]", type=click.IntRange(min=1), required=False)
@event_option
@json_option
@pass_cli
def closed(cli: CliContext, number: int | None, event_path: Path | None, as_json: bool) -> None:
    """Handle request PR after it was merged, closed or rejected.

    \b
    Merged: the policy is evaluated again (from the default branch, on the
      merged head). Met: the approval is recorded on the pull request and a
      single-use deploy link is emailed to the requester with their slot.
      Not met (an admin merge): nothing is minted; the pull request, the
      requester and the review list are told why.
    Closed without merging, or rejected by an eligible reviewer: the pull
      request is closed, its branch deleted, and the requester is emailed
      who denied it and their comment.

    Safe to run again: after a mail failure, a re-run sends a new link, and
    any one link of a request redeemed kills them all.

    \b
    Exit status: 0 done (also: a link was minted before and there is
    nothing more to do), 1 an error (nothing minted or nothing sent; run
    it again), 2 merged but not approved, or with no readable request
    (no link), 3 could not evaluate.

    \b
    Example:
      bs hook closed 12
      bs hook closed --event "$GITHUB_EVENT_PATH"
      bs hook closed     # in GitHub Actions: the same
    """
    from bs.usecases.follow_up import FollowUpApproved
    from bs.usecases.hook_closed import NotARequest, Removal
    from bs.usecases.hook_merged import EXIT_NOT_MET, AlreadyMinted
    from bs.usecases.hook_refused import RefusedMerge
    from bs.usecases.hooks import run_closed_hook

    with _summarised_errors(cli, "bs hook closed") as summary:
        pr = pull_number(cli, number, event_path)
        config = cli.workspace.config
        outcome = run_closed_hook(cli.forge, cli.mailer, config, pr, cli.keyring, now=_now)
    from bs.cli.hook_summaries import closed_markdown

    append_summary(summary, closed_markdown(pr, outcome))
    if isinstance(outcome, NotARequest):
        if as_json:
            emit_json({"pull_request": pr, "outcome": "not-a-request", "reason": outcome.why})
        else:
            click.echo(
                f"#{pr} is not a release request bs can read ({outcome.why}): nothing to do."
            )
        return
    if isinstance(outcome, FollowUpApproved):
        if as_json:
            emit_json({"pull_request": pr, "outcome": "follow-up-approved", "minted": False,
                       "follows_up": outcome.request.follow_up_of,
                       "approvers": list(outcome.approvers), "emailed": list(outcome.emailed)})  # fmt: skip
        else:
            click.echo(
                f"Follow-up #{pr} approved: emergency request {outcome.request.follow_up_of} of "
                f"{outcome.request.app} is now reviewed (by {', '.join(outcome.approvers)})."
            )
            click.echo("No deploy link minted: the release is out already.")
            if outcome.emailed:
                click.echo(f"Emailed {', '.join(outcome.emailed)}.")
        return
    if isinstance(outcome, AlreadyMinted):
        if as_json:
            emit_json({"pull_request": pr, "outcome": "minted-before", "minted": False,
                       "reason": outcome.summary})  # fmt: skip
        else:
            click.echo(
                f"#{pr}'s deploy link was minted before (see its approval comment); the policy "
                f"no longer holds ({outcome.summary}), so no new link is minted."
            )
        return
    if isinstance(outcome, RefusedMerge):
        if as_json:
            emit_json({"pull_request": pr, "outcome": "refused", "minted": False,
                       "reason": outcome.summary, "emailed": list(outcome.emailed)})  # fmt: skip
        else:
            click.echo(
                f"Pull request #{pr} was merged, but its policy is not met: no deploy link minted."
            )
            click.echo(f"Why: {outcome.summary}")
            if outcome.commented:
                click.echo(f"Commented on #{pr}.")
            click.echo(f"Emailed {', '.join(outcome.emailed)}.")
        sys.exit(EXIT_NOT_MET)
    if isinstance(outcome, Removal) and outcome.already:
        if as_json:
            emit_json({"pull_request": pr, "outcome": "already-removed",
                       "closed_now": outcome.closed_now,
                       "branch_deleted": outcome.branch_deleted})  # fmt: skip
            return
        click.echo(f"Request #{pr} was already removed and its requester told: nothing sent.")
        if outcome.closed_now:
            click.echo(f"Closed pull request #{pr} (an earlier run could not).")
        if outcome.branch_deleted:
            click.echo(f"Deleted branch {outcome.pull.head_ref}.")
        return
    if isinstance(outcome, Removal):
        removal = outcome
        if as_json:
            emit_json({"pull_request": pr, "outcome": removal.how, "denied_by": removal.denier,
                       "comment": removal.comment, "closed_now": removal.closed_now,
                       "branch_deleted": removal.branch_deleted, "emailed": removal.emailed})  # fmt: skip
            return
        click.echo(f"Request #{pr} {removal.how} by {removal.denier}.")
        if removal.closed_now:
            click.echo(f"Closed pull request #{pr}.")
        if removal.branch_deleted:
            click.echo(f"Deleted branch {removal.pull.head_ref}.")
        click.echo(
            f"Emailed {removal.requester} <{removal.emailed}> via {', '.join(removal.sent_via)}."
        )
        return
    minted = outcome
    if as_json:
        emit_json({"pull_request": pr, "outcome": "minted", "minted": True,
                   "approval": minted.record, "emailed": minted.emailed})  # fmt: skip
        return
    record = minted.record
    click.echo(f"Approval recorded for #{pr}: {record['app']} request {record['request']}")
    click.echo(f"  requester:   {record['requester']}")
    for approval in record["approvers"]:
        click.echo(f"  approved by: {approval['user']} at {approval['approved_at']}")
    click.echo(f"  merged by:   {record['merged_by']} at {record['merged_at']}")
    start = record["from"]
    click.echo(
        f"  from:        {start['tag'] or '-'} {start['commit']}"
        if start
        else "  from:        nothing deployed"
    )
    click.echo(f"  to:          {record['to']['tag'] or '-'} {record['to']['commit']}")
    click.echo(f"  patch:       sha256 {record['patch_sha256']}")
    click.echo(f"  slot:        {record['slot']['start']} to {record['slot']['end']}")
    click.echo(f"Minted a deploy link and emailed it to {record['requester']} <{minted.emailed}>")
    click.echo(f"  via {', '.join(minted.sent_via)}. (The link itself is never printed.)")
