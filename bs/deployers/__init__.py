"""Deployers: what actually deploys a release, chosen by each app's ``deploy.kind``.

A deployer runs one approved release and reports how it went. It is given
the release (`DeployJob`), a `log` callable for each line of output (shown
live on the deployment page and kept with the record), and `should_stop`,
true once the gateway is shutting down. Set-up errors (a missing credential)
raise `BsError` before anything starts; everything after returns a
`DeployOutcome`. Credentials come from the gateway's environment only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bs.deployconfig import CommandDeploy, DeployConfig, JenkinsDeploy, WorkflowDeploy


@dataclass(frozen=True)
class DeployJob:
    app: str
    repo: str
    tag: str | None
    commit: str
    deployment_id: int

    def placeholders(self) -> dict[str, str]:
        return {"app": self.app, "repo": self.repo, "tag": self.tag or self.commit,
                "commit": self.commit}  # fmt: skip


@dataclass(frozen=True)
class DeployOutcome:
    ok: bool
    #: One line: "exit status 0", "build #42 FAILURE", "timed out after 600 s"...
    summary: str
    #: Where the deployer's own record is (a Jenkins build, an Actions run), if anywhere.
    url: str | None = None


LogLine = Callable[[str], None]
ShouldStop = Callable[[], bool]


class Deployer(Protocol):
    def deploy(self, job: DeployJob, log: LogLine, should_stop: ShouldStop) -> DeployOutcome: ...


def deployer_for(config: DeployConfig, env: Mapping[str, str], root: Path) -> Deployer:
    """The deployer `config` describes, with its credentials read from `env`; a command
    runs in `root` (the requests repository's checkout)."""
    if isinstance(config, CommandDeploy):
        from bs.deployers.command import CommandDeployer

        return CommandDeployer(config, env, cwd=root)
    if isinstance(config, JenkinsDeploy):
        from bs.deployers.jenkins import JenkinsDeployer

        return JenkinsDeployer(config, env)
    assert isinstance(config, WorkflowDeploy)
    from bs.deployers.github_workflow import WorkflowDeployer

    return WorkflowDeployer(config, env)
