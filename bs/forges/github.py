"""The GitHub forge: github.com or GitHub Enterprise Server, through PyGithub.

Pull requests, reviews, statuses, comments and who pushed here; repositories,
tags, branches, files, people and teams in ``bs.forges.github_repos``. Every
call is a plain REST call through PyGithub's requester, so each one is shaped
as GitHub documents it (and counted in tests); PyGithub's own retry (urllib3)
backs off on 5xx and secondary rate limits. A pull request's files and
commits come from a blobless clone (``bs.repocache``), never from the compare
or files APIs, which truncate.

Who pushed each head commit: GitHub keeps no such record for a pull request.
The privileged check workflow records each opened and synchronize event
(``bs hook pushed``) as a ``bs/pushed`` status from the App on the new head,
naming the head before it; the check follows that chain (``list_pushes``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from github import Auth

from bs.config import GitHubForgeConfig
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
from bs.errors import BsError
from bs.forges import gitpulls
from bs.forges.github_pushes import PUSH_CONTEXT, follow_pushes, record_text
from bs.forges.github_repos import GitHubRepos, Json, _path
from bs.githubapi import forge_retry
from bs.repocache import RepoCache, default_root
from bs.workspace import Workspace

__all__ = ["GitHubForge", "forge_retry", "open_github_forge"]

_EVENTS: dict[str, str] = {
    "APPROVED": "APPROVE", "CHANGES_REQUESTED": "REQUEST_CHANGES", "COMMENTED": "COMMENT",
}  # fmt: skip


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _login(user: Json) -> str:
    return str(user["login"]) if isinstance(user, dict) else "ghost"


#: Seconds a pull request read from GitHub is reused within one piece of work.
PULL_FRESH_FOR = 10.0  # as long as a fetched copy is (RepoCache.fresh_for)


class GitHubForge(GitHubRepos):
    """A `Forge` on GitHub (see the module docstring)."""

    def _pull(self, repo: str, data: Json) -> PullRequest:
        number = int(data["number"])
        merged = bool(data.get("merged") or data.get("merged_at"))
        merged_by = _login(data["merged_by"]) if data.get("merged_by") else None
        head_repo = (data["head"].get("repo") or {}).get("full_name")
        return PullRequest(
            number=number, url=str(data["html_url"]), title=str(data["title"]),
            body=str(data.get("body") or ""), author=_login(data["user"]),
            base=str(data["base"]["ref"]), head_ref=str(data["head"]["ref"]),
            head_sha=str(data["head"]["sha"]), state=data["state"], merged=merged,
            merged_by=merged_by, merge_commit_sha=data.get("merge_commit_sha") if merged else None,
            created_at=_time(data.get("created_at")), merged_at=_time(data.get("merged_at")),
            closed_by=merged_by if merged else self._closed_by.get((repo, number)),
            head_repo=str(head_repo) if head_repo else None,
        )  # fmt: skip

    def note_event(self, repo: str, payload: Mapping[str, Any]) -> None:
        """Learn from a GitHub event payload what the API does not say: who closed a pull request."""
        pull, sender = payload.get("pull_request"), payload.get("sender")
        if (
            payload.get("action") == "closed"
            and isinstance(pull, dict)
            and isinstance(sender, dict)
        ):
            self._closed_by[(repo, int(pull["number"]))] = str(sender["login"])

    def open_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        home = self._homes.get((repo, head), repo)
        spec = head if home == repo else f"{home.split('/')[0]}:{head}"
        data = self._call(
            "POST", _path(repo, "pulls"), f"opening a pull request in {repo}",
            body={"title": title, "body": body, "head": spec, "base": base},
        )[1]  # fmt: skip
        return self._pull(repo, data)

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        # One check asks for the same pull request several times within a second: it is
        # read once (for PULL_FRESH_FOR s), and again after bs itself changed it.
        cached = self._pull_memo.get((repo, number))
        if cached is not None and time.monotonic() - cached[0] < PULL_FRESH_FOR:
            return cached[1]
        data = self._call(
            "GET", _path(repo, "pulls", str(number)), f"reading pull request #{number} of {repo}"
        )[1]
        pull = self._pull(repo, data)
        self._pull_memo[(repo, number)] = (time.monotonic(), pull)
        return pull

    def _changed(self, repo: str, number: int) -> None:
        self._pull_memo.pop((repo, number), None)

    def list_pull_requests(self, repo: str, state: str = "open") -> list[PullRequest]:
        pages = self._pages(
            _path(repo, "pulls"), f"listing the pull requests of {repo}",
            {"state": state, "sort": "created", "direction": "asc"},
        )  # fmt: skip
        return [self._pull(repo, data) for data in pages]

    def _base_of(self, repo: str, number: int, head_sha: str) -> tuple[Path, str]:
        pull = self.get_pull_request(repo, number)
        git_dir = self.ensure_commit(repo, head_sha)
        branch_sha = None
        if pull.merged and pull.merge_commit_sha:
            self.ensure_commit(repo, pull.merge_commit_sha)
        elif (branch_sha := self.resolve_branch(repo, pull.base)) is not None:
            self.ensure_commit(repo, branch_sha)
        return git_dir, gitpulls.pull_base(git_dir, repo, pull, head_sha, branch_sha)

    def list_pull_files(self, repo: str, number: int, head_sha: str) -> list[PullFile]:
        git_dir, base = self._base_of(repo, number, head_sha)
        return gitpulls.changed_files(git_dir, base, head_sha)

    def list_pull_commits(self, repo: str, number: int, head_sha: str) -> list[PullCommit]:
        git_dir, base = self._base_of(repo, number, head_sha)
        logins: dict[str, tuple[str | None, str | None]] = {}
        for item in self._pages(
            _path(repo, "pulls", str(number), "commits"),
            f"listing pull request #{number}'s commits",
        ):
            author, committer = item.get("author"), item.get("committer")
            logins[str(item["sha"])] = (
                _login(author) if author else None,
                _login(committer) if committer else None,
            )
        if head_sha not in logins:
            raise BsError(
                f"pull request #{number} moved past {head_sha[:12]} while it was read: "
                "run the check again (it runs by itself on the new head)."
            )
        return [
            PullCommit(sha, *logins.get(sha, (None, None)))
            for sha, *_ in gitpulls.commit_identities(git_dir, base, head_sha)
        ]

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        reviews = []
        for r in self._pages(
            _path(repo, "pulls", str(number), "reviews"),
            f"listing pull request #{number}'s reviews",
        ):
            if r.get("state") == "PENDING" or not r.get("submitted_at"):
                continue  # a draft review nobody else can see yet
            reviews.append(self._review(r))
        return reviews

    @staticmethod
    def _review(r: Json) -> Review:
        return Review(
            id=int(r["id"]), user=_login(r.get("user")), state=r["state"],
            commit_id=str(r.get("commit_id") or ""), body=str(r.get("body") or ""),
            submitted_at=_time(r.get("submitted_at")) or datetime.min,
        )  # fmt: skip

    def request_reviewers(
        self, repo: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        org = repo.split("/")[0].lower()
        # GitHub can only ask teams of the repository's own organisation.
        slugs = [t.split("/", 1)[1] for t in teams if t.split("/", 1)[0].lower() == org]
        if not users and not slugs:
            return
        self._call(
            "POST", _path(repo, "pulls", str(number), "requested_reviewers"),
            f"asking for reviews on pull request #{number}",
            body={"reviewers": list(users), "team_reviewers": slugs},
        )  # fmt: skip

    def submit_review(self, repo: str, number: int, state: ReviewState, body: str) -> Review:
        if state not in _EVENTS:
            raise BsError(f"a review is APPROVED, CHANGES_REQUESTED or COMMENTED, not {state}.")
        pull = self.get_pull_request(repo, number)
        data = self._call(
            "POST", _path(repo, "pulls", str(number), "reviews"), f"reviewing pull request #{number}",
            body={"event": _EVENTS[state], "body": body, "commit_id": pull.head_sha},
        )[1]  # fmt: skip
        return self._review(data)

    def dismiss_review(self, repo: str, number: int, review_id: int, message: str) -> Review:
        data = self._call(
            "PUT", _path(repo, "pulls", str(number), "reviews", str(review_id), "dismissals"),
            f"dismissing review {review_id}", body={"message": message},
        )[1]  # fmt: skip
        return self._review(data)

    def record_push(self, repo: str, payload: Mapping[str, Any]) -> str | None:
        """Record who opened a pull request or moved its head, from a ``pull_request_target``
        payload, as a ``bs/pushed`` status (see ``bs.forges.github_pushes``). Returns what
        was recorded, or None for another event."""
        found = record_text(payload)
        if found is None:
            return None
        head, said = found
        self.set_status(repo, head, PUSH_CONTEXT, "success", said)
        return said

    def list_pushes(self, repo: str, number: int) -> list[Push]:
        head = self.get_pull_request(repo, number).head_sha
        return follow_pushes(
            number, head, lambda sha: self.list_statuses(repo, sha), self._recorder()
        )

    def _recorder(self) -> str:
        """The App's bot, whose bs/pushed statuses alone are trusted."""
        slug = self.app_slug
        if not slug:
            raise BsError(
                "bs cannot tell who pushed to a request without the GitHub App's slug: set "
                "forge.app in bs.yaml (the App whose workflows record each push)."
            )
        return f"{slug}[bot]"

    def add_comment(self, repo: str, number: int, body: str) -> Comment:
        data = self._call(
            "POST", _path(repo, "issues", str(number), "comments"),
            f"commenting on pull request #{number}", body={"body": body},
        )[1]  # fmt: skip
        return Comment(int(data["id"]), _login(data.get("user")), str(data.get("body") or ""),
                       _time(data["created_at"]) or datetime.min)  # fmt: skip

    def list_comments(self, repo: str, number: int) -> list[Comment]:
        return [
            Comment(int(c["id"]), _login(c.get("user")), str(c.get("body") or ""),
                    _time(c["created_at"]) or datetime.min)
            for c in self._pages(_path(repo, "issues", str(number), "comments"),
                                 f"reading pull request #{number}'s comments")
        ]  # fmt: skip

    def set_status(
        self, repo: str, sha: str, context: str, state: StatusState, description: str
    ) -> CommitStatus:
        data = self._call(
            "POST", _path(repo, "statuses", sha), f"posting status {context} on {sha[:12]}",
            body={"state": state, "context": context, "description": description[:140]},
        )[1]  # fmt: skip
        return self._status(data)

    @staticmethod
    def _status(s: Json) -> CommitStatus:
        return CommitStatus(
            str(s["context"]), s["state"], str(s.get("description") or ""),
            _login(s.get("creator")), _time(s["created_at"]) or datetime.min, s.get("target_url"),
        )  # fmt: skip

    def list_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        return [
            self._status(s)
            for s in self._pages(_path(repo, "commits", sha, "statuses"), f"reading statuses of {sha[:12]}")
        ]  # fmt: skip

    def merge_pull_request(self, repo: str, number: int, *, sha: str | None = None) -> PullRequest:
        self._changed(repo, number)
        self.cache.invalidate(repo)
        body: dict[str, str] = {"merge_method": "merge"}
        if sha is not None:
            body["sha"] = sha
        try:
            self._call(
                "PUT", _path(repo, "pulls", str(number), "merge"), f"merging pull request #{number}",
                body=body,
            )  # fmt: skip
        except BsError as exc:
            if "(409" in exc.message:
                raise BsError(
                    f"pull request #{number} moved since {str(sha)[:12]} was checked: check it "
                    "again before merging."
                ) from None
            raise
        return self.get_pull_request(repo, number)

    def close_pull_request(self, repo: str, number: int) -> PullRequest:
        self._changed(repo, number)
        data = self._call(
            "PATCH", _path(repo, "pulls", str(number)), f"closing pull request #{number}",
            body={"state": "closed"},
        )[1]  # fmt: skip
        return self._pull(repo, data)


