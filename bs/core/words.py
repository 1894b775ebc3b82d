"""Small helpers for messages people read."""

from __future__ import annotations

import unicodedata


def count_noun(n: int, noun: str, plural: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``1,000 files``."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


def readable_size(size: int) -> str:
    """A size readable at any scale: 812 bytes, 41.3 kB, 242.2 MB."""
    if size < 10_000:
        return count_noun(size, "byte")
    if size < 1_000_000:
        return f"{size / 1000:,.1f} kB"
    return f"{size / 1_000_000:,.1f} MB"


def printable(text: str) -> str:
    """`text` without control or format characters (bidi overrides, zero-width...)
    or line and paragraph separators, each shown as its code point: names and paths
    come from requesters. Only "\n" is kept."""
    return "".join(
        f"<U+{ord(ch):04X}>"
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\n"
        else ch
        for ch in text
    )
