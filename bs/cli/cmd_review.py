"""``bs review PR``: reviews on the local forge (on GitHub, people review on GitHub)."""

from __future__ import annotations

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("review")
@click.argument("number", metavar="PR", type=click.IntRange(min=1))
@click.option("--approve", "state", flag_value="APPROVED", help="Approve the request.")
@click.option(
    "--request-changes",
    "state",
    flag_value="CHANGES_REQUESTED",
    help="Reject it (say why with -m).",
)
@click.option("--comment", "state", flag_value="COMMENTED", help="Only comment.")
@click.option(
    "--dismiss",
    "dismiss_id",
    type=click.IntRange(min=1),
    metavar="REVIEW",
    help="Dismiss review REVIEW (an approval or change request), saying why with -m.",
)
@click.option("-m", "--message", default="", metavar="TEXT", help="The review's comment.")
@json_option
@pass_cli
def review(
    cli: CliContext,
    number: int,
    state: str | None,
    dismiss_id: int | None,
    message: str,
    as_json: bool,
) -> None:
    """Review pull request PR of the requests repo as BS_USER (local forge only).

    \b
    Example:
      BS_USER=bob bs review 3 --approve -m "Looks good"
      BS_USER=dave bs review 3 --request-changes -m "Not during the election"
      BS_USER=carol bs review 3 --dismiss 7 -m "Resolved in the release notes"
    """
    from bs.errors import BsError
    from bs.forges.local import LocalForge

    if state is None and dismiss_id is None:
        raise BsError(
            "say what the review is: --approve, --request-changes, --comment or --dismiss REVIEW."
        )
    if state is not None and dismiss_id is not None:
        raise BsError("--dismiss is on its own: dismiss a review, or submit one, not both.")
    forge = cli.forge
    if not isinstance(forge, LocalForge):
        raise BsError(
            "bs review works on the local forge only: on GitHub, review the pull request there."
        )
    repo = cli.workspace.config.requests_repo
    if dismiss_id is not None:
        if not message.strip():
            raise BsError("dismissing a review needs a message saying why: pass -m TEXT.")
        result = forge.dismiss_review(repo, number, dismiss_id, message)
        if as_json:
            emit_json({"pull_request": number, "dismissed": {"id": result.id, "user": result.user}})
        else:
            click.echo(
                f"{forge.current_user()} dismissed {result.user}'s review {result.id} on #{number}"
            )
        return
    assert state is not None
    result = forge.submit_review(repo, number, state, message)  # type: ignore[arg-type]
    if as_json:
        emit_json(
            {
                "pull_request": number,
                "review": {
                    "id": result.id,
                    "user": result.user,
                    "state": result.state,
                    "commit_id": result.commit_id,
                },
            }
        )
        return
    verb = {
        "APPROVED": "approved",
        "CHANGES_REQUESTED": "requested changes on",
        "COMMENTED": "commented on",
    }
    click.echo(
        f"{result.user} {verb[result.state]} #{number} at {result.commit_id[:12]} (review {result.id})"
    )
