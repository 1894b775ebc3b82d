"""The configuration files: ``bs.yaml`` and ``policies/apps.yaml``.

Both are strict: an unknown key is an error that lists the keys allowed
there. Their JSON Schemas are published under ``schemas/`` (``python -m
bs.schemas``) so editors validate them as people type.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from bs.core.names import APP_NAME, EMAIL, GIT_REF_NAME, LOGIN, REPO_NAME
from bs.core.tags import SchemeKind, TagScheme
from bs.deployconfig import DeployConfig
from bs.errors import BsError

RepoName = Annotated[str, Field(pattern=REPO_NAME, description="OWNER/NAME, as on GitHub")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _plain_path(path: Path) -> Path:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in str(path)):
        raise ValueError("a path cannot hold control characters (a NUL, a line break...)")
    return path


class LocalForgeConfig(StrictModel):
    """The embedded forge: bare repositories and pull requests in a folder."""

    kind: Literal["local"]
    path: Path = Field(description="the forge folder; relative paths are from bs.yaml's folder")


API_URL = r"^https://[A-Za-z0-9.:-]+(?:/[A-Za-z0-9._~/-]*)?$"
WEB_URL = r"^https://[A-Za-z0-9.:-]+$"


def same_github(web_url: str, api_url: str) -> None:
    """Refuse an API on another host than the web site: the token `bs login` stored for
    github.com must never be sent to a server a bs.yaml names (a request's branch, a
    copied repository)."""
    web, api = web_url.rstrip("/").lower(), api_url.rstrip("/").lower()
    expected = "https://api.github.com" if web == "https://github.com" else f"{web}/api/v3"
    if api != expected:
        raise ValueError(
            f"api_url {api_url} is not {web_url}'s API: use {expected} (GitHub's API is "
            "api.github.com for github.com, https://HOST/api/v3 for Enterprise Server)"
        )


class GitHubForgeConfig(StrictModel):
    """GitHub (github.com or Enterprise Server) through its REST API."""

    kind: Literal["github"]
    api_url: Annotated[str, Field(pattern=API_URL)] = Field(
        default="https://api.github.com",
        description="the REST API; GitHub Enterprise Server: https://HOST/api/v3",
    )
    web_url: Annotated[str, Field(pattern=WEB_URL)] = Field(
        default="https://github.com", description="GitHub Enterprise Server: https://HOST"
    )
    client_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] | None = Field(
        default=None,
        description="the OAuth app's (or GitHub App's) client ID, for `bs login`'s device "
        "flow; it is not a secret",
    )
    cache: Path | None = Field(
        default=None,
        description="where app repositories are cloned (blobless) for diffs; default "
        "$XDG_CACHE_HOME/bs/repos (~/.cache/bs/repos); relative paths are from bs.yaml's folder",
    )
    app: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,33})$")] | None = Field(
        default=None,
        description="the slug of the organisation's GitHub App (github.com/apps/SLUG), which "
        "the workflows act as: only its records of who pushed to a request are trusted",
    )

    @field_validator("cache")
    @classmethod
    def _no_control(cls, path: Path | None) -> Path | None:
        return None if path is None else _plain_path(path)

    @model_validator(mode="after")
    def _one_github(self) -> GitHubForgeConfig:
        same_github(self.web_url, self.api_url)
        return self


ForgeConfig = Annotated[LocalForgeConfig | GitHubForgeConfig, Field(discriminator="kind")]


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


ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
HOST_NAME = r"^[A-Za-z0-9.:\[\]-]+$"
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="an environment variable's name")]
Address = Annotated[str, Field(pattern=EMAIL)]
#: ``Name <address>`` or a bare address; the name in plain printable ASCII without
#: quotes, commas or angle brackets (it becomes a header).
MAILBOX = r"^(?:[A-Za-z0-9 .()'_-]*<" + EMAIL[1:-1] + r">|" + EMAIL[1:-1] + r")$"
Mailbox = Annotated[
    str,
    Field(
        pattern=MAILBOX,
        description="an address, or Name <address>",
    ),
]


class MailCommon(StrictModel):
    from_: Mailbox = Field(
        default="battlestations <bs@localhost.localdomain>",
        alias="from",
        description="the From header of every message bs sends",
    )
    reply_to: Mailbox | None = Field(
        default=None, description="Reply-To of messages not about one person (default: from)"
    )
    attach_patch_below: ByteSize = Field(
        default=ByteSize(1_000_000),
        description="a request's patch is attached to the review mail when smaller than this; "
        "larger ones are linked",
    )
    addresses: dict[Annotated[str, Field(pattern=LOGIN)], Address] = Field(
        default_factory=dict,
        description="login -> address, for people the forge has no address for",
    )


class OutboxMail(MailCommon):
    """Messages written as .eml files to a folder: the embedded default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["outbox"] = "outbox"
    path: Path = Field(
        default=Path(".bs/outbox"), description="relative paths are from bs.yaml's folder"
    )

    @field_validator("path")
    @classmethod
    def _no_control(cls, path: Path) -> Path:
        return _plain_path(path)


