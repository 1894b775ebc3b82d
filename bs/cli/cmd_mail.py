"""``bs mail``: read the outbox, and try the mail settings."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.core.words import count_noun
from bs.errors import BsError


def _outbox(cli: CliContext) -> Path:
    from bs.config import OutboxMail

    mail = cli.workspace.config.mail
    if not isinstance(mail, OutboxMail):
        raise BsError(f"mail.kind is {mail.kind} in bs.yaml: there is no outbox to read.")
    return cli.workspace.resolve(mail.path)


def _read(path: Path) -> EmailMessage:
    try:
        with path.open("rb") as handle:
            parsed = BytesParser(policy=policy.default).parse(handle)
    except OSError as exc:
        raise BsError(f"cannot read {path}: {exc.strerror or exc}.") from None
    assert isinstance(parsed, EmailMessage)
    return parsed


def _content(part: MIMEPart | None) -> str | None:
    """A part's text; a charset Python does not know says so rather than failing."""
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError, KeyError) as exc:
        return f"(this part cannot be decoded: {exc})\n"
    return content if isinstance(content, str) else f"({len(content):,} bytes of binary)\n"


HEADERS = ("From", "To", "Reply-To", "Date", "Subject", "Message-ID", "References")


def _header(message: EmailMessage, name: str) -> str:
    return " ".join(str(message[name] or "").split())


@click.group("mail")
def mail() -> None:
    """Read the outbox; send a test message.

    \b
    Example:
      bs mail list
      bs mail show
      bs mail test you@example.gov.uk
    """


@mail.command("list")
@json_option
@pass_cli
def list_messages(cli: CliContext, as_json: bool) -> None:
    """List the messages in the outbox (mail.kind: outbox), oldest first.

    \b
    Example:
      bs mail list --json
    """
    from bs.mail.outbox import outbox_messages

    rows = []
    for path in outbox_messages(_outbox(cli)):
        message = _read(path)
        rows.append({"file": path.name, "date": _header(message, "Date"),
                     "to": _header(message, "To"), "subject": _header(message, "Subject")})  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("The outbox is empty.")
    for number, row in enumerate(rows, start=1):
        click.echo(f"{number:3}  {row['file']}  to {row['to']}\n     {row['subject']}")


@mail.command("show")
@click.argument("which", metavar="[N|FILE]", required=False)
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
@json_option
@pass_cli
def show(cli: CliContext, which: str | None, html: bool, as_json: bool) -> None:
    """Print an outbox message as a mail client shows it: headers, the text
    part and the attachments' names. N counts from `bs mail list`; default:
    the newest. Messages hold deploy links: do not paste them anywhere.

    \b
    Example:
      bs mail show
      bs mail show 2 --html
    """
    from bs.mail.outbox import outbox_messages

    folder = _outbox(cli)
    messages = outbox_messages(folder)
    if not messages:
        raise BsError(f"the outbox {folder} is empty.")
    if which is None:
        path = messages[-1]
    elif which.isascii() and which.isdigit():
        if not 1 <= int(which) <= len(messages):
            raise BsError(
                f"the outbox has {count_noun(len(messages), 'message')}: give N from 1 to "
                f"{len(messages)}."
            )
        path = messages[int(which) - 1]
    else:
        path = folder / which
        if path not in messages:
            raise BsError(f"no message {which} in the outbox {folder}: see `bs mail list`.")
    message = _read(path)
    if as_json:
        text, markup = message.get_body(("plain",)), message.get_body(("html",))
        emit_json({
            "file": path.name,
            "headers": {h: _header(message, h) for h in HEADERS if message[h] is not None},
            "text": _content(text),
            "html": _content(markup),
            "attachments": [
                {"filename": part.get_filename(), "content_type": part.get_content_type(),
                 "bytes": len(part.get_payload(decode=True) or b"")}
                for part in message.iter_attachments()
            ],
        })  # fmt: skip
        return
    for header in ("From", "To", "Reply-To", "Date", "Subject"):
        if message[header] is not None:
            click.echo(f"{header}: {_header(message, header)}")
    body = message.get_body(preferencelist=("html",) if html else ("plain",))
    click.echo("")
    content = _content(body) or "(no such part)\n"
    click.echo(content if content.endswith("\n") else content + "\n", nl=False)
    for part in message.iter_attachments():
        size = len(part.get_payload(decode=True) or b"")
        click.echo(f"[attached: {part.get_filename()}, {part.get_content_type()}, {size:,} bytes]")


@mail.command("test")
@click.argument("address")
@json_option
@pass_cli
def test(cli: CliContext, address: str, as_json: bool) -> None:
    """Send a short test message to ADDRESS with the mail settings of bs.yaml.

    \b
    Example:
      BS_SMTP_USERNAME=bs BS_SMTP_PASSWORD=... bs mail test you@example.gov.uk
    """
    import re
    from email.utils import format_datetime, make_msgid

    from bs.core.names import EMAIL
    from bs.mail.compose import domain_of

    if not re.fullmatch(EMAIL, address):
        raise BsError(f"'{address}' is not an email address.")
    config = cli.workspace.config.mail
    message = EmailMessage()
    message["Subject"] = "battlestations: test message"
    message["From"] = config.from_
    message["To"] = address
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("bs", domain=domain_of(config.from_))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("This is a test message from bs mail test: the mail settings work.\n")
    where = cli.mailer.send(message)
    if as_json:
        emit_json({"sent_to": address, "via": where})
        return
    click.echo(f"Sent a test message to {address} via {where}.")
