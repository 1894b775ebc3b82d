"""Reading an app's releases: its tags and what is deployed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bs import gitcmd
from bs.config import AppConfig
from bs.core.tags import TagRef, TagScheme
from bs.core.versions import Version, mark_newer, tag_for_commit
from bs.deployed import source_for
from bs.errors import BsError
from bs.ports import Forge


@dataclass(frozen=True)
class AppReleases:
    """An app's scheme tags and its deployed version, read once."""

    name: str
    config: AppConfig
    scheme: TagScheme
    tags: list[TagRef]
    deployed: Version | None

    def find_tag(self, tag: str) -> TagRef:
        if not self.scheme.matches(tag):
            raise BsError(
                f"{self.name}: '{tag}' is not a release tag of this app: its tags are "
                f"{self.scheme.describe()}. See `bs tags {self.name}`."
            )
        for ref in self.tags:
            if ref.name == tag:
                return ref
        newest = self.scheme.newest_first(self.tags)
        hint = f" The newest is {newest[0].name}." if newest else ""
        raise BsError(
            f"{self.name}: tag {tag} does not exist in {self.config.repo}.{hint} "
            f"See `bs tags {self.name}`."
        )


def read_releases(forge: Forge, name: str, config: AppConfig) -> AppReleases:
    scheme = config.tags.to_scheme()
    tags = forge.list_tags(config.repo)
    deployed_commit = source_for(config, forge).deployed_commit(name, config)
    deployed = None
    if deployed_commit is not None:
        deployed = Version(deployed_commit, tag_for_commit(scheme, tags, deployed_commit))
    return AppReleases(name, config, scheme, tags, deployed)


def release_commits(git_dir: Path, from_commit: str | None, to: str, *, rollback: bool) -> int:
    """The commits a release brings in, or, for a rollback, the commits it takes out."""
    if rollback and from_commit is not None:
        return gitcmd.count_commits(git_dir, to, from_commit)
    return gitcmd.count_commits(git_dir, from_commit, to)


@dataclass(frozen=True)
class TagListing:
    app: str
    deployed: Version | None
    tags: list[tuple[TagRef, bool]]


def list_tags(forge: Forge, name: str, config: AppConfig) -> TagListing:
    releases = read_releases(forge, name, config)
    descendants: set[str] = set()
    if releases.deployed is not None:
        git_dir = forge.git_dir(config.repo)
        containing = gitcmd.tags_containing(git_dir, releases.deployed.commit)
        descendants = {ref.commit for ref in releases.tags if ref.name in containing}
    marked = mark_newer(releases.scheme, releases.tags, releases.deployed, descendants)
    return TagListing(name, releases.deployed, marked)
