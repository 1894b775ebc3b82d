"""Mail backends, chosen by ``mail.kind`` in bs.yaml: the outbox folder or SMTP."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bs.config import OutboxMail, SmtpMail
from bs.errors import BsError
from bs.gitenv import NEUTRAL_ENV
from bs.ports import Mailer
from bs.workspace import Workspace


def open_mailer(workspace: Workspace, env: Mapping[str, str]) -> Mailer:
    config = workspace.config.mail
    if isinstance(config, SmtpMail):
        from bs.mail.smtp import SmtpMailer

        ca_file = workspace.resolve(config.ca_file) if config.ca_file else None
        return SmtpMailer(config, env, ca_file=ca_file)
    assert isinstance(config, OutboxMail)
    from bs.mail.outbox import OutboxMailer

    folder = workspace.resolve(config.path)
    _refuse_committable(folder, workspace.root)
    return OutboxMailer(folder)


def _refuse_committable(folder: Path, root: Path) -> None:
    """Outbox messages hold deploy links: inside the checkout, git must ignore them."""
    folder, root = folder.resolve(), root.resolve()
    if not folder.is_relative_to(root):
        return
    probe = folder / "message.eml"
    ignored = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "-q", "--no-index", "--", str(probe)],
        env={**os.environ, **NEUTRAL_ENV},
        capture_output=True,
        check=False,
    )
    # 0: ignored. 128 is git's error: fine only where there is no git checkout at all.
    if ignored.returncode == 1 or (ignored.returncode != 0 and (root / ".git").exists()):
        raise BsError(
            f"the outbox {folder} is inside the requests repository and git does not ignore "
            "it, so deploy links in it could be committed: add it to .gitignore (bs's own "
            "default, .bs/, is there) or set mail.path outside the repository."
        )
