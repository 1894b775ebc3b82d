"""The facts a policy is evaluated on, gathered first and then judged.

`ApprovalFacts` is everything the policy looks at: who asked, the reviews
(oldest first) with the commit each one approved, who contributed to the
request's branch, who is in which team, and the release itself. It is plain
data, so ``bs policy test`` fixtures write it as YAML, and ``bs check
--save-facts`` writes a real pull request's facts in the same shape.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bs.core.names import LOGIN, TEAM_NAME
from bs.core.request import RequestKind

Login = Annotated[str, Field(pattern=LOGIN)]
ReviewFactState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseFacts(_Strict):
    """The app's diff FROM..TO, which the policy's ``if:`` predicates look at."""

    paths: list[str] = Field(
        default_factory=list, description="every path the release changes (both sides of a rename)"
    )
    insertions: int = Field(default=0, ge=0)
    deletions: int = Field(default=0, ge=0)
    commits: int = Field(default=0, ge=0, description="commits in FROM..TO")
    first_deploy: bool = False

    @property
    def modified_lines(self) -> int:
        return self.insertions + self.deletions


class ReviewFact(_Strict):
    user: Login
    state: ReviewFactState
    commit: str = Field(default="head", description="the commit reviewed; 'head' in fixtures")
    body: str = ""


class ApprovalFacts(_Strict):
    """What the policy is evaluated on."""

    kind: RequestKind = Field(
        default="release",
        description="which approval applies: the policy's emergency or rollback rule, or the "
        "normal one (a release, a follow-up)",
    )
    requester: Login = Field(
        description="who asked: the pull request's author; for a follow-up, the emergency's requester"
    )
    head: str = Field(default="head", description="the pull request's head commit")
    reviews: list[ReviewFact] = Field(default_factory=list, description="oldest first")
    contributors: dict[Login, str] = Field(
        default_factory=dict,
        description="who pushed to, authored or committed on the request's branch, and how",
    )
    teams: dict[Annotated[str, Field(pattern=TEAM_NAME)], list[Login]] = Field(
        default_factory=dict, description="members of every team the policy names"
    )
    release: ReleaseFacts = ReleaseFacts()
