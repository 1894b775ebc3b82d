"""``/deployments/<id>``: the release, the slot, the Deploy button, live progress.

Anyone signed in may watch a deployment; only its requester, in the session
its link started, may press Deploy (and try again after a failure, while
the slot lasts).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bs import gitcmd
from bs.core.slots import describe_instant
from bs.errors import BsError
from bs.gateway.signin import sign_in_url
from bs.gateway.state import gateway, kind_suffix, signed_in
from bs.gateway.views_link import bound_deployments
from bs.store.deployments import STARTABLE, Deployment
from bs.usecases.deploy import NotStarted, start_deploy, zone_of

deploy = Blueprint("deploy", __name__)


def _load(deployment_id: int) -> Deployment:
    store = gateway().deployments
    found = store.get(deployment_id) if deployment_id < 2**62 else None
    if found is None:
        abort(404, f"There is no deployment #{deployment_id}.")
    now = gateway().settings.now()
    if found.state == "running" and store.lock_holder(found.app, now) != found.id:
        # Its gateway died: the lock expired. Say so now, not at the next start.
        store.recover_stale(now)
        found = store.get(deployment_id) or found
    return found


def _why_not(deployment: Deployment, user: str, now: datetime) -> str:
    if deployment.state in ("succeeded", "running"):
        return ""
    if deployment.state == "interrupted":
        return deployment.summary
    if user.lower() != deployment.requester.lower():
        return f"Only {deployment.requester}, who asked for this release, may deploy it."
    if deployment.id not in bound_deployments():
        return "Deploy from the session your deploy link opened (this browser, after its link)."
    if now < deployment.slot_start:
        return "The deploy slot has not started yet."
    if now >= deployment.slot_end:
        return "The deploy slot has ended: open a new request to deploy this release."
    return ""


def _render(deployment: Deployment, user: str, message: str = "") -> str:
    now = gateway().settings.now()
    zone = zone_of(deployment.record)
    why_not = _why_not(deployment, user, now)
    log = gateway().deployments.log(deployment.id)
    remaining = deployment.slot_end - now
    minutes = max(int(remaining.total_seconds() // 60), 0)
    patch = deployment.record.get("patch_file")
    return render_template(
        "deployment.html", title=f"Deployment #{deployment.id}: {deployment.app}{kind_suffix(deployment.record)}",
        d=deployment, message=message, log=log, last_id=log[-1].id if log else 0,
        slot_start=describe_instant(deployment.slot_start, zone),
        slot_end=describe_instant(deployment.slot_end, zone),
        slot_end_iso=deployment.slot_end.isoformat(), in_slot=deployment.in_slot(now),
        remaining=f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min",
        can_deploy=not why_not and deployment.state in STARTABLE, why_not=why_not,
        patch_url=url_for("deploy.patch", deployment_id=deployment.id) if patch else None,
    )  # fmt: skip


@deploy.get("/deployments/<int:deployment_id>")
def page(deployment_id: int) -> Response | str:
    user = signed_in()
    if user is None:
        return redirect(sign_in_url(request.path), code=303)
    return _render(_load(deployment_id), user)


@deploy.post("/deployments/<int:deployment_id>/deploy", endpoint="deploy")
def deploy_(deployment_id: int) -> Response | tuple[str, int]:
    user = signed_in()
    if user is None:
        abort(403, "Sign in first.")
    deployment = _load(deployment_id)
    if deployment.id not in bound_deployments():
        abort(
            403, "Deploy from the session your deploy link opened (this browser, after its link)."
        )
    started = start_deploy(gateway().deploy, deployment, user)
    if isinstance(started, NotStarted):
        return _render(_load(deployment_id), user, f"Not deployed: {started.why}."), 409
    return redirect(url_for("deploy.page", deployment_id=deployment.id), code=303)


@deploy.get("/deployments/<int:deployment_id>/progress")
def progress(deployment_id: int) -> Response:
    if signed_in() is None:
        abort(403, "Sign in first.")
    deployment = _load(deployment_id)
    after = request.args.get("after", "0")
    start = int(after) if after.isascii() and after.isdigit() and len(after) < 18 else 0
    lines = gateway().deployments.log(deployment.id, start, 1000)
    body: dict[str, Any] = {
        "state": deployment.state, "summary": deployment.summary, "url": deployment.url,
        "attempts": deployment.attempts,
        "lines": [{"id": line.id, "attempt": line.attempt, "line": line.line} for line in lines],
        "more": len(lines) == 1000,
    }  # fmt: skip
    return jsonify(body)


@deploy.get("/deployments/<int:deployment_id>/patch")
def patch(deployment_id: int) -> Response:
    """The reviewed diff, as committed on the requests repo's default branch."""
    if signed_in() is None:
        abort(403, "Sign in first.")
    deployment = _load(deployment_id)
    settings = gateway().settings
    path = deployment.record.get("patch_file")
    repo = settings.config.requests_repo
    try:
        # As merged, not as the default branch holds it now: that one could be edited since.
        commit = deployment.record.get("merge_commit")
        if not isinstance(commit, str) or not isinstance(path, str):
            raise BsError("no merge commit")
        data = gitcmd.read_blob(settings.forge.git_dir(repo), commit, path)
    except BsError:
        abort(404, "The reviewed patch cannot be read from the request's merge commit.")
    gz = str(path).endswith(".gz")
    if not gz and hashlib.sha256(data).hexdigest() != deployment.record.get("patch_sha256"):
        abort(409, "The patch at the merge commit is not the reviewed one (its digest differs).")
    return Response(
        data, mimetype="application/gzip" if gz else "text/plain",
        headers={"Content-Disposition": f"{'attachment' if gz else 'inline'}; "
                 f"filename={deployment.app}-{deployment.record['request']}.patch{'.gz' if gz else ''}"},
    )  # fmt: skip
