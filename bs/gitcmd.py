"""Running git through GitPython, with failures turned into clear errors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import git
from git.cmd import Git

from bs.errors import BsError
from bs.gitenv import NEUTRAL_ENV

#: The empty tree: the "from" side of a first deploy's diff.
EMPTY_TREE_SHA1 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitFailed(BsError):
    """A git command failed; the message carries git's own words."""


#: Extra environment for git in a repository (a partial clone's credentials: git fetches
#: missing file contents from its origin by itself, in the middle of a diff).
_REPOSITORY_ENV: dict[str, dict[str, str]] = {}


def register_environment(git_dir: Path, env: Mapping[str, str]) -> None:
    """Run every later git command in `git_dir` with `env` added."""
    _REPOSITORY_ENV[str(git_dir)] = dict(env)


def git_at(git_dir: Path) -> Git:
    return Git(str(git_dir))


def _command(git_dir: Path, args: Sequence[str]) -> list[str]:
    return ["git", f"--git-dir={git_dir}", "--no-replace-objects", *args]


def _env(extra: Mapping[str, str] | None = None, git_dir: Path | None = None) -> dict[str, str]:
    registered = _REPOSITORY_ENV.get(str(git_dir), {}) if git_dir is not None else {}
    return {**NEUTRAL_ENV, **registered, **(extra or {})}


def run(
    git_dir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: BinaryIO | None = None,
    what: str | None = None,
) -> str:
    """Run ``git ARGS`` in `git_dir`; return stdout without the final newline."""
    try:
        out = git_at(git_dir).execute(
            _command(git_dir, args),
            env=_env(env, git_dir),
            istream=stdin,
            strip_newline_in_stdout=True,
        )
    except git.GitCommandError as exc:
        detail = (exc.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
        raise GitFailed(
            f"git {args[0]} failed in {git_dir}{f' ({what})' if what else ''}: {detail or exc.status}"
        ) from None
    except git.GitCommandNotFound:
        raise BsError("git is not installed or not on PATH: install git.") from None
    return str(out)


def _output_or_none(git_dir: Path, args: Sequence[str]) -> str | None:
    """The stdout of ``git ARGS`` (stripped), or None when git fails (a question's "no")."""
    try:
        return str(
            git_at(git_dir).execute(_command(git_dir, args), env=_env(None, git_dir))
        ).strip()
    except git.GitCommandError:
        return None


def blob_size(git_dir: Path, commit: str, path: str) -> int | None:
    """The size of the file at `path` in `commit`, or None when there is none."""
    out = _output_or_none(git_dir, ["cat-file", "-s", f"{commit}:{path}"])
    return None if out is None else int(out)


def blob_mode(git_dir: Path, commit: str, path: str) -> str | None:
    """The file mode of `path` in `commit` (100644, 100755, 120000 for a symlink, 160000
    for a submodule), or None when there is no such entry."""
    entry = _output_or_none(git_dir, ["ls-tree", "-z", "--full-tree", commit, "--", path])
    return entry.split(" ", 1)[0] if entry else None


def read_blob(git_dir: Path, commit: str, path: str) -> bytes:
    """The bytes of the file at `path` in `commit` (check its size first)."""
    try:
        out = git_at(git_dir).execute(
            _command(git_dir, ["cat-file", "blob", f"{commit}:{path}"]),
            env=_env(None, git_dir),
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
    except git.GitCommandError:
        raise GitFailed(f"{path} is not in commit {commit[:12]} of {git_dir}") from None
    return bytes(out)


def succeeds(git_dir: Path, *args: str) -> bool:
    """Whether ``git ARGS`` exits 0 (for questions such as --is-ancestor)."""
    return _output_or_none(git_dir, args) is not None


def resolve_commit(git_dir: Path, rev: str) -> str | None:
    """The full commit id `rev` names, or None."""
    out = _output_or_none(
        git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"]
    )
    return out or None


def is_ancestor(git_dir: Path, ancestor: str, descendant: str) -> bool:
    return succeeds(git_dir, "merge-base", "--is-ancestor", ancestor, descendant)


def tags_containing(git_dir: Path, commit: str) -> set[str]:
    """Names of the tags whose commit contains `commit`."""
    out = run(
        git_dir, "for-each-ref", "--contains", commit, "--format=%(refname:strip=2)", "refs/tags"
    )
    return set(out.splitlines())


def count_commits(git_dir: Path, from_commit: str | None, to_commit: str) -> int:
    args = ["rev-list", "--count", to_commit]
    if from_commit is not None:
        args.append(f"^{from_commit}")
    return int(run(git_dir, *args) or "0")


def list_tags(git_dir: Path) -> list[tuple[str, str]]:
    """(tag, commit) for every tag pointing at a commit, annotated tags peeled."""
    out = run(
        git_dir,
        "for-each-ref",
        "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)",
        "refs/tags",
    )
    tags: list[tuple[str, str]] = []
    for line in out.splitlines():
        name, kind, sha, peeled_kind, peeled = line.split("\0")
        if kind == "commit":
            tags.append((name, sha))
        elif kind == "tag" and peeled_kind == "commit":
            tags.append((name, peeled))
    return tags


@dataclass
class GitProcess:
    """A running git command; keeps GitPython's handle alive, which owns the pipes."""

    handle: Git.AutoInterrupt
    proc: subprocess.Popen[bytes]


def start_process(git_dir: Path, args: Sequence[str]) -> GitProcess:
    """Start ``git ARGS`` with stdout and stderr as pipes, for streaming."""
    handle = git_at(git_dir).execute(
        _command(git_dir, args), as_process=True, env=_env(None, git_dir)
    )
    if handle.proc is None:
        raise GitFailed(f"git {args[0]} did not start in {git_dir}")
    return GitProcess(handle, handle.proc)


def printable_path(path: str) -> str:
    """A path as text anyone can print: bytes that are not UTF-8 shown as \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def commit_subjects(
    git_dir: Path, from_commit: str | None, to_commit: str, limit: int
) -> list[str]:
    """``abbrev subject`` of the newest `limit` commits in FROM..TO."""
    args = ["log", "--no-show-signature", "--format=%h %s", f"--max-count={limit}", to_commit]
    if from_commit is not None:
        args.append(f"^{from_commit}")
    return [line for line in run(git_dir, *args).splitlines() if line]


#: `git diff --name-status` letters in words.
STATUS_WORDS = {
    "A": "added", "C": "copied", "D": "deleted", "M": "modified",
    "R": "renamed", "T": "type changed", "U": "unmerged", "X": "unknown",
}  # fmt: skip


def name_status(
    git_dir: Path, from_commit: str | None, to_commit: str
) -> list[tuple[str, list[str]]]:
    """(what happened, its paths: two for a rename or copy) for each file FROM..TO changes,
    renames found as the patch's stats count them; odd names quoted as git quotes them."""
    out = run(
        git_dir, "-c", "core.quotePath=true", "diff", "--name-status", "--find-renames", "-l1000",
        "--no-ext-diff", from_commit or EMPTY_TREE_SHA1, to_commit,
    )  # fmt: skip
    found = []
    for line in out.splitlines():
        status, *paths = line.split("\t")
        found.append((STATUS_WORDS.get(status[:1], status), paths))
    return found


def changed_paths(git_dir: Path, from_commit: str | None, to_commit: str) -> list[str]:
    """Every path FROM..TO changes; a rename gives both its old and new path."""
    base = from_commit or EMPTY_TREE_SHA1
    out = run(
        git_dir, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff",
        "--ignore-submodules=none", base, to_commit,
    )  # fmt: skip
    return [printable_path(path) for path in out.split("\0") if path]
