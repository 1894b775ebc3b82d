"""Helpers for the pure evaluator's tests (tests/test_evaluate_*.py, tests/test_checks_pure.py).

Policies from YAML (`policy`, `one_rule`), approval facts from short review specs
(`facts`, `review`, `changes`), pytest params from tables (`cases`) and a verdict
from a policy and facts (`verdict_of`). No I/O anywhere.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from bs.core.evaluate import PolicyResult, RuleResult, evaluate_policy
from bs.core.facts import ApprovalFacts, ReviewFact
from bs.core.policy import Policy
from bs.core.verdict import Verdict, judge

TEAMS = {
    "alphagov/developers": ["alice", "erin"],
    "alphagov/deployers": ["bob", "carol"],
    "alphagov/dba": ["dave"],
    "alphagov/on-call": ["carol"],
}

# --- helpers -----------------------------------------------------------------


def policy(text: str) -> Policy:
    """A policy from YAML, as ``policies/<name>.yaml`` holds it."""
    return Policy.model_validate(yaml.safe_load(textwrap.dedent(text)), by_alias=True)


def one_rule(
    requires: str = "{count: 1, teams: [alphagov/deployers]}",
    *,
    if_: str | None = None,
    options: str | None = None,
) -> Policy:
    """A policy of one rule named ``r``; each argument is a YAML flow mapping."""
    lines = ["approval: r", "rules:", "  - name: r", f"    requires: {requires}"]
    if if_ is not None:
        lines.append(f"    if: {if_}")
    if options is not None:
        lines.append(f"    options: {options}")
    return policy("\n".join(lines))


def review(spec: str, body: str = "") -> ReviewFact:
    """``"bob"`` approves the head; ``"bob CHANGES_REQUESTED"``; ``"bob APPROVED old"``."""
    user, state, commit = [*spec.split(), "APPROVED", "head"][:3]
    return ReviewFact(user=user, state=state, commit=commit, body=body)


def facts(*reviews: str | ReviewFact, requester: str = "alice", **fields: Any) -> ApprovalFacts:
    """Facts with the usual teams; reviews oldest first, as `review` specs or ReviewFacts."""
    fields.setdefault("teams", TEAMS)
    given_reviews = [r if isinstance(r, ReviewFact) else review(r) for r in reviews]
    return ApprovalFacts(requester=requester, reviews=given_reviews, **fields)


def only_rule(result: PolicyResult) -> RuleResult:
    assert isinstance(result.tree, RuleResult)
    return result.tree


def ignored_pairs(rule: RuleResult) -> list[tuple[str, str]]:
    return [(i.user, i.reason) for i in rule.ignored]


def cases(table: list[tuple[Any, ...]]) -> list[Any]:
    """pytest params from table rows whose last item is the id."""
    return [pytest.param(*row[:-1], id=row[-1]) for row in table]


def verdict_of(pol: Policy, fct: ApprovalFacts) -> Verdict:
    return judge([], "standard", evaluate_policy(pol, fct))


def changes(user: str, comment: str = "", commit: str = "head") -> ReviewFact:
    return ReviewFact(user=user, state="CHANGES_REQUESTED", commit=commit, body=comment)
