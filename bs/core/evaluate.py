"""Evaluating a policy on the facts: a result tree that explains itself.

Like policy-bot's: each rule is satisfied, pending, failed (it can no longer
be met by anyone) or skipped (its ``if:`` does not hold for this release);
each approval is counted or ignored with the reason; what is missing is said
in words. Rejections (an eligible reviewer's standing ``CHANGES_REQUESTED``)
are reported beside the tree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bs.core.facts import ApprovalFacts, ReviewFact
from bs.core.globs import matching_paths
from bs.core.policy import Group, People, Policy, Rule
from bs.core.words import count_noun

Status = Literal["satisfied", "pending", "failed", "skipped"]


@dataclass(frozen=True)
class Ignored:
    user: str
    reason: str


@dataclass(frozen=True)
class RuleResult:
    name: str
    status: Status
    #: Why the rule applies ("db/migrate/001.rb changed") or why it is skipped.
    condition: str | None
    approved_by: tuple[str, ...]
    ignored: tuple[Ignored, ...]
    count: int
    who: str
    #: What is missing, in words; None when satisfied or skipped.
    missing: str | None


@dataclass(frozen=True)
class GroupResult:
    kind: Literal["all_of", "any_of"]
    status: Status
    children: tuple[RuleResult | GroupResult, ...]


@dataclass(frozen=True)
class Rejection:
    user: str
    comment: str


@dataclass(frozen=True)
class PolicyResult:
    tree: RuleResult | GroupResult
    rejections: tuple[Rejection, ...]
    ignored_rejections: tuple[Ignored, ...]
    #: None when the requester may request; else why not.
    requester_refused: str | None = None
    approvers: tuple[str, ...] = field(default=())

    @property
    def status(self) -> Status:
        return self.tree.status


def fold(login: str) -> str:
    """Logins compare without case, as GitHub's do: Dave and dave are one person."""
    return login.lower()


def standing_reviews(reviews: list[ReviewFact]) -> tuple[dict[str, ReviewFact], list[Ignored]]:
    """Each reviewer's standing review (keyed by folded login): their latest approval or
    change request.

    A comment neither adds nor lifts anything. When a reviewer's latest review was
    dismissed, nothing of theirs stands: an earlier review does not come back.
    """
    latest: dict[str, ReviewFact] = {}
    for review in reviews:
        if review.state != "COMMENTED":
            latest[fold(review.user)] = review
    standing = {key: r for key, r in latest.items() if r.state != "DISMISSED"}
    dismissed = [
        Ignored(r.user, "their review was dismissed")
        for r in latest.values()
        if r.state == "DISMISSED"
    ]
    return standing, dismissed


def is_bot(login: str) -> bool:
    return login.endswith("[bot]")


def team_sets(teams: Mapping[str, list[str]]) -> dict[str, frozenset[str]]:
    """Team members as folded sets, keyed by folded team name."""
    return {fold(team): frozenset(fold(m) for m in members) for team, members in teams.items()}


def is_member(people: People, login: str, teams: Mapping[str, Collection[str]]) -> bool:
    """Whether `login` is one of `people`; `teams` comes from `team_sets`."""
    key = fold(login)
    return any(fold(u) == key for u in people.users) or any(
        key in teams.get(fold(team), ()) for team in people.teams
    )


def _not_member_reason(people: People) -> str:
    if people.users and people.teams:
        return f"not {_or(people.users)}, nor in {_or(people.teams)}"
    if people.users:
        return f"not {_or(people.users)}"
    return f"not in {_or(people.teams)}"


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def requester_refusal(policy: Policy, facts: ApprovalFacts) -> str | None:
    allowed = policy.requesters
    if allowed is None or is_member(allowed, facts.requester, team_sets(facts.teams)):
        return None
    return f"{facts.requester} may not request this app: the policy's requesters are {allowed.describe()}"


def rule_condition(rule: Rule, facts: ApprovalFacts) -> tuple[bool, str | None]:
    """Whether the rule applies to this release, and why (or why not)."""
    predicates = rule.if_
    if predicates is None:
        return True, None
    release = facts.release
    said: list[str] = []
    if predicates.changed_paths is not None:
        matched = matching_paths(predicates.changed_paths, tuple(release.paths))
        if not matched:
            return False, f"nothing under {', '.join(predicates.changed_paths)} changed"
        more = f" and {count_noun(len(matched) - 1, 'more path')}" if len(matched) > 1 else ""
        said.append(f"{matched[0]}{more} changed")
    if predicates.modified_lines is not None:
        limit = predicates.modified_lines.more_than
        lines = count_noun(release.modified_lines, "line")
        if release.modified_lines <= limit:
            return False, f"{lines} modified, not more than {limit}"
        said.append(f"{lines} modified (more than {limit})")
    if predicates.commits is not None:
        limit = predicates.commits.more_than
        commits = count_noun(release.commits, "commit")
        if release.commits <= limit:
            return False, f"{commits}, not more than {limit}"
        said.append(f"{commits} (more than {limit})")
    if predicates.first_deploy is not None:
        if predicates.first_deploy != release.first_deploy:
            return False, "not a first deploy" if predicates.first_deploy else "a first deploy"
        said.append("a first deploy" if release.first_deploy else "not a first deploy")
    return True, "; ".join(said)


