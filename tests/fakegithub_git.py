"""The git side of the fake GitHub (tests/fakegithub.py): one real bare repository per repo.

Everything the fake's API creates (blobs, trees, commits, refs, merges, ``refs/pull/<n>/head``)
is written here with plain git, so a ``git clone`` of the repo's ``clone_url`` (a ``file://``
URL, blobless partial clones included) sees exactly what the API reported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Person:
    """A commit's author or committer."""

    name: str
    email: str
    date: datetime

    def env(self, role: str) -> dict[str, str]:
        return {
            f"GIT_{role}_NAME": self.name,
            f"GIT_{role}_EMAIL": self.email,
            f"GIT_{role}_DATE": f"{int(self.date.timestamp())} +0000",
        }


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    path: str
    size: int | None


class BareRepo:
    """A bare git repository on disk, driven with git subprocesses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Answers about immutable objects (keyed by sha), so repeated API calls stay cheap.
        self.cache: dict[tuple[str, ...], Any] = {}

    # --- creation ------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, default_branch: str, source: Path | None = None) -> BareRepo:
        """A new bare repository at `path`: empty, or a copy of `source` (bare or not)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            _run(["git", "init", "-q", "--bare", "-b", default_branch, str(path)])
        elif (source / "HEAD").exists() and (source / "objects").is_dir():
            shutil.copytree(source, path, symlinks=True)
        else:
            _run(["git", "clone", "-q", "--bare", "--no-local", str(source), str(path)])
        repo = cls(path)
        for key, value in (
            ("uploadpack.allowFilter", "true"),
            ("uploadpack.allowAnySHA1InWant", "true"),
            ("receive.denyNonFastForwards", "false"),
            ("gc.auto", "0"),
        ):
            repo.git("config", key, value)
        repo.git("symbolic-ref", "HEAD", f"refs/heads/{default_branch}")
        return repo

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    # --- plumbing ------------------------------------------------------------------------

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        return self.git_bytes(*args, input=input, env=env).decode().strip()

    def git_bytes(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> bytes:
        return _run(["git", "-C", str(self.path), *args], input=input, env=env)

    def resolve(self, rev: str, kind: str = "commit") -> str | None:
        """The sha `rev` names, peeled to `kind` ("commit", "tree", "object" for as-is), or None."""
        if rev.startswith("refs/") and kind == "commit":
            sha = self.read_ref(rev)
            if sha is None:
                return None
            rev = sha
        key = ("resolve", rev, kind)
        if key in self.cache:
            return self.cache[key]  # type: ignore[no-any-return]
        suffix = "" if kind == "object" else f"^{{{kind}}}"
        try:
            found = self.git("rev-parse", "--verify", "--quiet", f"{rev}{suffix}") or None
        except subprocess.CalledProcessError:
            return None
        if found and SHA.fullmatch(rev):
            self.cache[key] = found
        return found

    def read_ref(self, ref: str) -> str | None:
        """The sha a full ref name points at (not peeled), read without running git."""
        loose = self.path / ref
        if loose.is_file():
            value = loose.read_text().strip()
            return self.read_ref(value[5:]) if value.startswith("ref: ") else value
        packed = self.path / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
        return None

    def object_type(self, sha: str) -> str | None:
        key = ("type", sha)
        if key in self.cache:
            return self.cache[key]  # type: ignore[no-any-return]
        try:
            found = self.git("cat-file", "-t", sha)
        except subprocess.CalledProcessError:
            return None
        if SHA.fullmatch(sha):
            self.cache[key] = found
        return found

    def refs(self, prefix: str = "refs/") -> dict[str, tuple[str, str, str]]:
        """ref name -> (sha, object type, peeled commit sha) for every ref under `prefix`."""
        out = self.git(
            "for-each-ref",
            "--format=%(refname) %(objectname) %(objecttype) %(*objectname)",
            prefix,
        )
        found: dict[str, tuple[str, str, str]] = {}
        for line in out.splitlines():
            name, sha, kind, *peeled = line.split(" ")
            found[name] = (sha, kind, (peeled[0] if peeled and peeled[0] else sha))
        return found

    def update_ref(self, ref: str, sha: str) -> None:
        self.git("update-ref", ref, sha)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self.git("merge-base", "--is-ancestor", older, newer)
        except subprocess.CalledProcessError:
            return False
        return True

    def fetch(self, other: BareRepo, sha: str) -> None:
        """Copy `sha` and what it needs from `other` (e.g. a fork's PR head into the base)."""
        if self.object_type(sha) is None:
            self.git("fetch", "-q", "--no-tags", other.url, sha)

    # --- objects -------------------------------------------------------------------------

    def write_blob(self, content: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=content)

    def read_blob(self, sha: str) -> bytes:
        return self.git_bytes("cat-file", "blob", sha)

    def write_tree(self, base_tree: str | None, entries: list[tuple[str, str, str | None]]) -> str:
        """A tree: `base_tree` (or empty) with (path, mode, blob sha or None to delete) entries."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", base_tree or "--empty", env=env)
            for path, mode, sha in entries:
                if sha is None:
                    self.git("update-index", "--force-remove", "--", path, env=env)
                else:
                    self.git(
                        "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", env=env
                    )
            return self.git("write-tree", env=env)

    def commit_tree(
        self, tree: str, parents: list[str], message: str, author: Person, committer: Person
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {**author.env("AUTHOR"), **committer.env("COMMITTER")}
        return self.git(*args, input=message.encode(), env=env)

    def commit_info(self, sha: str) -> CommitInfo:
        key = ("commit", sha)
        if key not in self.cache:
            self.cache[key] = self._commit_info(sha)
        return self.cache[key]  # type: ignore[no-any-return]

    def _commit_info(self, sha: str) -> CommitInfo:
        raw = self.git_bytes("cat-file", "commit", sha).decode()
        header, _, message = raw.partition("\n\n")
        tree, parents, people = "", [], {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                who, _, when = value.rpartition("> ")
                name, _, email = who.partition(" <")
                stamp = int(when.split(" ")[0])
                people[key] = Person(name, email, datetime.fromtimestamp(stamp, UTC))
        return CommitInfo(sha, tree, parents, people["author"], people["committer"], message)

    def tree_entries(self, rev: str, path: str = "", *, recursive: bool = False) -> list[TreeEntry]:
        """The entries of the tree at `rev:path` (sizes for blobs)."""
        target = f"{rev}:{path}" if path else f"{rev}^{{tree}}"
        args = ["ls-tree", "-l", "-z", *(["-r", "-t"] if recursive else []), target]
        entries = []
        for item in self.git_bytes(*args).decode().split("\0"):
            if not item:
                continue
            meta, _, name = item.partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, name, None if size == "-" else int(size)))
        return entries

    def entry(self, rev: str, path: str) -> TreeEntry | None:
        """The tree entry of `path` at `rev`, or None."""
        parent, _, name = path.strip("/").rpartition("/")
        try:
            entries = self.tree_entries(rev, parent)
        except subprocess.CalledProcessError:
            return None
        return next((e for e in entries if e.path == name), None)

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging `theirs` into `ours`, or None when they conflict."""
        key = ("merge", ours, theirs)
        if key not in self.cache:
            self.cache[key] = self._merge_tree(ours, theirs)
        return self.cache[key]  # type: ignore[no-any-return]

    def merge_base(self, one: str, two: str) -> str:
        key = ("merge-base", one, two)
        if key not in self.cache:
            self.cache[key] = self.git("merge-base", one, two)
        return self.cache[key]  # type: ignore[no-any-return]

    def _merge_tree(self, ours: str, theirs: str) -> str | None:
        try:
            return self.git("merge-tree", "--write-tree", "--no-messages", ours, theirs).split()[0]
        except subprocess.CalledProcessError:
            return None

    def rev_list(self, exclude: str | None, include: str) -> list[str]:
        """Commits reachable from `include` and not `exclude`, oldest first."""
        args = ["rev-list", "--reverse", "--topo-order", include]
        if exclude:
            args.append(f"^{exclude}")
        return self.git(*args).split()

    def diff_entries(self, old: str, new: str) -> list[dict[str, Any]]:
        """Per file: filename, status, additions, deletions, blob sha, patch (text files)."""
        key = ("diff", old, new)
        if key not in self.cache:
            self.cache[key] = self._diff_entries(old, new)
        return self.cache[key]  # type: ignore[no-any-return]

    def _diff_entries(self, old: str, new: str) -> list[dict[str, Any]]:
        status = {"A": "added", "D": "removed", "M": "modified", "T": "changed"}
        names = self.git("diff-tree", "-r", "--no-renames", "-z", old, new).split("\0")
        counts = self.git("diff", "--numstat", "--no-renames", "-z", old, new).split("\0")
        numstat = {}
        for item in counts:
            if item.count("\t") == 2:
                added, deleted, path = item.split("\t")
                numstat[path] = (
                    int(added or 0) if added != "-" else 0,
                    int(deleted) if deleted != "-" else 0,
                )
        out: list[dict[str, Any]] = []
        for meta, path in zip(names[0::2], names[1::2], strict=False):
            if not meta.startswith(":"):
                continue
            _, _, _, new_sha, letter = meta[1:].split(" ")
            additions, deletions = numstat.get(path, (0, 0))
            patch = self.git("diff", "--no-renames", old, new, "--", path).partition("\n@@")
            out.append(
                {
                    "filename": path,
                    "status": status.get(letter[0], "modified"),
                    "additions": additions,
                    "deletions": deletions,
                    "sha": new_sha,
                    "patch": ("@@" + patch[2]) if patch[2] else "",
                }
            )
        return out


def _run(args: list[str], input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    full_env = {**os.environ, **env} if env else None
    result = subprocess.run(args, input=input, capture_output=True, check=False, env=full_env)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, args, output=result.stdout, stderr=result.stderr
        )
    return result.stdout
