"""``bs follow-up APP ID``: open the follow-up review of a merged emergency request."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("follow-up")
@click.argument("app")
@click.argument("request_id", metavar="ID")
@json_option
@pass_cli
def follow_up(cli: CliContext, app: str, request_id: str, as_json: bool) -> None:
    """Open the follow-up review of emergency request ID of APP.

    The gateway opens it by itself after an emergency deploy; use this when
    it could not (the forge was down, the deploy was interrupted). The
    follow-up is the same release, marked follow_up_of: ID, and needs the
    policy's normal rules. Running it again finds the one already open.

    \b
    Example:
      bs follow-up frontend 20261125-abcdefghijklmnop
    """
    from bs.core.ids import is_request_id
    from bs.errors import BsError
    from bs.usecases.follow_up import open_follow_up, read_merged_request

    cli.workspace.app(app)  # an unknown app: one clear message
    if not is_request_id(request_id):
        raise BsError(
            f"'{request_id}' is not a request id (YYYYMMDD- and 16 letters/digits): "
            "see the emergency's requests/APP/ID.yaml, or `bs audit` / `bs status`."
        )
    config = cli.workspace.config
    emergency = read_merged_request(cli.forge, config, app, request_id)
    opened = open_follow_up(cli.forge, config, emergency, now=lambda: datetime.now(UTC))
    pull = opened.pull
    if as_json:
        emit_json({"app": app, "emergency": request_id, "follow_up": opened.request_id,
                   "merged": opened.merged, "opened_now": opened.opened_now,
                   "pull_request": {"number": pull.number, "url": pull.url} if pull else None})  # fmt: skip
        return
    if pull is None:
        click.echo(f"Follow-up {opened.request_id} of {request_id} is merged and approved already.")
    elif opened.opened_now:
        click.echo(
            f"Opened follow-up {opened.request_id} as pull request #{pull.number}: {pull.url}"
        )
    else:
        click.echo(f"Follow-up {opened.request_id} is open already: #{pull.number} {pull.url}")
