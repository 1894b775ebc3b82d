"""``bs open-request APP TAG``."""

from __future__ import annotations

import sys

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.core.words import count_noun


@click.command("open-request")
@click.argument("app")
@click.argument("tag")
@click.option("--reason", "-r", metavar="TEXT", help="Why this release: shown to reviewers.")
@click.option(
    "--emergency",
    is_flag=True,
    help="Break-glass: the policy's emergency rule and its short slot apply (needs --reason); "
    "once deployed, bs opens a follow-up request under the normal rules.",
)
@click.option(
    "--rollback",
    is_flag=True,
    help="Go back to TAG, older than what is deployed: the patch is the reverse diff and the "
    "policy's rollback rule applies.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Do everything but push the branch and open the pull request; the files go to a "
    "temporary folder.",
)
@json_option
@pass_cli
def open_request(
    cli: CliContext,
    app: str,
    tag: str,
    reason: str | None,
    emergency: bool,
    rollback: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Ask for a release of APP at TAG.

    Checks that TAG is newer than what is deployed, computes the complete
    patch between them, and opens a pull request in the requests repository
    with requests/APP/ID.yaml and its patch. Prints the pull request's URL.

    \b
    Example:
      bs open-request frontend release_4573 --reason "Fix the cookie banner"
      bs open-request frontend release_4573 --dry-run --json
      bs open-request frontend release_4571 --rollback --reason "4572 breaks search"
      bs open-request frontend release_4574 --emergency --reason "Fix the outage"
    """
    import secrets
    from datetime import UTC, datetime

    from bs.usecases.open_request import open_request as run

    progress = _Progress() if sys.stderr.isatty() and not as_json else None
    result = run(
        cli.workspace,
        cli.forge,
        app,
        tag,
        reason=reason,
        dry_run=dry_run,
        emergency=emergency,
        rollback=rollback,
        now=lambda: datetime.now(UTC),
        random_bytes=secrets.token_bytes,
        progress=progress,
    )
    if progress is not None:
        progress.done()
    pull = result.pull_request
    data = {
        "id": result.request.id,
        "kind": result.request.kind,
        "emergency": result.request.emergency,
        "rollback": result.request.rollback,
        "request_file": result.request_file,
        "patch_file": result.patch_file,
        "patch_sha256": result.patch.sha256,
        "pull_request": {"number": pull.number, "url": pull.url} if pull else None,
    }
    if result.dry_run_dir is not None:
        data["dry_run_dir"] = str(result.dry_run_dir)
    if as_json:
        emit_json(data)
        return
    request = result.request
    since = request.from_.tag or request.from_.commit[:12] if request.from_ else "nothing deployed"
    stats = request.patch
    click.echo(f"{request.noun} {request.id}: {app} {since} -> {tag}")
    undone = " undone" if request.rollback else ""
    click.echo(
        f"  {count_noun(stats.commits, 'commit')}{undone}, "
        f"{count_noun(stats.files_changed, 'file')} changed, "
        f"+{stats.insertions} -{stats.deletions}"
    )
    click.echo(f"  patch {result.patch_file} sha256 {stats.sha256}")
    if pull is None:
        click.echo(f"Dry run: nothing pushed. The files are in {result.dry_run_dir}")
    else:
        click.echo(f"Opened pull request #{pull.number}: {pull.url}")


class _Progress:
    """Bytes of patch written so far, on one refreshed line of stderr."""

    STEP = 8 << 20

    def __init__(self) -> None:
        self._next = self.STEP
        self._shown = False

    def __call__(self, size: int) -> None:
        if size >= self._next:
            self._next = size + self.STEP
            self._shown = True
            click.echo(f"\rcomputing the patch: {size / 1_000_000:,.0f} MB", err=True, nl=False)

    def done(self) -> None:
        if self._shown:
            click.echo("", err=True)