def evaluate_rule(
    rule: Rule,
    facts: ApprovalFacts,
    standing: Mapping[str, ReviewFact],
    dismissed: list[Ignored],
    teams: Mapping[str, Collection[str]] | None = None,
) -> RuleResult:
    """One rule's result; `teams` is `team_sets(facts.teams)`, when the caller made it."""
    teams = team_sets(facts.teams) if teams is None else teams
    contributors = {fold(login): how for login, how in facts.contributors.items()}
    applies, condition = rule_condition(rule, facts)
    requires = rule.requires
    who = requires.describe()
    if not applies:
        return RuleResult(rule.name, "skipped", condition, (), (), requires.count, who, None)

    requester = fold(facts.requester)

    def excluded(login: str) -> str | None:
        key = fold(login)
        if is_bot(login):
            return "a bot"
        # A follow-up is opened by bs, so the forge would let the emergency's requester
        # approve it: allow_author, meant for the forge's own rule, never counts there.
        if key == requester and (not rule.options.allow_author or facts.kind == "follow-up"):
            return "the requester"
        if key in contributors and not rule.options.allow_pushers:
            return contributors[key]
        return None

    # Everyone the rule names, folded: the users and the members of its teams.
    candidates = {fold(u) for u in requires.users} | {
        m for team in requires.teams for m in teams.get(fold(team), ())
    }
    approved: list[str] = []
    ignored: list[Ignored] = []
    not_member: str | None = None
    for review in standing.values():
        login = review.user
        if review.state != "APPROVED":
            continue
        reason = excluded(login)
        if reason is None and fold(login) not in candidates:
            not_member = not_member or _not_member_reason(requires)
            reason = not_member
        if reason is None and review.commit != facts.head:
            reason = "approved an earlier commit"
        if reason is None:
            approved.append(login)
        else:
            ignored.append(Ignored(login, reason))
    ignored.extend(d for d in dismissed if fold(d.user) in candidates)

    because = f": {condition}" if condition else ""
    if len(approved) >= requires.count:
        return RuleResult(
            rule.name,
            "satisfied",
            condition,
            tuple(approved),
            tuple(ignored),
            requires.count,
            who,
            None,
        )
    possible = {login for login in candidates if excluded(login) is None}
    if len(possible) < requires.count:
        missing = (
            f"cannot be met: it needs {count_noun(requires.count, 'approval')} from {who}, "
            f"and only {count_noun(len(possible), 'person', 'people')} there may approve this request{because}"
        )
        return RuleResult(
            rule.name,
            "failed",
            condition,
            tuple(approved),
            tuple(ignored),
            requires.count,
            who,
            missing,
        )
    more = requires.count - len(approved)
    missing = f"needs {more} more {'approval' if more == 1 else 'approvals'} from {who}{because}"
    return RuleResult(
        rule.name,
        "pending",
        condition,
        tuple(approved),
        tuple(ignored),
        requires.count,
        who,
        missing,
    )


def _combine(
    kind: Literal["all_of", "any_of"], children: list[RuleResult | GroupResult]
) -> GroupResult:
    live = [c.status for c in children if c.status != "skipped"]
    status: Status
    if not live:
        status = "skipped"
    elif kind == "all_of":
        if "failed" in live:
            status = "failed"
        elif all(s == "satisfied" for s in live):
            status = "satisfied"
        else:
            status = "pending"
    elif "satisfied" in live:
        status = "satisfied"
    elif all(s == "failed" for s in live):
        status = "failed"
    else:
        status = "pending"
    return GroupResult(kind, status, tuple(children))


def evaluate_policy(policy: Policy, facts: ApprovalFacts) -> PolicyResult:
    standing, dismissed = standing_reviews(facts.reviews)
    teams = team_sets(facts.teams)
    rules = {rule.name: rule for rule in policy.rules}

    def walk(node: str | Group) -> RuleResult | GroupResult:
        if isinstance(node, str):
            return evaluate_rule(rules[node], facts, standing, dismissed, teams)
        return _combine(node.kind, [walk(child) for child in node.children])

    tree = walk(policy.approval_for(facts.kind))
    disapprovers = policy.disapprovers(facts.kind)
    rejections: list[Rejection] = []
    ignored_rejections: list[Ignored] = []
    for review in standing.values():
        login = review.user
        if review.state != "CHANGES_REQUESTED":
            continue
        if is_bot(login):
            ignored_rejections.append(Ignored(login, "a bot"))
        elif not is_member(disapprovers, login, teams):
            ignored_rejections.append(
                Ignored(login, f"may not reject: {_not_member_reason(disapprovers)}")
            )
        else:
            rejections.append(Rejection(login, review.body.strip()))
    approvers = sorted(
        {
            login
            for rule in all_rules(tree)
            if rule.status == "satisfied"
            for login in rule.approved_by
        }
    )
    return PolicyResult(
        tree,
        tuple(rejections),
        tuple(ignored_rejections),
        requester_refusal(policy, facts),
        tuple(approvers),
    )


def all_rules(node: RuleResult | GroupResult) -> list[RuleResult]:
    """The rule results of a tree, in order."""
    if isinstance(node, RuleResult):
        return [node]
    return [rule for child in node.children for rule in all_rules(child)]
