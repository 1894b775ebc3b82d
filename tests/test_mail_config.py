"""The `mail:` and `gateway:` sections of bs.yaml, and the outbox, through the CLI.

Each bad value is refused with one message that names the key and the fix, exit
status 1 and no traceback; a password written into bs.yaml is never echoed. The
checkouts here are plain folders with a bs.yaml: `bs mail` needs no forge.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bs.config import BsConfig, OutboxMail, SmtpMail
from bs.errors import BsError
from bs.mail.outbox import OutboxMailer, outbox_messages
from bs.validation import validate_document
from tests.conftest import ROOT, Result, run_bs

BS_YAML = (
    "version: 1\nforge: {kind: local, path: ../forge}\nrequests_repo: alphagov/release-requests\n"
)
SMTP = "kind: smtp, host: smtp.example.gov.uk"
OUTBOX_KEYS = "from, reply_to, attach_patch_below, addresses, kind, path"
SMTP_KEYS = (
    "from, reply_to, attach_patch_below, addresses, kind, host, port, security, "
    "username_env, password_env, timeout, ca_file"
)
NO_OUTBOX = "bs: error: mail.kind is smtp in bs.yaml: there is no outbox to read.\n"


def checkout(folder: Path, extra: str = "") -> Path:
    """A folder holding a bs.yaml: enough for `bs mail`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bs.yaml").write_text(BS_YAML + extra, encoding="utf-8")
    return folder


def mail_list(folder: Path) -> Result:
    return run_bs(folder, "mail", "list")


def mail_test(folder: Path, address: str = "x@example.gov.uk") -> Result:
    return run_bs(folder, "mail", "test", address)


def problem(result: Result, source: str = "bs.yaml") -> str:
    """The one problem a refused configuration reports: exit 1, nothing on stdout,
    no traceback, `bs: error: FILE: 1 problem:` and the problem on the next line."""
    output = result.output
    assert result.exit_code == 1, output
    assert result.stdout == "", output
    assert "Traceback" not in output and "internal error" not in output, output
    lines = result.stderr.splitlines()
    assert lines[0] == f"bs: error: {source}: 1 problem:", output
    assert len(lines) == 2, output
    assert lines[1].startswith("  "), output
    # bs.yaml's problems name their line when the key is in the file.
    return re.sub(r"^line \d+: ", "", lines[1].strip())


def load(extra: str) -> BsConfig:
    return validate_document(BsConfig, yaml.safe_load(BS_YAML + extra), "bs.yaml")


# -- mail.kind ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sendmail", "SMTP", "Outbox", "''", "null", "1"])
def test_an_unknown_mail_kind_names_the_kinds(tmp_path: Path, kind: str) -> None:
    folder = checkout(tmp_path, f"mail: {{kind: {kind}}}\n")
    assert problem(mail_list(folder)) == "mail: kind must be outbox or smtp."
    assert problem(mail_test(folder)) == "mail: kind must be outbox or smtp."


@pytest.mark.parametrize(
    "section",
    ["", "mail: {}\n", "mail: {from: 'bs <bs@example.gov.uk>'}\n", "mail: {kind: outbox}\n"],
)
def test_mail_kind_left_out_is_the_outbox(tmp_path: Path, section: str) -> None:
    folder = checkout(tmp_path, section)
    config = load(section)
    assert isinstance(config.mail, OutboxMail)
    assert config.mail.kind == "outbox"
    assert config.mail.path == Path(".bs/outbox")
    listed = mail_list(folder)
    assert (listed.exit_code, listed.output) == (0, "The outbox is empty.\n")
    sent = mail_test(folder)
    assert sent.exit_code == 0, sent.output
    assert len(outbox_messages(folder / ".bs" / "outbox")) == 1


def test_an_empty_mail_section_is_the_outbox(tmp_path: Path) -> None:
    folder = checkout(tmp_path, "mail:\n  # kind: smtp\n  # host: smtp.example.gov.uk\n")
    listed = mail_list(folder)
    assert (listed.exit_code, listed.output) == (0, "The outbox is empty.\n")


