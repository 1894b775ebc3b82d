"""Taking a pull request number from the command line or a GitHub event payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bs.errors import BsError

event_option = click.option(
    "--event",
    "event_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Take the pull request from a GitHub event payload (e.g. $GITHUB_EVENT_PATH) instead of PR.",
)


def pull_number(number: int | None, event_path: Path | None) -> int:
    if number is not None and event_path is not None:
        raise BsError("give either PR or --event FILE, not both.")
    if number is not None:
        return number
    if event_path is None:
        raise BsError("say which pull request: give its number (PR) or --event FILE.")
    try:
        payload: Any = json.loads(event_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BsError(f"{event_path}: no such event file.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: JSON, huge numbers
        raise BsError(f"{event_path}: not a readable JSON event payload ({exc}).") from None
    found: Any = None
    if isinstance(payload, dict):
        if isinstance(payload.get("pull_request"), dict):
            found = payload["pull_request"].get("number")
        elif isinstance(payload.get("workflow_run"), dict):
            pulls = payload["workflow_run"].get("pull_requests")
            first = pulls[0] if isinstance(pulls, list) and pulls else None
            found = first.get("number") if isinstance(first, dict) else None
    if type(found) is not int or found < 1:
        raise BsError(
            f"{event_path}: the event names no pull request (expected pull_request.number "
            "or workflow_run.pull_requests[0].number)."
        )
    return found
