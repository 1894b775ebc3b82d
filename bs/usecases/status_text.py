"""``bs status`` as text (sections of one line per item) and as JSON.

Pure: the report holds `now`. Every string that came from the forge, a
request or the store passes through `printable`, so a status description
or a requester's text cannot move the terminal's cursor.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from bs.core.slots import describe_instant
from bs.core.verdict import STATUS_CONTEXT
from bs.core.words import printable
from bs.store.deployments import Deployment
from bs.usecases.status import OpenRequest, PolicySchedule, StatusReport
from bs.usecases.status_store import INTERRUPTED_SHOWN_FOR
from bs.usecases.status_times import FreezeSpan, iso, relative_text, span_text

NONE = "  none"
#: What a bs/policy state means for the request, said before the status's description.
STATE_WORDS = {
    "success": "policy met",
    "pending": "waiting",
    "failure": "refused",
    "error": "could not be evaluated",
}


def _clean(text: str) -> str:
    return printable(" ".join(str(text).split()))


def status_lines(report: StatusReport) -> list[str]:
    now = report.now
    lines = [f"bs status at {describe_instant(now, ZoneInfo('UTC'))}", "", "Open requests"]
    lines += [_request_line(r, report) for r in report.open_requests] or [NONE]
    lines += ["", "Deployed versions"]
    width = max((len(d.app) for d in report.deployed), default=0)
    for found in report.deployed:
        if found.error is not None:
            said = f"cannot be read: {_clean(found.error)}"
        elif found.commit is None:
            said = "nothing deployed yet"
        else:
            said = f"{found.tag} ({found.commit[:12]})" if found.tag else found.commit[:12]
        lines.append(f"  {found.app:<{width}}  {said}")
    if not report.deployed:
        lines.append(NONE)
    lines += ["", *_store_lines(report)]
    if report.emergencies:
        lines += ["", "Emergency deploys whose follow-up review is not approved yet"]
        lines += [
            f"  {e.app} {e.request_id}: {_clean(e.what)}  {_clean(e.url)}"
            for e in report.emergencies
        ]
    if report.emergencies_error and report.store.reachable:
        lines += [
            "",
            f"Emergency deploys awaiting review: cannot tell: {_clean(report.emergencies_error)}",
        ]
    lines += ["", "Freezes and deploy windows (policies as on the default branch)"]
    for policy in report.freezes:
        lines += _policy_lines(policy, report)
    if not report.freezes:
        lines.append(NONE)
    return lines


def _request_line(request: OpenRequest, report: StatusReport) -> str:
    what = f"{request.tag} ({request.label})" if request.tag else f"request {request.request_id}"
    age = f", opened {relative_text(request.opened_at, report.now)}" if request.opened_at else ""
    if request.state is None:
        verdict = _clean(request.needs)
    else:
        words = STATE_WORDS.get(request.state, request.state)
        verdict = f"{words}: {_clean(request.needs)}"
        if request.state == "success":
            verdict += " (ready to merge)"
    problem = f"; its request file: {_clean(request.problem)}" if request.problem else ""
    return (
        f"  #{request.number} {request.app} {_clean(what)} by {_clean(request.requester)}{age}: "
        f"{verdict}{problem}  {_clean(request.url)}"
    )


def _store_lines(report: StatusReport) -> list[str]:
    store = report.store
    lines = [f"Gateway store: {_clean(store.location)}"]
    if not store.reachable:
        return [
            *lines,
            f"  cannot be read: {_clean(store.error or 'unknown')}. Live slots, running "
            "deployments and locks are not shown.",
        ]
    if not store.exists:
        return [*lines, "  no deployments recorded yet"]
    days = INTERRUPTED_SHOWN_FOR.days
    return [
        *lines,
        *_listed("Live slots (approved, not deployed, slot not over)", _slot_lines(report)),
        *_listed("Running deployments", _running_lines(report)),
        *_listed("Deploy locks (one deploy per app at a time)", _lock_lines(report)),
        *_listed(f"Interrupted in the last {days} days (outcome unknown)", _interrupted(report)),
    ]


def _listed(heading: str, items: list[str]) -> list[str]:
    return ["", heading, *(items or [NONE])]


def _slot_lines(report: StatusReport) -> list[str]:
    lines, now = [], report.now
    for d in report.store.slots:
        zone = report.zone(d.app)
        if now < d.slot_start:
            when = (
                f"slot opens {describe_instant(d.slot_start, zone)}, "
                f"{relative_text(d.slot_start, now)}; ends {describe_instant(d.slot_end, zone)}"
            )
        else:
            when = (
                f"slot ends {describe_instant(d.slot_end, zone)}, "
                f"{span_text(d.slot_end - now)} left"
            )
        failed = " (its last deploy failed; it may be tried again)" if d.state == "failed" else ""
        lines.append(f"  {_deployment(d)} requested by {_clean(d.requester)}: {when}{failed}")
    return lines


def _running_lines(report: StatusReport) -> list[str]:
    now = report.now
    held = {lock.deployment_id for lock in report.store.locks if not lock.lapsed(now)}
    lines = []
    for d in report.store.running:
        since = d.started_at or d.created_at
        lost = (
            "" if d.id in held else "; its lock has lapsed: the gateway running it may have stopped"
        )
        lines.append(
            f"  {_deployment(d)} by {_clean(d.deployed_by or d.requester)}, since "
            f"{describe_instant(since, report.zone(d.app))}, {relative_text(since, now)}, "
            f"attempt {d.attempts}{lost}"
        )
    return lines


def _lock_lines(report: StatusReport) -> list[str]:
    lines, now = [], report.now
    for lock in report.store.locks:
        zone = report.zone(lock.app)
        if lock.lapsed(now):
            when = (
                "" if lock.freed_from <= now
                else f" from {describe_instant(lock.freed_from, zone)}"
            )  # fmt: skip
            state = (
                f"lapsed {relative_text(lock.expires_at, now)}: its gateway stopped renewing it; "
                f"the next deploy of {_clean(lock.app)}{when} frees it"
            )
        else:
            state = f"held until {describe_instant(lock.expires_at, zone)} (renewed while it runs)"
        lines.append(
            f"  {_clean(lock.app)}: deployment {lock.deployment_id}, gateway "
            f"{_clean(lock.holder)}, {state}"
        )
    return lines


def _interrupted(report: StatusReport) -> list[str]:
    return [
        f"  {_deployment(d)} by {_clean(d.deployed_by or d.requester)}, stopped "
        f"{describe_instant(d.finished_at or d.created_at, report.zone(d.app))}: "
        "check what is deployed, then open a new request"
        for d in report.store.interrupted
    ]


def _deployment(d: Deployment) -> str:
    tag = _tag(d)
    named = f"{_clean(d.app)} {_clean(tag)}" if tag else _clean(d.app)
    return f"{named} (#{d.pull_request}, deployment {d.id})"


def _tag(d: Deployment) -> str | None:
    """The release the approval record names: its tag, else its commit's short id."""
    to = d.record.get("to")
    if not isinstance(to, dict):
        return None
    named = to.get("tag") or str(to.get("commit") or "")[:12]
    return str(named) or None