def test_an_outbox_path_of_one_s_own_is_used(tmp_path: Path) -> None:
    folder = checkout(tmp_path / "checkout", "mail: {path: ../mail-out}\n")
    sent = mail_test(folder)
    assert sent.exit_code == 0, sent.output
    (message,) = outbox_messages(tmp_path / "mail-out")
    assert sent.stdout == f"Sent a test message to x@example.gov.uk via {message}.\n"
    assert not (folder / ".bs").exists()


# -- smtp: security, port, timeout ----------------------------------------------------


@pytest.mark.parametrize("host", ["smtp.example.gov.uk", "10.0.0.25", "localhost.example.com"])
def test_security_none_is_refused_for_a_host_elsewhere(tmp_path: Path, host: str) -> None:
    folder = checkout(tmp_path, f"mail: {{kind: smtp, host: '{host}', security: none}}\n")
    assert problem(mail_list(folder)) == (
        f"mail: security: none sends passwords and links in clear text to {host}: "
        "use starttls or tls, or none only with localhost."
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "'[::1]'", "'::1'"])
def test_security_none_is_accepted_with_localhost(tmp_path: Path, host: str) -> None:
    section = f"mail: {{kind: smtp, host: {host}, port: 1025, security: none}}\n"
    folder = checkout(tmp_path, section)
    config = load(section)
    assert isinstance(config.mail, SmtpMail)
    assert (config.mail.security, config.mail.port) == ("none", 1025)
    # Read and accepted: `bs mail list` gets as far as finding there is no outbox.
    listed = mail_list(folder)
    assert (listed.exit_code, listed.stderr) == (1, NO_OUTBOX)


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("0", "mail.port: Input should be greater than or equal to 1."),
        ("-25", "mail.port: Input should be greater than or equal to 1."),
        ("70000", "mail.port: Input should be less than or equal to 65535."),
        ("65536", "mail.port: Input should be less than or equal to 65535."),
    ],
)
def test_a_port_out_of_range_is_refused(tmp_path: Path, port: str, expected: str) -> None:
    folder = checkout(tmp_path, f"mail: {{{SMTP}, port: {port}}}\n")
    assert problem(mail_list(folder)) == expected
    assert problem(mail_test(folder)) == expected


@pytest.mark.parametrize("port", ["1", "25", "465", "587", "65535"])
def test_ports_in_range_are_accepted(tmp_path: Path, port: str) -> None:
    config = load(f"mail: {{{SMTP}, port: {port}}}\n")
    assert isinstance(config.mail, SmtpMail) and config.mail.port == int(port)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        ("0", "mail.timeout: Input should be greater than 0."),
        ("-1", "mail.timeout: Input should be greater than 0."),
        ("601", "mail.timeout: Input should be less than or equal to 600."),
    ],
)
def test_a_timeout_out_of_range_is_refused(tmp_path: Path, timeout: str, expected: str) -> None:
    folder = checkout(tmp_path, f"mail: {{{SMTP}, timeout: {timeout}}}\n")
    assert problem(mail_list(folder)) == expected


# -- from, reply_to, addresses ----------------------------------------------------------


BAD_MAILBOXES = [
    "bs@example.gov.uk, ops@example.gov.uk",  # two addresses, with a comma
    "Smith, Jo <bs@example.gov.uk>",  # a comma in the name
    '"Release bot" <bs@example.gov.uk>',  # quotes
    "Zoë <bs@example.gov.uk>",  # a non-ASCII name
    "zoë@example.gov.uk",  # a non-ASCII address
    "bs@exämple.gov.uk",
    "A <a@example.gov.uk> B <b@example.gov.uk>",  # two mailboxes
    "a@example.gov.uk b@example.gov.uk",
    "bs@example.gov.uk\nBcc: everyone@example.gov.uk",  # a header injection
    "bs@example.gov.uk\n",
    "bs <bs@example.gov.uk",
    "bs",
    "",
]


