"""Reading a deployed version as a source states it, through ``deployed.format``.

A format is ``{commit}`` or ``{tag}`` with fixed text around it (``release-{commit}``,
``registry.example/frontend:{tag}``); the config model allows nothing else. The
fixed text must match exactly. ``{commit}`` is a full SHA or an abbreviation of
7 or more hex digits, found among the app repository's objects; ``{tag}`` is one
of the app repository's tags.

A value that is there but cannot be read is always an error, never "nothing
deployed": a request made against "nothing deployed" is judged as a first
deploy, which anything may claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bs import gitcmd
from bs.errors import BsError
from bs.ports import Forge

_HEX = re.compile(r"[0-9a-fA-F]{7,40}")
#: How much of a bad value an error shows: sources are remote, values may be huge.
_SHOWN = 80


@dataclass(frozen=True)
class Origin:
    """Which app a value is for and where it came from, for error messages."""

    app: str
    repo: str  # the app's repository, where commits and tags are looked up
    where: str  # e.g. "/version of https://status.example/frontend"


def shown(value: object) -> str:
    """A value for an error message: quoted, control characters escaped, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def split_version(value: str, fmt: str) -> tuple[Literal["commit", "tag"], str] | None:
    """The placeholder of `fmt` and the text standing for it in `value`, or None when
    the fixed text around it does not match (pure: no repository is consulted)."""
    match = re.fullmatch(r"(.*)\{(commit|tag)\}(.*)", fmt)
    assert match is not None  # the config model allows no other format
    prefix, kind, suffix = match.group(1), match.group(2), match.group(3)
    if len(value) <= len(prefix) + len(suffix):
        return None
    if not (value.startswith(prefix) and value.endswith(suffix)):
        return None
    inner = value[len(prefix) : len(value) - len(suffix)]
    return ("commit" if kind == "commit" else "tag"), inner


def version_commit(value: str | None, fmt: str, forge: Forge, origin: Origin) -> str | None:
    """The commit `value` names under format `fmt`; None only for no value at all (a
    JSON or YAML null), which a source uses to say that nothing is deployed yet.

    Surrounding whitespace is dropped: ``git rev-parse HEAD > VERSION`` ends in a newline.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        # Not "nothing deployed": Helm reads an empty image tag as "use the chart's
        # appVersion", so an empty value says the version is decided elsewhere.
        raise BsError(
            f"{origin.app}: {origin.where} is an empty string, not a version: it must read "
            f"{fmt} (null when nothing is deployed yet); fix the source or deployed.format"
        )
    parts = split_version(text, fmt)
    if parts is None:
        raise BsError(
            f"{origin.app}: {origin.where} is {shown(text)}, which does not have the form "
            f"{fmt} (deployed.format): fix deployed.format to match what the source states"
        )
    kind, inner = parts
    if kind == "tag":
        return _tag_commit(inner, text, forge, origin)
    return _commit(inner, text, forge, origin)


def _tag_commit(tag: str, text: str, forge: Forge, origin: Origin) -> str:
    for ref in forge.list_tags(origin.repo):
        if ref.name == tag:
            return ref.commit
    raise BsError(
        f"{origin.app}: {origin.where} is {shown(text)}, but {origin.repo} has no tag "
        f"{shown(tag)}: push the tag, or fix deployed.format if the value is not a tag"
    )


def _commit(sha: str, text: str, forge: Forge, origin: Origin) -> str:
    said = f"{origin.app}: {origin.where} is {shown(text)}"
    if not _HEX.fullmatch(sha):
        raise BsError(
            f"{said}, where {shown(sha)} is not a commit SHA (7 to 40 hex digits): "
            "fix the source, or deployed.format ({tag} if it names a tag)"
        )
    git_dir = forge.git_dir(origin.repo)
    # Not `rev-parse SHA^{commit}` alone: a branch or tag named like the abbreviation
    # would win over the object, and a tag object's SHA would peel to another commit.
    # --disambiguate lists objects only; of those, exactly one must be a commit.
    candidates = gitcmd.run(
        git_dir, "rev-parse", f"--disambiguate={sha.lower()}", what="finding a deployed commit"
    ).split()
    commits = [c for c in candidates if gitcmd.resolve_commit(git_dir, c) == c]
    if len(commits) == 1:
        return commits[0]
    if len(commits) > 1:
        raise BsError(
            f"{said}, which is ambiguous in {origin.repo}: {len(commits)} commits start with "
            f"{sha.lower()}; make the source state more digits (a full SHA is best)"
        )
    what = "not a commit" if candidates else "not found"
    raise BsError(
        f"{said}, but {sha} is {what} in {origin.repo}: is it pushed there, and does "
        "deployed point at this app's source?"
    )
