"""Pull requests and reviews as plain facts, the same whichever forge holds them.

Shapes and states follow GitHub's: numbers, head commit, review states and
each review's ``commit_id``, so the checker sees no difference between forges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]
REVIEW_STATES: tuple[ReviewState, ...] = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")
StatusState = Literal["success", "pending", "failure", "error"]


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    title: str
    body: str
    author: str
    base: str
    head_ref: str
    head_sha: str
    state: Literal["open", "closed"]
    merged: bool = False
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    created_at: datetime | None = None
    merged_at: datetime | None = None
    #: Who closed it (merged or not), when the forge says.
    closed_by: str | None = None
    #: The repository the head branch is in (a fork's, for a pull request from a fork);
    #: None when the forge cannot tell.
    head_repo: str | None = None


@dataclass(frozen=True)
class Review:
    id: int
    user: str
    state: ReviewState
    commit_id: str
    body: str
    submitted_at: datetime


@dataclass(frozen=True)
class Comment:
    id: int
    user: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: StatusState
    description: str
    creator: str
    created_at: datetime
    target_url: str | None = None


@dataclass(frozen=True)
class Push:
    """Who pushed which commits to a pull request's branch."""

    pusher: str
    head_sha: str
    commits: tuple[str, ...] = field(default_factory=tuple)
    pushed_at: datetime | None = None


PullFileStatus = Literal["added", "modified", "removed", "renamed", "copied", "changed"]


@dataclass(frozen=True)
class PullFile:
    """A file a pull request changes, against where it branched from its base."""

    path: str
    status: PullFileStatus


@dataclass(frozen=True)
class PullCommit:
    """A commit on a pull request's branch; logins are None when the forge cannot tell."""

    sha: str
    author: str | None
    committer: str | None


def approves_before_merge(review: Review, head: str, merged_at: datetime | None) -> bool:
    """An approval of `head`, given before the merge: GitHub takes reviews on merged pull
    requests, and one given after the merge approved nothing that was merged."""
    return (
        review.state == "APPROVED"
        and review.commit_id == head
        and (merged_at is None or review.submitted_at <= merged_at)
    )
