"""``bs status``: where every release stands, read and never changed.

Open requests with what each still needs (the ``bs/policy`` status the
checker last posted on its head: nothing is re-evaluated), the deployed
versions, the gateway's live slots, running deployments and locks, and
each policy's freezes and deploy windows. Apps and policies are read from
the requests repository's default branch, as the checker and the merge hook
read them: a freeze in an unmerged policy change holds nothing back yet.

One app's deployed source failing, or the store being unreachable, is
reported in its place; the rest is still shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bs.config import AppConfig
from bs.core.ids import REQUEST_ID_PATTERN
from bs.core.names import APP_NAME
from bs.core.pulls import CommitStatus, PullRequest
from bs.core.request import ReleaseRequest, RequestKind, request_file_path
from bs.core.verdict import STATUS_CONTEXT
from bs.errors import BsError
from bs.policyfiles import APPS_PATH, Policies
from bs.ports import Forge
from bs.requestfile import load_request
from bs.usecases.check import trusted_policies
from bs.usecases.releases import read_releases
from bs.usecases.status_store import StoreView
from bs.usecases.status_times import ScheduleOutlook, schedule_outlook

_REQUEST_BRANCH = re.compile(
    rf"request/(?P<app>{APP_NAME.strip('^$')})/(?P<id>{REQUEST_ID_PATTERN.strip('^$')})"
)
NOT_CHECKED = "not checked yet (bs check has not run on its head)"


@dataclass(frozen=True)
class OpenRequest:
    number: int
    url: str
    app: str
    request_id: str
    #: Who opened the pull request (the requester).
    requester: str
    opened_at: datetime | None
    #: From the request file; None when it could not be read (`problem` says why).
    tag: str | None
    kind: RequestKind | None
    label: str | None
    #: The latest bs/policy status on the head: its state, or None when none was posted.
    state: str | None
    #: What it still needs: that status's description, or why there is none.
    needs: str
    problem: str | None = None


@dataclass(frozen=True)
class DeployedApp:
    app: str
    commit: str | None = None
    tag: str | None = None
    #: Why the deployed version could not be read; the other apps are still shown.
    error: str | None = None


@dataclass(frozen=True)
class PolicySchedule:
    """One policy's freezes and windows, for the apps shown that use it."""

    policy: str
    apps: tuple[str, ...]
    outlook: ScheduleOutlook | None
    error: str | None = None


@dataclass(frozen=True)
class PendingReview:
    """An emergency deploy whose follow-up review is not approved yet (see
    bs.usecases.status_emergencies); an empty list prints nothing."""

    app: str
    request_id: str
    url: str
    what: str


@dataclass
class StatusReport:
    now: datetime
    apps: list[str]
    open_requests: list[OpenRequest]
    deployed: list[DeployedApp]
    store: StoreView
    freezes: list[PolicySchedule]
    #: Each app's policy time zone (UTC when its policy cannot be read), for its times.
    zones: dict[str, ZoneInfo]
    emergencies: list[PendingReview] = field(default_factory=list)
    #: Why the emergencies could not be told (the store unreachable), or None.
    emergencies_error: str | None = None

    def zone(self, app: str) -> ZoneInfo:
        return self.zones.get(app, ZoneInfo("UTC"))


def read_status(
    forge: Forge,
    requests_repo: str,
    *,
    app: str | None,
    read_store: Callable[[list[str] | None], StoreView],
    now: datetime,
    status_poster: str | None = None,
) -> StatusReport:
    """Everything `bs status [APP]` shows; `read_store` gets the apps to show (None: all)."""
    branch = forge.default_branch(requests_repo)
    policies = trusted_policies(forge, requests_repo, branch)
    registry = policies.apps.apps
    if app is not None and app not in registry:
        known = ", ".join(sorted(registry)) or "no app"
        raise BsError(
            f"unknown app '{app}': {APPS_PATH} on {branch} defines {known}. "
            "See `bs apps --all`, or run `bs status` for every app."
        )
    names = [app] if app is not None else sorted(registry)
    freezes, zones = _schedules(policies, {name: registry[name] for name in names}, now)
    return StatusReport(
        now=now,
        apps=names,
        open_requests=_open_requests(forge, requests_repo, app, status_poster),
        deployed=[_deployed(forge, name, registry[name]) for name in names],
        store=read_store(None if app is None else [app]),
        freezes=freezes,
        zones=zones,
    )


