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
    ByteSize,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from bs.config_sources import DeployedSourceConfig, RefDeployedSource
from bs.configtypes import LOCAL_HOSTS, EnvName, RepoName, StrictModel, _plain_path
from bs.core.names import APP_NAME, EMAIL, LOGIN
from bs.core.tags import SchemeKind, TagScheme
from bs.deployconfig import DeployConfig
from bs.errors import BsError


class LocalForgeConfig(StrictModel):
    """The embedded forge: bare repositories and pull requests in a folder."""

    kind: Literal["local"]
    path: Path = Field(description="the forge folder; relative paths are from bs.yaml's folder")
    bot: Annotated[str, Field(pattern=LOGIN)] = Field(
        default="release-bot",
        description="the user the hooks and the gateway act as (on GitHub, the App): "
        "`bs audit` and `bs status` trust only its marks on pull requests",
    )


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


HOST_NAME = r"^[A-Za-z0-9.:\[\]-]+$"
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