def _policy_lines(policy: PolicySchedule, report: StatusReport) -> list[str]:
    now = report.now
    heading = f"  {policy.policy} (for {', '.join(policy.apps)})"
    outlook = policy.outlook
    if outlook is None:
        return [f"{heading}: cannot be read: {_clean(policy.error or 'unknown')}"]
    zone = ZoneInfo(outlook.timezone)
    lines = [f"{heading}, times in {outlook.timezone}"]
    if outlook.windows is None:
        lines.append("    deploy windows: none, deploys may happen any time")
    else:
        lines.append(f"    deploy windows: {'; '.join(outlook.windows)}")
    lines += [
        f"    frozen now: {_freeze(f, zone)}, ends {relative_text(f.end, now)}"
        for f in outlook.current
    ]
    lines += [
        f"    coming freeze: {_freeze(f, zone)}, begins {relative_text(f.start, now)}"
        for f in outlook.coming
    ]
    if not outlook.current and not outlook.coming:
        lines.append("    no freeze now or coming")
    slot = outlook.next_slot
    if slot is None:
        lines.append(f"    no deploy slot: {_clean(outlook.no_slot or '')}")
    elif outlook.open_at(now):
        cut = f", cut short as {slot.cut_short_by}" if slot.cut_short_by else ""
        lines.append(
            f"    open now: a request approved now could deploy until "
            f"{describe_instant(slot.end, zone)}{cut}"
        )
    else:
        waits = f" ({', '.join(slot.waited_for)})" if slot.waited_for else ""
        lines.append(
            f"    closed now{waits}: a request approved now could deploy from "
            f"{describe_instant(slot.start, zone)}, {relative_text(slot.start, now)}, to "
            f"{describe_instant(slot.end, zone)}"
        )
    return lines


