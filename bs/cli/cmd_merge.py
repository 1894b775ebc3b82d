"""``bs merge PR``: merge a request on the local forge once bs/policy passes."""

from __future__ import annotations

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.command("merge")
@click.argument("number", metavar="PR", type=click.IntRange(min=1))
@click.option(
    "--admin",
    is_flag=True,
    help="Merge even though bs/policy is not success, as a GitHub admin can (no link will be minted).",
)
@json_option
@pass_cli
def merge(cli: CliContext, number: int, admin: bool, as_json: bool) -> None:
    """Merge pull request PR of the requests repo (local forge only).

    Like a GitHub ruleset, it merges only when the status bs/policy on the
    head commit is success; on GitHub, merge there.

    \b
    Example:
      BS_USER=bob bs merge 3
    """
    from bs.errors import BsError
    from bs.forges.local import LocalForge
    from bs.usecases.merge import merge_request

    forge = cli.forge
    if not isinstance(forge, LocalForge):
        raise BsError(
            "bs merge works on the local forge only: on GitHub, merge the pull request there."
        )
    pull = merge_request(forge, cli.workspace.config.requests_repo, number, admin=admin)
    if as_json:
        emit_json({"pull_request": number, "merged": pull.merged, "merged_by": pull.merged_by,
                   "merge_commit_sha": pull.merge_commit_sha, "admin": admin})  # fmt: skip
        return
    how = " as an admin, bypassing bs/policy" if admin else ""
    click.echo(f"{pull.merged_by} merged #{number}{how}: {pull.merge_commit_sha}")
