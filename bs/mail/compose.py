"""Turning a message bs wants to send into a proper MIME message.

Each message has a text and an HTML part, both from Jinja2 templates in
``bs/templates/mail/``. The HTML ones are autoescaped, and every value in
either is stripped of control and bidi characters: titles, reasons and
comments come from people. Messages of one request share a thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email import errors
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from typing import Any

import jinja2

from bs.config import MailCommon
from bs.core.words import printable
from bs.errors import BsError


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "text"
    subtype: str = "x-diff"


@dataclass(frozen=True)
class Outgoing:
    """A message to send: which template, to whom, about what."""

    template: str
    subject: str
    to: tuple[str, ...]
    context: dict[str, Any]
    #: Where replies should go; the configured reply_to (or From) when None.
    reply_to: str | None = None
    #: The request the message is about: its messages thread together in mail clients.
    thread: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class Block(str):
    """Text `block` made multi-line on purpose: kept as it is by `_finalize`."""


def _block(value: str, width: int = 0) -> Block:
    """A value people wrote over several lines, each continuation line indented by
    `width`, so no line of it can pass for one of bs's own (``Patch: ...``)."""
    lines = printable(value).split("\n")
    return Block(("\n" + " " * width).join(lines))


def _finalize(value: Any) -> Any:
    # Anything not marked as a block is one line: a tag or title cannot start a line.
    if isinstance(value, Block):
        return value
    return printable(value).replace("\n", " ") if isinstance(value, str) else value


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bs", "templates/mail"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["block"] = _block
    return environment


def render_parts(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """The text and HTML bodies of `template`."""
    environment = _environment()
    text = environment.get_template(f"{template}.txt.j2").render(context)
    html = environment.get_template(f"{template}.html.j2").render(context)
    return text, html


def header_text(text: str) -> str:
    """One line, no control characters: safe as a header value."""
    return " ".join(printable(text).split())


def domain_of(mailbox: str) -> str:
    return parseaddr(mailbox)[1].rpartition("@")[2] or "localhost"


def render_message(outgoing: Outgoing, mail: MailCommon, now: datetime) -> EmailMessage:
    try:
        return _render(outgoing, mail, now)
    except (ValueError, IndexError, errors.HeaderParseError, errors.MessageError) as exc:
        raise BsError(
            f"cannot write the message '{header_text(outgoing.subject)}' to "
            f"{', '.join(outgoing.to)}: {exc}. Check the addresses in bs.yaml, "
            "policies/apps.yaml and the forge's users. Nothing was sent."
        ) from None


def _render(outgoing: Outgoing, mail: MailCommon, now: datetime) -> EmailMessage:
    text, html = render_parts(outgoing.template, outgoing.context)
    domain = domain_of(mail.from_)
    message = EmailMessage()
    message["Subject"] = header_text(outgoing.subject)
    message["From"] = _mailbox(mail.from_)
    message["To"] = [Address(addr_spec=address) for address in outgoing.to]
    message["Reply-To"] = _mailbox(outgoing.reply_to or mail.reply_to or mail.from_)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("bs", domain=domain)
    if outgoing.thread is not None:
        # A stable, made-up id per request: every message about it refers to it.
        root = hashlib.sha256(outgoing.thread.encode("utf-8")).hexdigest()[:24]
        message["In-Reply-To"] = message["References"] = f"<request.{root}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in outgoing.attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


def _mailbox(text: str) -> Address:
    """``Name <address>`` or ``address`` as one Address, the name quoted as it needs."""
    name, address = parseaddr(text)
    if not address or "@" not in address:
        raise ValueError(f"'{text}' is not an address")
    return Address(display_name=name, addr_spec=address)
