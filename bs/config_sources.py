"""Where an app's deployed version comes from: ``deployed:`` in ``policies/apps.yaml``."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from bs.configtypes import LOCAL_HOSTS, EnvName, RepoName, StrictModel
from bs.core.names import GIT_REF_NAME


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


class GitHubDeploymentsSource(StrictModel):
    """The deployed version is the latest successful GitHub deployment to an environment.

    After a deploy, the gateway creates a deployment of the commit and its statuses.
    """

    source: Literal["github-deployments"]
    environment: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")] = "production"
    token_env: EnvName = Field(
        default="BS_GITHUB_DEPLOY_TOKEN",
        description="a token with deployments: write on the app's repository (the gateway's)",
    )
    api_url: Annotated[str, Field(pattern=r"^https://[^\s@\\]+$")] = "https://api.github.com"


#: The version as the source states it: ``{commit}`` (a full or abbreviated SHA) or
#: ``{tag}``, with any fixed text around it (``release-{commit}``).
VersionFormat = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:/@+-]*\{(commit|tag)\}[A-Za-z0-9._:/@+-]*$",
        description="how the value names the version: {commit} or {tag} with fixed text "
        "around it, e.g. release-{commit}",
    ),
]


class HttpDeployedSource(StrictModel):
    """The deployed version is in the JSON an HTTP endpoint returns (a status page, say)."""

    source: Literal["http"]
    url: Annotated[str, Field(pattern=r"^https?://[^\s@\\]+$")] = Field(
        description="https (http only on this machine); {app} is replaced by the app's name"
    )
    pointer: Annotated[str, Field(pattern=r"^(/[^/]*)*$")] = Field(
        description="a JSON pointer (RFC 6901) to the version, e.g. /version or /apps/0/sha"
    )
    format: VersionFormat = "{commit}"
    token_env: EnvName | None = Field(
        default=None, description="a variable holding a bearer token for the endpoint"
    )
    timeout: float = Field(default=10, gt=0, le=120, description="seconds")

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: str) -> str:
        host = re.sub(r"^https?://(\[[^]]*\]|[^/:]*).*$", r"\1", url).lower()
        if url.startswith("http://") and host not in LOCAL_HOSTS:
            raise ValueError(f"use https:// for {host} (http:// only on this machine)")
        return url


class GitOpsFileDeployedSource(StrictModel):
    """The deployed version is a value in a YAML file of another repository (GitOps)."""

    source: Literal["gitops-file"]
    repo: RepoName
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+\.ya?ml$")] = Field(
        description="the YAML file in that repository, e.g. apps/frontend/values.yaml"
    )
    key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")] = Field(
        description="dotted path to the value, e.g. image.tag"
    )
    branch: Annotated[str, Field(pattern=GIT_REF_NAME)] | None = Field(
        default=None, description="the branch to read (default: the repository's default)"
    )
    format: VersionFormat = "{commit}"


DeployedSourceConfig = Annotated[
    RefDeployedSource | GitHubDeploymentsSource | HttpDeployedSource | GitOpsFileDeployedSource,
    Field(discriminator="source"),
]
