"""The release request: ``requests/<app>/<id>.yaml``, file format version 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from bs.core.ids import REQUEST_ID_PATTERN
from bs.core.names import APP_NAME, COMMIT_SHA, EMAIL, LOGIN, REPO_PATH, SHA256_HEX, TAG_NAME

#: The longest reason a request may give.
MAX_REASON_CHARS = 2000
#: Counts in a request file are at most this (git could not produce more).
MAX_COUNT = 10**12

#: What a request asks for; the policy's rule follows from it (see `ReleaseRequest.kind`).
RequestKind = Literal["release", "rollback", "emergency", "follow-up"]

CommitSha = Annotated[str, Field(pattern=COMMIT_SHA, description="a full commit id")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VersionRef(_Strict):
    tag: Annotated[str, Field(pattern=TAG_NAME, max_length=200)] | None = Field(
        description="the scheme tag naming the commit; null when none does"
    )
    commit: CommitSha


class PatchInfo(_Strict):
    file: Annotated[str, Field(pattern=REPO_PATH, max_length=300)] = Field(
        description="the patch file's path in the requests repository"
    )
    sha256: Annotated[str, Field(pattern=SHA256_HEX)] = Field(
        description="SHA-256 of the uncompressed `git diff --binary --full-index FROM TO`"
    )
    files_changed: int = Field(ge=0, le=MAX_COUNT)
    insertions: int = Field(ge=0, le=MAX_COUNT)
    deletions: int = Field(ge=0, le=MAX_COUNT)
    commits: int = Field(ge=0, le=MAX_COUNT)


class ReleaseRequest(_Strict):
    """One request to release an app's tag."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, title="release request"
    )

    version: Literal[1] = 1
    id: Annotated[str, Field(pattern=REQUEST_ID_PATTERN)]
    app: Annotated[str, Field(pattern=APP_NAME)]
    environment: Annotated[str, Field(pattern=APP_NAME)] = "production"
    requested_by: Annotated[str, Field(pattern=LOGIN)]
    requested_at: datetime = Field(description="UTC, ISO 8601")
    from_: VersionRef | None = Field(
        alias="from",
        description="what was deployed when requested; null for a first deploy. For a "
        "follow-up, what was deployed before the emergency",
    )
    to: VersionRef
    patch: PatchInfo
    reason: str | None = None
    emergency: bool = Field(
        default=False,
        description="break-glass: the policy's emergency rule and slot apply, and once deployed "
        "the release is reviewed again under the normal rules by a follow-up request",
    )
    rollback: bool = Field(
        default=False,
        description="back to a release older than the deployed one: the patch is the reverse "
        "diff, and the policy's rollback rule applies",
    )
    follow_up_of: Annotated[str, Field(pattern=REQUEST_ID_PATTERN)] | None = Field(
        default=None,
        description="the emergency request this one reviews after it was deployed: it needs "
        "the normal rules, and merging it mints no deploy link",
    )
    requester_email: Annotated[str, Field(pattern=EMAIL)] | None = Field(
        default=None,
        description="where the requester asked to be told the outcome, when the forge "
        "and bs.yaml's mail.addresses have no address for them",
    )

    @field_validator("requested_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("requested_at must carry a time zone (UTC, ending in Z)")
        # The file keeps whole seconds; so does the model, so both compare equal.
        return value.astimezone(UTC).replace(microsecond=0)

    @model_validator(mode="after")
    def _kinds(self) -> ReleaseRequest:
        if self.emergency and not (self.reason or "").strip():
            raise ValueError("an emergency request must give its reason")
        if self.follow_up_of is not None and self.emergency:
            raise ValueError("a follow-up request reviews an emergency; it is not one itself")
        if self.follow_up_of == self.id:
            raise ValueError("a request cannot follow itself up")
        return self

    @property
    def kind(self) -> RequestKind:
        """Which of the policy's approval rules applies: emergency wins over rollback."""
        if self.follow_up_of is not None:
            return "follow-up"
        if self.emergency:
            return "emergency"
        return "rollback" if self.rollback else "release"

    @property
    def label(self) -> str:
        """``Emergency rollback``, ``Rollback``, ``Follow-up review``, ``Release``: for titles."""
        if self.follow_up_of is not None:
            return "Follow-up review"
        if self.emergency:
            return "Emergency rollback" if self.rollback else "Emergency release"
        return "Rollback" if self.rollback else "Release"

    @property
    def noun(self) -> str:
        """``Request`` for a release; ``Rollback request``, ``Emergency release request``…"""
        return "Request" if self.kind == "release" else f"{self.label} request"

    def same_release_as(self, other: ReleaseRequest) -> bool:
        """Whether `other` asks for exactly this release (app, requester, from, to,
        direction, patch digest): what a follow-up must share with its emergency."""
        return (
            self.app == other.app
            and self.from_ == other.from_
            and self.to == other.to
            and self.rollback == other.rollback
            and self.patch.sha256 == other.patch.sha256
            and self.requested_by.lower() == other.requested_by.lower()
        )

    @field_serializer("requested_at")
    def _iso(self, value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @classmethod
    def from_document(cls, data: object) -> ReleaseRequest:
        """Validate a parsed request file: only the published keys (``from``, not ``from_``)."""
        return cls.model_validate(data, by_alias=True, by_name=False)

    @property
    def request_path(self) -> str:
        return request_file_path(self.app, self.id)

    def to_document(self) -> dict[str, Any]:
        """Plain data, keys in file order, ready to dump as YAML. An address not recorded
        is left out, so requests written before it existed read back the same."""
        document = self.model_dump(mode="json", by_alias=True)
        for key in ("requester_email", "follow_up_of"):
            if document.get(key) is None:
                document.pop(key, None)
        for key in ("emergency", "rollback"):
            if document.get(key) is False:
                document.pop(key, None)
        return document


def kind_words(*, emergency: bool, rollback: bool, follow_up: bool = False) -> list[str]:
    """``EMERGENCY``, ``ROLLBACK``, ``FOLLOW-UP``: what subjects and page titles shout, from a
    request or from the approval record the gateway keeps."""
    flags = (("EMERGENCY", emergency), ("ROLLBACK", rollback), ("FOLLOW-UP", follow_up))
    return [word for word, on in flags if on]


def request_file_path(app: str, request_id: str) -> str:
    return f"requests/{app}/{request_id}.yaml"


def patch_file_path(app: str, request_id: str, *, compressed: bool) -> str:
    return f"requests/{app}/{request_id}.patch" + (".gz" if compressed else "")


def request_branch(app: str, request_id: str) -> str:
    """The branch `bs open-request` pushes a request on (and the closed hook may delete)."""
    return f"request/{app}/{request_id}"
