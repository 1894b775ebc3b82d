"""Who may request which app: the ``requesters:`` of each app's policy."""

from __future__ import annotations

from bs.core.policy import Policy
from bs.errors import BsError
from bs.policyfiles import Policies
from bs.ports import Forge


def may_request(policy: Policy, user: str, forge: Forge) -> bool:
    allowed = policy.requesters
    if allowed is None or user in allowed.users:
        return True
    return any(user in forge.team_members(team) for team in allowed.teams)


def check_may_request(policies: Policies, app: str, user: str, forge: Forge) -> None:
    config = policies.apps.apps[app]
    policy = policies.policy(config.policy)
    if not may_request(policy, user, forge):
        assert policy.requesters is not None
        raise BsError(
            f"{user} may not request releases of {app}: policy {config.policy} allows "
            f"{policy.requesters.describe()}. Ask to be added, or ask one of them."
        )
