"""The pure evaluator: whose approval counts (``bs.core.evaluate``, ``bs.core.policy``).

Approvals counted or ignored and why, counts (satisfied, pending, failed),
all_of / any_of groups, the policy model's validation (nesting, references,
names), and a property: only eligible outsiders approving the head are counted.
No I/O anywhere.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bs.core.evaluate import (
    GroupResult,
    RuleResult,
    evaluate_policy,
    evaluate_rule,
    standing_reviews,
)
from bs.core.facts import ApprovalFacts, ReleaseFacts, ReviewFact
from tests.evalhelpers import TEAMS, cases, facts, ignored_pairs, one_rule, only_rule, policy

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
    # A dismissed latest review leaves nothing: the approval before it does not come back.
    ("{teams: [alphagov/deployers]}", None, facts("bob", "bob DISMISSED"), (), [("bob", "their review was dismissed")], "latest-of-two-approvals-dismissed"),
    ("{teams: [alphagov/deployers]}", None, facts("bob", "bob DISMISSED", "bob COMMENTED"), (), [("bob", "their review was dismissed")], "comment-does-not-revive"),
    # Logins compare without case, as GitHub's do.
    ("{teams: [alphagov/deployers]}", None, facts("Bob"), ("Bob",), [], "team-member-other-case"),
    ("{users: [BOB]}", None, facts("bob"), ("bob",), [], "user-other-case"),
    ("{teams: [AlphaGov/Deployers]}", None, facts("bob"), ("bob",), [], "team-name-other-case"),
    ("{users: [bob]}", None, facts("Bob", requester="bob"), (), [("Bob", "the requester")], "requester-other-case"),
    (
        "{users: [bob]}", None, facts("bob", contributors={"BOB": "pushed to the request's branch"}),
        (), [("bob", "pushed to the request's branch")], "contributor-other-case",
    ),
    ("{teams: [alphagov/deployers]}", None, facts("bob", "BOB DISMISSED"), (), [("BOB", "their review was dismissed")], "dismissal-other-case"),
    ("{users: [bob_acme]}", None, facts("bob_acme", requester="alice_acme"), ("bob_acme",), [], "enterprise-managed-users"),
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
    # Each reviewer's latest review but comments; a dismissed one leaves nothing standing.
    latest: dict[str, ReviewFact] = {}
    for r in reviews:
        if r.state != "COMMENTED":
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
