"""The pure evaluator: a policy and facts in, a result tree, a verdict and its words out.

Covers ``bs.core.policy`` (validation), ``bs.core.evaluate`` (predicates,
approvals, rejections, groups), ``bs.core.verdict`` (judge), ``bs.core.explain``
and ``bs.core.checks`` (the checks beside the approvals). No I/O anywhere.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bs.core.checks import CheckResult, IntegrityFacts, locate_request_files, run_checks
from bs.core.evaluate import (
    GroupResult,
    PolicyResult,
    RuleResult,
    evaluate_policy,
    evaluate_rule,
    standing_reviews,
)
from bs.core.explain import explain_markdown, explain_text
from bs.core.facts import ApprovalFacts, ReleaseFacts, ReviewFact
from bs.core.policy import Policy
from bs.core.pulls import PullFile
from bs.core.request import ReleaseRequest
from bs.core.verdict import Verdict, judge

TEAMS = {
    "alphagov/developers": ["alice", "erin"],
    "alphagov/deployers": ["bob", "carol"],
    "alphagov/dba": ["dave"],
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


# --- approvals: counted or ignored, and why -----------------------------------

APPROVAL_CASES = [
    # (requires, options, facts, approved_by, ignored)
    ("{users: ['renovate[bot]', bob]}", None, facts("renovate[bot]"), (), [("renovate[bot]", "a bot")], "bot"),
    ("{users: [bob]}", None, facts("bob", requester="bob"), (), [("bob", "the requester")], "requester"),
    ("{users: [bob]}", "{allow_author: true}", facts("bob", requester="bob"), ("bob",), [], "requester-allow-author"),
    ("{users: [alice]}", None, facts("alice"), (), [("alice", "the requester")], "requester-before-membership"),
    # README: allow_author does not lift the pushers' exclusion; the requester usually pushed.
    (
        "{users: [bob]}", "{allow_author: true}",
        facts("bob", requester="bob", contributors={"bob": "pushed to the request's branch"}),
        (), [("bob", "pushed to the request's branch")], "requester-allow-author-but-pushed",
    ),
    (
        "{teams: [alphagov/deployers]}", None,
        facts("carol", contributors={"carol": "pushed to the request's branch"}),
        (), [("carol", "pushed to the request's branch")], "contributor",
    ),
    (
        "{teams: [alphagov/deployers]}", "{allow_pushers: true}",
        facts("carol", contributors={"carol": "authored a commit on the request's branch"}),
        ("carol",), [], "contributor-allow-pushers",
    ),
    ("{teams: [alphagov/deployers]}", None, facts("bob APPROVED old"), (), [("bob", "approved an earlier commit")], "earlier-commit"),
    ("{teams: [alphagov/deployers]}", None, facts("erin"), (), [("erin", "not in alphagov/deployers")], "not-in-team"),
    ("{teams: [alphagov/deployers, alphagov/dba]}", None, facts("erin"), (), [("erin", "not in alphagov/deployers or alphagov/dba")], "not-in-teams"),
    ("{users: [bob, carol, dave]}", None, facts("erin"), (), [("erin", "not bob, carol or dave")], "not-users"),
    ("{users: [bob], teams: [alphagov/dba]}", None, facts("erin"), (), [("erin", "not bob, nor in alphagov/dba")], "not-users-nor-teams"),
    ("{teams: [alphagov/deployers]}", None, facts("bob DISMISSED"), (), [("bob", "their review was dismissed")], "dismissed"),
    ("{teams: [alphagov/deployers]}", None, facts("erin DISMISSED"), (), [], "dismissed-outsider-not-listed"),
    ("{teams: [alphagov/deployers]}", None, facts("bob DISMISSED", "bob"), ("bob",), [], "dismissed-then-approved-again"),
    ("{teams: [alphagov/deployers]}", None, facts("bob", "bob CHANGES_REQUESTED"), (), [], "change-request-replaces-approval"),
    ("{teams: [alphagov/deployers]}", None, facts("bob CHANGES_REQUESTED", "bob"), ("bob",), [], "approval-replaces-change-request"),
    ("{teams: [alphagov/deployers]}", None, facts("bob", "bob COMMENTED"), ("bob",), [], "comment-leaves-approval"),
    ("{teams: [alphagov/deployers]}", None, facts("bob COMMENTED"), (), [], "comment-is-no-approval"),
    ("{teams: [alphagov/deployers]}", None, facts("bob", "bob APPROVED old"), (), [("bob", "approved an earlier commit")], "latest-approval-stands"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("requires", "options", "fct", "approved_by", "ignored"),
    cases(APPROVAL_CASES),
)
def test_approvals(
    requires: str,
    options: str | None,
    fct: ApprovalFacts,
    approved_by: tuple[str, ...],
    ignored: list[tuple[str, str]],
) -> None:
    rule = only_rule(evaluate_policy(one_rule(requires, options=options), fct))
    assert rule.approved_by == approved_by
    assert ignored_pairs(rule) == ignored


# --- counts: satisfied, pending, failed ---------------------------------------

COUNT_CASES = [
    # (requires, facts, status, missing)
    ("{count: 2, teams: [alphagov/deployers]}", facts("bob", "carol"), "satisfied", None, "two-people"),
    ("{count: 2, teams: [alphagov/deployers]}", facts("bob", "bob"), "pending", "needs 1 more approval from alphagov/deployers", "one-person-twice"),
    ("{count: 2, teams: [alphagov/deployers]}", facts(), "pending", "needs 2 more approvals from alphagov/deployers", "nobody-yet"),
    (
        "{teams: [alphagov/dba]}", facts(requester="dave"), "failed",
        "cannot be met: it needs 1 approval from alphagov/dba, and only 0 people there may approve this request",
        "team-of-one-is-the-requester",
    ),
    (
        "{count: 3, teams: [alphagov/deployers]}", facts("bob"), "failed",
        "cannot be met: it needs 3 approvals from alphagov/deployers, and only 2 people there may approve this request",
        "team-too-small",
    ),
    (
        "{count: 2, teams: [alphagov/deployers]}", facts(contributors={"carol": "pushed to the request's branch"}), "failed",
        "cannot be met: it needs 2 approvals from alphagov/deployers, and only 1 person there may approve this request",
        "contributor-cannot-approve",
    ),
    (
        "{users: ['renovate[bot]']}", facts(), "failed",
        "cannot be met: it needs 1 approval from renovate[bot], and only 0 people there may approve this request",
        "only-a-bot",
    ),
    (
        "{teams: [alphagov/dba]}", facts(teams={}), "failed",
        "cannot be met: it needs 1 approval from alphagov/dba, and only 0 people there may approve this request",
        "team-members-unknown",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("requires", "fct", "status", "missing"),
    cases(COUNT_CASES),
)
def test_counts(requires: str, fct: ApprovalFacts, status: str, missing: str | None) -> None:
    rule = only_rule(evaluate_policy(one_rule(requires), fct))
    assert (rule.status, rule.missing) == (status, missing)


def test_a_rule_that_cannot_be_met_says_why_it_applies() -> None:
    pol = one_rule("{teams: [alphagov/dba]}", if_="{changed_paths: ['db/**']}")
    fct = facts(requester="dave", release=ReleaseFacts(paths=["db/a.rb"]))
    assert only_rule(evaluate_policy(pol, fct)).missing == (
        "cannot be met: it needs 1 approval from alphagov/dba, "
        "and only 0 people there may approve this request: db/a.rb changed"
    )


# --- all_of / any_of ------------------------------------------------------------

#: Four rules, one in each status, for the facts of `test_groups`.
STATUS_RULES = """
rules:
  - {name: satisfied, requires: {users: [bob]}}
  - {name: pending, requires: {users: [carol]}}
  - {name: failed, requires: {users: [alice]}}
  - {name: skipped, if: {first_deploy: true}, requires: {users: [bob]}}