@pytest.mark.parametrize("value", BAD_MAILBOXES)
@pytest.mark.parametrize("key", ["from", "reply_to"])
def test_a_bad_from_or_reply_to_is_refused_clearly(tmp_path: Path, key: str, value: str) -> None:
    folder = checkout(tmp_path, f"mail:\n  {key}: {json.dumps(value)}\n")
    line = problem(mail_test(folder))
    assert line == (
        f"mail.{key}: {value!r} is not an address, or Name <address> "
        "(a plain ASCII name without quotes)."
    )
    assert problem(mail_list(folder)) == line
    assert not (folder / ".bs").exists()  # nothing was sent


@pytest.mark.parametrize(
    "value",
    [
        "bs@example.gov.uk",
        "Release bot <bs@example.gov.uk>",
        "GOV.UK release-bot (O'Brien) <release_bot+prod@deploy.example.gov.uk>",
        "<bs@example.gov.uk>",
    ],
)
def test_good_from_values_become_the_from_header(tmp_path: Path, value: str) -> None:
    folder = checkout(tmp_path, f"mail:\n  from: {json.dumps(value)}\n")
    assert mail_test(folder).exit_code == 0
    shown = run_bs(folder, "mail", "show", "--json")
    assert shown.exit_code == 0, shown.output
    from_header = json.loads(shown.stdout)["headers"]["From"]
    address = value.rpartition("<")[2].rstrip(">")
    assert address in from_header
    assert from_header.count("@") == 1


BAD_ADDRESSES = ["a@b.c,d", "x<y@evil.com>", "é@x.de", "a@b", "two words@example.com", ""]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address_in_mail_addresses_is_refused(tmp_path: Path, address: str) -> None:
    folder = checkout(tmp_path, f"mail:\n  addresses: {{alice: {json.dumps(address)}}}\n")
    assert problem(mail_list(folder)) == (
        f"mail.addresses.alice: {address!r} is not an email address."
    )


def test_a_bad_login_in_mail_addresses_is_refused(tmp_path: Path) -> None:
    folder = checkout(tmp_path, "mail:\n  addresses: {'al ice': alice@example.gov.uk}\n")
    line = problem(mail_list(folder))
    assert line.startswith("mail.addresses.al ice"), line
    assert "login" in line


def apps_yaml(review_list: list[str]) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "apps": {
                "frontend": {
                    "repo": "alphagov/frontend",
                    "tags": {"scheme": "release"},
                    "policy": "standard",
                    "review_list": review_list,
                }
            },
        },
        allow_unicode=True,
    )


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address_in_the_review_list_is_refused(tmp_path: Path, address: str) -> None:
    folder = checkout(tmp_path)
    (folder / "policies").mkdir()
    (folder / "policies" / "apps.yaml").write_text(
        apps_yaml(["frontend-reviewers@example.gov.uk", address]), encoding="utf-8"
    )
    line = problem(run_bs(folder, "apps", "--all"), source="policies/apps.yaml")
    assert line == f"apps.frontend.review_list[1]: {address!r} is not an email address."


