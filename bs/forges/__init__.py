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
