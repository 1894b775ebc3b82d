"""Deployed-version sources, chosen by each app's ``deployed.source``."""

from __future__ import annotations

from collections.abc import Callable

from bs.config import AppConfig
from bs.ports import DeployedVersionSource, Forge


def _ref_source(forge: Forge) -> DeployedVersionSource:
    from bs.deployed.ref import RefSource

    return RefSource(forge)


def _github_deployments(forge: Forge) -> DeployedVersionSource:
    import os

    from bs.deployed.github_deployments import GitHubDeploymentsSource

    return GitHubDeploymentsSource(os.environ)


SOURCES: dict[str, Callable[[Forge], DeployedVersionSource]] = {
    "ref": _ref_source,
    "github-deployments": _github_deployments,
}


def source_for(app: AppConfig, forge: Forge) -> DeployedVersionSource:
    return SOURCES[app.deployed.source](forge)
