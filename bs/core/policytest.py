"""``bs policy test`` fixtures: facts and the outcome a policy must give them.

version: 1
policy: standard
teams: {alphagov/deployers: [bob, carol], alphagov/dba: [dave]}
cases:
  - name: a deployer approves a routine release
    facts:
      requester: alice
      reviews: [{user: bob, state: APPROVED}]
      release: {paths: [app/views/index.html.erb], insertions: 3, commits: 1}
    expect: {outcome: met, approved_by: [bob]}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bs.core.evaluate import Status, all_rules, evaluate_policy
from bs.core.facts import ApprovalFacts, Login
from bs.core.names import APP_NAME, TEAM_NAME
from bs.core.policy import Policy
from bs.core.verdict import Verdict, judge

TeamName = Annotated[str, Field(pattern=TEAM_NAME)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectation(_Strict):
    outcome: Literal["met", "pending", "rejected", "failed"]
    approved_by: list[Login] | None = Field(
        default=None, description="exactly these approvers counted"
    )
    rejected_by: list[Login] | None = None
    rules: dict[str, Literal["satisfied", "pending", "failed", "skipped"]] | None = Field(
        default=None, description="rule name -> its status"
    )
    summary_contains: str | None = Field(
        default=None, description="text the one-line summary must contain"
    )


class Case(_Strict):
    name: Annotated[str, Field(min_length=1)]
    facts: ApprovalFacts
    expect: Expectation


class PolicyTestFile(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, title="bs policy test fixture")

    version: Literal[1] = 1
    policy: Annotated[str, Field(pattern=APP_NAME, description="policies/<policy>.yaml")]
    teams: dict[TeamName, list[Login]] = Field(
        default_factory=dict, description="team members, for every case that gives none"
    )
    cases: list[Case] = Field(min_length=1)


def run_case(
    policy_name: str, policy: Policy, case: Case, teams: dict[str, list[str]]
) -> tuple[Verdict, list[str]]:
    """The verdict for the case and how it differs from what was expected (empty: passed)."""
    facts = case.facts
    if not facts.teams and teams:
        facts = facts.model_copy(update={"teams": teams})
    result = evaluate_policy(policy, facts)
    verdict = judge([], policy_name, result)
    expect = case.expect
    wrong: list[str] = []
    if verdict.outcome != expect.outcome:
        wrong.append(f"outcome is {verdict.outcome} ({verdict.summary}), expected {expect.outcome}")
    if expect.approved_by is not None and sorted(expect.approved_by) != list(result.approvers):
        wrong.append(f"approved by {list(result.approvers)}, expected {sorted(expect.approved_by)}")
    rejected = sorted(r.user for r in result.rejections)
    if expect.rejected_by is not None and sorted(expect.rejected_by) != rejected:
        wrong.append(f"rejected by {rejected}, expected {sorted(expect.rejected_by)}")
    if expect.rules is not None:
        statuses: dict[str, Status] = {r.name: r.status for r in all_rules(result.tree)}
        for name, want in expect.rules.items():
            got = statuses.get(name)
            if got is None:
                wrong.append(f"rule '{name}' is not in the policy's approval")
            elif got != want:
                wrong.append(f"rule '{name}' is {got}, expected {want}")
    if expect.summary_contains is not None and expect.summary_contains not in verdict.summary:
        wrong.append(f"summary {verdict.summary!r} does not contain {expect.summary_contains!r}")
    return verdict, wrong
