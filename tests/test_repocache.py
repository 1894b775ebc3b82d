"""The blobless copies of app repositories: cloned once, fetched incrementally, file
contents fetched only when a diff needs them, the token only in git's environment."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bs import gitcmd
from bs.errors import BsError
from bs.repocache import RepoCache, auth_env
from tests.conftest import git


def origin(tmp_path: Path, commits: int = 3) -> Path:
    """A bare repository serving partial clones, as GitHub does."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for n in range(commits):
        (work / f"file{n}.txt").write_text(f"content {n}\n" * 100)
        git(work, "add", "-A")
        git(
            work,
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            f"c{n}",
        )
        git(work, "tag", f"release_{n}")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    return bare


def missing_objects(git_dir: Path) -> int:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-list", "--objects", "--all", "--missing=print"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sum(1 for line in out.splitlines() if line.startswith("?"))


def test_a_blobless_clone_then_incremental_fetches_with_progress(tmp_path: Path) -> None:
    bare = origin(tmp_path)
    lines: list[str] = []
    cache = RepoCache(tmp_path / "cache", None, progress=lines.append, fresh_for=0)
    path = cache.ensure("alphagov/frontend", bare.as_uri())
    assert path == tmp_path / "cache" / "alphagov" / "frontend.git"
    assert git(path, "config", "remote.origin.promisor") == "true"
    assert missing_objects(path) == 3  # no file contents yet
    assert [name for name, _ in gitcmd.list_tags(path)] == ["release_0", "release_1", "release_2"]
    assert any("blobless" in line for line in lines)
    # A diff fetches the contents it needs, by itself.
    diff = gitcmd.run(path, "diff", "--no-ext-diff", "release_0", "release_2")
    assert "+content 2" in diff

    work = tmp_path / "work"
    (work / "new.txt").write_text("new\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "more")
    git(work, "push", "-q", str(bare), "main")
    git(work, "tag", "-f", "release_2")  # a moved tag is followed, not kept
    git(work, "push", "-q", "-f", str(bare), "refs/tags/release_2")
    head = git(work, "rev-parse", "HEAD")
    cache.ensure("alphagov/frontend", bare.as_uri())
    assert gitcmd.resolve_commit(path, "refs/heads/main") == head
    assert dict(gitcmd.list_tags(path))["release_2"] == head


def test_fresh_copies_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = origin(tmp_path, commits=1)
    cache = RepoCache(tmp_path / "cache", None, fresh_for=60)
    cache.ensure("alphagov/frontend", bare.as_uri())
    ran: list[list[str]] = []
    real = subprocess.Popen

    def spy(args: list[str], **kwargs: Any) -> Any:
        ran.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    cache.ensure("alphagov/frontend", bare.as_uri())
    assert ran == []
    cache.invalidate("alphagov/frontend")  # bs wrote to it
    cache.ensure("alphagov/frontend", bare.as_uri())
    assert [args[2] for args in ran] == ["config", "fetch"]  # origin set to the clone_url


def test_the_token_reaches_git_only_through_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghs_" + "S3cr3t" * 6
    seen: list[tuple[list[str], dict[str, str]]] = []

    class Refused:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            seen.append((args, kwargs["env"]))
            self.stderr = _Stream(
                b"fatal: Authentication failed for 'https://github.com/x/y.git/'\n"
            )

        def wait(self) -> int:
            return 128

    monkeypatch.setattr(subprocess, "Popen", Refused)
    cache = RepoCache(tmp_path / "cache", token)
    with pytest.raises(BsError) as raised:
        cache.ensure("alphagov/frontend", "https://github.com/alphagov/frontend.git")
    assert "refused the token" in raised.value.message and token not in raised.value.message
    args, env = seen[0]
    assert not any(token in arg for arg in args)
    # The header is scoped to the clone URL: a remote pointing anywhere else never gets it.
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/alphagov/frontend.git.extraHeader"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert not list((tmp_path / "cache").rglob("config"))  # nothing written to disk
    # No header for a non-https URL: the token never travels in clear text.
    assert "GIT_CONFIG_COUNT" not in auth_env("http://example.com/x.git", token)


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read1(self, size: int) -> bytes:
        data, self.data = self.data[:size], self.data[size:]
        return data


def test_a_repository_name_cannot_escape_the_cache(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path / "cache", None)
    for name in ("../etc", "a/../../b", "a/b/c", "a/b c"):
        with pytest.raises(BsError):
            cache.path(name)
