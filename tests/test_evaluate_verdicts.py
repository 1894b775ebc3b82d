"""The pure evaluator: rejections, requesters, the verdict and its words.

Covers rejections and who may reject (``bs.core.evaluate``), the policy's
requesters, ``bs.core.verdict`` (judge: outcome, exit status, status
description) and ``bs.core.explain`` (text and Markdown). No I/O anywhere.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bs.core.checks import CheckResult
from bs.core.evaluate import evaluate_policy
from bs.core.explain import explain_markdown, explain_text
from bs.core.facts import ApprovalFacts, ReleaseFacts, ReviewFact
from bs.core.policy import Policy
from bs.core.verdict import Verdict, judge
from tests.evalhelpers import cases, changes, facts, one_rule, policy, verdict_of

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
    (REJECT_POLICY, ["bob", changes("dave", "x"), "dave DISMISSED"], "met", "Approved by bob", [], "latest-of-two-change-requests-dismissed"),
    (REJECT_POLICY, ["bob", changes("Dave", "x")], "rejected", "Rejected by Dave: x", [], "rule-user-other-case"),
    (REJECT_POLICY, ["bob", changes("CAROL", "y")], "rejected", "Rejected by CAROL: y", [], "team-member-other-case"),
    (ONLY_DAVE_REJECTS, ["bob", changes("dAVE", "no")], "rejected", "Rejected by dAVE: no", [], "disapproval-user-other-case"),
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
            REQUESTERS_POLICY, "Erin", "met", "Approved by bob", id="team-member-other-case"
        ),
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