def test_a_good_review_list_is_accepted(tmp_path: Path) -> None:
    folder = checkout(tmp_path)
    (folder / "policies").mkdir()
    (folder / "policies" / "apps.yaml").write_text(
        apps_yaml(["frontend-reviewers@example.gov.uk", "o'neil+deploys@digital.example.gov.uk"]),
        encoding="utf-8",
    )
    result = run_bs(folder, "apps", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["apps"][0]["review_list"] == [
        "frontend-reviewers@example.gov.uk",
        "o'neil+deploys@digital.example.gov.uk",
    ]


# -- unknown keys, and passwords written into bs.yaml --------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "allowed"),
    [
        ("mail: {folder: out}\n", "folder", OUTBOX_KEYS),
        ("mail: {kind: outbox, host: x}\n", "host", OUTBOX_KEYS),
        (f"mail: {{{SMTP}, user: bs}}\n", "user", SMTP_KEYS),
        (f"mail: {{{SMTP}, starttls: true}}\n", "starttls", SMTP_KEYS),
    ],
)
def test_an_unknown_key_under_mail_lists_the_allowed_keys(
    tmp_path: Path, section: str, key: str, allowed: str
) -> None:
    folder = checkout(tmp_path, section)
    assert problem(mail_list(folder)) == (
        f"unknown key '{key}' in mail: allowed keys here: {allowed}."
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            f"mail: {{{SMTP}, password: hunter2}}\n",
            f"unknown key 'password' in mail: allowed keys here: {SMTP_KEYS}.",
        ),
        (
            "mail:\n  kind: smtp\n  host: smtp.example.gov.uk\n  username: bs\n"
            "  password: 'hunter2'\n",
            None,
        ),
        (
            "mail: {password: hunter2}\n",
            f"unknown key 'password' in mail: allowed keys here: {OUTBOX_KEYS}.",
        ),
        ("mail: {kind: smpt, password: hunter2}\n", "mail: kind must be outbox or smtp."),
        (
            "smtp_password: hunter2\n",
            "unknown key 'smtp_password': allowed keys here: "
            "version, forge, requests_repo, patch, mail, gateway.",
        ),
        (f"mail: {{{SMTP}, password_env: hunter2}}\n", None),
        (f"mail: {{{SMTP}, username_env: hunter2, password_env: 'hunter2'}}\n", None),
    ],
)
def test_a_password_in_bs_yaml_is_refused_and_never_echoed(
    tmp_path: Path, section: str, expected: str | None
) -> None:
    folder = checkout(tmp_path, section)
    for result in (mail_list(folder), mail_test(folder)):
        assert result.exit_code == 1, result.output
        assert "hunter2" not in result.output
        assert "Traceback" not in result.output
        assert result.stderr.startswith("bs: error: bs.yaml: ")
        if expected is not None:
            assert problem(result) == expected
    # Nor into a crash log: nothing went wrong with bs itself.
    state = Path(os.environ["XDG_STATE_HOME"])
    assert not (state / "bs" / "crash.log").exists()


def test_several_problems_under_mail_are_listed_together_without_the_password(
    tmp_path: Path,
) -> None:
    folder = checkout(tmp_path, f"mail: {{{SMTP}, port: 0, timeout: 0, password: hunter2}}\n")
    result = mail_list(folder)
    assert result.exit_code == 1
    assert result.stderr.startswith("bs: error: bs.yaml: 3 problems:\n")
    assert "mail.port" in result.stderr and "mail.timeout" in result.stderr
    assert "unknown key 'password' in mail" in result.stderr
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    "url", ["https://bs:hunter2@deploy.example.gov.uk", "http://bs:hunter2@127.0.0.1:8421"]
)
def test_a_password_in_the_gateway_url_is_refused_and_never_echoed(
    tmp_path: Path, url: str
) -> None:
    folder = checkout(tmp_path, f"gateway: {{url: '{url}'}}\n")
    line = problem(mail_list(folder))
    assert line.startswith("gateway.url: "), line
    assert "hunter2" not in line


# -- gateway.url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8421",
        "http://localhost:9000/x",
        "https://deploy.example.gov.uk",
        "https://deploy.example.gov.uk:8443/bs/",
        "http://[::1]:8421",
        "http://LOCALHOST:8421",
    ],
)
def test_gateway_urls_accepted(tmp_path: Path, url: str) -> None:
    section = f"gateway: {{url: '{url}'}}\n"
    folder = checkout(tmp_path, section)
    assert load(section).gateway.url == url
    listed = mail_list(folder)
    assert (listed.exit_code, listed.output) == (0, "The outbox is empty.\n")


