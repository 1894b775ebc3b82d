"""The verdict in words: for a terminal, and as markdown for a job summary."""

from __future__ import annotations

from collections.abc import Sequence

from bs.core.evaluate import GroupResult, Ignored, RuleResult
from bs.core.verdict import Verdict
from bs.core.words import printable

_MARK = {"satisfied": "✓", "pending": "…", "failed": "✗", "skipped": "-"}
_CHECK_MARK = {True: "✓", False: "✗", None: "-"}
_OUTCOME_WORD = {
    "met": "met", "pending": "not met yet", "rejected": "rejected", "failed": "failed", "error": "could not evaluate",
}  # fmt: skip


def _ignored(ignored: Sequence[Ignored]) -> str:
    return "; ".join(f"{i.user}: {i.reason}" for i in ignored)


def _rule_line(rule: RuleResult) -> str:
    text = f"{rule.name}: {rule.status}"
    if rule.status == "satisfied":
        text += f" (approved by {', '.join(rule.approved_by)})"
    elif rule.status == "skipped":
        text += f" ({rule.condition})" if rule.condition else ""
    elif rule.missing:
        text += f": {rule.missing}"
        if rule.approved_by:
            text += f" (approved by {', '.join(rule.approved_by)} so far)"
    return text


def _tree_lines(node: RuleResult | GroupResult, depth: int, *, markdown: bool) -> list[str]:
    """The result tree, one line per group and rule (and its ignored approvals)."""
    pad = "  " * depth
    bullet = "- " if markdown else ""
    if isinstance(node, GroupResult):
        label = "all of" if node.kind == "all_of" else "any of"
        lines = [f"{pad}{bullet}{_MARK[node.status]} {label}: {node.status}"]
        for child in node.children:
            lines.extend(_tree_lines(child, depth + 1, markdown=markdown))
        return lines
    line = _rule_line(node)
    if markdown:
        line = f"**{md_escape(node.name)}**{md_escape(line[len(node.name) :])}"
    lines = [f"{pad}{bullet}{_MARK[node.status]} {line}"]
    if node.ignored and node.status != "skipped":
        ignored = _ignored(node.ignored)
        lines.append(f"{pad}  {bullet}ignored: {md_escape(ignored) if markdown else ignored}")
    return lines


def explain_text(verdict: Verdict, heading: Sequence[str] = ()) -> str:
    lines = [f"bs/policy: {_OUTCOME_WORD[verdict.outcome]}: {verdict.summary}"]
    lines.extend(heading)
    if verdict.checks:
        lines.append("")
        lines.append("Checks")
        lines.extend(f"  {_CHECK_MARK[c.ok]} {c.name}: {c.message}" for c in verdict.checks)
    policy = verdict.policy
    if policy is not None:
        lines.append("")
        lines.append(f"Policy {verdict.policy_name}")
        if policy.requester_refused:
            lines.append(f"  ✗ requester: {policy.requester_refused}")
        lines.extend(_tree_lines(policy.tree, 1, markdown=False))
        if policy.rejections:
            lines.append(
                "Rejections (standing until the reviewer approves or the review is dismissed)"
            )
            lines.extend(
                f"  ✗ rejected by {r.user}" + (f": {r.comment}" if r.comment else "")
                for r in policy.rejections
            )
        if policy.ignored_rejections:
            lines.append(f"  change requests ignored: {_ignored(policy.ignored_rejections)}")
    return printable("\n".join(lines)) + "\n"


def md_escape(text: str) -> str:
    """User text (comments, names) inert in markdown: no links, mentions, HTML or tables."""
    out = []
    for ch in printable(text):
        if ch in "\\`*_{}[]|<>~&@":
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def explain_markdown(verdict: Verdict, heading: Sequence[str] = ()) -> str:
    mark = {"met": "✅", "pending": "⏳", "rejected": "⛔", "failed": "❌", "error": "⚠️"}[
        verdict.outcome
    ]
    lines = [
        f"### {mark} bs/policy: {_OUTCOME_WORD[verdict.outcome]}",
        "",
        md_escape(verdict.summary),
        "",
    ]
    lines.extend(md_escape(h) for h in heading)
    if verdict.checks:
        lines += ["", "| | check | result |", "|---|---|---|"]
        lines.extend(
            f"| {_CHECK_MARK[c.ok]} | {c.name} | {md_escape(c.message)} |" for c in verdict.checks
        )
    policy = verdict.policy
    if policy is not None:
        lines += ["", f"#### Policy `{verdict.policy_name}`", ""]
        if policy.requester_refused:
            lines.append(f"- ✗ requester: {md_escape(policy.requester_refused)}")
        lines.extend(_tree_lines(policy.tree, 0, markdown=True))
        for r in policy.rejections:
            lines.append(
                f"- ⛔ rejected by {md_escape(r.user)}"
                + (f": {md_escape(r.comment)}" if r.comment else "")
            )
        if policy.ignored_rejections:
            lines.append(
                f"- change requests ignored: {md_escape(_ignored(policy.ignored_rejections))}"
            )
    return "\n".join(lines) + "\n"