def _deployed(forge: Forge, name: str, config: AppConfig) -> DeployedApp:
    try:
        deployed = read_releases(forge, name, config).deployed
    except BsError as exc:
        return DeployedApp(name, error=exc.message)
    if deployed is None:
        return DeployedApp(name)
    return DeployedApp(name, deployed.commit, deployed.tag)


def _schedules(
    policies: Policies, apps: dict[str, AppConfig], now: datetime
) -> tuple[list[PolicySchedule], dict[str, ZoneInfo]]:
    by_policy: dict[str, list[str]] = {}
    for name, config in apps.items():
        by_policy.setdefault(config.policy, []).append(name)
    found, zones = [], {}
    for policy_name, users in sorted(by_policy.items()):
        try:
            schedule = policies.policy(policy_name).deploy
        except BsError as exc:
            found.append(PolicySchedule(policy_name, tuple(users), None, exc.message))
            continue
        found.append(PolicySchedule(policy_name, tuple(users), schedule_outlook(schedule, now)))
        zones.update({user: schedule.zone for user in users})
    return found, zones


def _open_requests(
    forge: Forge, repo: str, only: str | None, poster: str | None
) -> list[OpenRequest]:
    """The open pull requests that are release requests (on a ``request/APP/ID`` branch
    of the requests repository), oldest first, each with its latest bs/policy status (as
    `poster` posted it, when given: anyone may post a status of that name)."""
    found = []
    for pull in forge.list_pull_requests(repo, "open"):
        branch = _REQUEST_BRANCH.fullmatch(pull.head_ref)
        if branch is None or (only is not None and branch["app"] != only):
            continue
        request, problem = _request_of(forge, repo, pull, branch["app"], branch["id"])
        state, needs = _needs(forge, repo, pull, poster)
        found.append(
            OpenRequest(
                number=pull.number, url=pull.url, app=branch["app"], request_id=branch["id"],
                # A follow-up is opened by bs, for the emergency's requester.
                requester=request.requested_by
                if request is not None and request.follow_up_of is not None
                else pull.author,
                opened_at=pull.created_at,
                tag=(request.to.tag or request.to.commit[:12]) if request else None,
                kind=request.kind if request else None,
                label=request.label if request else None,
                state=state, needs=needs, problem=problem,
            )
        )  # fmt: skip
    return found


def _request_of(
    forge: Forge, repo: str, pull: PullRequest, app: str, request_id: str
) -> tuple[ReleaseRequest | None, str | None]:
    """The request file on the pull request's branch, or why it cannot be read."""
    if pull.head_repo is not None and pull.head_repo != repo:
        return None, f"its branch is in another repository ({pull.head_repo})"
    path = request_file_path(app, request_id)
    try:
        data = forge.read_file(repo, path, ref=pull.head_ref)
        if data is None:
            return None, f"{path} is not on its branch"
        return load_request(data, path), None
    except BsError as exc:
        return None, " ".join(exc.message.split())


def _needs(
    forge: Forge, repo: str, pull: PullRequest, poster: str | None
) -> tuple[str | None, str]:
    try:
        posted = [
            s for s in forge.list_statuses(repo, pull.head_sha)
            if s.context == STATUS_CONTEXT
            and (poster is None or s.creator.lower() == poster.lower())
        ]  # fmt: skip
    except BsError as exc:
        return None, f"its {STATUS_CONTEXT} status cannot be read: {exc.message}"
    latest = _latest(posted)
    if latest is None:
        return None, NOT_CHECKED
    return latest.state, latest.description


def _latest(statuses: list[CommitStatus]) -> CommitStatus | None:
    """The newest status; of two posted in the same second, the one listed first (forges
    list the newest first)."""
    if not statuses:
        return None
    newest = max(s.created_at for s in statuses)
    return next(s for s in statuses if s.created_at == newest)
