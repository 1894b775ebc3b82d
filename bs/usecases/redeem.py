"""Redeeming a deploy link: the gateway's first step (``POST /link/<token>``).

Verification order, as SECURITY.md says: the signature (constant time), the
purpose and expiry, that the person signed in is the requester, that the
slot has started, then the atomic consume, per request. Every attempt is
recorded with its internal reason; the person is shown one page for all
refusals. The gateway (next) adds the re-verification from the forge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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
    "not_requester", "not_yet", "used",
]  # fmt: skip


@dataclass(frozen=True)
class Redeemed:
    claims: LinkClaims


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    claims: LinkClaims | None = None


def redeem_link(
    token: str, keyring: Keyring, ledger: LinkLedger, signed_in_as: str, now: datetime
) -> Redeemed | Refused:
    digest = link_digest(token)
    try:
        claims = verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=now)
    except LinkRefused as exc:
        ledger.record_attempt(digest, None, signed_in_as, exc.reason, now)
        return Refused(exc.reason)
    outcome: Redeemed | Refused
    if claims.requester.lower() != signed_in_as.lower():
        outcome = Refused("not_requester", claims)
    elif now < claims.not_before:
        outcome = Refused("not_yet", claims)
    elif not ledger.redeem(claims, digest, signed_in_as, now):
        outcome = Refused("used", claims)
    else:
        outcome = Redeemed(claims)
    label = "redeemed" if isinstance(outcome, Redeemed) else outcome.reason
    ledger.record_attempt(digest, claims.request_key, signed_in_as, label, now)
    return outcome
