"""What every command shares: the workspace, the forge, output helpers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from bs.core.links import Keyring
    from bs.ports import Forge, Mailer
    from bs.workspace import Workspace


@dataclass
class CliContext:
    directory: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @cached_property
    def workspace(self) -> Workspace:
        from bs.workspace import Workspace

        return Workspace.discover(self.directory)

    @cached_property
    def forge(self) -> Forge:
        from bs.forges import open_forge

        return open_forge(self.workspace, self.env)

    @cached_property
    def mailer(self) -> Mailer:
        from bs.mail import open_mailer

        return open_mailer(self.workspace, self.env)

    def keyring(self) -> Keyring:
        """The deploy-link keys, read only when a command needs them."""
        from bs.linkkeys import load_keyring

        return load_keyring(self.env, self.workspace.root)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
pass_cli = click.make_pass_decorator(CliContext)
