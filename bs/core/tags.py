"""Release tag schemes and their total order.

A scheme recognises the tags that are releases of an app and orders them:
``release_9 < release_10``, ``v9 < v10``, semver (a pre-release before its
release, build metadata ignored) and a regex whose numeric group orders it.
Tags outside the scheme are not releases: listings skip them and asking for
one by name is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bs.errors import BsError

SchemeKind = Literal["release", "v", "semver", "regex"]

_RELEASE = re.compile(r"release_([0-9]+)")
_V = re.compile(r"v([0-9]+)")
# semver.org's grammar, with an optional leading "v" as most repositories use.
_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,  # \d is any Unicode digit otherwise: "1.0.0-rc.1١" is no version
)

#: What each scheme's tags look like, for messages.
SCHEME_EXAMPLES: dict[str, str] = {
    "release": "release_NNN, e.g. release_4572",
    "v": "vN, e.g. v1796",
    "semver": "semantic versions, e.g. v1.4.2 or 1.4.2-rc.1",
    "regex": "tags matching the pattern",
}

# Each position holds values of one type, so keys compare as plain tuples.
SortKey = tuple[Any, ...]


@dataclass(frozen=True)
class TagRef:
    """A tag and the commit it points at (annotated tags peeled)."""

    name: str
    commit: str


@dataclass(frozen=True)
class TagScheme:
    """A scheme of release tags with a total order."""

    kind: SchemeKind
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "regex":
            compile_tag_regex(self.pattern)
        elif self.pattern is not None:
            raise BsError(
                f"tag scheme '{self.kind}' takes no pattern: remove it, or use scheme regex."
            )

    def describe(self) -> str:
        if self.kind == "regex":
            return f"tags matching {self.pattern!r}"
        return SCHEME_EXAMPLES[self.kind]

    def sort_key(self, tag: str) -> SortKey | None:
        """The tag's place in the order, or None when it is not in the scheme. A tag
        starting with "-" is in none: a deploy command would read it as an option."""
        if tag.startswith("-"):
            return None
        if self.kind == "release":
            return _numeric_key(_RELEASE, tag)
        if self.kind == "v":
            return _numeric_key(_V, tag)
        if self.kind == "semver":
            return _semver_key(tag)
        return _regex_key(compile_tag_regex(self.pattern), tag)

    def matches(self, tag: str) -> bool:
        return self.sort_key(tag) is not None

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as release `a` comes before, with or after `b` (both in the scheme)."""
        ka, kb = self.sort_key(a), self.sort_key(b)
        if ka is None or kb is None:
            raise ValueError("both tags must be in the scheme")
        if ka == kb:
            return 0
        return -1 if ka < kb else 1

    def newest_first(self, tags: Iterable[TagRef]) -> list[TagRef]:
        """The scheme's tags, newest first; others dropped. Ties broken by name."""
        keyed = [(key, ref) for ref in tags if (key := self.sort_key(ref.name)) is not None]
        keyed.sort(key=lambda pair: (pair[0], pair[1].name), reverse=True)
        return [ref for _, ref in keyed]


def compile_tag_regex(pattern: str | None) -> re.Pattern[str]:
    """Compile a regex scheme's pattern: it must have one numeric group."""
    if not pattern:
        raise BsError(
            "tag scheme 'regex' needs a pattern with one group of digits, e.g. 'deploy-(\\d+)'."
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise BsError(
            f"tag pattern {pattern!r} is not a valid regular expression: {exc}."
        ) from None
    if compiled.groups != 1 and "n" not in compiled.groupindex:
        raise BsError(
            f"tag pattern {pattern!r} must have exactly one group (or a group named 'n') "
            "capturing the number that orders the tags, e.g. 'deploy-(\\d+)'."
        )
    return compiled


def _numeric_key(regex: re.Pattern[str], tag: str) -> SortKey | None:
    match = regex.fullmatch(tag)
    return (int(match.group(1)),) if match else None


def _regex_key(regex: re.Pattern[str], tag: str) -> SortKey | None:
    match = regex.fullmatch(tag)
    if not match:
        return None
    number = match.group("n") if "n" in regex.groupindex else match.group(1)
    if number is None or not number.isdigit() or not number.isascii():
        return None
    return (int(number),)


def _semver_key(tag: str) -> SortKey | None:
    match = _SEMVER.fullmatch(tag)
    if not match:
        return None
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        # A release sorts after all of its pre-releases.
        return (major, minor, patch, 1, ())
    identifiers: list[tuple[int, int, str]] = []
    for part in pre.split("."):
        # Numeric identifiers sort before alphanumeric ones, numerically.
        identifiers.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return (major, minor, patch, 0, tuple(identifiers))
