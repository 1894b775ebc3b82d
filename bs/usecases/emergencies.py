"""Emergencies deployed whose follow-up review is not approved yet (for ``bs audit`` and
``bs status``).

An emergency request is approved under the policy's short emergency rule;
once a deployer has run it (whatever the outcome: the release may be out)
a follow-up request, the same release marked
``follow_up_of``, must be approved under the normal rules within the policy's
``emergency.review_within`` (3 days by default) of the deploy. A follow-up
counts as approved only when it was merged and the merge hook, from trusted
code, marked its pull request ``<!-- bs:follow-up-approved -->`` as bs (the
local forge's `bot`, or the GitHub App's bot: a mark anyone else posts counts
for nothing).

One comment listing per merged follow-up of a deployed emergency; nothing
else is read from the forge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bs.config import BsConfig
from bs.core.audit_facts import (
    DeploymentFacts,
    FollowUpState,
    LateReview,
    MergedRequest,
    UnreviewedEmergency,
    judge_emergency,
)
from bs.core.policy import EmergencyRule
from bs.core.request import request_branch
from bs.core.slots import parse_duration
from bs.errors import BsError
from bs.forges import bot_login
from bs.policyfiles import Policies
from bs.ports import Forge
from bs.usecases.audit_sources import RequestHistory
from bs.usecases.check import trusted_policies
from bs.usecases.follow_up import FOLLOW_UP_APPROVED, follow_up_ids
from bs.usecases.notify import marked

__all__ = ["UnreviewedEmergency", "bs_login", "emergency_reviews", "unreviewed_emergencies"]

#: review_within when the app's policy has no emergency: section (now) to say otherwise.
DEFAULT_REVIEW_WITHIN = parse_duration(EmergencyRule.model_fields["review_within"].default)


def unreviewed_emergencies(
    forge: Forge,
    config: BsConfig,
    history: RequestHistory,
    deployments: Sequence[DeploymentFacts],
    now: datetime,
    *,
    policies: Policies | None = None,
    app: str | None = None,
) -> list[UnreviewedEmergency]:
    """Every deployed emergency (of `app`) whose follow-up is not approved: overdue or not
    yet due (`overdue` tells), most overdue first."""
    states = emergency_reviews(forge, config, history, deployments, now, policies=policies, app=app)
    found = [state for state in states if isinstance(state, UnreviewedEmergency)]
    return sorted(found, key=lambda e: (e.due, e.app, e.request_id))


def emergency_reviews(
    forge: Forge,
    config: BsConfig,
    history: RequestHistory,
    deployments: Sequence[DeploymentFacts],
    now: datetime,
    *,
    policies: Policies | None = None,
    app: str | None = None,
) -> list[UnreviewedEmergency | LateReview]:
    """Every deployed emergency (of `app`) not reviewed in time: unreviewed, or reviewed
    late. All of them, whenever deployed: the audit keeps to its --since those due since."""
    deployed: dict[str, DeploymentFacts] = {}
    for d in sorted(deployments, key=lambda d: (d.at, d.id)):
        # Whatever the outcome, a deployer that ran may have put the release out: the
        # first attempt starts the clock.
        if d.ran:
            deployed.setdefault(d.key, d)
    emergencies = [
        r
        for r in history.requests
        if r.request is not None and r.request.emergency and r.key in deployed
        and (app is None or r.app == app)
    ]  # fmt: skip
    if not emergencies:
        return []
    policies = policies or trusted_policies(forge, history.repo, history.branch)
    me = bs_login(forge, config)
    found: list[UnreviewedEmergency | LateReview] = []
    for emergency in emergencies:
        follow_ups = _follow_ups(forge, history, emergency, me)
        state = judge_emergency(
            emergency, deployed[emergency.key], follow_ups, _review_within(policies, emergency.app),
            now,
        )  # fmt: skip
        if state is not None:
            found.append(state)
    return found


def bs_login(forge: Forge, config: BsConfig) -> str:
    """Who bs's hooks act as, whose marks alone count: bs.yaml's local forge `bot` or
    GitHub App (``forge.app``); else bs itself, when it acts as its App (the workflows).
    A person's own login never: they could have posted the mark."""
    found = bot_login(config) or getattr(forge, "acting_as", None)
    if not isinstance(found, str):
        raise BsError(
            "bs.yaml names no GitHub App (forge.app), so bs cannot tell its own marks (a "
            "request approved, a follow-up reviewed) from anyone else's: set forge.app to the "
            "App's slug, run this as the App, or pass --no-reviews (those checks then skipped)."
        )
    return found


def _follow_ups(
    forge: Forge, history: RequestHistory, emergency: MergedRequest, me: str
) -> list[FollowUpState]:
    request = emergency.request
    assert request is not None
    states = []
    for r in history.requests:
        follow = r.request
        if follow is None or follow.follow_up_of != emergency.id or r.app != emergency.app:
            continue
        same = follow.same_release_as(request)
        pull = r.pull
        approved = pull is not None and marked(
            forge.list_comments(history.repo, pull.number), me, FOLLOW_UP_APPROVED
        )
        states.append(
            FollowUpState(r.id, pull.number if pull else None, r.merged_at, approved, same)
        )
    # The follow-ups bs opens (the gateway after the deploy, or `bs follow-up`), still open.
    for derived in follow_up_ids(request):
        pull = history.open_pull(request_branch(emergency.app, derived))
        if pull is not None:
            states.append(FollowUpState(derived, pull.number, None, False))
    return states


def _review_within(policies: Policies, app: str) -> timedelta:
    """The app's policy's emergency.review_within, as on the default branch now."""
    config = policies.apps.apps.get(app)
    if config is None:
        return DEFAULT_REVIEW_WITHIN
    rule = policies.policy(config.policy).emergency
    return parse_duration(rule.review_within) if rule else DEFAULT_REVIEW_WITHIN
