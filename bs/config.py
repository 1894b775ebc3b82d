"""The configuration files: ``bs.yaml`` and ``policies/apps.yaml``.

Both are strict: an unknown key is an error that lists the keys allowed
there. Their JSON Schemas are published under ``schemas/`` (``python -m
bs.schemas``) so editors validate them as people type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator, model_validator

from bs.core.names import APP_NAME, EMAIL, GIT_REF_NAME, REPO_NAME
from bs.core.tags import SchemeKind, TagScheme
from bs.errors import BsError

RepoName = Annotated[str, Field(pattern=REPO_NAME, description="OWNER/NAME, as on GitHub")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalForgeConfig(StrictModel):
    """The embedded forge: bare repositories and pull requests in a folder."""

    kind: Literal["local"]
    path: Path = Field(description="the forge folder; relative paths are from bs.yaml's folder")


ForgeConfig = Annotated[LocalForgeConfig, Field(discriminator="kind")]


class PatchLimits(StrictModel):
    compress_above: ByteSize = Field(
        default=ByteSize(20_000_000),
        description="patches larger than this are stored gzip-compressed as <id>.patch.gz",
    )
    max_stored: ByteSize = Field(
        default=ByteSize(95_000_000),
        description="the largest patch file (after compression) a request may commit; "
        "GitHub refuses files over 100 MB",
    )


class BsConfig(StrictModel):
    """``bs.yaml``, at the root of the requests repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="bs.yaml")

    version: Literal[1] = 1
    forge: ForgeConfig
    requests_repo: RepoName
    patch: PatchLimits = PatchLimits()


class TagsConfig(StrictModel):
    scheme: SchemeKind
    pattern: str | None = Field(
        default=None, description="for scheme regex: a pattern with one group of digits"
    )

    @model_validator(mode="after")
    def _check_scheme(self) -> TagsConfig:
        try:
            TagScheme(self.scheme, self.pattern)
        except BsError as exc:
            raise ValueError(exc.message) from None
        return self

    def to_scheme(self) -> TagScheme:
        return TagScheme(self.scheme, self.pattern)


class RefDeployedSource(StrictModel):
    """The deployed version is the commit a ref of the app repository points at.

    GOV.UK's convention: a ``deployed-to-production`` branch pushed after each deploy.
    """

    source: Literal["ref"]
    ref: Annotated[str, Field(pattern=GIT_REF_NAME)] = "deployed-to-production"

    @field_validator("ref")
    @classmethod
    def _git_ref(cls, ref: str) -> str:
        if ".." in ref or "//" in ref or ref.endswith(("/", ".lock", ".")):
            raise ValueError(f"'{ref}' is not a valid branch name")
        return ref


DeployedSourceConfig = Annotated[RefDeployedSource, Field(discriminator="source")]


class AppConfig(StrictModel):
    repo: RepoName
    tags: TagsConfig
    deployed: DeployedSourceConfig = RefDeployedSource(source="ref")
    policy: Annotated[str, Field(pattern=APP_NAME, description="policies/<policy>.yaml")]
    review_list: list[Annotated[str, Field(pattern=EMAIL)]] = Field(
        default_factory=list, description="addresses emailed about each request"
    )


class AppsFile(StrictModel):
    """``policies/apps.yaml``: the app registry."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="policies/apps.yaml")

    version: Literal[1] = 1
    apps: dict[Annotated[str, Field(pattern=APP_NAME)], AppConfig]

    @field_validator("apps")
    @classmethod
    def _some_apps(cls, apps: dict[str, AppConfig]) -> dict[str, AppConfig]:
        if not apps:
            raise ValueError("no apps are defined: add at least one under apps")
        return apps
