"""Who pushed each head of a pull request, on GitHub, which keeps no such record.

The privileged check workflow records every opened and synchronize event
(``bs hook pushed``) as a ``bs/pushed`` status from the organisation's App on
the new head: ``#12 opened by alice`` or ``#12 pushed by bob after <head
before>``. A status belongs to a commit, not a pull request, so each record
names its pull request and only that pull request's records count. The check
walks them from the head back to the head the pull request was opened with;
every record of this pull request on a commit is a push (a head can come back
after a force-push), and a commit of the chain with none breaks it: then
nobody can tell who pushed, and the check fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bs.core.pulls import CommitStatus, Push

#: The status context of a record.
PUSH_CONTEXT = "bs/pushed"
#: A request is one commit: a walk longer than this is refused (fail closed).
MAX_RECORDED_HEADS = 50

_LOGIN = r"[A-Za-z0-9-]+(?:\[bot\])?"
_OPENED = re.compile(rf"#(?P<number>[0-9]+) opened by (?P<who>{_LOGIN})")
_PUSHED = re.compile(
    rf"#(?P<number>[0-9]+) pushed by (?P<who>{_LOGIN}) after (?P<before>[0-9a-f]{{40}})"
)


def record_text(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the new head, the record's text) for an opened or synchronize payload; else None."""
    pull, sender, action = payload.get("pull_request"), payload.get("sender"), payload.get("action")
    if not isinstance(pull, dict) or not isinstance(sender, dict):
        return None
    number, login = int(pull["number"]), str(sender["login"])
    if action == "opened":
        return str(pull["head"]["sha"]), f"#{number} opened by {login}"
    if action == "synchronize":
        return str(payload["after"]), f"#{number} pushed by {login} after {payload['before']}"
    return None


def _parse(description: str) -> tuple[int, str, str | None] | None:
    """(pull request, who, the head before: None when opened) of a record's text."""
    if opened := _OPENED.fullmatch(description):
        return int(opened["number"]), opened["who"], None
    if pushed := _PUSHED.fullmatch(description):
        return int(pushed["number"]), pushed["who"], pushed["before"]
    return None


def follow_pushes(
    number: int, head: str, statuses: Callable[[str], list[CommitStatus]], recorder: str
) -> list[Push]:
    """Every recorded push of pull request `number`, oldest first; [] when the chain from
    `head` to its opening is broken anywhere (a commit with no record of this pull request
    from `recorder`)."""
    found: list[Push] = []
    opened, pending, seen = False, [head], set()
    while pending:
        sha = pending.pop()
        if sha in seen:
            continue
        seen.add(sha)
        if len(seen) > MAX_RECORDED_HEADS:
            return []
        mine = [
            (parsed, status.created_at)
            for status in statuses(sha)
            if status.context == PUSH_CONTEXT and status.creator.lower() == recorder.lower()
            and (parsed := _parse(status.description)) is not None and parsed[0] == number
        ]  # fmt: skip
        if not mine:
            return []
        for (_, who, before), at in mine:
            found.append(Push(who, sha, (), at))
            if before is None:
                opened = True
            else:
                pending.append(before)
    if not opened:
        return []
    return sorted(found, key=lambda push: push.pushed_at or datetime.min)
