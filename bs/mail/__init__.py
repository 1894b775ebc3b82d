"""Mail backends, chosen by ``mail.kind`` in bs.yaml: the outbox folder or SMTP."""

from __future__ import annotations

from collections.abc import Mapping

from bs.config import OutboxMail, SmtpMail
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

    return OutboxMailer(workspace.resolve(config.path))
