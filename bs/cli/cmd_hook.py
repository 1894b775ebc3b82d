"""``bs hook opened|closed``: what the forge's pull request events trigger.

On GitHub they run in Actions workflows (``--event "$GITHUB_EVENT_PATH"``);
on the local forge, run them yourself after opening or closing a request.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.cli.events import event_option, pull_number


def _now() -> datetime:
    return datetime.now(UTC)


@click.group("hook")
def hook() -> None:
    """Run the pull request hooks: review mail, removal, deploy links.

    \b
    Example:
      bs hook opened 12
      bs hook closed 12
      bs hook closed --event "$GITHUB_EVENT_PATH"
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

    \b
    Example:
      bs hook opened 12
    """
    from bs.usecases.hook_opened import notify_review_list

    pr = pull_number(number, event_path)
    sent = notify_review_list(cli.forge, cli.mailer, cli.workspace.config, pr, now=_now)
    if as_json:
        emit_json({"pull_request": pr, "app": sent.request.app, "request": sent.request.id,
                   "recipients": list(sent.recipients), "patch_attached": sent.attached,
                   "patch_bytes": sent.patch_size, "policy": sent.verdict,
                   "sent_via": list(sent.sent_via)})  # fmt: skip
        return
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
    """
    from bs.usecases.hook_closed import NotARequest, Removal
    from bs.usecases.hook_merged import EXIT_NOT_MET, AlreadyMinted
    from bs.usecases.hook_refused import RefusedMerge
    from bs.usecases.hooks import run_closed_hook

    pr = pull_number(number, event_path)
    config = cli.workspace.config
    outcome = run_closed_hook(cli.forge, cli.mailer, config, pr, cli.keyring, now=_now)
    if isinstance(outcome, NotARequest):
        if as_json:
            emit_json({"pull_request": pr, "outcome": "not-a-request", "reason": outcome.why})
        else:
            click.echo(
                f"#{pr} is not a release request bs can read ({outcome.why}): nothing to do."
            )
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
