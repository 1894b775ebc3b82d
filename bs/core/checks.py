"""The checks beside approvals: is this pull request a well-formed, current request?

Each check fails with its own reason. They are judged from facts the checker
gathered (`IntegrityFacts`); when an early check fails (no request file, say)
the later ones cannot be judged and are reported as not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bs.core.pulls import PullFile
from bs.core.release_checks import AddCheck as _Add
from bs.core.release_checks import check_release
from bs.core.request import MAX_REASON_CHARS, ReleaseRequest, patch_file_path, request_file_path
from bs.core.tags import TagScheme

_REQUEST_FILE = re.compile(r"requests/([^/]+)/([^/]+)\.yaml")
_PATCH_FILE = re.compile(r"requests/([^/]+)/([^/]+)\.patch(\.gz)?")
_LISTED = 5

#: The checks of the release itself, after the request's: see bs.core.release_checks.
RELEASE_CHECKS = ("tag", "deployed", "ancestry", "digest", "stats")


@dataclass(frozen=True)
class RequestFiles:
    request_path: str | None
    patch_path: str | None
    problem: str | None


@dataclass(frozen=True)
class CheckResult:
    name: str
    #: True passed, False failed, None not run (an earlier check failed).
    ok: bool | None
    message: str


@dataclass(frozen=True)
class IntegrityFacts:
    pull_state: Literal["open", "closed", "merged"]
    base: str
    default_branch: str
    files: tuple[PullFile, ...]
    author: str
    request_path: str | None = None
    patch_path: str | None = None
    request: ReleaseRequest | None = None
    #: Why the request file could not be read or validated.
    request_error: str | None = None
    known_apps: tuple[str, ...] = ()
    #: The commit the request's tag points at now; None when the tag is gone.
    tag_commit_now: str | None = None
    #: The app's deployed commit now; None when nothing is deployed.
    deployed_now: str | None = None
    #: Whether TO descends from FROM (None for a first deploy).
    to_descends: bool | None = None
    #: For a rollback: whether FROM descends from TO.
    from_descends: bool | None = None
    #: For a follow-up: the emergency request it reviews, as on the default branch.
    followed: ReleaseRequest | None = None
    followed_error: str | None = None
    digest_from_git: str | None = None
    digest_of_patch_file: str | None = None
    patch_error: str | None = None
    #: The app's tag scheme, from the default branch's apps.yaml.
    scheme: TagScheme | None = None
    #: The newest scheme tag on the deployed commit the request starts from, as
    #: `bs open-request` names it (None: that commit has no scheme tag).
    deployed_tag_now: str | None = None
    #: What git counts for FROM..TO: files changed, insertions, deletions, commits.
    stats_from_git: tuple[int, int, int, int] | None = None
    #: The people who pushed the head commit, when the forge knows; None when nobody recorded it.
    head_pushed_by: str | None = None


def _listed(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def locate_request_files(files: tuple[PullFile, ...]) -> RequestFiles:
    """Find the request and patch file the pull request adds, or say what is wrong."""
    requests = [f for f in files if _REQUEST_FILE.fullmatch(f.path)]
    patches = [f for f in files if _PATCH_FILE.fullmatch(f.path)]
    others = [f.path for f in files if f not in requests and f not in patches]

    def problem(text: str) -> RequestFiles:
        return RequestFiles(None, None, text)

    if others:
        return problem(
            f"it also changes {_listed(others)}: a request's pull request changes nothing "
            "but requests/<app>/<id>.yaml and its patch; open a separate pull request for anything else"
        )
    if not requests:
        return problem(
            "it adds no request file (requests/<app>/<id>.yaml): open requests with `bs open-request`"
        )
    if len(requests) > 1:
        return problem(
            f"it adds {len(requests)} request files ({_listed([f.path for f in requests])}): "
            "one request per pull request"
        )
    request = requests[0]
    if request.status != "added":
        return problem(
            f"it {request.status} {request.path}: a request file is only ever added, never edited"
        )
    app, request_id = _REQUEST_FILE.fullmatch(request.path).groups()  # type: ignore[union-attr]
    expected = (
        patch_file_path(app, request_id, compressed=False),
        patch_file_path(app, request_id, compressed=True),
    )
    matching = [f for f in patches if f.path in expected]
    strays = [f.path for f in patches if f.path not in expected]
    if strays:
        return problem(f"it adds {_listed(strays)}, which belongs to no request it adds: remove it")
    if not matching:
        return problem(f"it adds no patch file for {request.path} ({expected[0]} or .patch.gz)")
    if len(matching) > 1:
        return problem(
            f"it adds both {expected[0]} and {expected[1]}: a request has one patch file"
        )
    if matching[0].status != "added":
        return problem(
            f"it {matching[0].status} {matching[0].path}: a patch file is only ever added, never edited"
        )
    return RequestFiles(request.path, matching[0].path, None)


def run_checks(facts: IntegrityFacts) -> list[CheckResult]:
    results: list[CheckResult] = []

    def add(name: str, ok: bool | None, message: str) -> bool:
        results.append(CheckResult(name, ok, message))
        return bool(ok)

    if facts.pull_state == "closed":
        add("open", False, "the pull request is closed without being merged")
    else:
        add("open", True, f"the pull request is {facts.pull_state}")
    if facts.base != facts.default_branch:
        add(
            "base", False,
            f"the pull request targets '{facts.base}', not the default branch '{facts.default_branch}': "
            f"retarget it to {facts.default_branch}",
        )  # fmt: skip
    else:
        add("base", True, f"targets the default branch {facts.default_branch}")
    located = locate_request_files(facts.files)
    files_ok = add(
        "files",
        located.problem is None,
        located.problem or f"adds exactly {located.request_path} and {located.patch_path}",
    )
    request = facts.request
    if files_ok:
        request_ok = _check_request(facts, located, add)
    else:
        request_ok = add("request", None, "not checked: the pull request's files are wrong")
    app_ok = False
    if request_ok and request is not None:
        known = request.app in facts.known_apps
        app_ok = add(
            "app",
            known,
            f"app {request.app} is in policies/apps.yaml"
            if known
            else f"app {request.app} is not in policies/apps.yaml on the default branch",
        )
    else:
        add("app", None, "not checked: the request could not be read")
    if not app_ok or request is None:
        why = "the app is unknown" if request_ok else "the request could not be read"
        for name in RELEASE_CHECKS:
            add(name, None, f"not checked: {why}")
        _check_pusher(facts, add)
        return results
    check_release(facts, request, add)
    _check_pusher(facts, add)
    return results


def _check_request(facts: IntegrityFacts, located: RequestFiles, add: _Add) -> bool:
    request = facts.request
    if request is None:
        return add(
            "request", False, facts.request_error or f"{located.request_path} could not be read"
        )
    expected = request_file_path(request.app, request.id)
    if located.request_path != expected:
        return add(
            "request", False,
            f"{located.request_path} holds request {request.id} of app {request.app}: it belongs at {expected}",
        )  # fmt: skip
    if request.patch.file != located.patch_path:
        return add(
            "request", False,
            f"the request's patch.file is {request.patch.file!r}, but the pull request adds {located.patch_path}",
        )  # fmt: skip
    if request.environment != "production":
        return add(
            "request", False,
            f"environment is {request.environment!r}: bs deploys to production only so far",
        )  # fmt: skip
    if request.reason is not None and len(request.reason) > MAX_REASON_CHARS:
        return add(
            "request", False,
            f"reason is {len(request.reason)} characters: at most {MAX_REASON_CHARS}",
        )  # fmt: skip
    if request.follow_up_of is not None:
        return _check_follow_up(facts, request, add)
    if request.requested_by.lower() != facts.author.lower():
        return add(
            "request", False,
            f"requested_by is {request.requested_by}, but the pull request was opened by {facts.author}: "
            "a request is opened by its requester",
        )  # fmt: skip
    return add("request", True, f"request {request.id} by {request.requested_by} is valid")


def _check_follow_up(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> bool:
    """A follow-up may be opened by anyone (bs opens it after the emergency deploy); what
    makes it one is that it describes exactly the emergency merged on the default branch."""
    followed = facts.followed
    if followed is None:
        return add(
            "request", False,
            facts.followed_error or f"emergency request {request.follow_up_of} could not be read",
        )  # fmt: skip
    if not followed.emergency:
        return add(
            "request", False,
            f"request {followed.id} is not an emergency: only emergencies are followed up",
        )  # fmt: skip
    if not followed.same_release_as(request):
        return add(
            "request", False,
            f"it does not describe emergency request {followed.id} (app, requester, from, to "
            "and patch digest must be the same): a follow-up reviews exactly what was deployed",
        )  # fmt: skip
    return add(
        "request", True,
        f"follow-up {request.id} reviews emergency request {followed.id} by {followed.requested_by}",
    )  # fmt: skip


def _check_pusher(facts: IntegrityFacts, add: _Add) -> None:
    if facts.head_pushed_by is None:
        add(
            "pushes", False,
            "the head commit was not pushed through the forge, so who pushed it is unknown and no "
            "approval can be trusted: close this and open a new request",
        )  # fmt: skip
    else:
        add("pushes", True, f"the head commit was pushed by {facts.head_pushed_by}")