def test_the_gateway_url_defaults_to_this_machine() -> None:
    assert load("").gateway.url == "http://127.0.0.1:8421"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://deploy.example.gov.uk", "deploy.example.gov.uk"),
        ("http://deploy.example.gov.uk:8421/bs", "deploy.example.gov.uk"),
        ("http://localhost.example.gov.uk", "localhost.example.gov.uk"),
        ("http://127.0.0.1.nip.io:8421", "127.0.0.1.nip.io"),
        ("http://10.0.0.5:8421", "10.0.0.5"),
    ],
)
def test_a_plain_http_gateway_elsewhere_is_refused(tmp_path: Path, url: str, host: str) -> None:
    folder = checkout(tmp_path, f"gateway: {{url: '{url}'}}\n")
    assert problem(mail_list(folder)) == (
        f"gateway.url: deploy links would travel unencrypted to {host}: use https:// "
        "(http:// only for a gateway on this machine: 127.0.0.1, localhost or [::1])."
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "ftp://deploy.example.gov.uk",
        "deploy.example.gov.uk",
        "https://",
        "http://localhost:8421@deploy.example.gov.uk",  # userinfo: the host is the last part
        "http://deploy.example.gov.uk\\@localhost",  # browsers read a backslash as a slash
        "http://deploy.example.gov.uk#@localhost",
        "http://deploy.example.gov.uk?@localhost",
        "https://deploy.example.gov.uk/link?x=1",
        "https://deploy example.gov.uk",
    ],
)
def test_a_gateway_url_that_is_not_a_plain_url_is_refused(tmp_path: Path, url: str) -> None:
    folder = checkout(tmp_path, f"gateway: {{url: {json.dumps(url)}}}\n")
    line = problem(mail_list(folder))
    assert line.startswith("gateway.url: the value is not a URL: "), line
    assert url.split("//")[-1] not in line or not url.split("//")[-1], line  # never echoed
    assert "http(s)://HOST[:PORT][/PATH]" in line


