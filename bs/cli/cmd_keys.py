"""``bs keys generate``: a new deploy-link signing key."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import click

from bs.cli.context import emit_json, json_option


@click.group("keys")
def keys() -> None:
    """Make the keys deploy links are signed with.

    Keep keys in the environment (BS_LINK_KEYS) or a file outside the
    repository (BS_LINK_KEYS_FILE), never in git.

    \b
    Example:
      install -d -m 700 ~/.config/bs && (umask 077; bs keys generate > ~/.config/bs/link-keys)
    """


@keys.command("generate")
@click.option(
    "--id",
    "key_id",
    metavar="ID",
    help="The key's id (letters, digits, '-', '_'); default: today's date and 4 random characters.",
)
@json_option
def generate(key_id: str | None, as_json: bool) -> None:
    """Print a new 256-bit key as ID:SECRET.

    To rotate: put the new key first in BS_LINK_KEYS (it signs new links) and
    keep the old one after it until its links have expired.

    \b
    Example:
      export BS_LINK_KEYS="$(bs keys generate)"
      BS_LINK_KEYS="$(bs keys generate) $BS_LINK_KEYS"   # rotate
    """
    from bs.core.links import KEY_BYTES, new_key_line
    from bs.errors import BsError

    if key_id is None:
        key_id = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    try:
        line = new_key_line(key_id, secrets.token_bytes(KEY_BYTES))
    except ValueError as exc:
        raise BsError(f"--id: {exc}") from None
    if as_json:
        emit_json({"id": key_id, "key": line})
    else:
        click.echo(line)
