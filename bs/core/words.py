"""Small helpers for messages people read."""

from __future__ import annotations


def count_noun(n: int, noun: str, plural: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``1,000 files``."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"
