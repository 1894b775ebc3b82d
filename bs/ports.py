"""The ports: small Protocols each backend implements.

The use cases talk only to these; a backend is one module, chosen from a
registry by configuration (``bs.forges``, ``bs.deployed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from bs.config import AppConfig
from bs.core.pulls import (
    Comment,
    CommitStatus,
    PullCommit,
    PullFile,
    PullRequest,
    Push,
    Review,
    ReviewState,
    StatusState,
)
from bs.core.tags import TagRef


class Forge(Protocol):
    """Where repositories, pull requests, reviews and teams live.

    Implemented by the local forge (``bs.forges.local``) and GitHub (``bs.forges.github``).
    """

    def current_user(self) -> str:
        """The acting user's login."""
        ...

    def git_dir(self, repo: str) -> Path:
        """A local git directory holding the repository's full history (for diffs)."""
        ...

    def list_tags(self, repo: str) -> list[TagRef]:
        """Every tag of the repository, annotated tags peeled to their commit."""
        ...

    def resolve_branch(self, repo: str, branch: str) -> str | None:
        """The commit a branch points at, or None when it does not exist."""
        ...

    def default_branch(self, repo: str) -> str: ...

    def create_branch(
        self, repo: str, branch: str, base: str, files: Sequence[tuple[str, Path]], message: str
    ) -> str:
        """Commit `files` (repo path, local file) on top of `base` as a new branch.

        Refuses when the branch exists. Returns the new commit.
        """
        ...

    def delete_branch(self, repo: str, branch: str, *, sha: str | None = None) -> None:
        """Delete a branch; with `sha`, only while it still points at that commit."""
        ...

    def set_branch(self, repo: str, branch: str, sha: str) -> None:
        """Point `branch` at commit `sha` (creating it), as a push would."""
        ...

    def read_file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        """The file at `path` on branch `ref` (default branch when None); None when absent."""
        ...

    def open_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequest: ...

    def get_pull_request(self, repo: str, number: int) -> PullRequest: ...

    def list_pull_requests(self, repo: str, state: str = "open") -> list[PullRequest]:
        """Pull requests in `state` (open, closed or all), oldest first."""
        ...

    def list_pull_files(self, repo: str, number: int, head_sha: str) -> list[PullFile]:
        """The files commit `head_sha` of the pull request changes against where its branch
        left the base. Pinned to `head_sha`, never to whatever the branch holds by now:
        the checker judges one commit, whatever is pushed while it runs."""
        ...

    def list_pull_commits(self, repo: str, number: int, head_sha: str) -> list[PullCommit]:
        """The commits of the pull request up to `head_sha`, with their authors' and
        committers' logins (None when the forge cannot tell)."""
        ...

    def list_reviews(self, repo: str, number: int) -> list[Review]: ...

    def request_reviewers(
        self, repo: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        """Ask `users` and `teams` (``ORG/TEAM``) to review the pull request."""
        ...

    def submit_review(self, repo: str, number: int, state: ReviewState, body: str) -> Review: ...

    def dismiss_review(self, repo: str, number: int, review_id: int, message: str) -> Review: ...

    def list_pushes(self, repo: str, number: int) -> list[Push]: ...

    def add_comment(self, repo: str, number: int, body: str) -> Comment: ...

    def list_comments(self, repo: str, number: int) -> list[Comment]: ...

    def set_status(
        self, repo: str, sha: str, context: str, state: StatusState, description: str
    ) -> CommitStatus: ...

    def list_statuses(self, repo: str, sha: str) -> list[CommitStatus]: ...

    def merge_pull_request(self, repo: str, number: int, *, sha: str | None = None) -> PullRequest:
        """Merge; with `sha`, only if the head is still that commit (GitHub's ``sha``)."""
        ...

    def close_pull_request(self, repo: str, number: int) -> PullRequest: ...

    def team_members(self, team: str) -> list[str]:
        """Logins in ``ORG/TEAM``."""
        ...

    def team_exists(self, team: str) -> bool: ...

    def user_exists(self, login: str) -> bool: ...

    def user_email(self, login: str) -> str | None: ...


class DeployedVersionSource(Protocol):
    """Where an app's deployed version comes from."""

    def deployed_commit(self, app: str, config: AppConfig) -> str | None:
        """The deployed commit, or None when nothing is deployed yet."""
        ...

    def record_deployed(self, app: str, config: AppConfig, commit: str) -> str:
        """Say that `commit` is now deployed; returns what was done, in words."""
        ...


class Mailer(Protocol):
    """Where messages go: an SMTP server, or the outbox folder."""

    def send(self, message: EmailMessage) -> str:
        """Deliver `message` to all its recipients or raise BsError; says where it went."""
        ...
