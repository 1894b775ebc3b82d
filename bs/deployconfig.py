"""How each app is deployed: the ``deploy:`` block of ``policies/apps.yaml``.

Three kinds, chosen per app. Every credential is named by an environment
variable of the gateway's, never written here: ``policies/`` is in git.
Placeholders ``{app}``, ``{tag}``, ``{commit}`` and ``{repo}`` in arguments,
parameters and inputs are filled in with the approved release.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from bs.core.names import GIT_REF_NAME, REPO_NAME

PLACEHOLDERS = ("app", "tag", "commit", "repo")
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_placeholders(text: str) -> str:
    """Refuse any ``{name}`` but the four placeholders (and a stray brace)."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text)]
    except ValueError:
        raise ValueError(
            f"{text!r} has an unmatched brace: write {{{{ or }}}} for a literal brace"
        ) from None
    for name, spec, conv in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"{text!r} names {{{name}}}: the placeholders are "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
        if spec or conv:
            raise ValueError(f"{text!r}: placeholders take no format spec or conversion")
    return text


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with its placeholders filled in (checked by `check_placeholders`)."""
    return text.format_map(values)


#: An argument, parameter or input with placeholders, checked when the file is read.
Templated = Annotated[str, Field(max_length=2000), AfterValidator(check_placeholders)]


class CommandDeploy(_Strict):
    """Run a program on the gateway's machine: no shell, an argv list."""

    kind: Literal["command"]
    argv: list[Templated] = Field(
        min_length=1, description="the program and its arguments; {app} {tag} {commit} {repo}"
    )
    timeout: float = Field(default=1800, gt=0, le=86400, description="seconds")
    env: list[EnvName] = Field(
        default_factory=list,
        description="the gateway's environment variables passed on (besides PATH, HOME, LANG)",
    )


class JenkinsDeploy(_Strict):
    """Build a parameterised Jenkins job (GOV.UK's ``Deploy_App``) through python-jenkins."""

    kind: Literal["jenkins"]
    url: Annotated[str, Field(pattern=r"^https?://[^\s@\\]+$")] = Field(
        description="the Jenkins root URL: https, except on this machine"
    )

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: str) -> str:
        host = (urlsplit(url).hostname or "").lower()
        if url.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                f"the Jenkins API token would travel unencrypted to {host}: use https://"
            )
        return url

    job: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_./ -]{0,199}$")] = "Deploy_App"
    parameters: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Templated] = Field(
        default_factory=lambda: {
            "TARGET_APPLICATION": "{app}",
            "TAG": "{tag}",
            "DEPLOY_TASK": "deploy",
        }
    )
    username_env: EnvName = "BS_JENKINS_USERNAME"
    token_env: EnvName = "BS_JENKINS_TOKEN"  # noqa: S105 (a variable's name)
    timeout: float = Field(default=3600, gt=0, le=86400, description="seconds, queue included")
    start_timeout: float = Field(
        default=600, gt=0, le=86400, description="seconds a queued build may wait to start"
    )
    poll_interval: float = Field(default=2.0, gt=0, le=60)


class WorkflowDeploy(_Strict):
    """``workflow_dispatch`` of a GitHub Actions workflow, followed to its conclusion."""

    kind: Literal["github-workflow"]
    repo: Annotated[str, Field(pattern=REPO_NAME)] | None = Field(
        default=None, description="the repository holding the workflow (default: the app's)"
    )
    workflow: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.ya?ml$")] = "deploy.yml"
    ref: Annotated[str, Field(pattern=GIT_REF_NAME)] = Field(
        default="main", description="the branch or tag whose workflow file runs"
    )
    inputs: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")], Templated] = Field(
        default_factory=lambda: {"gitRef": "{tag}", "environment": "production"}
    )
    token_env: EnvName = "BS_GITHUB_DEPLOY_TOKEN"  # noqa: S105 (a variable's name)
    api_url: Annotated[str, Field(pattern=r"^https://[^\s@\\]+$")] = "https://api.github.com"
    timeout: float = Field(default=3600, gt=0, le=86400, description="seconds")
    start_timeout: float = Field(
        default=300, gt=0, le=3600, description="seconds to wait for the dispatched run to appear"
    )
    poll_interval: float = Field(default=5.0, gt=0, le=60)


DeployConfig = Annotated[
    CommandDeploy | JenkinsDeploy | WorkflowDeploy, Field(discriminator="kind")
]
