"""Redeeming deploy links against the ledger: once per request, by the requester, in
the slot, every attempt recorded by digest; and atomically under concurrency."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bs.core.links import DEPLOY_LINK, NONCE_BYTES, Keyring, LinkClaims, LinkKey, mint_link_token
from bs.store import open_store
from bs.store.ledger import LinkLedger
from bs.store.tables import link_redemptions
from bs.usecases.redeem import Redeemed, Refused, redeem_link

OPENS = datetime(2030, 7, 8, 8, 30, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=2)
DURING = OPENS + timedelta(minutes=10)
REQUEST = "20300708-aaaaaaaaaaaaaaaa"
OTHER_REQUEST = "20300708-bbbbbbbbbbbbbbbb"


def keyring(key_id: str = "k1") -> Keyring:
    return Keyring((LinkKey(key_id, secrets.token_bytes(32)),))


KEYS = keyring()


def mint(
    request_id: str = REQUEST,
    *,
    requester: str = "alice",
    purpose: str = DEPLOY_LINK,
    keys: Keyring = KEYS,
    not_before: datetime = OPENS,
    expires: datetime = CLOSES,
) -> str:
    claims = LinkClaims(
        purpose=purpose, app="frontend", request_id=request_id, pull_request=7,
        requester=requester, not_before=not_before, expires=expires,
    )  # fmt: skip
    return mint_link_token(claims, keys, secrets.token_bytes(NONCE_BYTES))


@pytest.fixture
def ledger(tmp_path: Path) -> LinkLedger:
    return LinkLedger(open_store(f"sqlite:///{tmp_path / 'gateway.db'}"))


def redeem(
    ledger: LinkLedger, token: str, who: str = "alice", at: datetime = DURING
) -> Redeemed | Refused:
    return redeem_link(token, KEYS, ledger, who, at)


def reason(outcome: Redeemed | Refused) -> str:
    return "redeemed" if isinstance(outcome, Redeemed) else outcome.reason


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_request_s_links_work_once_between_them(ledger: LinkLedger) -> None:
    link, same_request, other = mint(), mint(), mint(OTHER_REQUEST)
    assert len({link, same_request, other}) == 3

    first = redeem(ledger, link)
    assert isinstance(first, Redeemed)
    assert (first.claims.request_id, first.claims.requester) == (REQUEST, "alice")
    assert first.claims.request_key == f"frontend/{REQUEST}"
    assert ledger.is_redeemed(f"frontend/{REQUEST}")
    assert not ledger.is_redeemed(f"frontend/{OTHER_REQUEST}")

    again = redeem(ledger, link)
    assert isinstance(again, Refused) and again.reason == "used"
    assert again.claims is not None and again.claims.request_id == REQUEST
    assert reason(redeem(ledger, same_request)) == "used"
    assert reason(redeem(ledger, other)) == "redeemed"
    assert reason(redeem(ledger, other)) == "used"

    attempts = ledger.attempts()
    assert [(a["link_digest"], a["request_key"], a["who"], a["outcome"]) for a in attempts] == [
        (digest(link), f"frontend/{REQUEST}", "alice", "redeemed"),
        (digest(link), f"frontend/{REQUEST}", "alice", "used"),
        (digest(same_request), f"frontend/{REQUEST}", "alice", "used"),
        (digest(other), f"frontend/{OTHER_REQUEST}", "alice", "redeemed"),
        (digest(other), f"frontend/{OTHER_REQUEST}", "alice", "used"),
    ]


def test_someone_else_signed_in_leaves_the_link_to_the_requester(ledger: LinkLedger) -> None:
    link = mint()
    refused = redeem(ledger, link, who="bob")
    assert isinstance(refused, Refused) and refused.reason == "not_requester"
    assert refused.claims is not None and refused.claims.requester == "alice"
    assert not ledger.is_redeemed(f"frontend/{REQUEST}")
    assert reason(redeem(ledger, link, who="Alice")) == "redeemed"  # logins ignore case
    assert [(a["who"], a["outcome"]) for a in ledger.attempts()] == [
        ("bob", "not_requester"),
        ("Alice", "redeemed"),
    ]


def test_before_the_slot_the_link_waits(ledger: LinkLedger) -> None:
    link = mint()
    early = redeem(ledger, link, at=OPENS - timedelta(seconds=1))
    assert isinstance(early, Refused) and early.reason == "not_yet"
    assert not ledger.is_redeemed(f"frontend/{REQUEST}")
    assert reason(redeem(ledger, link, at=OPENS)) == "redeemed"  # the slot's first second


def test_expired_and_tampered_links_are_refused_with_their_reasons(ledger: LinkLedger) -> None:
    link = mint()
    head, key_id, body, signature = link.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sub"] = "bob"
    as_bob = (
        base64.urlsafe_b64encode(
            json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    cases = {
        "expired": (link, CLOSES),
        "bad_signature": (f"{head}.{key_id}.{body}.{flipped}", DURING),
        "malformed": ("bs1.k1.not-a-token", DURING),
        "unknown_key": (mint(keys=keyring("k2")), DURING),
        "wrong_purpose": (mint(purpose="gateway-session"), DURING),
    }
    for expected, (token, at) in cases.items():
        outcome = redeem(ledger, token, at=at)
        assert isinstance(outcome, Refused) and outcome.reason == expected, expected
        assert outcome.claims is None
    # A payload changed to name someone else fails the signature, for them too.
    forged = f"{head}.{key_id}.{as_bob}.{signature}"
    assert reason(redeem(ledger, forged, who="bob")) == "bad_signature"
    assert reason(redeem(ledger, "x" * 5000)) == "malformed"

    assert not ledger.is_redeemed(f"frontend/{REQUEST}")
    assert reason(redeem(ledger, link, at=CLOSES - timedelta(seconds=1))) == "redeemed"
    outcomes = [(a["request_key"], a["outcome"]) for a in ledger.attempts()]
    assert outcomes == [
        (None, "expired"),
        (None, "bad_signature"),
        (None, "malformed"),
        (None, "unknown_key"),
        (None, "wrong_purpose"),
        (None, "bad_signature"),
        (None, "malformed"),
        (f"frontend/{REQUEST}", "redeemed"),
    ]


def test_attempts_keep_digests_never_links(ledger: LinkLedger) -> None:
    tokens = [mint(), mint(), mint(OTHER_REQUEST, requester="carol")]
    for token in tokens:
        redeem(ledger, token)
        redeem(ledger, token, who="carol")
    attempts = ledger.attempts()
    assert len(attempts) == 6
    for attempt, token in zip(attempts, [t for t in tokens for _ in (1, 2)], strict=True):
        assert attempt["link_digest"] == digest(token)
        assert len(str(attempt["link_digest"])) == 64
        assert isinstance(attempt["at"], datetime)
        for part in token.split(".")[2:]:
            assert all(part not in str(value) for value in attempt.values())
    assert Counter(a["outcome"] for a in attempts) == {
        "redeemed": 2,
        "used": 1,
        "not_requester": 3,
    }


def test_fifty_concurrent_redemptions_of_one_request_let_exactly_one_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    # Three gateway workers, each with its own engine on the same database file.
    ledgers = [LinkLedger(open_store(url)) for _ in range(3)]
    tokens = [mint() for _ in range(50)]
    start = threading.Barrier(len(tokens))

    def attempt(index: int) -> Redeemed | Refused:
        start.wait()
        return redeem(ledgers[index % 3], tokens[index])

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        outcomes = list(pool.map(attempt, range(len(tokens))))
    assert Counter(reason(o) for o in outcomes) == {"redeemed": 1, "used": 49}
    winner = next(i for i, o in enumerate(outcomes) if isinstance(o, Redeemed))
    with ledgers[0].engine.connect() as connection:
        rows = connection.execute(select(link_redemptions)).all()
        assert connection.execute(select(func.count()).select_from(link_redemptions)).scalar() == 1
    assert rows[0].link_digest == digest(tokens[winner])
    assert rows[0].redeemed_by == "alice"
    attempts = ledgers[1].attempts()
    assert len(attempts) == 50
    assert Counter(a["outcome"] for a in attempts) == {"redeemed": 1, "used": 49}
    assert {a["link_digest"] for a in attempts} == {digest(t) for t in tokens}
