"""The deployed version is a value in a YAML file of a GitOps repository (``gitops-file``).

Reading: ``deployed.path`` on ``deployed.branch`` (the default branch when not
set) of ``deployed.repo`` is read through the forge, parsed with the safe
loader, and the value at the dotted ``deployed.key`` read through
``deployed.format``. Commits and tags are looked up in the app's repository,
not the GitOps one: the file names a build of the app. A YAML null there
(``tag: ~`` or ``tag:``) means nothing is deployed yet.

Recording: nothing to write. In GitOps the deploy pipeline commits the new
version to that file, and that commit is the record; bs writing it too would
race the pipeline.
"""

from __future__ import annotations

from typing import Any

from bs.config import AppConfig
from bs.config_sources import GitOpsFileDeployedSource
from bs.deployed.versionformat import Origin, shown, version_commit
from bs.errors import BsError
from bs.ports import Forge
from bs.yamlio import check_yaml_size, decode_yaml, parse_yaml


def _settings(config: AppConfig) -> GitOpsFileDeployedSource:
    source = config.deployed
    assert isinstance(source, GitOpsFileDeployedSource)  # chosen by deployed.source
    return source


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return shown(value)


def walk_key(document: Any, key: str) -> Any:
    """The value at dotted `key`; raises LookupError saying where the walk stopped."""
    value: Any = document
    walked: list[str] = []
    for part in key.split("."):
        here = ".".join(walked) or "the top level"
        if not isinstance(value, dict):
            raise LookupError(f"{here} is {_kind(value)}, not a mapping with {part}")
        if part not in value:
            keys = ", ".join(str(k) for k in list(value)[:20]) or "no keys"
            raise LookupError(f"{here} has no key {part}; it has {keys}")
        value = value[part]
        walked.append(part)
    return value


class GitOpsFileSource:
    """Reads an app's deployed commit from a YAML file in a GitOps repository."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def deployed_commit(self, app: str, config: AppConfig) -> str | None:
        source = _settings(config)
        branch = source.branch or "the default branch"
        name = f"{source.repo}/{source.path} on {branch}"
        try:
            data = self.forge.read_file(source.repo, source.path, source.branch)
        except BsError as exc:
            raise BsError(f"{app}: cannot read {name}: {exc.message}") from None
        if data is None:
            raise BsError(
                f"{app}: {name} does not exist: fix deployed.repo, deployed.path or "
                "deployed.branch, or commit the file"
            )
        try:
            check_yaml_size(len(data), name)
            document = parse_yaml(decode_yaml(data, name), name)
        except BsError as exc:
            raise BsError(f"{app}: {exc.message}") from None
        try:
            value = walk_key(document, source.key)
        except LookupError as exc:
            raise BsError(f"{app}: {name} has no {source.key} ({exc}): fix deployed.key") from None
        where = f"{source.key} in {name}"
        if isinstance(value, bool | int | float):
            # An abbreviated SHA of digits only is a number to YAML (0123456 even an
            # octal one), and its text is lost: the file must quote it.
            raise BsError(
                f"{app}: {where} is the number {value!r}, not a string: YAML reads an "
                f"unquoted value of digits as one; quote it in the file ('...')"
            )
        if value is not None and not isinstance(value, str):
            raise BsError(
                f"{app}: {where} is {_kind(value)}, not a string: point deployed.key at "
                f"the version itself, stated as {source.format}"
            )
        return version_commit(value, source.format, self.forge, Origin(app, config.repo, where))

    def record_deployed(self, app: str, config: AppConfig, commit: str) -> str:
        source = _settings(config)
        return (
            f"the deployer's own commit to {source.repo}/{source.path} records it "
            f"({source.key}, GitOps): bs writes nothing"
        )
