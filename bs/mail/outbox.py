"""The outbox: each message an ``.eml`` file in a folder, for one machine and for tests.

Files are written whole (a temporary name, then a rename) and readable only by
their owner: messages carry deploy links.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from bs.errors import BsError


class OutboxMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}.eml"
            final = self.folder / name
            temporary = self.folder / f".{name}.tmp"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(message.as_bytes(policy=SMTP))
                temporary.replace(final)
            except BaseException:
                temporary.unlink(missing_ok=True)  # no half message, link and all, left behind
                raise
        except OSError as exc:
            raise BsError(
                f"could not write the message to the outbox {self.folder}: {exc.strerror or exc}. "
                "Make the folder writable or set mail.path in bs.yaml."
            ) from None
        return str(final)


def outbox_messages(folder: Path) -> list[Path]:
    """The outbox's messages, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.eml") if p.is_file())