class SmtpMail(MailCommon):
    """An SMTP server; the user name and password come from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["smtp"]
    host: Annotated[str, Field(pattern=HOST_NAME, description="host name or IP")]
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or none (localhost only)",
    )
    username_env: EnvName = "BS_SMTP_USERNAME"
    password_env: EnvName = "BS_SMTP_PASSWORD"  # noqa: S105 (a variable's name)
    timeout: float = Field(default=30.0, gt=0, le=600, description="seconds")
    ca_file: Path | None = Field(
        default=None, description="a PEM bundle to trust instead of the system's (a private CA)"
    )

    @field_validator("ca_file")
    @classmethod
    def _no_control(cls, path: Path | None) -> Path | None:
        return None if path is None else _plain_path(path)

    @model_validator(mode="after")
    def _plain_only_locally(self) -> SmtpMail:
        if self.security == "none" and self.host not in ("localhost", "127.0.0.1", "::1", "[::1]"):
            raise ValueError(
                f"security: none sends passwords and links in clear text to {self.host}: "
                "use starttls or tls, or none only with localhost"
            )
        return self


def _mail_kind(value: Any) -> str | None:
    # `kind` may be left out: the outbox is the default.
    if isinstance(value, dict):
        return str(value.get("kind", "outbox"))
    return getattr(value, "kind", None)  # not a mapping: refused as one


MailConfig = Annotated[
    Annotated[OutboxMail, Tag("outbox")] | Annotated[SmtpMail, Tag("smtp")],
    Discriminator(
        _mail_kind,
        custom_error_type="mail_kind",
        custom_error_message="kind must be outbox or smtp",
    ),
]


#: scheme://host[:port][/path]: a host name, IPv4 or [IPv6] address; no user info, no
#: backslashes (browsers read "http://evil\\@localhost" as evil), no query or fragment.
GATEWAY_URL = (
    r"^(https?)://([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$&'()*+,;=:%/-]*)?$"
)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class GitHubSignIn(StrictModel):
    """Sign-in to the gateway with GitHub's OAuth web flow, for one organisation's members."""

    org: Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    client_id_env: EnvName = "BS_GITHUB_CLIENT_ID"
    client_secret_env: EnvName = "BS_GITHUB_CLIENT_SECRET"  # noqa: S105 (a variable's name)
    web_url: Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.:-]+$")] = Field(
        default="https://github.com", description="GitHub Enterprise Server: its https URL"
    )
    api_url: Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.:/-]+$")] = "https://api.github.com"

    @model_validator(mode="after")
    def _one_github(self) -> GitHubSignIn:
        same_github(self.web_url, self.api_url)
        return self


class GatewayConfig(StrictModel):
    url: Annotated[str, Field(pattern=GATEWAY_URL)] = Field(
        default="http://127.0.0.1:8421",
        description="where the deploy gateway (bs serve) is reached; deploy links start with "
        "it. https, except on this machine (127.0.0.1, localhost, [::1])",
    )
    store: Annotated[str, Field(pattern=r"^(sqlite|postgresql)(\+[a-z0-9]+)?://[^\s]*$")] = Field(
        default="sqlite:///.bs/gateway.sqlite",
        description="the gateway's database: sqlite:///PATH (relative to bs.yaml's folder) or "
        "postgresql+psycopg://USER@HOST/DB; a URL with a password goes in BS_GATEWAY_STORE",
    )
    github: GitHubSignIn | None = Field(
        default=None,
        description="sign in with GitHub (required unless the forge is local and the gateway "
        "listens only on this machine)",
    )
    lock_timeout: float = Field(
        default=60, ge=2, le=3600,
        description="seconds between renewals of a deploy lock before it lapses; a lock its "
        "gateway stopped renewing is freed within twice this (clocks may differ by up to it)",
    )  # fmt: skip

    @field_validator("store")
    @classmethod
    def _no_password(cls, url: str) -> str:
        if re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]*@", url):
            raise ValueError(
                "the store URL holds a password, and bs.yaml is in git: put the URL in the "
                "BS_GATEWAY_STORE environment variable instead"
            )
        return url

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: str) -> str:
        match = re.fullmatch(GATEWAY_URL, url)
        assert match is not None  # the pattern ran first
        scheme, host = match.group(1), match.group(2).lower()
        if scheme == "http" and host not in LOCAL_HOSTS:
            raise ValueError(
                f"deploy links would travel unencrypted to {host}: use https:// (http:// only "
                "for a gateway on this machine: 127.0.0.1, localhost or [::1])"
            )
        return url


class BsConfig(StrictModel):
    """``bs.yaml``, at the root of the requests repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="bs.yaml")

    version: Literal[1] = 1
    forge: ForgeConfig
    requests_repo: RepoName
    patch: PatchLimits = PatchLimits()
    mail: MailConfig = Field(default_factory=OutboxMail)

    @field_validator("mail", mode="before")
    @classmethod
    def _empty_mail(cls, value: Any) -> Any:
        # `mail:` with every key commented out is the default outbox, not an error.
        return {} if value is None else value

    gateway: GatewayConfig = GatewayConfig()


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


class AppConfig(StrictModel):
    repo: RepoName
    tags: TagsConfig
    deployed: DeployedSourceConfig = RefDeployedSource(source="ref")
    policy: Annotated[str, Field(pattern=APP_NAME, description="policies/<policy>.yaml")]
    review_list: list[Annotated[str, Field(pattern=EMAIL)]] = Field(
        default_factory=list, description="addresses emailed about each request"
    )
    deploy: DeployConfig | None = Field(
        default=None,
        description="how the gateway deploys it: a command, a Jenkins job or a GitHub workflow",
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
