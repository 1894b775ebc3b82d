"""``bs policy test``: run fixtures against the policies in the working tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bs.core.evaluate import all_rules
from bs.core.facts import ApprovalFacts
from bs.core.policytest import Case, Expectation, PolicyTestFile, run_case
from bs.core.verdict import Verdict
from bs.errors import BsError
from bs.policyfiles import Policies, policy_path
from bs.validation import validate_document
from bs.yamlio import dump_yaml, load_yaml_file_with_lines

TESTS_FOLDER = "policies/tests"


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    outcome: str
    summary: str
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def find_fixtures(root: Path, given: list[Path]) -> list[Path]:
    if given:
        return given
    folder = root / TESTS_FOLDER
    found = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not found:
        raise BsError(
            f'no fixtures in {TESTS_FOLDER}/: add some (see README.md, "Testing a policy") or name files.'
        )
    return found


def run_fixtures(
    policies: Policies, files: list[Path], display: dict[Path, str]
) -> list[CaseResult]:
    results: list[CaseResult] = []
    for path in files:
        name = display.get(path, str(path))
        data, lines = load_yaml_file_with_lines(path, name)
        fixture = validate_document(PolicyTestFile, data, name, lines)
        if not policies.exists(fixture.policy):
            raise BsError(
                f"{name}: line {lines.get(('policy',), 1)}: policy '{fixture.policy}' does not exist "
                f"({policy_path(fixture.policy)}): fix the fixture's policy: key, or create the policy."
            )
        policy = policies.policy(fixture.policy)
        for case in fixture.cases:
            verdict, problems = run_case(fixture.policy, policy, case, fixture.teams)
            results.append(CaseResult(name, case.name, verdict.outcome, verdict.summary, problems))
    return results


def write_case(
    path: Path, policy_name: str, facts: ApprovalFacts, verdict: Verdict, name: str
) -> None:
    """Write a pull request's gathered facts as a fixture expecting today's verdict."""
    tree = verdict.policy.tree if verdict.policy else None
    outcome = (
        verdict.outcome if verdict.outcome in ("met", "pending", "rejected", "failed") else "failed"
    )
    expect = Expectation(
        outcome=outcome,
        approved_by=list(verdict.approvers),
        rules={r.name: r.status for r in all_rules(tree)} if tree else None,
    )
    fixture = PolicyTestFile(
        policy=policy_name, cases=[Case(name=name, facts=facts, expect=expect)]
    )
    text = "# Gathered by `bs check --save-facts`; edit the expectation to what the policy should say.\n"
    text += dump_yaml(fixture.model_dump(mode="json", exclude_defaults=True))
    path.write_text(text, encoding="utf-8")
