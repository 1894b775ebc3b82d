"""Reading ``policies/``: the app registry and the approval policies.

From a working tree (``bs policy validate`` and ``bs policy test``: the
change an organisation is about to merge) or from a commit of the requests
repository (``bs check``: the default branch, never the request's own head).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bs import gitcmd
from bs.config import AppsFile
from bs.core.policy import Policy
from bs.errors import BsError
from bs.validation import validate_document
from bs.yamlio import Lines, check_yaml_size, decode_yaml, parse_yaml_with_lines, read_yaml_text

APPS_PATH = "policies/apps.yaml"


def policy_path(name: str) -> str:
    return f"policies/{name}.yaml"


class Tree(Protocol):
    """Files of the requests repository: a checkout, or one commit of it."""

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        ...

    def display(self, path: str) -> str:
        """How messages name the file."""
        ...


@dataclass(frozen=True)
class WorkingTree:
    root: Path

    def read_text(self, path: str) -> str | None:
        file = self.root / path
        return read_yaml_text(file, path) if file.is_file() else None

    def display(self, path: str) -> str:
        return path


@dataclass(frozen=True)
class CommitTree:
    git_dir: Path
    commit: str
    label: str

    def read_text(self, path: str) -> str | None:
        size = gitcmd.blob_size(self.git_dir, self.commit, path)
        if size is None:
            return None
        check_yaml_size(size, self.display(path))
        return decode_yaml(gitcmd.read_blob(self.git_dir, self.commit, path), self.display(path))

    def display(self, path: str) -> str:
        return f"{path} (on {self.label})"


@dataclass
class Policies:
    """The registry and the policies of one tree, each read once."""

    tree: Tree
    _policies: dict[str, Policy] = field(default_factory=dict)
    _lines: dict[str, Lines] = field(default_factory=dict)
    _apps: AppsFile | None = None

    def _load(self, path: str, missing: str) -> tuple[object, Lines]:
        text = self.tree.read_text(path)
        if text is None:
            raise BsError(f"{self.tree.display(path)}: no such file. {missing}")
        return parse_yaml_with_lines(text, self.tree.display(path))

    @property
    def apps(self) -> AppsFile:
        if self._apps is None:
            data, lines = self._load(APPS_PATH, 'Create it (see README.md, "Configuration").')
            self._apps = validate_document(AppsFile, data, self.tree.display(APPS_PATH), lines)
            self._lines[APPS_PATH] = lines
        return self._apps

    def exists(self, name: str) -> bool:
        return self.tree.read_text(policy_path(name)) is not None

    def policy(self, name: str) -> Policy:
        if name not in self._policies:
            path = policy_path(name)
            data, lines = self._load(
                path,
                'Create it, or point the apps using it at a policy that exists (see README.md, "Policies").',
            )
            self._policies[name] = validate_document(Policy, data, self.tree.display(path), lines)
            self._lines[path] = lines
        return self._policies[name]

    def lines(self, path: str) -> Lines:
        return self._lines.get(path, {})
