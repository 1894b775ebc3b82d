"""The building blocks both configuration files share (see ``bs.config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bs.core.names import REPO_NAME

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="an environment variable's name")]
#: Where http:// is allowed: this machine.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")

RepoName = Annotated[str, Field(pattern=REPO_NAME, description="OWNER/NAME, as on GitHub")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _plain_path(path: Path) -> Path:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in str(path)):
        raise ValueError("a path cannot hold control characters (a NUL, a line break...)")
    return path
