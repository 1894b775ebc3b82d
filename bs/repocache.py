"""Local copies of GitHub repositories, for diffs GitHub's API cannot give.

The compare API stops at 300 files and 250 commits; a release's patch must be
complete. So each repository is kept as a blobless partial clone (commits and
trees now, file contents fetched by git when a diff first needs them) and
brought up to date with an incremental fetch. The token reaches git only
through the environment of the git processes (``http.extraHeader`` set by
``GIT_CONFIG_*``), never a command line, a URL or a config file.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from bs import gitcmd
from bs.errors import BsError
from bs.gitenv import NEUTRAL_ENV

ProgressFn = Callable[[str], None]

#: What every copy fetches: branches and tags, as the forge has them.
BASE_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
#: The requests repository also needs every pull request's head (forks' included).
PULL_REFSPEC = "+refs/pull/*/head:refs/pull/*/head"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def default_root(env: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/bs/repos``, else ``~/.cache/bs/repos`` (forge.cache overrides it)."""
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "bs" / "repos"


def auth_env(clone_url: str, token: str | None) -> dict[str, str]:
    """Environment variables giving git the token for `clone_url` only (https only)."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
    if token and clone_url.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            # Scoped to the URL: a remote pointing anywhere else never gets it.
            "GIT_CONFIG_KEY_0": f"http.{clone_url}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


class RepoCache:
    """Blobless clones under `root` (``OWNER/NAME.git``), fetched at most every `fresh_for` s."""

    def __init__(
        self,
        root: Path,
        token: str | Callable[[], str] | None,
        *,
        progress: ProgressFn | None = None,
        fresh_for: float = 10.0,
    ) -> None:
        self.root = root
        self.token = token
        self.progress = progress
        self.fresh_for = fresh_for
        self._fetched: dict[str, float] = {}
        self._lock = threading.Lock()

    def path(self, repo: str) -> Path:
        if not _SAFE_NAME.fullmatch(repo) or ".." in repo:
            raise BsError(f"'{repo}' is not a repository name: use OWNER/NAME.")
        return self.root / f"{repo}.git"

    def ensure(
        self, repo: str, clone_url: str, *, pulls: bool = False, force: bool = False
    ) -> Path:
        """The up-to-date copy of `repo` (cloned the first time, fetched when stale)."""
        path = self.path(repo)
        if not re.match(r"^(https|file)://", clone_url):
            raise BsError(f"{repo}: bs fetches over https only, not from {clone_url!r}.")
        with self._lock:
            last = self._fetched.get(repo)
            if not force and last is not None and time.monotonic() - last < self.fresh_for:
                return path
            env = auth_env(clone_url, self._token())
            gitcmd.register_environment(path, env)
            with _locked(path):
                if not (path / "HEAD").is_file():
                    self._clone(repo, clone_url, path, env)
                _check_owner(path)
                # The copy fetches from where bs was told, whatever its config says (a
                # copy left in a shared cache could name another origin).
                self._git(repo, path, env, ["config", "remote.origin.url", clone_url])
                refspecs = (*BASE_REFSPECS, PULL_REFSPEC) if pulls else BASE_REFSPECS
                self._git(repo, path, env, ["fetch", "--progress", "--prune", "--filter=blob:none",
                                             "--no-write-fetch-head", "origin", *refspecs])  # fmt: skip
            self._fetched[repo] = time.monotonic()
        return path

    def _token(self) -> str | None:
        # A GitHub App's installation token is renewed hourly: ask for the current one.
        return self.token() if callable(self.token) else self.token

    def invalidate(self, repo: str) -> None:
        """`repo` changed (bs itself wrote to it): fetch before the next answer from it."""
        with self._lock:
            self._fetched.pop(repo, None)

    def has_commit(self, path: Path, sha: str) -> bool:
        return gitcmd.resolve_commit(path, sha) == sha

    def fetch_commit(self, repo: str, clone_url: str, sha: str) -> None:
        """Fetch one commit by id (GitHub serves any reachable one), when refs lack it."""
        path = self.path(repo)
        env = auth_env(clone_url, self._token())
        with self._lock, _locked(path):
            self._git(repo, path, env, ["fetch", "--filter=blob:none", "--no-write-fetch-head",
                                         "origin", sha])  # fmt: skip

    def _clone(self, repo: str, clone_url: str, path: Path, env: dict[str, str]) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # an interrupted clone's leftovers
        if self.progress:
            self.progress(f"Cloning {repo} (blobless: file contents come when a diff needs them)")
        self._git(repo, None, env, ["clone", "--bare", "--progress", "--filter=blob:none",
                                     "--", clone_url, str(partial)])  # fmt: skip
        # A bare clone takes branches and tags as they are (into packed-refs: thousands of
        # tags cost one file, not one each); the fetch after it adds pull requests' heads.
        partial.rename(path)

    def _git(self, repo: str, path: Path | None, env: dict[str, str], args: Sequence[str]) -> None:
        command = ["git", *([f"--git-dir={path}"] if path else []), *args]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**_base_env(), **NEUTRAL_ENV, **env},
        )
        assert process.stderr is not None
        said: list[str] = []
        for line in _lines(process.stderr):
            said.append(line)
            if self.progress and re.match(r"^(remote: )?[A-Z][a-z]+ [a-z ]*:\s+\d+%", line):
                self.progress(f"{repo}: {line.removeprefix('remote: ')}")
        if process.wait() != 0:
            raise _fetch_error(repo, [line for line in said if "%" not in line])


def _check_owner(path: Path) -> None:
    if path.stat().st_uid != os.getuid():
        raise BsError(
            f"{path} belongs to another user: bs uses only copies it made; remove it or set "
            "forge.cache in bs.yaml to a folder of yours."
        )


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "GIT_SSL_CAINFO")  # fmt: skip
    return {name: os.environ[name] for name in keep if name in os.environ}


def _lines(stream: object) -> Iterator[str]:
    """git's progress lines, which it ends with a carriage return while they count."""
    read = getattr(stream, "read1")  # noqa: B009 (a BufferedReader's partial read)
    pending = b""
    while chunk := read(65536):
        pending += chunk
        *done, pending = re.split(rb"[\r\n]", pending)
        yield from (piece.decode("utf-8", "replace").strip() for piece in done if piece.strip())
    if pending.strip():
        yield pending.decode("utf-8", "replace").strip()


def _fetch_error(repo: str, said: list[str]) -> BsError:
    detail = " ".join(line for line in said if line)[-300:]
    if re.search(r"Authentication failed|could not read Username|403|401", detail):
        return BsError(
            f"git could not fetch {repo}: GitHub refused the token ({detail}); check that it "
            "may read the repository, or run `bs login` again."
        )
    if re.search(r"not found|does not exist|404", detail, re.I):
        return BsError(
            f"git could not fetch {repo}: it does not exist or the token cannot see it ({detail})."
        )
    return BsError(f"git could not fetch {repo}: {detail or 'it failed'}; try again.")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One fetch of a copy at a time, across processes (a gateway, a CLI) and threads."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