# -- the JSON Schema ------------------------------------------------------------------


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((ROOT / "schemas" / "bs.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


GOOD_SMTP = """\
version: 1
forge: {kind: local, path: ../forge}
requests_repo: alphagov/release-requests
patch: {compress_above: 20MB, max_stored: 95MB}
mail:
  kind: smtp
  host: smtp.example.gov.uk
  port: 465
  security: tls
  username_env: BS_SMTP_USERNAME
  password_env: BS_SMTP_PASSWORD
  timeout: 20
  ca_file: certs/ca.pem
  from: Release bot <bs@example.gov.uk>
  reply_to: deployers@example.gov.uk
  attach_patch_below: 2MB
  addresses: {alice: alice@example.gov.uk, 'renovate[bot]': bots@example.gov.uk}
gateway: {url: 'https://deploy.example.gov.uk'}
"""

GOOD_OUTBOX = """\
version: 1
forge: {kind: local, path: ../forge}
requests_repo: alphagov/release-requests
mail:
  kind: outbox
  path: .bs/outbox
  from: bs@example.gov.uk
gateway: {url: 'http://127.0.0.1:8421'}
"""


@pytest.mark.parametrize(
    "text",
    [GOOD_SMTP, GOOD_OUTBOX, GOOD_OUTBOX.replace("  kind: outbox\n", ""), BS_YAML],
    ids=["smtp", "outbox", "outbox-without-kind", "no-mail"],
)
def test_the_json_schema_accepts_good_mail_sections(tmp_path: Path, text: str) -> None:
    document = yaml.safe_load(text)
    assert schema_errors(document) == []
    load(text.removeprefix(BS_YAML))  # and bs agrees
    folder = checkout(tmp_path)
    (folder / "bs.yaml").write_text(text, encoding="utf-8")
    listed = mail_list(folder)
    assert listed.exit_code in (0, 1), listed.output
    assert listed.stderr in ("", NO_OUTBOX)


@pytest.mark.parametrize(
    "mail",
    [
        {"kind": "sendmail"},
        {"kind": "smtp"},  # no host
        {"kind": "smtp", "host": "smtp.example.gov.uk", "password": "hunter2"},
        {"kind": "smtp", "host": "smtp.example.gov.uk", "port": 0},
        {"kind": "smtp", "host": "smtp.example.gov.uk", "port": 70000},
        {"kind": "smtp", "host": "smtp.example.gov.uk", "timeout": 0},
        {"from": "Smith, Jo <bs@example.gov.uk>"},
        {"addresses": {"alice": "x<y@evil.com>"}},
        {"kind": "outbox", "host": "smtp.example.gov.uk"},
    ],
)
def test_the_json_schema_refuses_what_bs_refuses(mail: dict[str, Any]) -> None:
    document = yaml.safe_load(BS_YAML)
    document["mail"] = mail
    assert schema_errors(document) != []
    with pytest.raises(BsError):
        validate_document(BsConfig, document, "bs.yaml")


# -- the outbox ------------------------------------------------------------------------


def test_outbox_messages_are_private_and_whole(tmp_path: Path) -> None:
    folder = checkout(tmp_path)
    for address in ("a@example.gov.uk", "b@example.gov.uk", "c@example.gov.uk"):
        sent = mail_test(folder, address)
        assert sent.exit_code == 0, sent.output
    outbox = folder / ".bs" / "outbox"
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    messages = outbox_messages(outbox)
    assert len(messages) == 3
    # Nothing but the messages: no temporary file left behind.
    assert sorted(p.name for p in outbox.iterdir()) == [p.name for p in messages]
    for path, address in zip(
        messages, ("a@example.gov.uk", "b@example.gov.uk", "c@example.gov.uk"), strict=True
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        raw = path.read_bytes()
        assert raw.endswith(b"the mail settings work.\r\n")
        assert f"To: {address}\r\n".encode() in raw
        assert b"Subject: battlestations: test message\r\n" in raw


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "bs@example.gov.uk"
    mail["To"] = "alice@example.gov.uk"
    mail["Subject"] = "Your deploy link"
    mail.set_content("https://deploy.example.gov.uk/link/bs1.k1.secret.sig\n" * 50)
    return mail


def test_an_outbox_that_cannot_be_a_folder_gives_one_clear_error(tmp_path: Path) -> None:
    folder = checkout(tmp_path, "mail: {path: bs.yaml/outbox}\n")
    result = mail_test(folder)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        f"bs: error: could not write the message to the outbox {folder / 'bs.yaml' / 'outbox'}: "
        "Not a directory. Make the folder writable or set mail.path in bs.yaml.\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_outbox_gives_one_clear_error(tmp_path: Path) -> None:
    folder = checkout(tmp_path)
    outbox = folder / ".bs" / "outbox"
    outbox.mkdir(parents=True, mode=0o700)
    outbox.chmod(0o500)
    try:
        result = mail_test(folder)
    finally:
        outbox.chmod(0o700)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"bs: error: could not write the message to the outbox {outbox}: "
        "Permission denied. Make the folder writable or set mail.path in bs.yaml.\n"
    )
    assert list(outbox.iterdir()) == []


def test_a_failed_write_leaves_no_partial_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdopen = os.fdopen

    class DiskFull:
        def __init__(self, descriptor: int, mode: str) -> None:
            self.handle = real_fdopen(descriptor, mode)

        def __enter__(self) -> DiskFull:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[:100])  # part of the message, then the disk is full
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    outbox = tmp_path / "outbox"
    monkeypatch.setattr(os, "fdopen", DiskFull)
    with pytest.raises(BsError, match="No space left on device"):
        OutboxMailer(outbox).send(message())
    monkeypatch.undo()
    assert list(outbox.iterdir()) == []


def test_mail_list_on_an_empty_outbox_says_so(tmp_path: Path) -> None:
    folder = checkout(tmp_path)
    listed = mail_list(folder)
    assert (listed.exit_code, listed.stdout, listed.stderr) == (0, "The outbox is empty.\n", "")
    # An outbox folder that exists but holds nothing is empty too.
    (folder / ".bs" / "outbox").mkdir(parents=True)
    (folder / ".bs" / "outbox" / "notes.txt").write_text("not a message\n")
    listed = mail_list(folder)
    assert (listed.exit_code, listed.stdout) == (0, "The outbox is empty.\n")
    assert json.loads(run_bs(folder, "mail", "list", "--json").stdout) == []


@pytest.mark.parametrize("which", ["5", "0", "2"])
def test_mail_show_out_of_range_gives_the_range(tmp_path: Path, which: str) -> None:
    folder = checkout(tmp_path)
    assert mail_test(folder).exit_code == 0
    shown = run_bs(folder, "mail", "show", which)
    assert shown.exit_code == 1, shown.output
    assert shown.stdout == ""
    assert shown.stderr.startswith("bs: error: the outbox has 1 message")
    assert shown.stderr.endswith(": give N from 1 to 1.\n")
    assert shown.stderr.count("\n") == 1
    assert run_bs(folder, "mail", "show", "1").exit_code == 0
