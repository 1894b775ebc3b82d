"""Path globs for policies: ``db/migrate/**``, ``**/*.rb``, ``config/*.yml``.

A glob matches the whole path, as git prints it (``/``-separated, no leading
``/``). ``*`` and ``?`` stay inside one folder; ``**`` spans folders; a
trailing ``/`` means everything under that folder; ``[abc]`` is a class
(``[!abc]`` its complement; a ``]`` first in a class is literal).

Matching goes segment by segment, with ``**`` as "any number of segments",
so a requester's deep paths cannot make a glob backtrack for long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bs.errors import BsError

_ANY_SEGMENTS = None  # a `**` segment


def _segment_regex(segment: str, glob: str) -> re.Pattern[str]:
    """One segment (no '/') as a pattern; ValueError says what is wrong.

    Stars are translated as Python's fnmatch does (atomic groups between them),
    so a glob with many `*` cannot backtrack for long on a long file name.
    """
    if "**" in segment:
        raise ValueError(f"'**' must be a whole path segment in '{glob}' (e.g. a/**/b)")
    chunks: list[list[str]] = [[]]  # the pieces between stars
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "*":
            chunks.append([])
            i += 1
        elif c == "?":
            chunks[-1].append("[^/]")
            i += 1
        elif c == "[":
            start = i + 1
            if segment.startswith("!", start):
                start += 1
            if segment.startswith("]", start):
                start += 1  # a "]" first in a class is a literal, as in fnmatch
            end = segment.find("]", start)
            if end < 0:
                raise ValueError(f"'[' without a closing ']' in '{glob}'")
            body = segment[i + 1 : end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body  # as in fnmatch: only "!" negates
            # A class never matches "/", whatever its range says.
            chunks[-1].append("(?!/)[" + body + "]")
            i = end + 1
        else:
            chunks[-1].append(re.escape(c))
            i += 1
    texts = ["".join(chunk) for chunk in chunks]
    if len(texts) == 1:
        pattern = texts[0]
    else:
        middle = "".join(f"(?>[^/]*?{text})" for text in texts[1:-1] if text)
        pattern = texts[0] + middle + "[^/]*" + texts[-1]
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise ValueError(f"'{glob}' is not a valid glob ({exc.msg})") from None


@dataclass(frozen=True)
class Glob:
    text: str
    #: Each segment's pattern, or None for `**`.
    segments: tuple[re.Pattern[str] | None, ...]
    #: One pattern for the whole path, when the glob has at most one `**`: then it
    #: cannot backtrack badly, and one regex match is much faster than the walk.
    whole: re.Pattern[str] | None = None

    def matches(self, path: str) -> bool:
        if self.whole is not None:
            return self.whole.fullmatch(path) is not None
        parts = path.split("/")
        # The positions in `parts` reachable after matching the segments so far.
        reach = {0}
        last = len(self.segments) - 1
        for index, segment in enumerate(self.segments):
            if segment is None:
                # `**` is any number of segments; at the end, at least one (`db/**`
                # is what is under db, not db itself).
                start = min(reach) + (1 if index == last else 0)
                reach = set(range(start, len(parts) + 1))
            else:
                reach = {j + 1 for j in reach if j < len(parts) and segment.fullmatch(parts[j])}
            if not reach:
                return False
        return len(parts) in reach


@lru_cache(maxsize=1024)
def compile_glob(glob: str) -> Glob:
    """The compiled glob; ValueError says what is wrong with it."""
    if not glob or glob.startswith("/"):
        raise ValueError(
            f"'{glob}' is not a path glob: write it relative to the repository, e.g. db/migrate/**"
        )
    text = glob + "**" if glob.endswith("/") else glob
    segments = tuple(
        _ANY_SEGMENTS if part == "**" else _segment_regex(part, glob) for part in text.split("/")
    )
    whole = None
    if segments.count(_ANY_SEGMENTS) <= 1:
        pieces: list[str] = []
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment is None:
                # Any number of whole folders; at the end, at least one segment.
                pieces.append(".+" if last else "(?:.*/)?")
            else:
                pieces.append(segment.pattern + ("" if last else "/"))
        whole = re.compile("".join(pieces), re.DOTALL)
    return Glob(glob, segments, whole)


def check_glob(glob: str) -> str:
    """For validators: the glob itself when it is valid."""
    compile_glob(glob)
    return glob


@lru_cache(maxsize=256)
def _matcher(globs: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[Glob, ...]]:
    """One alternation of the globs that have a whole-path pattern, and the rest."""
    compiled = [compile_glob(g) for g in globs]
    simple = [g.whole.pattern for g in compiled if g.whole is not None]
    combined = re.compile("|".join(f"(?:{p})" for p in simple), re.DOTALL) if simple else None
    return combined, tuple(g for g in compiled if g.whole is None)


def matching_paths(globs: tuple[str, ...] | list[str], paths: tuple[str, ...]) -> list[str]:
    """The paths any of `globs` matches, in the order given."""
    try:
        combined, walked = _matcher(tuple(globs))
    except ValueError as exc:
        raise BsError(str(exc)) from None
    return [
        p
        for p in paths
        if (combined is not None and combined.fullmatch(p)) or any(g.matches(p) for g in walked)
    ]
