"""The pure evaluator: when a rule applies (``bs.core.evaluate``'s predicates).

``changed_paths`` globs, ``modified_lines``, ``commits`` and ``first_deploy``,
alone and together, and the condition each says. No I/O anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bs.core.evaluate import evaluate_policy
from bs.core.facts import ReleaseFacts
from tests.evalhelpers import cases, facts, one_rule, only_rule

# --- predicates: when a rule applies -------------------------------------------

GLOB_CASES = [
    # (globs, paths, condition when it applies, or None when skipped)
    (["db/migrate/**"], ["db/migrate/x.rb"], "db/migrate/x.rb changed", "double-star-direct"),
    (["db/migrate/**"], ["db/migrate/2024/x.rb"], "db/migrate/2024/x.rb changed", "double-star-deep"),
    (["db/migrate/**"], ["db/schema.rb", "db/migrate"], None, "double-star-not-sibling"),
    (["**/*.rb"], ["x.rb"], "x.rb changed", "leading-double-star-top-level"),
    (["**/*.rb"], ["app/models/user.rb"], "app/models/user.rb changed", "leading-double-star-deep"),
    (["config/*.yml"], ["config/app.yml"], "config/app.yml changed", "star-one-folder"),
    (["config/*.yml"], ["config/locales/en.yml"], None, "star-not-nested"),
    (["db/"], ["db/migrate/x.rb"], "db/migrate/x.rb changed", "trailing-slash-folder"),
    (["db/"], ["dbx/a.rb", "db"], None, "trailing-slash-not-prefix"),
    (["src/[abc].c"], ["src/b.c"], "src/b.c changed", "class-member"),
    (["src/[abc].c"], ["src/d.c", "src/ab.c"], None, "class-non-member"),
    (["src/[!ab].c"], ["src/a.c", "src/c.c"], "src/c.c changed", "negated-class"),
    (["db/migrate/**"], ["db/migrate/001.rb", "db/archive/001.rb"], "db/migrate/001.rb changed", "rename-old-side"),
    (["db/archive/**"], ["db/migrate/001.rb", "db/archive/001.rb"], "db/archive/001.rb changed", "rename-new-side"),
    (["db/migrate/**", "db/schema.rb"], ["app/x.rb", "db/schema.rb"], "db/schema.rb changed", "second-glob"),
    (["db/**"], ["db/a.rb", "db/b.rb"], "db/a.rb and 1 more path changed", "one-more-path"),
    (["db/**"], ["db/a.rb", "x", "db/b.rb", "db/c.rb"], "db/a.rb and 2 more paths changed", "more-paths"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("globs", "paths", "condition"),
    cases(GLOB_CASES),
)
def test_changed_paths(globs: list[str], paths: list[str], condition: str | None) -> None:
    pol = one_rule(if_=yaml.safe_dump({"changed_paths": globs}, default_flow_style=True))
    rule = only_rule(evaluate_policy(pol, facts(release=ReleaseFacts(paths=paths))))
    if condition is None:
        assert (rule.status, rule.condition) == (
            "skipped",
            f"nothing under {', '.join(globs)} changed",
        )
    else:
        assert (rule.status, rule.condition) == ("pending", condition)


def test_negated_class_may_hold_a_closing_bracket() -> None:
    pol = one_rule(if_="{changed_paths: ['src/[!]].c']}")
    rule = only_rule(evaluate_policy(pol, facts(release=ReleaseFacts(paths=["src/a.c"]))))
    assert rule.status == "pending"


PREDICATE_CASES = [
    # (if:, release, status, condition)
    ("{modified_lines: {more_than: 10}}", {"insertions": 6, "deletions": 5}, "pending", "11 lines modified (more than 10)", "lines-above"),
    ("{modified_lines: {more_than: 10}}", {"insertions": 6, "deletions": 4}, "skipped", "10 lines modified, not more than 10", "lines-equal-is-not-more"),
    ("{modified_lines: {more_than: 0}}", {"deletions": 1}, "pending", "1 line modified (more than 0)", "lines-one-deletion"),
    ("{commits: {more_than: 3}}", {"commits": 4}, "pending", "4 commits (more than 3)", "commits-above"),
    ("{commits: {more_than: 3}}", {"commits": 3}, "skipped", "3 commits, not more than 3", "commits-equal-is-not-more"),
    ("{first_deploy: true}", {"first_deploy": True}, "pending", "a first deploy", "first-deploy-true-holds"),
    ("{first_deploy: true}", {"first_deploy": False}, "skipped", "not a first deploy", "first-deploy-true-fails"),
    ("{first_deploy: false}", {"first_deploy": False}, "pending", "not a first deploy", "first-deploy-false-holds"),
    ("{first_deploy: false}", {"first_deploy": True}, "skipped", "a first deploy", "first-deploy-false-fails"),
    (
        "{changed_paths: ['db/**'], modified_lines: {more_than: 10}, commits: {more_than: 1}, first_deploy: false}",
        {"paths": ["db/a.rb"], "insertions": 11, "commits": 2},
        "pending",
        "db/a.rb changed; 11 lines modified (more than 10); 2 commits (more than 1); not a first deploy",
        "all-predicates-hold",
    ),
    (
        "{changed_paths: ['db/**'], modified_lines: {more_than: 10}, commits: {more_than: 1}}",
        {"paths": ["db/a.rb"], "insertions": 11, "commits": 1},
        "skipped",
        "1 commit, not more than 1",
        "one-predicate-fails",
    ),
    (
        "{changed_paths: ['db/**'], commits: {more_than: 1}}",
        {"paths": ["app/a.rb"], "commits": 9},
        "skipped",
        "nothing under db/** changed",
        "paths-fail-commits-hold",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("if_", "release", "status", "condition"),
    cases(PREDICATE_CASES),
)
def test_predicates(if_: str, release: dict[str, Any], status: str, condition: str) -> None:
    rule = only_rule(evaluate_policy(one_rule(if_=if_), facts(release=ReleaseFacts(**release))))
    assert (rule.status, rule.condition) == (status, condition)


def test_a_rule_without_if_always_applies_and_says_no_condition() -> None:
    rule = only_rule(evaluate_policy(one_rule(), facts("bob")))
    assert (rule.status, rule.condition, rule.approved_by) == ("satisfied", None, ("bob",))


def test_the_condition_is_said_in_what_is_missing() -> None:
    pol = one_rule("{teams: [alphagov/dba]}", if_="{changed_paths: ['db/migrate/**']}")
    rule = only_rule(evaluate_policy(pol, facts(release=ReleaseFacts(paths=["db/migrate/x.rb"]))))
    assert rule.missing == "needs 1 more approval from alphagov/dba: db/migrate/x.rb changed"
