"""`bs status`'s list of emergency deploys whose follow-up review is not approved yet.

It starts from the gateway's records, whose approval record says which
deployments were emergencies, so a store without one costs nothing more; only
when there is one is the requests repo's history read (as `bs audit` reads it)
to find each follow-up and whether the merge hook marked it approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bs.core.slots import describe_instant
from bs.errors import BsError
from bs.ports import Forge
from bs.usecases.audit_sources import read_history
from bs.usecases.audit_store import gateway_records
from bs.usecases.emergencies import unreviewed_emergencies
from bs.usecases.status import PendingReview
from bs.workspace import Workspace

UTC_ZONE = ZoneInfo("UTC")


def pending_reviews(
    forge: Forge,
    workspace: Workspace,
    env: Mapping[str, str],
    *,
    app: str | None,
    now: datetime,
) -> tuple[list[PendingReview], str | None]:
    """The emergencies awaiting review, most overdue first; or why they cannot be told."""
    try:
        records = gateway_records(workspace, env)
    except BsError as exc:
        return [], exc.message
    emergencies = [
        d for d in records.deployments
        if d.record.get("emergency") is True and (app is None or d.app == app)
    ]  # fmt: skip
    if not emergencies:
        return [], None
    config = workspace.config
    try:
        history = read_history(forge, config.requests_repo)
        found = unreviewed_emergencies(forge, config, history, emergencies, now, app=app)
    except BsError as exc:
        return [], f"the follow-ups of {len(emergencies)} emergency deploys: {exc.message}"
    pending = []
    for e in found:
        due = describe_instant(e.due, UTC_ZONE)
        when = f"OVERDUE since {due}" if e.overdue else f"due by {due}"
        what = (
            f"requested by {e.requester}, deployed {describe_instant(e.deployed_at, UTC_ZONE)}; "
            f"review {when}: {e.why}"
        )
        url = _pull_url(forge, config.requests_repo, e.follow_up_pull)
        pending.append(PendingReview(e.app, e.request_id, url, what))
    return pending, None


def _pull_url(forge: Forge, repo: str, number: int | None) -> str:
    if number is None:
        return ""
    try:
        return forge.get_pull_request(repo, number).url
    except BsError:
        return ""
