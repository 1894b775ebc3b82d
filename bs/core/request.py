"""The release request: ``requests/<app>/<id>.yaml``, file format version 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from bs.core.ids import REQUEST_ID_PATTERN
from bs.core.names import APP_NAME, COMMIT_SHA, EMAIL, LOGIN, REPO_PATH, SHA256_HEX, TAG_NAME

#: The longest reason a request may give.
MAX_REASON_CHARS = 2000
#: Counts in a request file are at most this (git could not produce more).
MAX_COUNT = 10**12

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
        alias="from", description="what was deployed when requested; null for a first deploy"
    )
    to: VersionRef
    patch: PatchInfo
    reason: str | None = None
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
        if document.get("requester_email") is None:
            document.pop("requester_email", None)
        return document


def request_file_path(app: str, request_id: str) -> str:
    return f"requests/{app}/{request_id}.yaml"


def patch_file_path(app: str, request_id: str, *, compressed: bool) -> str:
    return f"requests/{app}/{request_id}.patch" + (".gz" if compressed else "")


def request_branch(app: str, request_id: str) -> str:
    """The branch `bs open-request` pushes a request on (and the closed hook may delete)."""
    return f"request/{app}/{request_id}"
