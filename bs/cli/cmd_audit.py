"""``bs audit [APP]``: who requested, approved, merged and deployed what; is the chain intact?"""

from __future__ import annotations

import csv
import io
import re
import sys
from typing import TYPE_CHECKING, Any

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.core.words import count_noun, printable

if TYPE_CHECKING:
    from bs.core.audit import AuditReport, Entry, Finding

CSV_COLUMNS = (
    "when", "app", "request", "kind", "pull_request", "from_tag", "from_commit", "to_tag",
    "to_commit", "requester", "requested_at", "approvers", "merged_by", "merged_at", "merge_commit",
    "deployment", "deployed_by", "state", "patch_sha256", "findings",
)  # fmt: skip


@click.command("audit")
@click.argument("app", required=False)
@click.option(
    "--since",
    metavar="DATE",
    help="Only requests merged and deployments made at or after DATE (YYYY-MM-DD, midnight "
    "UTC, or an ISO 8601 instant); a deployment since then is still checked against its older "
    "request.",
)
@click.option(
    "--no-reviews",
    is_flag=True,
    help="Do not cross-check the approvers each record names against the forge's reviews "
    "(one listing per deployment checked).",
)
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print the entries as CSV, one per row.")
@pass_cli
def audit(
    cli: CliContext,
    app: str | None,
    since: str | None,
    no_reviews: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Audit every release: the requests repository's history, its pull
    requests and the gateway's records, newest first; then verify the chain.

    Every deployment that ran must deploy the pinned commit and patch digest
    of a request merged on the default branch through its pull request, once;
    each approver its record names must have approved the reviewed head on the
    forge before the merge; a deployed emergency's follow-up review must be
    approved within the policy's emergency.review_within; and what each app
    runs now must be what bs deployed last.

    \b
    Findings, each a break: no-request, commit-mismatch,
    digest-mismatch, record-mismatch, no-redemption, deployed-twice,
    follow-up-deployed, not-approved, approval-missing,
    emergency-unreviewed, deployed-outside-bs, deployed-unreadable.
    Notices do not break it: awaiting-review (a
    follow-up not due yet), reviewed-late, request-changed,
    no-pull-request, unreadable-request, reviews-not-checked.

    \b
    Exit status: 0 the chain is intact; 4 it is broken (the findings say
    where); 1 the audit could not be made (the store unreachable, bad input).
    Only follow-up-approved marks by bs count (forge.bot in bs.yaml on the
    local forge, forge.app's bot on GitHub).

    \b
    Example:
      bs audit
      bs audit frontend --since 2026-11-01
      bs audit --since 2026-11-25T09:00:00Z --json
      bs audit --csv > audit.csv
    """
    from datetime import UTC, datetime

    from bs.core.audit import parse_since
    from bs.errors import BsError
    from bs.usecases.audit import EXIT_CHAIN_BROKEN, run_audit
    from bs.usecases.audit_store import gateway_records

    if as_json and as_csv:
        raise BsError("--json and --csv are two formats of the same audit: give one of them.")
    start = parse_since(since) if since is not None else None
    workspace = cli.workspace
    done = run_audit(
        cli.forge, workspace.config, lambda: gateway_records(workspace, cli.env),
        now=datetime.now(UTC), app=app, since=start, check_reviews=not no_reviews, env=cli.env,
    )  # fmt: skip
    report = done.report
    if as_json:
        emit_json(report_json(report, done.store.location))
    elif as_csv:
        click.echo(entries_csv(report.entries), nl=False)
    else:
        for line in report_lines(report):
            click.echo(line)
    sys.exit(0 if report.intact else EXIT_CHAIN_BROKEN)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment else "?"


def _short(value: str | None) -> str:
    return value[:12] if value else "-"


def entry_line(entry: Entry) -> str:
    deployed = (
        f"deployed by {entry.deployed_by or '-'} ({entry.state}, #{entry.deployment_id})"
        if entry.deployment_id is not None
        else "not deployed"
    )
    pull = f" (#{entry.pull_request})" if entry.pull_request else ""
    line = _inert(
        f"{_when(entry.at)}  {entry.app}  {entry.kind}  {entry.to_tag or '(untagged)'} "
        f"{_short(entry.to_commit)}  requested by {entry.requester or '-'}  approved by "
        f"{', '.join(entry.approvers) or '-'}  merged by {entry.merged_by or '-'}  {deployed}  "
        f"sha256 {_short(entry.patch_sha256)}  request {entry.request_id or '-'}{pull}"
    )
    return line + (f"  !! {', '.join(entry.findings)}" if entry.findings else "")


def finding_line(finding: Finding) -> str:
    return f"  {finding.kind}: {_inert(finding.message)}"


def _inert(text: str) -> str:
    """One line with no control or format character: tags, logins and records come from
    requesters and the store, and this is read in terminals and Actions logs (where a
    line starting ``::`` is a command)."""
    return printable(re.sub(r"\s", " ", text))


#: A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def report_lines(report: AuditReport) -> list[str]:
    lines = [entry_line(entry) for entry in report.entries]
    if not report.entries:
        lines.append("no requests or deployments" + _scope(report))
    if report.findings:
        lines += ["", "findings:", *(finding_line(f) for f in report.findings)]
    if report.notices:
        lines += ["", "notices:", *(finding_line(n) for n in report.notices)]
    lines.append("")
    if report.intact:
        lines.append(
            f"chain intact: {count_noun(report.requests_checked, 'request')}, "
            f"{count_noun(report.deployments_checked, 'deployment')} checked{_scope(report)}"
        )
    else:
        lines.append(f"chain BROKEN: {count_noun(len(report.findings), 'finding')}{_scope(report)}")
    return lines


def _scope(report: AuditReport) -> str:
    parts = ([f"of {report.app}"] if report.app else []) + (
        [f"since {_when(report.since)}"] if report.since else []
    )
    return f" ({', '.join(parts)})" if parts else ""


def entry_json(entry: Entry) -> dict[str, Any]:
    from bs.core.audit_facts import iso

    return {
        "when": iso(entry.at), "app": entry.app, "request": entry.request_id, "kind": entry.kind,
        "pull_request": entry.pull_request,
        "from": {"tag": entry.from_tag, "commit": entry.from_commit} if entry.from_commit else None,
        "to": {"tag": entry.to_tag, "commit": entry.to_commit},
        "requester": entry.requester, "requested_at": iso(entry.requested_at),
        "approvers": list(entry.approvers),
        "merged_by": entry.merged_by, "merged_at": iso(entry.merged_at),
        "merge_commit": entry.merge_commit, "deployment": entry.deployment_id,
        "deployed_by": entry.deployed_by, "state": entry.state,
        "patch_sha256": entry.patch_sha256, "findings": list(entry.findings),
    }  # fmt: skip


def report_json(report: AuditReport, store: str) -> dict[str, Any]:
    from bs.core.audit_facts import iso

    return {
        "intact": report.intact, "since": iso(report.since), "app": report.app,
        "requests_checked": report.requests_checked,
        "deployments_checked": report.deployments_checked, "store": store,
        "entries": [entry_json(e) for e in report.entries],
        "findings": [f.to_json() for f in report.findings],
        "notices": [n.to_json() for n in report.notices],
    }  # fmt: skip


def entries_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        data = entry_json(entry)
        writer.writerow([_cell(v) for v in [
            data["when"], entry.app, entry.request_id or "", entry.kind,
            entry.pull_request or "", entry.from_tag or "", entry.from_commit or "",
            entry.to_tag or "", entry.to_commit or "", entry.requester or "",
            data["requested_at"] or "",
            " ".join(entry.approvers), entry.merged_by or "", data["merged_at"] or "",
            entry.merge_commit or "", entry.deployment_id or "", entry.deployed_by or "",
            entry.state or "", entry.patch_sha256 or "", " ".join(entry.findings),
        ]])  # fmt: skip
    return out.getvalue()
