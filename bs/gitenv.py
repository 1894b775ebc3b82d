"""The environment git runs in: nothing may point it elsewhere.

Kept apart from ``bs.gitcmd`` so that entry points can clean the process
environment without importing GitPython (``bs --help`` stays fast).
"""

from __future__ import annotations

import os

#: Variables that point git at other repositories or objects, or change what
#: a diff says (`git rev-parse --local-env-vars`, and the diff ones). A git
#: hook running bs sets GIT_DIR and GIT_INDEX_FILE, for one.
_UNSAFE_GIT_VARIABLES = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_OBJECT_DIRECTORY", "GIT_DIR",
    "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE",
    "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_DIFF_OPTS", "GIT_EXTERNAL_DIFF",
)  # fmt: skip

#: Set on every git call: replace refs off (`refs/replace/*` could show a
#: decoy's diff, or graft a fork onto the deployed commit), and the diff
#: variables emptied, which git reads as unset.
NEUTRAL_ENV = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_DIFF_OPTS": "", "GIT_EXTERNAL_DIFF": ""}


def sanitize_environment() -> None:
    """Remove the variables that would redirect git, for this whole process.

    Entry points (the CLI, the gateway) call it first. Every call below also
    names its repository with --git-dir and sets the neutral variables, so a
    library caller gets the same bytes.
    """
    for name in _UNSAFE_GIT_VARIABLES:
        os.environ.pop(name, None)
