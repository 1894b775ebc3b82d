"""``bs apps``."""

from __future__ import annotations

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("apps")
@click.option(
    "--all", "show_all", is_flag=True, help="List every app, also those you may not request."
)
@json_option
@pass_cli
def apps(cli: CliContext, show_all: bool, as_json: bool) -> None:
    """List the apps you may request releases of.

    An app's policy names its requesters (users and teams); apps whose
    policy you are not a requester of are left out unless you pass --all.

    \b
    Example:
      bs apps
      bs apps --all --json
    """
    from bs.policyfiles import Policies, WorkingTree
    from bs.usecases.requesters import may_request

    policies = Policies(WorkingTree(cli.workspace.root))
    registry = cli.workspace.apps.apps
    user = None if show_all else cli.forge.current_user()
    rows = []
    for name, app in sorted(registry.items()):
        allowed = (
            True if user is None else may_request(policies.policy(app.policy), user, cli.forge)
        )
        if allowed:
            rows.append(
                {
                    "name": name,
                    "repo": app.repo,
                    "tags": app.tags.scheme,
                    "policy": app.policy,
                    "deployed": app.deployed.model_dump(),
                    "review_list": list(app.review_list),
                }
            )
    if as_json:
        emit_json({"user": user, "apps": rows})
        return
    if not rows:
        click.echo(
            f"{user} may request no app: see `bs apps --all` and each app's policy requesters."
        )
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        click.echo(
            f"{row['name']:<{width}}  {row['repo']}  (tags: {row['tags']}, policy: {row['policy']})"
        )
