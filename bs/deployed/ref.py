"""The deployed version is what a ref of the app repository points at.

GOV.UK's convention: after each deploy, a ``deployed-to-production`` branch is
pushed to the app's repository. No such branch means nothing is deployed yet.
"""

from __future__ import annotations

from bs.config import AppConfig
from bs.config_sources import RefDeployedSource
from bs.ports import Forge


def _ref(config: AppConfig) -> str:
    source = config.deployed
    assert isinstance(source, RefDeployedSource)  # chosen by deployed.source
    return source.ref


class RefSource:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def deployed_commit(self, app: str, config: AppConfig) -> str | None:
        return self.forge.resolve_branch(config.repo, _ref(config))

    def record_deployed(self, app: str, config: AppConfig, commit: str) -> str:
        self.forge.set_branch(config.repo, _ref(config), commit)
        return f"{_ref(config)} of {config.repo} now points at {commit[:12]}"
