"""Redeeming a deploy link: the gateway's first step (``POST /link/<token>``).

Verification order, as SECURITY.md says: the signature (constant time), the
purpose and expiry, that the person signed in is the requester, that the
slot has started, then the atomic consume, per request. Every attempt is
recorded with its internal reason; the person is shown one page for all
refusals. The gateway passes `verify`, its re-verification from the forge,
run after the link's own checks and before the consume: a link whose
release no longer holds is not spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from bs.core.links import (
    DEPLOY_LINK,
    Keyring,
    LinkClaims,
    LinkRefused,
    link_digest,
    verify_link_token,
)
from bs.store.ledger import LinkLedger

Refusal = Literal[
    "malformed", "unknown_key", "bad_signature", "wrong_purpose", "expired",
    "not_requester", "not_yet", "used", "not_verified",
]  # fmt: skip


@dataclass(frozen=True)
class Redeemed:
    claims: LinkClaims
    #: What `verify` returned (the gateway's Verified).
    verified: Any = None
    #: What `then` returned (the gateway's deployment id).
    made: Any = None


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    claims: LinkClaims | None = None
    #: Why `verify` refused, for the requester (never shown to anyone else).
    detail: str = ""


def redeem_link(
    token: str,
    keyring: Keyring,
    ledger: LinkLedger,
    signed_in_as: str,
    now: datetime,
    verify: Callable[[LinkClaims], tuple[bool, Any]] | None = None,
    then: Callable[[Connection, Any], Any] | None = None,
) -> Redeemed | Refused:
    """`verify(claims)` returns (True, what it found) or (False, why not); for the one
    redemption that wins, `then(connection, found)` runs in the consume's transaction."""
    digest = link_digest(token)
    outcome: Redeemed | Refused
    checked = check_link(token, keyring, ledger, signed_in_as, now)
    if isinstance(checked, Refused):
        outcome = checked
    else:
        claims = checked
        ok, found = verify(claims) if verify else (True, None)
        if not ok:
            outcome = Refused("not_verified", claims, detail=str(found))
        else:
            won, made = ledger.redeem_and(
                claims, digest, signed_in_as, now,
                (lambda connection: then(connection, found)) if then else None,
            )  # fmt: skip
            outcome = Redeemed(claims, found, made) if won else Refused("used", claims)
    label = "redeemed" if isinstance(outcome, Redeemed) else outcome.reason
    key = outcome.claims.request_key if outcome.claims else None
    ledger.record_attempt(digest, key, signed_in_as, label, now)
    return outcome


def check_link(
    token: str, keyring: Keyring, ledger: LinkLedger, signed_in_as: str, now: datetime
) -> LinkClaims | Refused:
    """The link's own checks, in order, spending and recording nothing (the confirmation
    page runs them too): signature, key, purpose, expiry; the requester; the slot has
    started; the request's links are not spent."""
    try:
        claims = verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=now)
    except LinkRefused as exc:
        return Refused(exc.reason)
    if claims.requester.lower() != signed_in_as.lower():
        return Refused("not_requester", claims)
    if now < claims.not_before:
        return Refused("not_yet", claims)
    if ledger.is_redeemed(claims.request_key):
        return Refused("used", claims)
    return claims
