"""The hooks' job summaries: what each did, in Markdown for ``$GITHUB_STEP_SUMMARY``.

Never the deploy link, never an address but the review list's (public, in
policies/apps.yaml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bs.cli.events import code_block
from bs.core.explain import md_escape

if TYPE_CHECKING:
    from bs.usecases.hook_closed import Removal
    from bs.usecases.hook_merged import MintedLink
    from bs.usecases.hook_opened import ReviewMail
    from bs.usecases.hook_refused import RefusedMerge


def _code(text: object) -> str:
    """An inline code span (never a link): a commit, an id, an address."""
    plain = str(text)
    return f"`{plain}`" if plain.isprintable() and "`" not in plain else md_escape(plain)


def opened_markdown(pr: int, sent: ReviewMail) -> str:
    app = md_escape(sent.request.app)
    if not sent.recipients:
        return (
            f"### bs hook opened: nothing sent for #{pr}\n\n"
            f"{app} has no review\\_list in policies/apps.yaml.\n"
        )
    what = (
        "with the patch attached"
        if sent.attached
        else f"without the patch ({md_escape(sent.not_attached_why)})"
    )
    lines = [
        f"### 📧 bs hook opened: review mail sent for #{pr}",
        "",
        f"{app} request {_code(sent.request.id)}: bs/policy says {md_escape(sent.verdict)}",
        "",
        f"Emailed the review list of {app}, {what}:",
        "",
        *(f"- {_code(address)}" for address in sent.recipients),
    ]
    if sent.reviewers_asked:
        lines += ["", f"Asked {md_escape(', '.join(sent.reviewers_asked))} for reviews."]
    if sent.reviewers_error:
        lines += ["", f"Could not ask for reviews: {md_escape(sent.reviewers_error)}"]
    return "\n".join(lines) + "\n"


def closed_markdown(pr: int, outcome: object) -> str:
    from bs.usecases.follow_up import FollowUpApproved
    from bs.usecases.hook_closed import NotARequest, Removal
    from bs.usecases.hook_merged import AlreadyMinted, MintedLink
    from bs.usecases.hook_refused import RefusedMerge

    if isinstance(outcome, NotARequest):
        return (
            f"### bs hook closed: nothing to do for #{pr}\n\n"
            f"#{pr} is not a release request bs can read: {md_escape(outcome.why)}\n"
        )
    if isinstance(outcome, FollowUpApproved):
        return (
            f"### bs hook closed: follow-up #{pr} approved\n\n"
            f"Emergency request `{outcome.request.follow_up_of}` is now reviewed under the normal "
            f"rules, by {md_escape(', '.join(outcome.approvers))}. No deploy link is minted.\n"
        )
    if isinstance(outcome, AlreadyMinted):
        return (
            f"### bs hook closed: #{pr}'s deploy link was minted before\n\n"
            f"The policy no longer holds ({md_escape(outcome.summary)}), "
            "so no new link is minted.\n"
        )
    if isinstance(outcome, RefusedMerge):
        return _refused_markdown(pr, outcome)
    if isinstance(outcome, Removal):
        return _removal_markdown(pr, outcome)
    assert isinstance(outcome, MintedLink)
    return _minted_markdown(pr, outcome)


def _refused_markdown(pr: int, refused: RefusedMerge) -> str:
    done = [f"Commented on #{pr}." if refused.commented else ""]
    done.append(f"Emailed the requester and the review list ({len(refused.emailed)} addresses).")
    return (
        f"### ⛔ bs hook closed: #{pr} was merged, but its policy is not met: no deploy link\n\n"
        f"Why: {md_escape(refused.summary)}\n\n"
        f"{code_block(refused.explanation)}\n"
        f"{' '.join(d for d in done if d)}\n"
    )


def _removal_markdown(pr: int, removal: Removal) -> str:
    if removal.already:
        return f"### bs hook closed: request #{pr} was already removed\n"
    lines = [
        f"### 🗑️ bs hook closed: request #{pr} {md_escape(removal.how)} "
        f"by {md_escape(removal.denier)}",
        "",
    ]
    if removal.closed_now:
        lines.append(f"- Closed pull request #{pr}.")
    if removal.branch_deleted:
        lines.append(f"- Deleted branch {_code(removal.pull.head_ref)}.")
    lines.append(f"- Emailed the requester, {md_escape(removal.requester)}.")
    return "\n".join(lines) + "\n"


def _minted_markdown(pr: int, minted: MintedLink) -> str:
    record = minted.record
    start, to = record["from"], record["to"]
    rows = [
        ("app", md_escape(record["app"])),
        ("request", _code(record["request"])),
        ("requester", md_escape(record["requester"])),
        *(
            ("approved by", f"{md_escape(a['user'])} at {md_escape(a['approved_at'] or '-')}")
            for a in record["approvers"]
        ),
        ("merged by", f"{md_escape(record['merged_by'] or '-')} at {record['merged_at']}"),
        (
            "from",
            f"{md_escape(start['tag'] or '-')} {_code(start['commit'])}"
            if start
            else "nothing deployed",
        ),
        ("to", f"{md_escape(to['tag'] or '-')} {_code(to['commit'])}"),
        ("patch", f"sha256 {_code(record['patch_sha256'])}"),
        ("slot", f"{record['slot']['start']} to {record['slot']['end']}"),
    ]
    lines = [
        f"### ✅ bs hook closed: #{pr} approved, deploy link minted",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        f"The deploy link was emailed to the requester, {md_escape(record['requester'])}; "
        "it is never shown here.",
    ]
    return "\n".join(lines) + "\n"
