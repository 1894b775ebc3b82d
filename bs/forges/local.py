"""The local forge: the embedded default, a folder that behaves like GitHub.

Repositories are bare git repositories named like GitHub's
(``DIR/OWNER/NAME.git``); pull requests, reviews, statuses and comments are
records beside them (``bs.forges.local_records``); ``DIR/teams.yaml`` maps
``ORG/TEAM`` to logins and ``DIR/users.yaml`` logins to email addresses. The
acting user is ``BS_USER``. A pull request's branch is a real branch of the
bare repository and merging it is a real git merge into the base branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bs import gitcmd
from bs.core.pulls import (
    REVIEW_STATES,
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
from bs.forges import local_records as records
from bs.forges.local_repos import Clock, LocalRepos, _iso, _parse_time

__all__ = ["STATUS_DESCRIPTION_LIMIT", "Clock", "LocalForge"]

STATUS_DESCRIPTION_LIMIT = 140


class LocalForge(LocalRepos):
    """A `Forge` kept in a folder; see the module docstring for the layout."""

    def _pull_path(self, repo: str, number: int) -> Path:
        return self._forge_dir(repo) / "pulls" / f"{number}.json"

    def _events_path(self, repo: str, number: int) -> Path:
        return self._forge_dir(repo) / "pulls" / f"{number}.jsonl"

    def pull_url(self, repo: str, number: int) -> str:
        return self._pull_path(repo, number).resolve().as_uri()

    def open_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        user = self.current_user()
        head_sha = self.resolve_branch(repo, head)
        if head_sha is None:
            raise BsError(f"{repo} has no branch '{head}' to open a pull request from.")
        if self.resolve_branch(repo, base) is None:
            raise BsError(f"{repo} has no base branch '{base}'.")
        # The pull requests ever opened from this head, so the check reads only those.
        by_head = self._forge_dir(repo) / "heads" / f"{head}.jsonl"
        with records.locked(self.root):
            for record in records.read_records(by_head):
                number = int(record["number"])
                if self.get_pull_request(repo, number).state == "open":
                    raise BsError(f"a pull request for {head} is already open: #{number}.")
            number = records.next_number(self._forge_dir(repo), "pull")
            records.write_json_new(
                self._pull_path(repo, number),
                {"number": number, "title": title, "body": body, "user": user,
                 "head": {"ref": head, "sha": head_sha}, "base": {"ref": base},
                 "created_at": _iso(self._clock())},
            )  # fmt: skip
            records.append_record(by_head, {"number": number})
        return self.get_pull_request(repo, number)

    def _numbers(self, repo: str) -> list[int]:
        pulls = self._forge_dir(repo) / "pulls"
        if not pulls.is_dir():
            return []
        return sorted(int(p.stem) for p in pulls.glob("*.json") if p.stem.isdigit())

    def list_pull_requests(self, repo: str, state: str = "open") -> list[PullRequest]:
        pulls = [self.get_pull_request(repo, n) for n in self._numbers(repo)]
        return [p for p in pulls if state == "all" or p.state == state]

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        self.git_dir(repo)
        raw = records.read_json(self._pull_path(repo, number))
        if raw is None:
            raise BsError(f"{repo} has no pull request #{number}.")
        state, head_sha = "open", raw["head"]["sha"]
        merged, merged_by, merge_sha, merged_at, closed_by = False, None, None, None, None
        for event in records.read_records(self._events_path(repo, number)):
            kind = event["type"]
            if kind in ("closed", "merged"):
                state, head_sha = "closed", event.get("head_sha", head_sha)
                closed_by = event["user"]
                if kind == "merged":
                    merged, merged_by, merge_sha = True, event["user"], event["merge_commit_sha"]
                    merged_at = _parse_time(event["at"])
            elif kind == "reopened":
                state, closed_by = "open", None
        if state == "open":
            # Like GitHub, the head follows the branch while the pull request is open.
            head_sha = self.resolve_branch(repo, raw["head"]["ref"]) or head_sha
        return PullRequest(
            number=number, url=self.pull_url(repo, number), title=raw["title"], body=raw["body"],
            author=raw["user"], base=raw["base"]["ref"], head_ref=raw["head"]["ref"],
            head_sha=head_sha, state=state, merged=merged, merged_by=merged_by,  # type: ignore[arg-type]
            merge_commit_sha=merge_sha, created_at=_parse_time(raw["created_at"]),
            merged_at=merged_at, closed_by=closed_by, head_repo=repo,
        )  # fmt: skip

    def _merge_base(self, repo: str, number: int, head_sha: str) -> str:
        """Where the pull request's branch left its base (after a merge: the base before it)."""
        pull = self.get_pull_request(repo, number)
        git_dir = self.git_dir(repo)
        if gitcmd.resolve_commit(git_dir, head_sha) != head_sha:
            raise BsError(f"{repo} has no commit {head_sha[:12]} (pull request #{number}).")
        merged = pull.merged and pull.merge_commit_sha
        branch_sha = None if merged else self.resolve_branch(repo, pull.base)
        return gitpulls.pull_base(git_dir, repo, pull, head_sha, branch_sha)

    def list_pull_files(self, repo: str, number: int, head_sha: str) -> list[PullFile]:
        base = self._merge_base(repo, number, head_sha)
        return gitpulls.changed_files(self.git_dir(repo), base, head_sha)

    def list_pull_commits(self, repo: str, number: int, head_sha: str) -> list[PullCommit]:
        base = self._merge_base(repo, number, head_sha)
        return [
            PullCommit(sha, self._login_for(a_email, a_name), self._login_for(c_email, c_name))
            for sha, a_email, a_name, c_email, c_name in gitpulls.commit_identities(
                self.git_dir(repo), base, head_sha
            )
        ]

    def _login_for(self, email: str, name: str) -> str | None:
        """Whose identity a commit carries: the user with that address, else that login."""
        for login, address in self.people.users.items():
            if address.lower() == email.lower():
                return login
        return name if name in self.people.users else None

    def _append_event(self, repo: str, number: int, event: dict[str, Any]) -> None:
        records.append_record(self._events_path(repo, number), event)

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        self.get_pull_request(repo, number)
        reviews: dict[int, dict[str, Any]] = {}
        for event in records.read_records(self._events_path(repo, number)):
            if event["type"] == "review":
                reviews[event["id"]] = dict(event)
            elif event["type"] == "dismissed" and event["review_id"] in reviews:
                reviews[event["review_id"]]["state"] = "DISMISSED"
        return [
            Review(id=r["id"], user=r["user"], state=r["state"], commit_id=r["commit_id"],
                   body=r["body"], submitted_at=_parse_time(r["at"]))
            for r in reviews.values()
        ]  # fmt: skip

    def request_reviewers(
        self, repo: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        self.get_pull_request(repo, number)
        with records.locked(self.root):
            self._append_event(repo, number, {"type": "review_requested", "user": self.current_user(),
                                              "users": list(users), "teams": list(teams),
                                              "at": _iso(self._clock())})  # fmt: skip

    def submit_review(self, repo: str, number: int, state: ReviewState, body: str) -> Review:
        user = self.current_user()
        if state not in REVIEW_STATES or state == "DISMISSED":
            raise BsError(f"a review is APPROVED, CHANGES_REQUESTED or COMMENTED, not {state}.")
        pull = self.get_pull_request(repo, number)
        if pull.state != "open":
            raise BsError(f"pull request #{number} is closed: it can no longer be reviewed.")
        if user == pull.author and state != "COMMENTED":
            # GitHub's own rule: nobody approves or rejects their own pull request.
            raise BsError(
                f"{user} opened pull request #{number}: you cannot review your own request."
            )
        if state == "CHANGES_REQUESTED" and not body.strip():
            raise BsError("requesting changes needs a comment saying why: pass -m TEXT.")
        with records.locked(self.root):
            review_id = records.next_number(self._forge_dir(repo), "review")
            event = {"type": "review", "id": review_id, "user": user, "state": state,
                     "commit_id": pull.head_sha, "body": body, "at": _iso(self._clock())}  # fmt: skip
            self._append_event(repo, number, event)
        return Review(review_id, user, state, pull.head_sha, body, _parse_time(str(event["at"])))

    def dismiss_review(self, repo: str, number: int, review_id: int, message: str) -> Review:
        user = self.current_user()
        for review in self.list_reviews(repo, number):
            if review.id == review_id:
                if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
                    raise BsError(
                        f"review {review_id} is {review.state}: only approvals and change requests can be dismissed."
                    )
                with records.locked(self.root):
                    self._append_event(repo, number, {"type": "dismissed", "review_id": review_id,
                                                      "user": user, "body": message, "at": _iso(self._clock())})  # fmt: skip
                return Review(
                    review.id,
                    review.user,
                    "DISMISSED",
                    review.commit_id,
                    review.body,
                    review.submitted_at,
                )
        raise BsError(f"pull request #{number} has no review {review_id}.")

    def list_pushes(self, repo: str, number: int) -> list[Push]:
        pull = self.get_pull_request(repo, number)
        pushes: list[Push] = []
        for record in records.read_records(self._pushes_path(repo, pull.head_ref)):
            if record["before"] is None:
                pushes = []  # The branch was (re)created: earlier pushes were to another branch.
            pushes.append(
                Push(
                    record["pusher"],
                    record["after"],
                    tuple(record["commits"]),
                    _parse_time(record["at"]),
                )
            )
        return pushes

    def add_comment(self, repo: str, number: int, body: str) -> Comment:
        user = self.current_user()
        self.get_pull_request(repo, number)
        with records.locked(self.root):
            comment_id = records.next_number(self._forge_dir(repo), "comment")
            at = self._clock()
            self._append_event(
                repo,
                number,
                {"type": "comment", "id": comment_id, "user": user, "body": body, "at": _iso(at)},
            )
        return Comment(comment_id, user, body, at)

    def list_comments(self, repo: str, number: int) -> list[Comment]:
        self.get_pull_request(repo, number)
        return [
            Comment(e["id"], e["user"], e["body"], _parse_time(e["at"]))
            for e in records.read_records(self._events_path(repo, number))
            if e["type"] == "comment"
        ]

    def set_status(
        self, repo: str, sha: str, context: str, state: StatusState, description: str
    ) -> CommitStatus:
        user = self.current_user()
        if len(description) > STATUS_DESCRIPTION_LIMIT:
            raise BsError(f"a status description is at most {STATUS_DESCRIPTION_LIMIT} characters.")
        if gitcmd.resolve_commit(self.git_dir(repo), sha) != sha:
            raise BsError(f"{repo} has no commit {sha}.")
        at = self._clock()
        with records.locked(self.root):
            records.append_record(self._forge_dir(repo) / "statuses" / f"{sha}.jsonl",
                                  {"context": context, "state": state, "description": description,
                                   "creator": user, "at": _iso(at)})  # fmt: skip
        return CommitStatus(context, state, description, user, at)

    def list_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """Newest first, as GitHub lists them."""
        found = [
            CommitStatus(
                r["context"], r["state"], r["description"], r["creator"], _parse_time(r["at"])
            )
            for r in records.read_records(self._forge_dir(repo) / "statuses" / f"{sha}.jsonl")
        ]
        return list(reversed(found))

    def merge_pull_request(self, repo: str, number: int, *, sha: str | None = None) -> PullRequest:
        user = self.current_user()
        git_dir = self.git_dir(repo)
        with records.locked(self.root):
            pull = self.get_pull_request(repo, number)
            if pull.state != "open":
                raise BsError(f"pull request #{number} is closed: it cannot be merged.")
            if sha is not None and pull.head_sha != sha:
                raise BsError(
                    f"pull request #{number} moved to {pull.head_sha[:12]} since {sha[:12]} was "
                    "checked: check it again before merging."
                )
            base_sha = self.resolve_branch(repo, pull.base)
            if base_sha is None:
                raise BsError(f"{repo} has no base branch '{pull.base}'.")
            if not gitcmd.succeeds(git_dir, "merge-tree", "--write-tree", base_sha, pull.head_sha):
                raise BsError(
                    f"pull request #{number} conflicts with {pull.base}: it cannot be merged."
                )
            tree = gitcmd.run(
                git_dir, "merge-tree", "--write-tree", base_sha, pull.head_sha
            ).splitlines()[0]
            when = self._clock()
            message = f"Merge pull request #{number} from {pull.head_ref}\n\n{pull.title}"
            merge = gitcmd.run(git_dir, "commit-tree", tree, "-p", base_sha, "-p", pull.head_sha,
                               "-m", message, env=self._identity_env(user, when))  # fmt: skip
            gitcmd.run(git_dir, "update-ref", f"refs/heads/{pull.base}", merge, base_sha)
            self._append_event(repo, number, {"type": "merged", "user": user, "head_sha": pull.head_sha,
                                              "merge_commit_sha": merge, "at": _iso(when)})  # fmt: skip
        return self.get_pull_request(repo, number)

    def retarget_pull_request(self, repo: str, number: int, base: str) -> PullRequest:
        """Change the branch an open pull request targets, as GitHub's edit does."""
        with records.locked(self.root):
            pull = self.get_pull_request(repo, number)
            if pull.state != "open":
                raise BsError(f"pull request #{number} is closed: it cannot be retargeted.")
            if self.resolve_branch(repo, base) is None:
                raise BsError(f"{repo} has no branch '{base}'.")
            raw = records.read_json(self._pull_path(repo, number))
            assert raw is not None
            raw["base"] = {"ref": base}
            records.replace_json(self._pull_path(repo, number), raw)
        return self.get_pull_request(repo, number)

    def close_pull_request(self, repo: str, number: int) -> PullRequest:
        user = self.current_user()
        with records.locked(self.root):
            pull = self.get_pull_request(repo, number)
            if pull.state == "open":
                self._append_event(repo, number, {"type": "closed", "user": user, "head_sha": pull.head_sha,
                                                  "at": _iso(self._clock())})  # fmt: skip
        return self.get_pull_request(repo, number)
