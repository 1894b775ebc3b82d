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
@click.option("-m", "--message", default="", metavar="TEXT", help="The review's comment.")
@json_option
@pass_cli
def review(cli: CliContext, number: int, state: str | None, message: str, as_json: bool) -> None:
    """Review pull request PR of the requests repo as BS_USER (local forge only).

    \b
    Example:
      BS_USER=bob bs review 3 --approve -m "Looks good"
      BS_USER=dave bs review 3 --request-changes -m "Not during the election"
    """
    from bs.errors import BsError
    from bs.forges.local import LocalForge

    if state is None:
        raise BsError("say what the review is: --approve, --request-changes or --comment.")
    forge = cli.forge
    if not isinstance(forge, LocalForge):
        raise BsError(
            "bs review works on the local forge only: on GitHub, review the pull request there."
        )
    repo = cli.workspace.config.requests_repo
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
    click.echo(f"{result.user} {verb[result.state]} #{number} at {result.commit_id[:12]}")
