"""``bs tags APP``."""

from __future__ import annotations

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("tags")
@click.argument("app")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N tags.")
@json_option
@pass_cli
def tags(cli: CliContext, app: str, limit: int | None, as_json: bool) -> None:
    """List APP's release tags, newest first.

    Tags newer than the deployed version are marked `newer`; the deployed
    one is marked `deployed`. Tags outside the app's tag scheme are left out.

    \b
    Example:
      bs tags frontend
      bs tags frontend --json --limit 20
    """
    from bs.usecases.releases import list_tags

    listing = list_tags(cli.forge, app, cli.workspace.app(app))
    marked = listing.tags[:limit] if limit else listing.tags
    deployed = listing.deployed
    if as_json:
        emit_json(
            {
                "app": app,
                "deployed": {"tag": deployed.tag, "commit": deployed.commit} if deployed else None,
                "tags": [
                    {"tag": ref.name, "commit": ref.commit, "newer": newer} for ref, newer in marked
                ],
            }
        )
        return
    click.echo(f"{app}: deployed {deployed.label() if deployed else 'nothing yet'}")
    if not marked:
        click.echo("  no release tags")
    width = max((len(ref.name) for ref, _ in marked), default=0)
    for ref, newer in marked:
        mark = (
            "newer" if newer else ("deployed" if deployed and ref.commit == deployed.commit else "")
        )
        click.echo(f"  {ref.name:<{width}}  {ref.commit[:12]}  {mark}".rstrip())
