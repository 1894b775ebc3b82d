"""Which repositories a bs workflow's GitHub App token may reach, for ``$GITHUB_OUTPUT``.

The requests repository and the repositories `policies/apps.yaml` names (each
app's, and a ``gitops-file`` source's), read from this checkout: the default
branch, never a pull request. An installation token covers one owner's
repositories, so those of another owner are left out with a warning (bs then
says it cannot read them). When the registry cannot be read, the token covers
the repository the workflow runs in alone, so that `bs check` can still post its `error`
status saying why.

Run from the checkout: ``python .github/scripts/bs_token_repositories.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def repositories(root: Path, owner: str, current: str) -> tuple[list[str], list[str]]:
    """(names under `owner`, full names under any other owner); `current` is the
    repository the workflow runs in, the requests repository."""
    from bs.config_sources import GitOpsFileDeployedSource
    from bs.errors import BsError
    from bs.workspace import Workspace

    workspace = Workspace(root)
    names = {current}
    try:
        names.add(workspace.config.requests_repo)
        for app in workspace.apps.apps.values():
            names.add(app.repo)
            if isinstance(app.deployed, GitOpsFileDeployedSource):
                names.add(app.deployed.repo)
    except BsError as exc:
        print(f"::warning::{exc.message} (a token for {current} alone)")
    mine = sorted({n.split("/", 1)[1] for n in names if n.split("/")[0].lower() == owner.lower()})
    others = sorted(n for n in names if n.split("/")[0].lower() != owner.lower())
    return mine, others


def main() -> int:
    current = os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in current:
        print("::error::GITHUB_REPOSITORY is not set: run this in GitHub Actions.")
        return 1
    owner = current.split("/")[0]
    mine, others = repositories(Path.cwd(), owner, current)
    for name in others:
        print(f"::warning::{name} is not {owner}'s: the App's token cannot reach it.")
    line = f"repositories={','.join(mine)}\n"
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as out:
            out.write(line)
    sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
