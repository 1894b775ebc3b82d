"""`bs keys generate` and `bs mail list|show|test`, through the CLI."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bs.core.links import (
    DEPLOY_LINK,
    KEY_BYTES,
    NONCE_BYTES,
    LinkClaims,
    mint_link_token,
    parse_keys,
    verify_link_token,
)
from bs.mail.outbox import outbox_messages
from tests.checkhelpers import branch_file
from tests.conftest import Result, World, run_bs
from tests.hookhelpers import REVIEW_LIST, hook, now, open_frontend, outbox_dir, set_mail, with_bot

KEY_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]{0,31}):([A-Za-z0-9_-]+)$")


def _secret(encoded: str) -> bytes:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


# -- bs keys generate -----------------------------------------------------------------


def keys(folder: Path, *args: str) -> Result:
    """`bs keys generate ARGS`: it needs no requests repository."""
    return run_bs(folder, "keys", "generate", *args)


def test_generate_prints_a_256_bit_key_that_signs_and_verifies(tmp_path: Path) -> None:
    result = keys(tmp_path)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert result.stdout == line + "\n"
    match = KEY_LINE.fullmatch(line)
    assert match is not None, line
    key_id, encoded = match.groups()
    assert re.fullmatch(rf"k{now():%Y%m%d}-[0-9a-f]{{4}}", key_id)
    assert len(_secret(encoded)) == KEY_BYTES == 32
    keyring = parse_keys(line, "BS_LINK_KEYS")
    assert keyring.signing.key_id == key_id
    assert keyring.signing.secret == _secret(encoded)
    claims = LinkClaims(
        purpose=DEPLOY_LINK, app="frontend", request_id="20260101-abcdefghijklmnop",
        pull_request=1, requester="alice", not_before=now(), expires=now() + timedelta(hours=2),
    )  # fmt: skip
    token = mint_link_token(claims, keyring, b"\x01" * NONCE_BYTES)
    assert verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=now()).requester == "alice"

    other = keys(tmp_path).stdout.strip()
    assert other != line and _secret(other.split(":")[1]) != _secret(encoded)
    # Rotation as the help shows it: the new key first, then the old.
    rotated = parse_keys(f"{other} {line}", "BS_LINK_KEYS")
    assert [k.key_id for k in rotated.keys] == [other.split(":")[0], key_id]


def test_generate_with_an_id_and_as_json(tmp_path: Path) -> None:
    result = keys(tmp_path, "--id", "demo-2026_a")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("demo-2026_a:")
    assert parse_keys(result.stdout, "x").signing.key_id == "demo-2026_a"

    result = keys(tmp_path, "--id", "prod", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"id", "key"}
    assert data["id"] == "prod" and data["key"].startswith("prod:")
    assert len(parse_keys(data["key"], "x").signing.secret) == 32


@pytest.mark.parametrize(
    "key_id", ["-leading-dash", "_leading", "has space", "a.b", "a:b", "x" * 33, "caf\u00e9"]
)
def test_generate_refuses_a_bad_id(tmp_path: Path, key_id: str) -> None:
    result = keys(tmp_path, "--id", key_id)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"bs: error: --id: key id {key_id!r} must match ")


def test_generate_accepts_the_longest_id(tmp_path: Path) -> None:
    result = keys(tmp_path, "--id", "x" * 32)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("x" * 32 + ":")


def test_generate_refuses_an_empty_id(tmp_path: Path) -> None:
    result = keys(tmp_path, "--id", "")
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("bs: error: --id: key id '' must match ")


# -- bs mail --------------------------------------------------------------------------


def test_an_empty_outbox(world: World) -> None:
    listed = world.bs("mail", "list")
    assert (listed.exit_code, listed.stdout) == (0, "The outbox is empty.\n")
    assert json.loads(world.bs("mail", "list", "--json").stdout) == []
    shown = world.bs("mail", "show")
    assert shown.exit_code == 1
    assert shown.stderr == f"bs: error: the outbox {outbox_dir(world)} is empty.\n"


def test_list_and_show_read_the_outbox_as_a_mail_client(world: World) -> None:
    opened = open_frontend(with_bot(world), reason="Cookie banner")
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    sent = world.bs("mail", "test", "you@example.gov.uk")
    assert sent.exit_code == 0, sent.output
    review, test = outbox_messages(outbox_dir(world))
    assert sent.stdout == f"Sent a test message to you@example.gov.uk via {test}.\n"
    subject = f"[frontend] Release request #{opened.number}: release_1 -> release_2 by alice"

    listed = world.bs("mail", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == (
        f"  1  {review.name}  to {REVIEW_LIST}\n     {subject}\n"
        f"  2  {test.name}  to you@example.gov.uk\n     battlestations: test message\n"
    )
    rows = json.loads(world.bs("mail", "list", "--json").stdout)
    assert [(r["file"], r["to"], r["subject"]) for r in rows] == [
        (review.name, REVIEW_LIST, subject),
        (test.name, "you@example.gov.uk", "battlestations: test message"),
    ]
    assert all(r["date"].endswith("+0000") for r in rows)

    newest = world.bs("mail", "show")
    assert newest.exit_code == 0, newest.output
    assert "Subject: battlestations: test message\n" in newest.stdout
    assert newest.stdout.endswith("the mail settings work.\n")
    no_html = world.bs("mail", "show", "2", "--html")
    assert "Subject: battlestations: test message\n\n(no such part)" in no_html.stdout

    patch = branch_file(world, opened, opened.patch_file)
    first = world.bs("mail", "show", "1")
    assert first.exit_code == 0, first.output
    head, _, body = first.stdout.partition("\n\n")
    assert head.splitlines() == [
        "From: battlestations <bs@localhost.localdomain>",
        f"To: {REVIEW_LIST}",
        "Reply-To: alice@example.gov.uk",
        head.splitlines()[3],
        f"Subject: {subject}",
    ]
    assert head.splitlines()[3].startswith("Date: ")
    assert body.startswith("alice asks to release frontend release_2 to production.\n")
    assert "Reason:     Cookie banner\n" in body
    assert body.endswith(
        f"[attached: {opened.request_id}.patch, text/x-diff, {len(patch):,} bytes]\n"
    )
    assert world.bs("mail", "show", review.name).stdout == first.stdout

    html = world.bs("mail", "show", "1", "--html")
    assert html.exit_code == 0, html.output
    assert "\n\n<!DOCTYPE html>\n" in html.stdout
    assert "<td>Cookie banner</td>" in html.stdout

    data = json.loads(world.bs("mail", "show", "1", "--json").stdout)
    assert data["file"] == review.name
    assert data["headers"]["To"] == REVIEW_LIST
    assert data["headers"]["Subject"] == subject
    assert data["headers"]["References"].startswith("<request.")
    assert data["text"].startswith("alice asks to release")
    assert data["html"].startswith("<!DOCTYPE html>")
    assert data["attachments"] == [
        {
            "filename": f"{opened.request_id}.patch",
            "content_type": "text/x-diff",
            "bytes": len(patch),
        }
    ]


@pytest.mark.parametrize(
    ("which", "error"),
    [
        ("0", "the outbox has 1 message: give N from 1 to 1."),
        ("2", "the outbox has 1 message: give N from 1 to 1."),
        ("../bs.yaml", "no message ../bs.yaml in the outbox"),
        ("nothing.eml", "no message nothing.eml in the outbox"),
    ],
)
def test_show_refuses_what_is_not_an_outbox_message(world: World, which: str, error: str) -> None:
    assert world.bs("mail", "test", "you@example.gov.uk").exit_code == 0
    shown = world.bs("mail", "show", which)
    assert shown.exit_code == 1
    assert error in shown.stderr
    assert shown.stdout == ""


def test_smtp_mail_has_no_outbox(world: World) -> None:
    set_mail(world, {"kind": "smtp", "host": "smtp.example.gov.uk"})
    for args in (["list"], ["list", "--json"], ["show"], ["show", "1", "--html"]):
        result = world.bs("mail", *args)
        assert result.exit_code == 1, args
        assert result.stderr == (
            "bs: error: mail.kind is smtp in bs.yaml: there is no outbox to read.\n"
        )
        assert result.stdout == ""


def test_mail_test_refuses_what_is_not_an_address(world: World) -> None:
    result = world.bs("mail", "test", "not an address")
    assert result.exit_code == 1
    assert "'not an address' is not an email address." in result.stderr
    assert outbox_messages(outbox_dir(world)) == []
