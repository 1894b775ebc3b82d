"""``bs check PR``: is the request's policy met? Posts the ``bs/policy`` status."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.cli.events import (
    append_summary,
    error_summary,
    event_option,
    pull_number,
    set_step_output,
    summary_file,
)

EXIT_COULD_NOT_EVALUATE = 3


@click.command("check")
@click.argument("number", metavar="[PR]", type=click.IntRange(min=1), required=False)
@event_option
@click.option(
    "--summary",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also append the explanation as markdown to FILE (default: $GITHUB_STEP_SUMMARY, "
    "when set).",
)
@click.option("--no-status", is_flag=True, help="Do not post the bs/policy status; only explain.")
@click.option(
    "--save-facts",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the gathered facts as a `bs policy test` case to FILE.",
)
@json_option
@pass_cli
def check(
    cli: CliContext,
    number: int | None,
    event_path: Path | None,
    summary: Path | None,
    no_status: bool,
    save_facts: Path | None,
    as_json: bool,
) -> None:
    """Evaluate pull request PR of the requests repo against its app's policy.

    Gathers the facts (the request, the reviews, who pushed, the teams, the
    release's own diff), runs the checks and the policy from the default
    branch, prints why, and posts the status bs/policy on the head commit.

    \b
    In GitHub Actions, with neither PR nor --event, the pull request is the
    event's ($GITHUB_EVENT_PATH), and the explanation is appended to the job
    summary ($GITHUB_STEP_SUMMARY).

    \b
    Exit status: 0 met, 1 not met yet, 2 rejected or invalid,
    3 could not evaluate (also for a bad --event file); click's usage
    errors (a bad option) exit 2 too, before anything is evaluated.

    \b
    Example:
      bs check 12
      bs check 12 --json --no-status
      bs check --event "$GITHUB_EVENT_PATH" --summary "$GITHUB_STEP_SUMMARY"
      bs check          # in GitHub Actions: the same
    """
    from bs.core.explain import explain_markdown, explain_text
    from bs.core.verdict import verdict_dict
    from bs.errors import BsError
    from bs.usecases.check import check_pull_request
    from bs.usecases.policy_test import write_case

    summary = summary_file(cli.env, summary)
    try:
        pr = pull_number(cli, number, event_path)
    except BsError as exc:
        _could_not_evaluate(summary, f"could not evaluate: {exc.message}")
    try:
        report = check_pull_request(
            cli.forge, cli.workspace.config.requests_repo, pr, post_status=not no_status
        )
    except BsError as exc:
        _could_not_evaluate(summary, f"could not evaluate #{pr}: {exc.message}")
    verdict = report.verdict
    append_summary(summary, explain_markdown(verdict, report.heading))
    # met, pending, rejected, failed: the review workflow removes a rejected request.
    set_step_output(cli.env, "outcome", verdict.outcome)
    if save_facts is not None and report.approval_facts is not None and verdict.policy_name:
        write_case(
            save_facts, verdict.policy_name, report.approval_facts, verdict, f"pull request #{pr}"
        )
    if as_json:
        data = verdict_dict(verdict)
        data["pull_request"] = pr
        data["head_sha"] = report.pull.head_sha
        data["status_posted"] = report.status_posted
        emit_json(data)
    else:
        click.echo(explain_text(verdict, report.heading), nl=False)
        if report.status_posted:
            click.echo(f"Posted bs/policy = {verdict.status_state} on {report.pull.head_sha[:12]}.")
    sys.exit(verdict.exit_code)


def _could_not_evaluate(summary: Path | None, message: str) -> NoReturn:
    """Say so in the job summary too, then stop with exit status 3."""
    from bs.errors import BsError

    append_summary(summary, error_summary("bs check", message))
    raise BsError(message, exit_code=EXIT_COULD_NOT_EVALUATE) from None