def open_github_forge(workspace: Workspace, env: Mapping[str, str]) -> GitHubForge:
    from bs.auth.app import SOURCE, app_installation
    from bs.auth.tokens import find_github_token
    from bs.githubapi import open_github

    config = workspace.config.forge
    assert isinstance(config, GitHubForgeConfig)  # chosen by kind
    installation = app_installation(env)
    auth: str | Auth.Auth
    if installation is not None:
        auth, source = installation, SOURCE
        token: Callable[[], str] | str = _current_token(installation)
    else:
        found = find_github_token(env, config.web_url)
        auth = token = found.token
        source = found.source
    cache_root = workspace.resolve(config.cache) if config.cache else default_root(env)
    host = urlsplit(config.api_url).hostname or "GitHub"
    cache = RepoCache(cache_root / host, token, progress=_stderr_progress(env))
    github = open_github(auth, config.api_url, retry=forge_retry())
    return GitHubForge(
        github,
        requests_repo=workspace.config.requests_repo,
        cache=cache,
        token_source=source,
        app_slug=config.app or env.get("BS_GITHUB_APP_SLUG") or None,
        acting_as_app=installation is not None or bool(env.get("BS_GITHUB_APP_SLUG")),
    )


def _current_token(installation: Auth.AppInstallationAuth) -> Callable[[], str]:
    def current() -> str:
        return installation.token  # PyGithub renews it shortly before it expires

    return current


def _stderr_progress(env: Mapping[str, str]) -> Callable[[str], None] | None:
    if env.get("BS_NO_PROGRESS") or not (sys.stderr.isatty() or env.get("GITHUB_ACTIONS")):
        return None

    def show(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return show
