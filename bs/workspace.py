"""Finding the requests repository and loading its configuration.

Commands run from inside a checkout of the requests repo (found like git
finds ``.git``: walking up to the folder holding ``bs.yaml``), or with ``-C DIR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bs.config import AppConfig, AppsFile, BsConfig
from bs.errors import BsError
from bs.validation import validate_document
from bs.yamlio import load_yaml_file_with_lines

CONFIG_FILE = "bs.yaml"
APPS_FILE = "policies/apps.yaml"


def find_root(start: Path) -> Path:
    start = start.resolve()
    if not start.is_dir():
        raise BsError(f"{start}: no such folder. Give -C the requests repository's folder.")
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise BsError(
        f"no {CONFIG_FILE} in {start} or any folder above it: run bs inside a checkout "
        "of your requests repository, or pass -C DIR."
    )


@dataclass
class Workspace:
    """A checkout of the requests repository, with its configuration."""

    root: Path

    @classmethod
    def discover(cls, start: Path) -> Workspace:
        return cls(find_root(start))

    @cached_property
    def config(self) -> BsConfig:
        data, lines = load_yaml_file_with_lines(self.root / CONFIG_FILE, CONFIG_FILE)
        return validate_document(BsConfig, data, CONFIG_FILE, lines)

    @cached_property
    def apps(self) -> AppsFile:
        _ = self.config  # A broken bs.yaml is reported whichever file is asked for first.
        data, lines = load_yaml_file_with_lines(self.root / APPS_FILE, APPS_FILE)
        return validate_document(AppsFile, data, APPS_FILE, lines)

    def app(self, name: str) -> AppConfig:
        try:
            return self.apps.apps[name]
        except KeyError:
            known = ", ".join(sorted(self.apps.apps))
            raise BsError(
                f"unknown app '{name}': {APPS_FILE} defines {known}. See `bs apps`."
            ) from None

    def resolve(self, path: Path) -> Path:
        """A path from bs.yaml, relative to its folder."""
        return path if path.is_absolute() else (self.root / path).resolve()
