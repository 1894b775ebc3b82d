"""What is deployed, what is asked for, and whether the one is newer.

The deployed version is a commit, with a tag only when a scheme tag points at
it: repositories change scheme over the years (``release_4572`` deployed,
``v1796`` requested), so ancestry decides and the scheme order only confirms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bs.core.tags import TagRef, TagScheme
from bs.errors import BsError


@dataclass(frozen=True)
class Version:
    """A commit, and the scheme tag that names it when there is one."""

    commit: str
    tag: str | None = None

    def label(self) -> str:
        short = self.commit[:12]
        return f"{self.tag} ({short})" if self.tag else short


def tag_for_commit(scheme: TagScheme, tags: Iterable[TagRef], commit: str) -> str | None:
    """The newest scheme tag pointing at `commit`, if any."""
    for ref in scheme.newest_first(tags):
        if ref.commit == commit:
            return ref.name
    return None


def judge_newer(
    app: str,
    scheme: TagScheme,
    deployed: Version | None,
    requested: Version,
    *,
    requested_contains_deployed: bool,
) -> None:
    """Refuse a request that is not strictly newer than what is deployed.

    `requested_contains_deployed` is the git ancestry fact (the deployed commit
    is an ancestor of the requested one), gathered by the caller.
    """
    if deployed is None:
        return  # A first deploy: anything may be requested.
    if deployed.commit == requested.commit:
        raise BsError(
            f"{app}: {requested.label()} is what is deployed now ({deployed.label()}): "
            "nothing to release. Ask for a newer tag (see `bs tags "
            f"{app}`)."
        )
    if not requested_contains_deployed:
        raise BsError(
            f"{app}: {requested.label()} does not contain the deployed {deployed.label()}: "
            "it is older (a rollback) or on another line of history (a fork). "
            f"Ask for a tag made after {deployed.tag or deployed.commit[:12]} (see `bs tags {app}`), "
            "or, to go back to it, add --rollback."
        )
    if _both_in_scheme(scheme, deployed.tag, requested.tag) and (
        scheme.compare(requested.tag, deployed.tag) <= 0  # type: ignore[arg-type]
    ):
        raise BsError(
            f"{app}: {requested.tag} does not come after the deployed {deployed.tag} "
            f"in the tag scheme ({scheme.describe()}), although its commit descends from it. "
            "Tag the release with a later number and ask for that."
        )


def judge_older(
    app: str,
    scheme: TagScheme,
    deployed: Version | None,
    requested: Version,
    *,
    deployed_contains_requested: bool,
) -> None:
    """Refuse a rollback that is not strictly older than what is deployed: the release
    must be in the deployed commit's history and, both being scheme tags, come before it."""
    if deployed is None:
        raise BsError(
            f"{app}: nothing is deployed, so there is nothing to roll back. "
            f"Ask for {requested.tag or requested.commit[:12]} without --rollback."
        )
    if deployed.commit == requested.commit:
        raise BsError(
            f"{app}: {requested.label()} is what is deployed now: nothing to roll back. "
            f"Ask for an older tag (see `bs tags {app}`)."
        )
    if not deployed_contains_requested:
        raise BsError(
            f"{app}: {requested.label()} is not in the history of the deployed {deployed.label()}: "
            "a rollback goes back to an earlier release. If it is newer, ask without --rollback."
        )
    if _both_in_scheme(scheme, deployed.tag, requested.tag) and (
        scheme.compare(requested.tag, deployed.tag) >= 0  # type: ignore[arg-type]
    ):
        raise BsError(
            f"{app}: {requested.tag} does not come before the deployed {deployed.tag} in the tag "
            f"scheme ({scheme.describe()}), although the deployed commit descends from it: "
            "it is not a rollback."
        )


def mark_newer(
    scheme: TagScheme,
    tags: Iterable[TagRef],
    deployed: Version | None,
    descendants: set[str],
) -> list[tuple[TagRef, bool]]:
    """The scheme's tags newest first, each marked newer than the deployed one or not.

    `descendants` holds the commits that contain the deployed commit (from git).
    """
    marked: list[tuple[TagRef, bool]] = []
    for ref in scheme.newest_first(tags):
        if deployed is None:
            newer = True
        elif ref.commit == deployed.commit or ref.commit not in descendants:
            newer = False
        elif _both_in_scheme(scheme, deployed.tag, ref.name):
            newer = scheme.compare(ref.name, deployed.tag) > 0  # type: ignore[arg-type]
        else:
            newer = True
        marked.append((ref, newer))
    return marked


def _both_in_scheme(scheme: TagScheme, a: str | None, b: str | None) -> bool:
    """Whether the scheme order can speak: both tags exist and are in the scheme.

    A deployed tag of an older scheme (release_4572 under scheme v) leaves
    ancestry alone to decide.
    """
    return a is not None and b is not None and scheme.matches(a) and scheme.matches(b)
