"""``bs status [APP]``."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("status")
@click.argument("app", required=False)
@json_option
@pass_cli
def status(cli: CliContext, app: str | None, as_json: bool) -> None:
    """Show where releases stand, for every app or only APP.

    Open requests and what each still needs (the bs/policy status on its
    head), the deployed versions, the gateway's live slots, running
    deployments and locks, and each policy's current and coming freezes and
    deploy windows. Read-only: it changes nothing, not even the store.

    \b
    Example:
      bs status
      bs status frontend --json
    """
    from datetime import timedelta

    from bs.forges import bot_login
    from bs.store.readonly import store_location
    from bs.usecases.status import read_status
    from bs.usecases.status_store import read_store
    from bs.usecases.status_text import status_json, status_lines

    config = cli.workspace.config
    url = store_location(cli.workspace, cli.env)
    now = datetime.now(UTC)
    lock_ttl = timedelta(seconds=config.gateway.lock_timeout)
    report = read_status(
        cli.forge,
        config.requests_repo,
        app=app,
        read_store=lambda apps: read_store(url, apps=apps, now=now, lock_ttl=lock_ttl),
        now=now,
        # On GitHub only the App's bs/policy counts, as the ruleset requires; the local
        # forge's checks are run by whoever runs them.
        status_poster=bot_login(config) if config.forge.kind == "github" else None,
    )
    from bs.usecases.status_emergencies import pending_reviews

    report.emergencies, report.emergencies_error = pending_reviews(
        cli.forge, cli.workspace, cli.env, app=app, now=now
    )
    if as_json:
        emit_json(status_json(report))
        return
    click.echo("\n".join(status_lines(report)))
