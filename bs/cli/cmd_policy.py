"""``bs policy validate`` and ``bs policy test``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli


@click.group("policy")
def policy() -> None:
    """Check and test the approval policies in this working tree.

    \b
    Example:
      bs policy validate
      bs policy test
    """


@policy.command("validate")
@click.option("--offline", is_flag=True, help="Do not ask the forge whether users and teams exist.")
@json_option
@pass_cli
def validate(cli: CliContext, offline: bool, as_json: bool) -> None:
    """Validate policies/: schema, rules, apps' policies, users and teams.

    \b
    Exit status: 0 valid (warnings allowed), 1 a problem found.

    \b
    Example:
      bs policy validate
      bs policy validate --offline --json
    """
    from bs.policyfiles import Policies, WorkingTree
    from bs.usecases.policy_validate import validate_policies

    root = cli.workspace.root
    findings = validate_policies(root, Policies(WorkingTree(root)), None if offline else cli.forge)
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        emit_json({"valid": not errors, "findings": [
            {"file": f.file, "line": f.line, "severity": f.severity, "message": f.message} for f in findings
        ]})  # fmt: skip
    else:
        for finding in findings:
            click.echo(str(finding), err=finding.severity == "error")
        warnings = len(findings) - len(errors)
        click.echo(f"{'invalid' if errors else 'valid'}: {len(errors)} errors, {warnings} warnings")
    sys.exit(1 if errors else 0)


@policy.command("test")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_cli
def test(cli: CliContext, files: tuple[Path, ...], as_json: bool) -> None:
    """Run policy fixtures (default: policies/tests/*.yaml) against policies/.

    Each fixture gives facts (the requester, reviews, teams, the release's
    paths and size) and the outcome the policy must reach. Offline: nothing
    is read from the forge.

    \b
    Exit status: 0 all cases pass, 1 a case fails.

    \b
    Example:
      bs policy test
      bs policy test policies/tests/standard.yaml --json
    """
    from bs.policyfiles import Policies, WorkingTree
    from bs.usecases.policy_test import find_fixtures, run_fixtures

    root = cli.workspace.root
    paths = find_fixtures(root, list(files))
    display = {
        p: (str(p.resolve().relative_to(root)) if p.resolve().is_relative_to(root) else str(p))
        for p in paths
    }
    results = run_fixtures(Policies(WorkingTree(root)), paths, display)
    failed = [r for r in results if not r.passed]
    if as_json:
        emit_json({"passed": not failed, "cases": [
            {"file": r.file, "name": r.name, "outcome": r.outcome, "summary": r.summary,
             "passed": r.passed, "problems": r.problems} for r in results
        ]})  # fmt: skip
    else:
        for r in results:
            click.echo(f"{'✓' if r.passed else '✗'} {r.file}: {r.name} ({r.outcome})")
            for problem in r.problems:
                click.echo(f"    {problem}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)
