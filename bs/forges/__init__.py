"""Forge backends, chosen by ``forge.kind`` in bs.yaml."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from bs.config import BsConfig
from bs.ports import Forge
from bs.workspace import Workspace


def _open_local(workspace: Workspace, env: Mapping[str, str]) -> Forge:
    from bs.config import LocalForgeConfig
    from bs.forges.local import LocalForge

    forge = workspace.config.forge
    assert isinstance(forge, LocalForgeConfig)  # chosen by kind
    return LocalForge(workspace.resolve(forge.path), user=env.get("BS_USER"))


def _open_github(workspace: Workspace, env: Mapping[str, str]) -> Forge:
    from bs.forges.github import open_github_forge

    return open_github_forge(workspace, env)


FORGES: dict[str, Callable[[Workspace, Mapping[str, str]], Forge]] = {
    "local": _open_local,
    "github": _open_github,
}


def open_forge(workspace: Workspace, env: Mapping[str, str] | None = None) -> Forge:
    config: BsConfig = workspace.config
    return FORGES[config.forge.kind](workspace, os.environ if env is None else env)


def bot_login(config: BsConfig) -> str | None:
    """Who the hooks act as, whose marks on pull requests (a follow-up approved) are
    trusted: the local forge's `bot`, or the GitHub App's `SLUG[bot]`; None when bs.yaml
    does not say (then only bs itself, running as its App, can recognise its marks)."""
    from bs.config import GitHubForgeConfig, LocalForgeConfig

    forge = config.forge
    if isinstance(forge, LocalForgeConfig):
        return forge.bot
    assert isinstance(forge, GitHubForgeConfig)
    return f"{forge.app}[bot]" if forge.app else None