def _freeze(span: FreezeSpan, zone: ZoneInfo) -> str:
    return (
        f"'{_clean(span.reason)}' from {describe_instant(span.start, zone)} "
        f"until {describe_instant(span.end, zone)}"
    )


# -- JSON --------------------------------------------------------------------------------


def status_json(report: StatusReport) -> dict[str, Any]:
    store, now = report.store, report.now
    return {
        "now": iso(now),
        "apps": report.apps,
        "open_requests": [
            {
                "number": r.number, "url": r.url, "app": r.app, "request": r.request_id,
                "tag": r.tag, "kind": r.kind, "requester": r.requester,
                "opened_at": iso(r.opened_at),
                "status": None if r.state is None else {
                    "context": STATUS_CONTEXT, "state": r.state, "description": r.needs,
                },
                "needs": r.needs, "problem": r.problem,
            }
            for r in report.open_requests
        ],
        "deployed": [
            {"app": d.app, "tag": d.tag, "commit": d.commit, "error": d.error}
            for d in report.deployed
        ],
        "slots": [
            _deployment_json(d) | {"slot_start": iso(d.slot_start), "slot_end": iso(d.slot_end)}
            for d in store.slots
        ],
        "running": [
            _deployment_json(d) | {"deployed_by": d.deployed_by, "started_at": iso(d.started_at),
                                   "attempt": d.attempts}
            for d in store.running
        ],
        "locks": [
            {"app": lock.app, "deployment": lock.deployment_id, "holder": lock.holder,
             "expires_at": iso(lock.expires_at), "lapsed": lock.lapsed(now)}
            for lock in store.locks
        ],
        "interrupted": [
            _deployment_json(d) | {"deployed_by": d.deployed_by, "stopped_at": iso(d.finished_at)}
            for d in store.interrupted
        ],
        "freezes": [_policy_json(p, report) for p in report.freezes],
        "emergencies": [asdict(e) for e in report.emergencies],
        "emergencies_error": report.emergencies_error,
        "store": {
            "reachable": store.reachable, "error": store.error, "exists": store.exists,
            "location": store.location,
        },
    }  # fmt: skip


def _deployment_json(d: Deployment) -> dict[str, Any]:
    return {
        "deployment": d.id, "app": d.app, "pull_request": d.pull_request,
        "request": d.request_key.partition("/")[2] or d.request_key, "tag": _tag(d), "requester": d.requester, "state": d.state,
    }  # fmt: skip


def _policy_json(policy: PolicySchedule, report: StatusReport) -> dict[str, Any]:
    outlook = policy.outlook
    found: dict[str, Any] = {"policy": policy.policy, "apps": list(policy.apps),
                             "error": policy.error}  # fmt: skip
    if outlook is None:
        return found
    slot = outlook.next_slot

    def span(f: FreezeSpan) -> dict[str, Any]:
        return {"reason": f.reason, "start": iso(f.start), "end": iso(f.end)}

    return found | {
        "timezone": outlook.timezone,
        "windows": None if outlook.windows is None else list(outlook.windows),
        "current": [span(f) for f in outlook.current],
        "coming": [span(f) for f in outlook.coming],
        "open_now": outlook.open_at(report.now),
        "next_slot": None if slot is None else {
            "start": iso(slot.start), "end": iso(slot.end),
            "waited_for": list(slot.waited_for), "cut_short_by": slot.cut_short_by,
        },
        "no_slot": outlook.no_slot,
    }  # fmt: skip
