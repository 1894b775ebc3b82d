"""``/link/<token>``: a deploy link becomes a deployment, once.

GET and HEAD only show a page and change nothing, so a mail scanner that
opens every link spends none. The POST from the confirmation page's button
redeems it: the link's own checks, then the gateway's re-verification from
the forge, then the atomic consume that also creates the deployment, then a
new session bound to that deployment. Invalid, expired, used and someone
else's links all get the same page; every POST is recorded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from bs.core.links import DEPLOY_LINK, LinkClaims, LinkRefused, verify_link_token
from bs.core.slots import describe_instant
from bs.gateway.signin import sign_in_url, start_session
from bs.gateway.state import Gateway, gateway, kind_suffix, signed_in
from bs.usecases.deploy import zone_of
from bs.usecases.redeem import Redeemed, Refused, check_link, redeem_link
from bs.usecases.reverify import NotVerified, Verified, reverify

link = Blueprint("link", __name__)

REFUSED_TITLE = "This link cannot be used"


def _refused() -> tuple[str, int]:
    return render_template("link_refused.html", title=REFUSED_TITLE), 403


def _sign_in_first() -> str:
    return render_template(
        "link_signin.html", title="Deploy link", signin_url=sign_in_url(request.path)
    )


@link.get("/link/<token>")
def confirm(token: str) -> str | tuple[str, int]:
    user = signed_in()
    if user is None:
        return _sign_in_first()
    found = gateway()
    settings = found.settings
    now = settings.now()
    checked = check_link(token, settings.keyring, found.ledger, user, now)
    if isinstance(checked, Refused):
        claims = checked.claims
        # Only its requester learns that a link is early; a spent request stays spent.
        if checked.reason != "not_yet" or claims is None:
            return _refused()
        if found.ledger.is_redeemed(claims.request_key):
            return _refused()
    else:
        claims = checked
    verified = reverify(settings.forge, settings.config, claims)
    if isinstance(verified, NotVerified):
        return _not_verified(verified.why)
    zone = zone_of(verified.record)
    if now < verified.slot_start:
        return _not_verified(_not_yet(verified.slot_start, zone))
    return render_template(
        "link_confirm.html", title=f"Deploy {claims.app}{kind_suffix(verified.record)}?", record=verified.record,
        slot_start=describe_instant(verified.slot_start, zone),
        slot_end=describe_instant(verified.slot_end, zone),
        link_action=request.path, patch_url=None,
    )  # fmt: skip


def _not_yet(start: datetime, zone: ZoneInfo) -> str:
    return f"its deploy slot starts {describe_instant(start, zone)}: open this link again then"


def _not_verified(why: str) -> tuple[str, int]:
    return render_template("link_not_verified.html", title="Not deployable now", why=why), 409


@link.post("/link/<token>")
def redeem(token: str) -> Response | tuple[str, int] | str:
    user = signed_in()
    if user is None:
        return _sign_in_first()
    found = gateway()
    settings = found.settings

    def verify(claims: LinkClaims) -> tuple[bool, Any]:
        result = reverify(settings.forge, settings.config, claims)
        return (False, result.why) if isinstance(result, NotVerified) else (True, result)

    with _one_at_a_time(_request_key(token)):
        outcome = redeem_link(
            token, settings.keyring, found.ledger, user, settings.now(), verify,
            lambda connection, verified: _create(found, connection, verified, user),
        )  # fmt: skip
    if not isinstance(outcome, Redeemed):
        # Only ever the requester gets past the generic page (the owner check comes first).
        if outcome.reason == "not_verified":
            return _not_verified(outcome.detail)
        if outcome.reason == "not_yet" and outcome.claims is not None:
            return _not_verified(_not_yet(outcome.claims.not_before, ZoneInfo("UTC")))
        return _refused()
    # A new session, bound to this deployment (and any this browser opened before): the
    # old id and its CSRF token are dead.
    start_session(user, deployments=[*bound_deployments(), outcome.made])
    return redirect(url_for("deploy.page", deployment_id=outcome.made), code=303)


_locks: dict[str, tuple[threading.Lock, int]] = {}
_locks_guard = threading.Lock()


def _request_key(token: str) -> str | None:
    """The request a well-signed link names (its claims are checked again, in order, by
    redeem_link); None for anything else."""
    settings = gateway().settings
    try:
        claims = verify_link_token(token, settings.keyring, purpose=DEPLOY_LINK, now=settings.now())
    except LinkRefused:
        return None
    return claims.request_key


@contextlib.contextmanager
def _one_at_a_time(key: str | None) -> Iterator[None]:
    """Redemptions of one request take turns in this process: the first re-verifies from
    the forge and spends the link; the others then find it spent at once, instead of
    all re-verifying (the costly part) while it is still unspent. The store's atomic
    consume still decides between processes and gateways."""
    if key is None:
        yield
        return
    with _locks_guard:
        lock, users = _locks.get(key, (threading.Lock(), 0))
        _locks[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _locks_guard:
            lock, users = _locks[key]
            if users == 1:
                del _locks[key]
            else:
                _locks[key] = (lock, users - 1)


def bound_deployments() -> list[int]:
    """The deployments this session's links opened: only from here may Deploy be pressed."""
    found = session.get("deployments")
    return [i for i in found if isinstance(i, int)] if isinstance(found, list) else []


def _create(found: Gateway, connection: Connection, verified: Verified, user: str) -> int:
    request_ = verified.request
    return found.deployments.create(
        connection, request_key=f"{request_.app}/{request_.id}", app=request_.app,
        pull_request=int(verified.record["pull_request"]), requester=verified.record["requester"],
        record=verified.record, slot_start=verified.slot_start, slot_end=verified.slot_end,
        now=found.settings.now(),
    )  # fmt: skip
