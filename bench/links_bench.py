"""The links benchmark: minting and verifying deploy links, and computing slots, in-process.

The gateway verifies a link on every POST and the merge hook mints one per
merge; both should be negligible beside the forge calls around them. The
baseline, run in the same process, is the bare HMAC-SHA256 of a token's
bytes and its constant-time comparison: the least any signed link costs.
The slot is computed for a Friday-evening merge under Mon–Thu windows in
Europe/London with a freeze, so it walks to the next opening.

Goals: verifying a link costs at most VERIFY_RATIO_GOAL times the bare HMAC,
and a slot takes under SLOT_GOAL_MS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import Goal, Row

RUNS = 2000
VERIFY_RATIO_GOAL = 25.0
SLOT_GOAL_MS = 5.0
VERIFY_GOAL = f"link verify / bare HMAC ratio (median of {RUNS})"
SLOT_GOAL = "deploy slot median, Friday evening merge"


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    for _ in range(min(50, runs)):
        action()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bench_links(runs: int = RUNS) -> dict[str, Any]:
    from bs.core.links import (
        DEPLOY_LINK,
        LinkClaims,
        mint_link_token,
        new_key_line,
        parse_keys,
        verify_link_token,
    )
    from bs.core.slots import Schedule, deploy_slot

    print(f"bench: links and slots, {runs} runs each, in-process", file=sys.stderr, flush=True)
    keyring = parse_keys(
        " ".join(new_key_line(f"k{i}", secrets.token_bytes(32)) for i in range(3)), "bench"
    )
    now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    claims = LinkClaims(
        DEPLOY_LINK, "frontend", "20261127-abcdefghijklmnop", 4242, "alice",
        now, now + timedelta(hours=2),
    )  # fmt: skip
    token = mint_link_token(claims, keyring, secrets.token_bytes(32))
    secret = keyring.signing.secret
    signed = token.rpartition(".")[0]
    expected = hmac.new(secret, signed.encode(), hashlib.sha256).hexdigest()

    def bare_hmac() -> bool:
        digest = hmac.new(secret, signed.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(digest, expected)

    def verify() -> object:
        return verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=now)

    def mint() -> object:
        return mint_link_token(claims, keyring, secrets.token_bytes(32))

    schedule = Schedule.model_validate(
        {
            "slot": "2h",
            "timezone": "Europe/London",
            "windows": [
                {"days": ["mon-thu"], "from": "09:30", "to": "17:00"},
                {"days": ["fri"], "from": "09:30", "to": "12:00"},
            ],
            "freezes": [{"from": "2026-11-30", "to": "2026-11-30", "reason": "bench"}],
        }
    )

    def slot() -> object:
        return deploy_slot(now, schedule)

    # Interleave the baseline and the measured, so both see the same machine.
    bare, verified = [], []
    for _ in range(5):
        bare.append(_median_seconds(bare_hmac, runs // 5))
        verified.append(_median_seconds(verify, runs // 5))
    return {
        "runs": runs,
        "token_chars": len(token),
        "bare_hmac_s": statistics.median(bare),
        "verify_s": statistics.median(verified),
        "mint_s": _median_seconds(mint, runs),
        "slot_s": _median_seconds(slot, max(runs // 10, 50)),
    }


def goals(result: dict[str, Any]) -> list[Goal]:
    return [
        Goal(VERIFY_GOAL, result["verify_s"] / result["bare_hmac_s"], VERIFY_RATIO_GOAL, "x", True),
        Goal(SLOT_GOAL, result["slot_s"] * 1000, SLOT_GOAL_MS, "ms", False),
    ]


def rows(result: dict[str, Any], by_name: dict[str, Goal]) -> list[Row]:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.1f} us"

    verify_goal, slot_goal = by_name[VERIFY_GOAL], by_name[SLOT_GOAL]
    return [
        f"links: in-process medians ({result['runs']} runs; token {result['token_chars']} chars)",
        ("bare HMAC-SHA256 + compare (baseline)", us(result["bare_hmac_s"]), "", ""),
        ("verify a deploy link", us(result["verify_s"]), "", ""),
        (
            "    ratio verify / baseline",
            f"{verify_goal.value:.1f}x",
            f"<= {VERIFY_RATIO_GOAL:g}x",
            verify_goal.mark,
        ),
        ("mint a deploy link", us(result["mint_s"]), "", ""),
        (
            "deploy slot (windows, a freeze)",
            f"{result['slot_s'] * 1000:.2f} ms",
            f"< {SLOT_GOAL_MS:g} ms",
            slot_goal.mark,
        ),
    ]
