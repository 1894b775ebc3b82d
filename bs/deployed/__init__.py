"""Deployed-version sources, chosen by each app's ``deployed.source``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from bs.config import AppConfig
from bs.ports import DeployedVersionSource, Forge


def _ref_source(forge: Forge, env: Mapping[str, str]) -> DeployedVersionSource:
    from bs.deployed.ref import RefSource

    return RefSource(forge)


def _github_deployments(forge: Forge, env: Mapping[str, str]) -> DeployedVersionSource:
    from bs.deployed.github_deployments import GitHubDeploymentsSource

    return GitHubDeploymentsSource(env)


def _http(forge: Forge, env: Mapping[str, str]) -> DeployedVersionSource:
    from bs.deployed.http import HttpSource

    return HttpSource(forge, env)


def _gitops_file(forge: Forge, env: Mapping[str, str]) -> DeployedVersionSource:
    from bs.deployed.gitops_file import GitOpsFileSource

    return GitOpsFileSource(forge)


SOURCES: dict[str, Callable[[Forge, Mapping[str, str]], DeployedVersionSource]] = {
    "ref": _ref_source,
    "github-deployments": _github_deployments,
    "http": _http,
    "gitops-file": _gitops_file,
}


def source_for(
    app: AppConfig, forge: Forge, env: Mapping[str, str] | None = None
) -> DeployedVersionSource:
    """`app`'s source; its credentials (if any) from `env`, the process's by default."""
    return SOURCES[app.deployed.source](forge, os.environ if env is None else env)
