"""What the commands take from GitHub Actions, and what they leave for it.

The pull request: PR on the command line, else ``--event FILE``, else, when
neither is given, the event payload at ``$GITHUB_EVENT_PATH``. A
``pull_request`` or ``pull_request_review`` payload names it; a
``workflow_run`` payload names it in ``workflow_run.pull_requests``, except for
a pull request from a fork, for which GitHub leaves that list empty: then it
is the open pull request whose head is the run's head commit
(``workflow_run.head_sha``) from the run's head repository.

The job summary: when ``$GITHUB_STEP_SUMMARY`` is set, the commands append
Markdown saying what they found or did. Never a secret, never a link (a deploy
link is mailed to its requester and nowhere else); user text is escaped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bs.errors import BsError

if TYPE_CHECKING:
    from bs.cli.context import CliContext
    from bs.core.pulls import PullRequest

#: The variables GitHub Actions sets for every step.
EVENT_PATH_VARIABLE = "GITHUB_EVENT_PATH"
SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"

event_option = click.option(
    "--event",
    "event_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Take the pull request from a GitHub event payload instead of PR "
    "(default, when PR is not given either: $GITHUB_EVENT_PATH).",
)

_NAMES_NONE = (
    "the event names no pull request (expected pull_request.number "
    "or workflow_run.pull_requests[0].number)."
)


def event_file(number: int | None, event_path: Path | None, env: dict[str, str]) -> Path | None:
    """`--event FILE`; else, when no PR is given either, ``$GITHUB_EVENT_PATH`` if set."""
    if number is None and event_path is None:
        variable = env.get(EVENT_PATH_VARIABLE, "").strip()
        if variable:
            return Path(variable)
    return event_path


def pull_number(cli: CliContext, number: int | None, event_path: Path | None) -> int:
    """The pull request a command is about: PR, or the event's (see the module's doc)."""
    if number is not None and event_path is not None:
        raise BsError("give either PR or --event FILE, not both.")
    if number is not None:
        return number
    path = event_file(number, event_path, cli.env)
    if path is None:
        raise BsError(
            f"say which pull request: give its number (PR) or --event FILE "
            f"(or run in GitHub Actions, which sets ${EVENT_PATH_VARIABLE})."
        )
    payload = read_payload(path)
    found: Any = None
    if isinstance(payload, dict):
        pull, run = payload.get("pull_request"), payload.get("workflow_run")
        if isinstance(pull, dict):
            found = pull.get("number")
        elif isinstance(run, dict):
            pulls = run.get("pull_requests")
            if isinstance(pulls, list) and all(isinstance(p, dict) for p in pulls):
                repo = cli.workspace.config.requests_repo
                ours = [p for p in pulls if _based_on(p, repo)]
                if not ours:  # a pull request from a fork: GitHub lists none
                    number = _pull_of_run(cli, path, run)
                    _tell_the_forge(cli, payload)
                    return number
                found = ours[0].get("number")
    if type(found) is not int or found < 1:
        raise BsError(f"{path}: {_NAMES_NONE}")
    _tell_the_forge(cli, payload)
    return found


def _tell_the_forge(cli: CliContext, payload: dict[str, Any]) -> None:
    """A forge that learns from events what its API does not say (GitHub: who closed a
    pull request) is given the payload; GitHub Actions wrote it, or the user named it."""
    note = getattr(cli.forge, "note_event", None)
    if callable(note):
        note(cli.workspace.config.requests_repo, payload)


def read_payload(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BsError(f"{path}: no such event file.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: JSON, huge numbers
        raise BsError(f"{path}: not a readable JSON event payload ({exc}).") from None


def _based_on(pull: dict[str, Any], repo: str) -> bool:
    """Whether a `workflow_run.pull_requests` entry targets `repo` (GitHub may list
    another repository's pull request with the same head); yes when it does not say."""
    base = pull.get("base")
    base_repo = base.get("repo") if isinstance(base, dict) else None
    url = base_repo.get("url") if isinstance(base_repo, dict) else None
    return not isinstance(url, str) or url.lower().endswith(f"/repos/{repo}".lower())


def _pull_of_run(cli: CliContext, path: Path, run: dict[str, Any]) -> int:
    """The open pull request a `workflow_run` (from a fork: no `pull_requests`) ran for."""
    head_sha = run.get("head_sha")
    head_repository = run.get("head_repository")
    head_repo = head_repository.get("full_name") if isinstance(head_repository, dict) else None
    if not isinstance(head_sha, str) or not head_sha or not isinstance(head_repo, str):
        raise BsError(
            f"{path}: the event names no pull request (workflow_run.pull_requests is empty, "
            "and workflow_run.head_sha or head_repository.full_name is missing)."
        )
    repo = cli.workspace.config.requests_repo
    found = [
        pull
        for pull in cli.forge.list_pull_requests(repo, "open")
        if pull.head_sha.lower() == head_sha.lower()
        and (pull.head_repo or "").lower() == head_repo.lower()
    ]
    branch = run.get("head_branch")
    if len(found) > 1 and isinstance(branch, str):
        found = [pull for pull in found if pull.head_ref == branch]
    if len(found) != 1:
        which = _numbers(found) if found else "none"
        raise BsError(
            f"{path}: the workflow run names no pull request, and the open pull requests of "
            f"{repo} whose head is {head_sha[:12]} from {head_repo} are {which}: "
            "exactly one was expected (pushed to since, or closed?)."
        )
    return found[0].number


def _numbers(pulls: list[PullRequest]) -> str:
    return ", ".join(f"#{pull.number}" for pull in pulls)


# -- the job summary ---------------------------------------------------------------------


def summary_file(env: dict[str, str], given: Path | None = None) -> Path | None:
    """Where to append the job summary: `given` (``--summary FILE``), else
    ``$GITHUB_STEP_SUMMARY`` when set, else nowhere."""
    if given is not None:
        return given
    variable = env.get(SUMMARY_VARIABLE, "").strip()
    return Path(variable) if variable else None


def append_summary(path: Path | None, markdown: str) -> None:
    """Append `markdown` to the job summary `path` (nothing when None).

    A summary that cannot be written is a warning, never a change of exit status:
    the command's work (a status posted, a link minted and mailed) is done.
    """
    if path is not None:  # a blank line before the next
        _append(path, markdown.rstrip("\n") + "\n\n", "append the summary")


def set_step_output(env: dict[str, str], name: str, value: str) -> None:
    """``name=value`` to ``$GITHUB_OUTPUT`` when set: later steps and jobs read it (a word
    bs chose, never text from a pull request)."""
    path = env.get("GITHUB_OUTPUT", "").strip()
    if path:
        _append(Path(path), f"{name}={value}\n", "write the step output")


def _append(path: Path, text: str, what: str) -> None:
    """Append to a file GitHub Actions reads; failing is a warning, never a change of exit
    status: the command's work is done."""
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        click.echo(f"bs: warning: {path}: cannot {what} ({exc.strerror}).", err=True)


def error_summary(command: str, message: str) -> str:
    """The job summary of a command that stopped on an error."""
    from bs.core.explain import md_escape

    return f"### ⚠️ {command}: error\n\n{md_escape(message)}\n"


def code_block(text: str) -> str:
    """`text` verbatim in a fenced block no line of it can close."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"