"""

GROUP_CASES = [
    ("{all_of: [satisfied, satisfied]}", "satisfied", "all-of-all-satisfied"),
    ("{all_of: [satisfied, pending]}", "pending", "all-of-one-pending"),
    ("{all_of: [satisfied, failed]}", "failed", "all-of-one-failed"),
    ("{all_of: [pending, failed]}", "failed", "all-of-failed-beats-pending"),
    ("{all_of: [satisfied, skipped]}", "satisfied", "all-of-skipped-ignored"),
    ("{all_of: [skipped, skipped]}", "skipped", "all-of-all-skipped"),
    ("{any_of: [pending, satisfied]}", "satisfied", "any-of-one-satisfied"),
    ("{any_of: [failed, satisfied]}", "satisfied", "any-of-satisfied-beats-failed"),
    ("{any_of: [failed, pending]}", "pending", "any-of-pending-while-one-live"),
    ("{any_of: [failed, failed]}", "failed", "any-of-all-failed"),
    ("{any_of: [failed, skipped]}", "failed", "any-of-all-live-failed"),
    ("{any_of: [skipped, skipped]}", "skipped", "any-of-all-skipped"),
    ("{all_of: [satisfied, {any_of: [skipped, skipped]}]}", "satisfied", "nested-skipped-group-ignored"),
    ("{any_of: [{all_of: [satisfied, failed]}, pending]}", "pending", "nested-failed-group-in-any-of"),
    ("{any_of: [{all_of: [skipped]}, {all_of: [failed]}]}", "failed", "nested-skipped-and-failed"),
]  # fmt: skip


@pytest.mark.parametrize(("approval", "status"), cases(GROUP_CASES))
def test_groups(approval: str, status: str) -> None:
    pol = policy(f"approval: {approval}\n{STATUS_RULES}")
    result = evaluate_policy(pol, facts("bob"))
    assert result.status == status


def test_group_result_keeps_its_children_in_order() -> None:
    pol = policy(f"approval: {{any_of: [pending, {{all_of: [satisfied]}}]}}\n{STATUS_RULES}")
    tree = evaluate_policy(pol, facts("bob")).tree
    assert isinstance(tree, GroupResult)
    first, second = tree.children
    assert isinstance(first, RuleResult) and (first.name, first.status) == ("pending", "pending")
    assert isinstance(second, GroupResult) and (second.kind, second.status) == (
        "all_of",
        "satisfied",
    )


# --- the policy model -------------------------------------------------------------


def nested(depth: int) -> str:
    """all_of/any_of groups nested `depth` deep around rule ``r``."""
    node = "r"
    for level in range(depth):
        node = f"{{{'all_of' if level % 2 else 'any_of'}: [{node}]}}"
    return node


RULE_R = "rules: [{name: r, requires: {users: [bob]}}]"


def test_nesting_five_deep_is_accepted() -> None:
    pol = policy(f"approval: {nested(5)}\n{RULE_R}")
    assert evaluate_policy(pol, facts("bob")).status == "satisfied"


INVALID_POLICIES = [
    (f"approval: {nested(6)}\n{RULE_R}", "at most 5", "nested-six-deep"),
    (f"approval: {{all_of: [r, nope]}}\n{RULE_R}", "refers to rule 'nope', which rules does not define", "undefined-rule"),
    ("approval: r\nrules: [{name: r, requires: {users: [bob]}}, {name: r, requires: {users: [carol]}}]", "two rules are named 'r'", "duplicate-names"),
    (f"approval: {{all_of: []}}\n{RULE_R}", "all_of is empty", "empty-group"),
    (f"approval: {{all_of: [r], any_of: [r]}}\n{RULE_R}", "either all_of", "both-group-kinds"),
    ("approval: r\nrules: [{name: r, requires: {count: 1}}]", "names nobody: list users or teams", "nobody-may-approve"),
    ("approval: r\nrules: [{name: r, if: {}, requires: {users: [bob]}}]", "if: is empty", "empty-if"),
    ("approval: r\nrules: [{name: r, if: {changed_paths: [/db/**]}, requires: {users: [bob]}}]", "is not a path glob", "absolute-glob"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), cases(INVALID_POLICIES))
def test_invalid_policies_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        policy(text)


# --- rejections ---------------------------------------------------------------------

#: Default disapprovers: the union of the rules' people (dave, alphagov/deployers).
REJECT_POLICY = policy(
    """
    approval: {all_of: [deployers, dave]}
    rules:
      - {name: deployers, requires: {teams: [alphagov/deployers]}}
      - {name: dave, if: {first_deploy: true}, requires: {users: [dave]}}
    """
)
ONLY_DAVE_REJECTS = policy(
    """
    approval: deployers
    disapproval: {users: [dave]}
    rules: [{name: deployers, requires: {teams: [alphagov/deployers]}}]
    """
)


def changes(user: str, comment: str = "", commit: str = "head") -> ReviewFact:
    return ReviewFact(user=user, state="CHANGES_REQUESTED", commit=commit, body=comment)


REJECTION_CASES = [
    # (policy, reviews, outcome, summary, ignored_rejections)
    (REJECT_POLICY, ["bob", changes("dave", "not yet")], "rejected", "Rejected by dave: not yet", [], "rule-user-rejects"),
    (REJECT_POLICY, ["bob", changes("carol", "  wrong tag \n")], "rejected", "Rejected by carol: wrong tag", [], "team-member-rejects"),
    (REJECT_POLICY, ["bob", changes("dave", commit="old")], "rejected", "Rejected by dave", [], "earlier-commit-still-rejects"),
    (REJECT_POLICY, ["bob", changes("dave", "x"), changes("carol", "y")], "rejected", "Rejected by dave (and 1 more): x", [], "two-reject"),
    (REJECT_POLICY, ["bob", changes("dave", "x"), "dave COMMENTED"], "rejected", "Rejected by dave: x", [], "comment-does-not-lift"),
    (REJECT_POLICY, ["bob", changes("dave", "x"), "dave"], "met", "Approved by bob", [], "lifted-by-approval"),
    (REJECT_POLICY, ["bob", changes("dave", "x"), "dave APPROVED old"], "met", "Approved by bob", [], "lifted-by-stale-approval"),
    (REJECT_POLICY, ["bob", "dave DISMISSED"], "met", "Approved by bob", [], "lifted-by-dismissal"),
    (
        REJECT_POLICY, ["bob", changes("erin", "no")], "met", "Approved by bob",
        [("erin", "may not reject: not dave, nor in alphagov/deployers")], "outsider-ignored",
    ),
    (
        REJECT_POLICY, ["bob", changes("dependabot[bot]", "no")], "met", "Approved by bob",
        [("dependabot[bot]", "a bot")], "bot-ignored",
    ),
    (ONLY_DAVE_REJECTS, ["bob", changes("dave", "no")], "rejected", "Rejected by dave: no", [], "disapproval-user"),
    (
        ONLY_DAVE_REJECTS, ["bob", changes("carol", "no")], "met", "Approved by bob",
        [("carol", "may not reject: not dave")], "approver-not-in-disapproval",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pol", "reviews", "outcome", "summary", "ignored"),
    cases(REJECTION_CASES),
)
def test_rejections(
    pol: Policy,
    reviews: list[str | ReviewFact],
    outcome: str,
    summary: str,
    ignored: list[tuple[str, str]],
) -> None:
    verdict = verdict_of(pol, facts(*reviews))
    assert (verdict.outcome, verdict.summary) == (outcome, summary)
    assert verdict.policy is not None
    assert [(i.user, i.reason) for i in verdict.policy.ignored_rejections] == ignored


def test_default_disapprovers_are_everyone_named_by_a_rule() -> None:
    disapprovers = REJECT_POLICY.disapprovers()
    assert (disapprovers.users, disapprovers.teams) == (["dave"], ["alphagov/deployers"])
    assert ONLY_DAVE_REJECTS.disapprovers().users == ["dave"]


def test_a_bot_listed_as_a_disapprover_still_cannot_reject() -> None:
    pol = policy(
        """
        approval: r
        disapproval: {users: ['dependabot[bot]']}
        rules: [{name: r, requires: {users: [bob]}}]
        """
    )
    result = evaluate_policy(pol, facts("bob", changes("dependabot[bot]")))
    assert result.rejections == ()
    assert [(i.user, i.reason) for i in result.ignored_rejections] == [("dependabot[bot]", "a bot")]


# --- requesters ----------------------------------------------------------------------

REQUESTERS_POLICY = policy(
    """
    approval: r
    requesters: {teams: [alphagov/developers]}
    rules: [{name: r, requires: {teams: [alphagov/deployers]}}]
    """
)


@pytest.mark.parametrize(
    ("pol", "requester", "outcome", "summary"),
    [
        pytest.param(REQUESTERS_POLICY, "erin", "met", "Approved by bob", id="team-member"),
        pytest.param(
            REQUESTERS_POLICY,
            "mallory",
            "failed",
            "mallory may not request this app: the policy's requesters are alphagov/developers",
            id="outsider-even-when-approved",
        ),
        pytest.param(one_rule(), "mallory", "met", "Approved by bob", id="absent-means-anyone"),
    ],
)
def test_requesters(pol: Policy, requester: str, outcome: str, summary: str) -> None:
    verdict = verdict_of(pol, facts("bob", requester=requester))
    assert (verdict.outcome, verdict.summary) == (outcome, summary)


# --- judge -----------------------------------------------------------------------------

OK_CHECK = CheckResult("open", True, "the pull request is open")
BAD_CHECK = CheckResult("base", False, "the pull request targets 'dev'")

JUDGE_CASES = [
    # (checks, facts, outcome, exit code, status state, summary)
    ([OK_CHECK], facts("bob"), "met", 0, "success", "Approved by bob", "met"),
    ([], facts(), "pending", 1, "pending", "Needs 1 more approval from alphagov/deployers", "pending"),
    ([], facts("bob", changes("carol", "no")), "rejected", 2, "failure", "Rejected by carol: no", "rejected"),
    ([], facts(requester="bob", teams={"alphagov/deployers": ["bob"]}), "failed", 2, "failure",
     "Rule 'r' cannot be met: it needs 1 approval from alphagov/deployers, "
     "and only 0 people there may approve this request", "failed"),
    ([OK_CHECK, BAD_CHECK], facts("bob"), "failed", 2, "failure", "Invalid request: the pull request targets 'dev'", "check-failed"),
    ([CheckResult("tag", None, "not checked")], facts("bob"), "met", 0, "success", "Approved by bob", "check-not-run-is-no-failure"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("checks", "fct", "outcome", "exit_code", "state", "summary"),
    cases(JUDGE_CASES),
)
def test_judge(
    checks: list[CheckResult],
    fct: ApprovalFacts,
    outcome: str,
    exit_code: int,
    state: str,
    summary: str,
) -> None:
    verdict = judge(checks, "standard", evaluate_policy(one_rule(), fct))
    assert (verdict.outcome, verdict.exit_code, verdict.status_state) == (outcome, exit_code, state)
    assert verdict.summary == summary


def test_judge_without_a_policy_result_is_an_error() -> None:
    verdict = judge([OK_CHECK], None, None)
    assert (verdict.outcome, verdict.exit_code, verdict.status_state) == ("error", 3, "error")


def test_judge_a_tree_where_no_rule_applies_fails() -> None:
    pol = one_rule(if_="{first_deploy: true}")
    verdict = verdict_of(pol, facts("bob"))
    assert (verdict.outcome, verdict.exit_code) == ("failed", 2)
    assert verdict.summary.startswith("No approval rule applies")


def test_judge_pending_says_how_many_more_rules_wait() -> None:
    pol = policy(
        """
        approval: {all_of: [a, b, c]}
        rules:
          - {name: a, requires: {users: [bob]}}
          - {name: b, requires: {users: [carol]}}
          - {name: c, requires: {users: [dave]}}
        """
    )
    assert verdict_of(pol, facts()).summary == "Needs 1 more approval from bob (and 2 more rules)"
    assert verdict_of(pol, facts("bob", "carol")).summary == "Needs 1 more approval from dave"


@pytest.mark.parametrize(
    "comment",
    [
        pytest.param("x" * 5000, id="one-long-word"),
        pytest.param("line\n" * 1000, id="many-lines"),
        pytest.param("é🚀" * 2500, id="non-ascii"),
    ],
)
def test_status_description_fits_in_140_characters(comment: str) -> None:
    verdict = verdict_of(one_rule(), facts("bob", changes("carol", comment)))
    assert verdict.summary.startswith("Rejected by carol: ")
    description = verdict.status_description
    assert len(description) <= 140
    assert description.startswith("Rejected by carol: ")
    assert description.endswith("…")
    assert "\n" not in description


def test_a_short_summary_is_the_status_description() -> None:
    verdict = verdict_of(one_rule(), facts("bob"))
    assert verdict.status_description == "Approved by bob"


# --- explain -------------------------------------------------------------------------

EXPLAINED_POLICY = policy(
    """
    approval: {all_of: [deployer approval, database migrations]}
    rules:
      - {name: deployer approval, requires: {teams: [alphagov/deployers]}}
      - name: database migrations
        if: {changed_paths: ['db/migrate/**']}
        requires: {teams: [alphagov/dba]}
    """
)
EXPLAINED_FACTS = facts(
    "bob",
    "erin",
    "carol APPROVED old",
    release=ReleaseFacts(paths=["db/migrate/001.rb"]),
)


@pytest.mark.parametrize("explain", [explain_text, explain_markdown], ids=["text", "markdown"])
def test_explain_names_rules_approvers_and_ignored_reasons(explain: Any) -> None:
    out = explain(verdict_of(EXPLAINED_POLICY, EXPLAINED_FACTS))
    for expected in (
        "deployer approval",
        "database migrations",
        "approved by bob",
        "erin: not in alphagov/deployers",
        "carol: approved an earlier commit",
        "needs 1 more approval from alphagov/dba: db/migrate/001.rb changed",
    ):
        assert expected in out


def test_explain_text_lists_rejections_and_ignored_change_requests() -> None:
    fct = facts("bob", changes("dave", "wrong tag"), changes("erin", "meh"))
    out = explain_text(verdict_of(REJECT_POLICY, fct))
    assert out.startswith("bs/policy: rejected: Rejected by dave: wrong tag\n")
    assert "✗ rejected by dave: wrong tag" in out
    assert (
        "change requests ignored: erin: may not reject: not dave, nor in alphagov/deployers" in out
    )


def test_explain_markdown_bolds_rule_names() -> None:
    out = explain_markdown(verdict_of(EXPLAINED_POLICY, EXPLAINED_FACTS))
    assert "**deployer approval**" in out
    assert "**database migrations**" in out


EVIL = "[x](http://evil) <img src=x onerror=alert(1)> | col\n# heading &amp; `code` *b*"
#: EVIL as markdown must show it: every markup character escaped, the line break a space.
EVIL_ESCAPED = (
    r"\[x\](http://evil) \<img src=x onerror=alert(1)\> \| col "
    r"# heading \&amp; \`code\` \*b\*"
)


@pytest.mark.parametrize(
    "verdict",
    [
        pytest.param(verdict_of(one_rule(), facts("bob", changes("carol", EVIL))), id="rejection"),
        pytest.param(
            verdict_of(one_rule(), facts("carol", contributors={"carol": EVIL})),
            id="ignored-reason",
        ),
        pytest.param(
            verdict_of(
                one_rule(if_="{changed_paths: ['**']}"), facts(release=ReleaseFacts(paths=[EVIL]))
            ),
            id="changed-path",
        ),
        pytest.param(
            judge([CheckResult("request", False, EVIL)], "standard", None), id="check-message"
        ),
    ],
)
def test_explain_markdown_keeps_user_text_inert(verdict: Verdict) -> None:
    out = explain_markdown(verdict)
    assert EVIL_ESCAPED in out
    for markup in ("[x]", "<img", "| col", "`code`", "\n# heading"):
        assert re.search(r"(?<!\\)" + re.escape(markup), out) is None, markup


# --- checks beside the approvals ----------------------------------------------------

RID = "20240601-abcdefghijklmnop"
REQUEST_PATH = f"requests/frontend/{RID}.yaml"
PATCH_PATH = f"requests/frontend/{RID}.patch"
GZ_PATH = PATCH_PATH + ".gz"
SHA_FROM = "a" * 40
SHA_TO = "0123456789abcdef0123456789abcdef01234567"
SHA_OTHER = "c" * 40
DIGEST = "9" * 64


def added(*paths: str) -> tuple[PullFile, ...]:
    return tuple(PullFile(path, "added") for path in paths)


def request(**changes: Any) -> ReleaseRequest:
    document: dict[str, Any] = {
        "version": 1,
        "id": RID,
        "app": "frontend",
        "environment": "production",
        "requested_by": "alice",
        "requested_at": "2024-06-01T12:30:45Z",
        "from": {"tag": "release_9", "commit": SHA_FROM},
        "to": {"tag": "release_10", "commit": SHA_TO},
        "patch": {
            "file": PATCH_PATH,
            "sha256": DIGEST,
            "files_changed": 3,
            "insertions": 10,
            "deletions": 2,
            "commits": 4,
        },
        "reason": "Fix the banner",
    }
    document.update(changes)
    return ReleaseRequest.from_document(document)


def integrity(**changes: Any) -> IntegrityFacts:
    """Facts every check passes, with `changes`."""
    fields: dict[str, Any] = {
        "pull_state": "open",
        "base": "main",
        "default_branch": "main",
        "files": added(REQUEST_PATH, PATCH_PATH),
        "author": "alice",
        "request_path": REQUEST_PATH,
        "patch_path": PATCH_PATH,
        "request": request(),
        "known_apps": ("frontend", "backend"),
        "tag_commit_now": SHA_TO,
        "deployed_now": SHA_FROM,
        "to_descends": True,
        "digest_from_git": DIGEST,
        "digest_of_patch_file": DIGEST,
        "head_pushed_by": "alice",
    }
    fields.update(changes)
    return IntegrityFacts(**fields)


ALL_CHECKS = ["open", "base", "files", "request", "app", "tag", "deployed", "ancestry", "digest", "pushes"]  # fmt: skip


def test_a_well_formed_current_request_passes_every_check() -> None:
    results = run_checks(integrity())
    assert [c.name for c in results] == ALL_CHECKS
    assert all(c.ok is True for c in results), results


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"pull_state": "merged"}, id="merged"),
        pytest.param({"files": added(REQUEST_PATH, GZ_PATH), "request": request(patch={**request().patch.model_dump(), "file": GZ_PATH})}, id="gz-patch"),
        pytest.param({"request": request(to={"tag": None, "commit": SHA_TO}), "tag_commit_now": None}, id="untagged"),
        pytest.param({"request": request(**{"from": None}), "deployed_now": None, "to_descends": None}, id="first-deploy"),
    ],
)  # fmt: skip
def test_variants_that_pass_every_check(changes: dict[str, Any]) -> None:
    failed = [c for c in run_checks(integrity(**changes)) if c.ok is not True]
    assert failed == []


FILE_CASES = [
    # (files, problem, or None when they are right)
    (added(REQUEST_PATH, PATCH_PATH), None, "request-and-patch"),
    (added(REQUEST_PATH, GZ_PATH), None, "request-and-gz-patch"),
    (added(REQUEST_PATH, PATCH_PATH, "policies/standard.yaml"), "it also changes policies/standard.yaml: a request's pull request changes nothing but", "extra-policy-file"),
    (added(REQUEST_PATH, PATCH_PATH, ".github/workflows/x.yml"), "it also changes .github/workflows/x.yml:", "extra-workflow"),
    ((), "it adds no request file (requests/<app>/<id>.yaml)", "nothing"),
    (added(REQUEST_PATH, PATCH_PATH, "requests/frontend/20240602-abcdefghijklmnop.yaml"), "it adds 2 request files (", "two-request-files"),
    ((PullFile(REQUEST_PATH, "modified"), *added(PATCH_PATH)), f"it modified {REQUEST_PATH}: a request file is only ever added, never edited", "modified-request"),
    (added(REQUEST_PATH), f"it adds no patch file for {REQUEST_PATH} ({PATCH_PATH} or .patch.gz)", "missing-patch"),
    (added(REQUEST_PATH, PATCH_PATH, GZ_PATH), f"it adds both {PATCH_PATH} and {GZ_PATH}: a request has one patch file", "both-patches"),
    (added(REQUEST_PATH, PATCH_PATH, "requests/backend/x.patch"), "it adds requests/backend/x.patch, which belongs to no request it adds: remove it", "stray-patch"),
    ((*added(REQUEST_PATH), PullFile(PATCH_PATH, "modified")), f"it modified {PATCH_PATH}: a patch file is only ever added, never edited", "modified-patch"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "problem"), cases(FILE_CASES))
def test_locate_request_files(files: tuple[PullFile, ...], problem: str | None) -> None:
    located = locate_request_files(files)
    if problem is None:
        assert located.problem is None
        assert located.request_path == REQUEST_PATH
        assert located.patch_path == files[1].path
    else:
        assert located.problem is not None and problem in located.problem
        assert (located.request_path, located.patch_path) == (None, None)


CHECK_CASES = [
    # (changes, the one failing check, its message)
    ({"pull_state": "closed"}, "open", "the pull request is closed without being merged", "closed"),
    ({"base": "develop"}, "base", "the pull request targets 'develop', not the default branch 'main': retarget it to main", "base-not-default"),
    ({"files": added(REQUEST_PATH, PATCH_PATH, "policies/standard.yaml")}, "files", "it also changes policies/standard.yaml", "extra-file"),
    ({"files": added(REQUEST_PATH)}, "files", "it adds no patch file", "missing-patch"),
    ({"request": None, "request_error": "not valid YAML: line 3"}, "request", "not valid YAML: line 3", "unreadable-request"),
    ({"request": request(app="backend", patch={**request().patch.model_dump(), "file": PATCH_PATH})}, "request", f"{REQUEST_PATH} holds request {RID} of app backend: it belongs at requests/backend/{RID}.yaml", "wrong-folder"),
    ({"request": request(patch={**request().patch.model_dump(), "file": GZ_PATH})}, "request", f"the request's patch.file is '{GZ_PATH}', but the pull request adds {PATCH_PATH}", "patch-file-mismatch"),
    ({"author": "mallory"}, "request", "requested_by is alice, but the pull request was opened by mallory: a request is opened by its requester", "requested-by-mismatch"),
    ({"known_apps": ("backend",)}, "app", "app frontend is not in policies/apps.yaml on the default branch", "app-unknown"),
    ({"tag_commit_now": None}, "tag", "tag release_10 no longer exists: it was pinned to 0123456789ab; open a new request", "tag-gone"),
    ({"tag_commit_now": SHA_OTHER}, "tag", "tag release_10 now points at cccccccccccc, not the pinned 0123456789ab: it was moved", "tag-moved"),
    ({"deployed_now": SHA_OTHER}, "deployed", "the deployed version changed since this request was opened (was aaaaaaaaaaaa, now cccccccccccc): open a new one", "deployed-changed"),
    ({"request": request(**{"from": None}), "to_descends": None}, "deployed", "(was nothing, now aaaaaaaaaaaa): open a new one", "first-deploy-but-deployed"),
    ({"to_descends": False}, "ancestry", "release_10 does not descend from the deployed aaaaaaaaaaaa: it is not newer", "not-descending"),
    ({"digest_of_patch_file": "8" * 64}, "digest", f"{PATCH_PATH} does not match the request's sha256 (the file's is 888888888888, the request says 999999999999): the patch was edited", "patch-digest-mismatch"),
    ({"digest_of_patch_file": None, "patch_error": "not gzip"}, "digest", "not gzip", "patch-unreadable"),
    ({"digest_from_git": "8" * 64}, "digest", "the diff git computes for this release (888888888888) is not the one in the request (999999999999)", "git-digest-mismatch"),
    ({"head_pushed_by": None}, "pushes", "the head commit was not pushed through the forge, so who pushed it is unknown", "head-pusher-unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "name", "message"), cases(CHECK_CASES))
def test_each_failing_check_says_why(changes: dict[str, Any], name: str, message: str) -> None:
    results = run_checks(integrity(**changes))
    failed = [c for c in results if c.ok is False]
    assert [c.name for c in failed] == [name]
    assert message in failed[0].message
    verdict = judge(results, "standard", evaluate_policy(one_rule(), facts("bob")))
    assert (verdict.outcome, verdict.summary) == ("failed", f"Invalid request: {failed[0].message}")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"request": None, "request_error": "bad"}, id="unreadable-request"),
        pytest.param({"files": added(REQUEST_PATH)}, id="bad-files"),
        pytest.param({"known_apps": ()}, id="unknown-app"),
    ],
)
def test_later_checks_are_not_run_after_an_early_failure(changes: dict[str, Any]) -> None:
    results = {c.name: c for c in run_checks(integrity(**changes))}
    for name in ("tag", "deployed", "ancestry", "digest"):
        assert results[name].ok is None
        assert results[name].message.startswith("not checked")
    assert results["pushes"].ok is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"request": None, "request_error": "bad"}, id="unreadable-request"),
        pytest.param({"files": added(REQUEST_PATH)}, id="bad-files"),
    ],
)
def test_every_check_is_reported_whatever_fails(changes: dict[str, Any]) -> None:
    assert [c.name for c in run_checks(integrity(**changes))] == ALL_CHECKS


# --- property: who is counted --------------------------------------------------------

PEOPLE = ["alice", "bob", "carol", "dave", "erin", "renovate[bot]"]
PROPERTY_RULE = one_rule("{users: [dave, 'renovate[bot]'], teams: [alphagov/deployers]}").rule("r")
ELIGIBLE = {"bob", "carol", "dave", "renovate[bot]"}

reviews_strategy = st.lists(
    st.builds(
        ReviewFact,
        user=st.sampled_from(PEOPLE),
        state=st.sampled_from(["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]),
        commit=st.sampled_from(["head", "old"]),
    ),
    max_size=12,
)


@given(
    reviews=reviews_strategy,
    requester=st.sampled_from(PEOPLE),
    contributors=st.sets(st.sampled_from(PEOPLE), max_size=3),
)
def test_only_eligible_outsiders_approving_the_head_are_counted(
    reviews: list[ReviewFact], requester: str, contributors: set[str]
) -> None:
    fct = ApprovalFacts(
        requester=requester,
        reviews=reviews,
        contributors=dict.fromkeys(contributors, "pushed to the request's branch"),
        teams=TEAMS,
    )
    latest: dict[str, ReviewFact] = {}
    for r in reviews:
        if r.state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[r.user] = r
    expected = {
        user
        for user, r in latest.items()
        if r.state == "APPROVED"
        and r.commit == "head"
        and user in ELIGIBLE
        and user != requester
        and user not in contributors
        and not user.endswith("[bot]")
    }
    standing, dismissed = standing_reviews(fct.reviews)
    result = evaluate_rule(PROPERTY_RULE, fct, standing, dismissed)
    assert set(result.approved_by) == expected
    assert len(result.approved_by) == len(expected)
    assert (result.status == "satisfied") == bool(expected)
    counted_or_ignored = set(result.approved_by) | {i.user for i in result.ignored}
    assert {u for u, r in latest.items() if r.state == "APPROVED"} <= counted_or_ignored
