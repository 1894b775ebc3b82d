"""The local forge's repositories, people and pushes (see ``bs.forges.local``)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bs import gitcmd
from bs.core.names import REPO_NAME
from bs.core.tags import TagRef
from bs.errors import BsError
from bs.forges import local_records as records
from bs.forges.local_people import LocalPeople

_REPO = re.compile(REPO_NAME)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class LocalRepos:
    """Bare repositories in a folder, users and teams, and a record of every push."""

    def __init__(self, root: Path, *, user: str | None, clock: Clock = _now) -> None:
        if not root.is_dir():
            raise BsError(
                f"local forge folder {root} does not exist: create it, or fix forge.path in bs.yaml."
            )
        self.root = root
        self.people = LocalPeople(root, user)
        self._clock = clock

    # -- people (users.yaml, teams.yaml and BS_USER) ------------------------

    def current_user(self) -> str:
        return self.people.acting_user()

    def known_users(self) -> list[str]:
        """Every login in users.yaml (for the gateway's local sign-in)."""
        return sorted(self.people.users, key=str.lower)

    def _team(self, team: str) -> str | None:
        """The team's name as teams.yaml spells it: names compare without case, as GitHub's."""
        return next((t for t in self.people.teams if t.lower() == team.lower()), None)

    def team_members(self, team: str) -> list[str]:
        name = self._team(team)
        return list(self.people.teams[name]) if name else []

    def team_exists(self, team: str) -> bool:
        return self._team(team) is not None

    def user_exists(self, login: str) -> bool:
        return any(user.lower() == login.lower() for user in self.people.users)

    def user_email(self, login: str) -> str | None:
        folded = login.lower()
        return next((a for u, a in self.people.users.items() if u.lower() == folded), None)

    # -- repositories --------------------------------------------------------

    def git_dir(self, repo: str) -> Path:
        if not _REPO.fullmatch(repo) or ".." in repo:
            raise BsError(f"'{repo}' is not a repository name: use OWNER/NAME.")
        path = self.root / f"{repo}.git"
        if not (path / "HEAD").is_file():
            raise BsError(
                f"repository {repo} does not exist on the local forge ({path}): "
                "create it (git init --bare) or fix the name."
            )
        return path

    def _forge_dir(self, repo: str) -> Path:
        return self.root / f"{repo}.forge"

    def list_tags(self, repo: str) -> list[TagRef]:
        return [TagRef(name, sha) for name, sha in gitcmd.list_tags(self.git_dir(repo))]

    def resolve_branch(self, repo: str, branch: str) -> str | None:
        return gitcmd.resolve_commit(self.git_dir(repo), f"refs/heads/{branch}")

    def default_branch(self, repo: str) -> str:
        return gitcmd.run(self.git_dir(repo), "symbolic-ref", "--short", "HEAD")

    def read_file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        git_dir = self.git_dir(repo)
        commit = self.resolve_branch(repo, ref or self.default_branch(repo))
        if commit is None:
            raise BsError(f"{repo} has no branch '{ref}'.")
        if gitcmd.blob_size(git_dir, commit, path) is None:
            return None
        return gitcmd.read_blob(git_dir, commit, path)

    def create_branch(
        self, repo: str, branch: str, base: str, files: Sequence[tuple[str, Path]], message: str
    ) -> str:
        base_sha = self.resolve_branch(repo, base)
        if base_sha is None:
            raise BsError(f"{repo} has no branch '{base}' to start from.")
        return self._push(repo, branch, base_sha, None, files, (), message)

    def push_files(
        self,
        repo: str,
        branch: str,
        files: Sequence[tuple[str, Path]],
        message: str,
        *,
        remove: Sequence[str] = (),
    ) -> str:
        """Commit changes on top of an existing branch and move it, as a push by BS_USER."""
        head = self.resolve_branch(repo, branch)
        if head is None:
            raise BsError(f"{repo} has no branch '{branch}' to push to.")
        return self._push(repo, branch, head, head, files, remove, message)

    def _push(
        self,
        repo: str,
        branch: str,
        parent: str,
        before: str | None,
        files: Sequence[tuple[str, Path]],
        remove: Sequence[str],
        message: str,
    ) -> str:
        git_dir = self.git_dir(repo)
        user = self.current_user()
        when = self._clock()
        env = self._identity_env(user, when)
        with tempfile.TemporaryDirectory(prefix="bs-index-") as tmp:
            env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
            gitcmd.run(git_dir, "read-tree", parent, env=env)
            for path, source in files:
                blob = gitcmd.run(git_dir, "hash-object", "-w", "--no-filters", "--", str(source))
                gitcmd.run(
                    git_dir,
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"100644,{blob},{path}",
                    env=env,
                )
            if remove:
                # Mode 0 removes an entry; --index-info needs no work tree.
                listing = Path(tmp) / "remove"
                listing.write_text("".join(f"0 {'0' * 40}\t{path}\n" for path in remove))
                with listing.open("rb") as stdin:
                    gitcmd.run(git_dir, "update-index", "--index-info", env=env, stdin=stdin)
            tree = gitcmd.run(git_dir, "write-tree", env=env)
        commit = gitcmd.run(git_dir, "commit-tree", tree, "-p", parent, "-m", message, env=env)
        with records.locked(self.root):
            # The old value guards the update: an empty one refuses to overwrite a branch.
            gitcmd.run(
                git_dir, "update-ref", f"refs/heads/{branch}", commit, before or "",
                what=f"updating {branch}",
            )  # fmt: skip
            records.append_record(
                self._pushes_path(repo, branch),
                {"branch": branch, "pusher": user, "before": before, "after": commit,
                 "commits": [commit], "at": _iso(when)},
            )  # fmt: skip
        return commit

    def _pushes_path(self, repo: str, branch: str) -> Path:
        """One record file per branch: reading a branch's pushes never reads the others'."""
        return self._forge_dir(repo) / "pushes" / f"{branch}.jsonl"

    def delete_branch(self, repo: str, branch: str, *, sha: str | None = None) -> None:
        git_dir = self.git_dir(repo)
        if self.resolve_branch(repo, branch) is not None:
            # With `sha`, only if the branch still points there (compare and swap).
            gitcmd.run(git_dir, "update-ref", "-d", f"refs/heads/{branch}", *([sha] if sha else []))

    def set_branch(self, repo: str, branch: str, sha: str) -> None:
        git_dir = self.git_dir(repo)
        gitcmd.run(git_dir, "cat-file", "-e", f"{sha}^{{commit}}")
        gitcmd.run(git_dir, "update-ref", f"refs/heads/{branch}", sha)

    def _identity_env(self, login: str, when: datetime) -> dict[str, str]:
        email = self.user_email(login) or f"{login}@users.noreply.local"
        stamp = f"{int(when.timestamp())} +0000"
        return {
            "GIT_AUTHOR_NAME": login, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": login, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": stamp,
        }  # fmt: skip

    # -- pull requests -------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
