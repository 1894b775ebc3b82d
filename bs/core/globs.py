"""Path globs for policies: ``db/migrate/**``, ``**/*.rb``, ``config/*.yml``.

A glob matches the whole path, as git prints it (``/``-separated, no leading
``/``). ``*`` and ``?`` stay inside one folder; ``**`` spans folders; a
trailing ``/`` means everything under that folder; ``[abc]`` is a class.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bs.errors import BsError


def _translate(glob: str) -> str:
    if glob.endswith("/"):
        glob += "**"
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:[^/]+/)*")  # zero or more whole folders
            i += 3
        elif glob.startswith("**", i):
            if i + 2 != n or (i > 0 and glob[i - 1] != "/"):
                raise ValueError(f"'**' must be a whole path segment in '{glob}' (e.g. a/**/b)")
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            start = i + 1
            if glob.startswith("!", start):
                start += 1
            if glob.startswith("]", start):
                start += 1  # a "]" first in a class is a literal, as in fnmatch
            end = glob.find("]", start)
            if end < 0:
                raise ValueError(f"'[' without a closing ']' in '{glob}'")
            body = glob[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def glob_regex(glob: str) -> re.Pattern[str]:
    """The compiled pattern for `glob`; ValueError says what is wrong with it."""
    if not glob or glob.startswith("/"):
        raise ValueError(
            f"'{glob}' is not a path glob: write it relative to the repository, e.g. db/migrate/**"
        )
    try:
        return re.compile(_translate(glob), re.DOTALL)
    except re.error as exc:
        raise ValueError(f"'{glob}' is not a valid glob ({exc.msg})") from None


def check_glob(glob: str) -> str:
    """For validators: the glob itself when it is valid."""
    glob_regex(glob)
    return glob


@lru_cache(maxsize=256)
def _any_of(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for several globs: one match per path, however many globs."""
    return re.compile("|".join(f"(?:{glob_regex(g).pattern})" for g in globs), re.DOTALL)


def matching_paths(globs: tuple[str, ...] | list[str], paths: tuple[str, ...]) -> list[str]:
    """The paths any of `globs` matches, in the order given."""
    try:
        pattern = _any_of(tuple(globs))
    except ValueError as exc:
        raise BsError(str(exc)) from None
    return [p for p in paths if pattern.fullmatch(p)]
