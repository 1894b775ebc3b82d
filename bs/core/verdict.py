"""The verdict on a request: the checks and the policy result, judged together.

met (exit 0), pending (1), rejected or failed (2); "error" (3) is for when
the facts could not be gathered at all. The one-line summary is the
``bs/policy`` status description (GitHub allows 140 characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bs.core.checks import CheckResult
from bs.core.evaluate import GroupResult, PolicyResult, RuleResult, all_rules
from bs.core.words import printable

Outcome = Literal["met", "pending", "rejected", "failed", "error"]
EXIT_CODES: dict[Outcome, int] = {"met": 0, "pending": 1, "rejected": 2, "failed": 2, "error": 3}
STATUS_STATES: dict[Outcome, Literal["success", "pending", "failure", "error"]] = {
    "met": "success", "pending": "pending", "rejected": "failure", "failed": "failure", "error": "error",
}  # fmt: skip
STATUS_CONTEXT = "bs/policy"
DESCRIPTION_LIMIT = 140


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    summary: str
    checks: tuple[CheckResult, ...]
    policy_name: str | None
    policy: PolicyResult | None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def status_state(self) -> Literal["success", "pending", "failure", "error"]:
        return STATUS_STATES[self.outcome]

    @property
    def status_description(self) -> str:
        return shorten(self.summary, DESCRIPTION_LIMIT - 1)

    @property
    def approvers(self) -> tuple[str, ...]:
        return self.policy.approvers if self.policy else ()


def shorten(text: str, limit: int) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def judge(
    checks: list[CheckResult], policy_name: str | None, policy: PolicyResult | None
) -> Verdict:
    failed = [c for c in checks if c.ok is False]
    if failed:
        return Verdict(
            "failed", f"Invalid request: {failed[0].message}", tuple(checks), policy_name, policy
        )
    if policy is None:
        return Verdict(
            "error", "The policy could not be evaluated", tuple(checks), policy_name, policy
        )
    if policy.requester_refused:
        return Verdict("failed", policy.requester_refused, tuple(checks), policy_name, policy)
    if policy.rejections:
        first = policy.rejections[0]
        others = f" (and {len(policy.rejections) - 1} more)" if len(policy.rejections) > 1 else ""
        said = f": {first.comment}" if first.comment else ""
        return Verdict(
            "rejected",
            f"Rejected by {first.user}{others}{said}",
            tuple(checks),
            policy_name,
            policy,
        )
    status = policy.tree.status
    if status == "satisfied":
        who = ", ".join(policy.approvers)
        return Verdict("met", f"Approved by {who}", tuple(checks), policy_name, policy)
    if status == "skipped":
        return Verdict(
            "failed",
            "No approval rule applies to this release: the policy needs a rule without if:",
            tuple(checks), policy_name, policy,
        )  # fmt: skip
    missing = still_missing(policy.tree)
    if status == "failed":
        failing = [r for r in all_rules(policy.tree) if r.status == "failed"]
        text = (
            f"Rule '{failing[0].name}' {failing[0].missing}"
            if failing
            else "The policy cannot be met"
        )
        return Verdict("failed", text, tuple(checks), policy_name, policy)
    text = missing[0][0].upper() + missing[0][1:] if missing else "Waiting for approvals"
    if len(missing) > 1:
        text += f" (and {len(missing) - 1} more rule{'s' if len(missing) > 2 else ''})"
    return Verdict("pending", text, tuple(checks), policy_name, policy)


def still_missing(node: RuleResult | GroupResult) -> list[str]:
    """What is still needed, one item per thing to do: an any_of still pending is one item
    offering its alternatives; a satisfied or skipped part needs nothing."""
    if isinstance(node, RuleResult):
        return [node.missing] if node.status in ("pending", "failed") and node.missing else []
    if node.status in ("satisfied", "skipped"):
        return []
    parts = [still_missing(child) for child in node.children]
    if node.kind == "all_of":
        return [item for part in parts for item in part]
    options = [" and ".join(part) for part in parts if part]
    if not options:
        return []
    rest = [o.removeprefix("needs ") if options[0].startswith("needs ") else o for o in options[1:]]
    return [", or ".join([options[0], *rest])]


def error_verdict(message: str) -> Verdict:
    return Verdict("error", f"Could not evaluate: {message}", (), None, None)


def _node_dict(node: RuleResult | GroupResult) -> dict[str, Any]:
    if isinstance(node, GroupResult):
        return {
            "kind": node.kind,
            "status": node.status,
            "children": [_node_dict(c) for c in node.children],
        }
    return {
        "rule": node.name,
        "status": node.status,
        "condition": node.condition,
        "requires": {"count": node.count, "from": node.who},
        "approved_by": list(node.approved_by),
        "ignored": [{"user": i.user, "reason": i.reason} for i in node.ignored],
        "missing": node.missing,
    }


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    policy = verdict.policy
    return {
        "outcome": verdict.outcome,
        "exit_code": verdict.exit_code,
        "summary": verdict.summary,
        "status": {
            "context": STATUS_CONTEXT,
            "state": verdict.status_state,
            "description": verdict.status_description,
        },
        "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in verdict.checks],
        "policy": None
        if policy is None
        else {
            "name": verdict.policy_name,
            "status": policy.status,
            "approved_by": list(policy.approvers),
            "requester_refused": policy.requester_refused,
            "rejections": [{"user": r.user, "comment": r.comment} for r in policy.rejections],
            "ignored_rejections": [
                {"user": i.user, "reason": i.reason} for i in policy.ignored_rejections
            ],
            "approval": _node_dict(policy.tree),
        },
    }
