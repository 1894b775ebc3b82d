"""``bs apps``."""

from __future__ import annotations

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("apps")
@json_option
@pass_cli
def apps(cli: CliContext, as_json: bool) -> None:
    """List the apps you may request releases of.

    \b
    Example:
      bs apps
      bs apps --json
    """
    registry = cli.workspace.apps.apps
    rows = [
        {
            "name": name,
            "repo": app.repo,
            "tags": app.tags.scheme,
            "policy": app.policy,
            "deployed": app.deployed.model_dump(),
            "review_list": list(app.review_list),
        }
        for name, app in sorted(registry.items())
    ]
    if as_json:
        emit_json({"apps": rows})
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        click.echo(
            f"{row['name']:<{width}}  {row['repo']}  (tags: {row['tags']}, policy: {row['policy']})"
        )
