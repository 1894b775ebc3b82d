"""``bs audit``: gather the facts of every release, then judge the chain (``bs.core.audit``).

Read, never changed: the requests repository's first-parent history and its
pull requests (``audit_sources``), the gateway's store (``audit_store``), the
forge's reviews of each deployed pull request (one listing per deployment
checked, skipped with ``check_reviews=False``), the emergencies' follow-ups
(``emergencies``) and what each app with a succeeded deployment runs now.
Apps and policies come from the default branch, as the hooks read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bs.config import BsConfig
from bs.core.audit import AuditFacts, AuditReport, verify_chain
from bs.core.audit_facts import MergedRequest
from bs.core.pulls import PullRequest
from bs.deployed import source_for
from bs.errors import BsError
from bs.ports import Forge
from bs.usecases.audit_sources import RequestHistory, read_history
from bs.usecases.audit_store import GatewayRecords
from bs.usecases.check import trusted_policies
from bs.usecases.emergencies import bs_login, emergency_reviews
from bs.usecases.notify import marked

#: bs audit's exit status when the chain is broken (0: intact; 1: could not audit).
EXIT_CHAIN_BROKEN = 4


@dataclass(frozen=True)
class Audit:
    report: AuditReport
    history: RequestHistory
    store: GatewayRecords


def run_audit(
    forge: Forge,
    config: BsConfig,
    read_store: Callable[[], GatewayRecords],
    *,
    now: datetime,
    app: str | None = None,
    since: datetime | None = None,
    check_reviews: bool = True,
    env: Mapping[str, str] | None = None,
) -> Audit:
    """Audit every release (of `app`, at or after `since`)."""
    repo = config.requests_repo
    history = read_history(forge, repo)
    policies = trusted_policies(forge, repo, history.branch)
    registry = policies.apps.apps
    store = read_store()
    deployments = store.deployments
    if app is not None:
        known = set(registry) | {r.app for r in history.requests} | {d.app for d in deployments}
        if app not in known:
            raise BsError(
                f"unknown app '{app}': policies/apps.yaml on {history.branch} defines "
                f"{', '.join(sorted(registry))}, and no request or deployment names it."
            )
    scoped = [
        d for d in deployments
        if d.ran and (app is None or app in (d.app, d.field("app")))
        and (since is None or d.at >= since)
    ]  # fmt: skip
    follow_ups = [
        r for r in history.requests
        if r.kind == "follow-up" and (app is None or r.app == app)
        and (since is None or r.merged_at >= since)
    ]  # fmt: skip
    # The pull requests that merged what was deployed (and the follow-ups): reviews and
    # the merge hook's mark are read once for each, unless --no-reviews.
    deployed_pulls = _merged_pulls([history.find(*d.key.partition("/")[::2]) for d in scoped])
    reviews = (
        {p.number: forge.list_reviews(repo, p.number)
         for p in _merged_pulls([*deployed_pulls, *(r.pull for r in follow_ups)])}
        if check_reviews
        else None
    )  # fmt: skip
    _who_merged(forge, repo, history, {d.key for d in deployments}, app=app, since=since)
    deployed_now: dict[str, str | None] = {}
    deployed_errors: dict[str, str] = {}
    for name in sorted({d.app for d in deployments if d.state == "succeeded"}):
        if (app is None or name == app) and name in registry:
            try:
                deployed_now[name] = source_for(registry[name], forge, env).deployed_commit(
                    name, registry[name]
                )
            except BsError as exc:  # one app's source must not hide the rest
                deployed_errors[name] = exc.message
    marks = _merge_marks(forge, config, repo, deployed_pulls) if check_reviews else None
    facts = AuditFacts(
        requests=history.requests, deployments=deployments, reviews=reviews,
        deployed_now=deployed_now, merge_marks=marks, deployed_errors=deployed_errors,
        emergencies=emergency_reviews(forge, config, history, deployments, now,
                                      policies=policies, app=app),
    )  # fmt: skip
    report = verify_chain(facts, now=now, since=since, app=app)
    return Audit(report, history, store)


def _merged_pulls(found: Sequence[MergedRequest | PullRequest | None]) -> list[PullRequest]:
    """The merged pull requests among `found` (requests, or their pull requests), once each."""
    pulls: dict[int, PullRequest] = {}
    for item in found:
        pull = item.pull if isinstance(item, MergedRequest) else item
        if pull is not None and pull.merged:
            pulls.setdefault(pull.number, pull)
    return list(pulls.values())


def _merge_marks(
    forge: Forge, config: BsConfig, repo: str, pulls: Sequence[PullRequest]
) -> dict[int, str]:
    """The merge hook's mark on each pull request, as bs left it (see hook_merged,
    hook_refused): one comment listing each."""
    if not pulls:
        return {}
    me = bs_login(forge, config)  # only when there is a mark to judge
    found: dict[int, str] = {}
    for pull in pulls:
        comments = forge.list_comments(repo, pull.number)
        found[pull.number] = next(
            (kind for kind in ("approval", "no-link") if marked(comments, me, kind)), ""
        )
    return found


def _who_merged(
    forge: Forge, repo: str, history: RequestHistory, deployed: set[str], *,
    app: str | None, since: datetime | None,
) -> None:  # fmt: skip
    """Who merged each request in scope no deployment record names: GitHub's pull request
    listing leaves it out, so each is read once (none on the local forge, which says)."""
    for index, merged in enumerate(history.requests):
        pull = merged.pull
        if (
            pull is None or not pull.merged or pull.merged_by is not None
            or merged.key in deployed
            or (app is not None and merged.app != app)
            or (since is not None and merged.merged_at < since)
        ):  # fmt: skip
            continue
        history.requests[index] = replace(merged, pull=forge.get_pull_request(repo, pull.number))
