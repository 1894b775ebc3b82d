"""The hooks and `bs mail test` through a real SMTP server (aiosmtpd, on 127.0.0.1).

The server speaks TLS with a certificate from a private CA made for the test
(mail.ca_file points at it): STARTTLS required, implicit TLS, or STARTTLS with
AUTH. Servers that refuse, hang, hang up or are not there make every hook fail
with one clear line; running it again then sends a link that works, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from bs.core.links import DEPLOY_LINK, Keyring, LinkClaims, parse_keys, verify_link_token
from bs.store import open_store
from bs.store.ledger import LinkLedger
from bs.usecases.redeem import Redeemed, Refused, redeem_link
from tests.checkhelpers import REQUESTS, Opened, branch_file, check, forge, open_release, review
from tests.conftest import Result, World
from tests.smtphelpers import (
    SMTP_PASSWORD,
    SMTP_USER,
    Dropping,
    Mode,
    Pki,
    Received,
    Silent,
    SmtpServer,
    closed_port,
    make_pki,
    make_self_signed,
)

pytestmark = [
    # aiosmtpd sets its own deprecated Session.login_data on every successful AUTH,
    pytest.mark.filterwarnings("ignore:Session.login_data is deprecated"),
    # and warns about the clear-text AUTH the "plain" server offers on purpose.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

ALICE = "alice@example.gov.uk"
REVIEW_LIST = "frontend-reviewers@example.gov.uk"
FROM = "battlestations <bs@example.gov.uk>"
GATEWAY = "http://127.0.0.1:8421"
LINK = re.compile(
    re.escape(GATEWAY) + r"/link/(bs1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"
)
APPROVAL_MARK = "<!-- bs:approval -->"
CREDENTIALS = {"BS_SMTP_USERNAME": SMTP_USER, "BS_SMTP_PASSWORD": SMTP_PASSWORD}


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The private CA mail.ca_file names, and the servers' certificate."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def smtp(pki: Pki) -> Iterator[Callable[[Mode], SmtpServer]]:
    """Start aiosmtpd servers in a mode; all are stopped after the test."""
    started: list[SmtpServer] = []

    def start(mode: Mode) -> SmtpServer:
        server = SmtpServer(pki, mode).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(smtp: Callable[[Mode], SmtpServer]) -> SmtpServer:
    """A server that requires STARTTLS."""
    return smtp("starttls")


@pytest.fixture
def keys(world: World) -> dict[str, str]:
    """BS_LINK_KEYS, from `bs keys generate`."""
    result = world.bs("keys", "generate", user=None)
    assert result.exit_code == 0, result.output
    return {"BS_LINK_KEYS": result.stdout.strip()}


# -- helpers ----------------------------------------------------------------------------


def use_mail(world: World, port: int, security: str = "starttls", **settings: Any) -> None:
    """Point bs.yaml's `mail:` at an SMTP server on 127.0.0.1:`port`."""
    path = world.checkout / "bs.yaml"
    config = yaml.safe_load(path.read_text())
    config["mail"] = {"kind": "smtp", "host": "127.0.0.1", "port": port, "security": security,
                      "from": FROM, "timeout": 5} | settings  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def use_server(world: World, server: SmtpServer, pki: Pki, **settings: Any) -> None:
    use_mail(world, server.port, server.security, ca_file=str(pki.ca_file), **settings)


def keyring(env: Mapping[str, str]) -> Keyring:
    return parse_keys(env["BS_LINK_KEYS"], "BS_LINK_KEYS")


def merged_release(world: World) -> Opened:
    """frontend release_2 requested by alice, approved by bob, bs/policy success, merged."""
    opened = open_release(world)
    review(world, opened.number, "bob")
    _, data = check(world, opened.number)
    assert data["outcome"] == "met", data
    result = world.bs("merge", str(opened.number), user="bob")
    assert result.exit_code == 0, result.output
    return opened


def hook(world: World, event: str, opened: Opened, env: Mapping[str, str] | None = None) -> Result:
    """`bs hook opened|closed PR`, as carol runs the hooks here."""
    return world.bs("hook", event, str(opened.number), user="carol", env=env)


def failed_clearly(result: Result) -> str:
    """A failure: non-zero, nothing on stdout, one line on stderr, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bs: error: "), result.stderr
    return lines[0]


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def deploy_link(message: EmailMessage) -> str:
    """The deploy link's token, the same in the text part and the HTML part."""
    text, html = bodies(message)
    in_text, in_html = LINK.findall(text), LINK.findall(html)
    assert len(set(in_text)) == 1, text
    assert set(in_html) == set(in_text), html
    return str(in_text[0])


def verified(token: str, env: Mapping[str, str], opened: Opened) -> LinkClaims:
    """Verify `token` against the keyring and check it names alice's request."""
    claims = verify_link_token(token, keyring(env), purpose=DEPLOY_LINK, now=datetime.now(UTC))
    assert (claims.app, claims.request_id, claims.pull_request, claims.requester) == (
        "frontend", opened.request_id, opened.number, "alice",
    )  # fmt: skip
    return claims


def approval_comments(world: World, opened: Opened) -> list[str]:
    comments = forge(world, "carol").list_comments(REQUESTS, opened.number)
    return [c.body for c in comments if c.body.startswith(APPROVAL_MARK)]


def only(received: list[Received]) -> Received:
    assert len(received) == 1, [r.rcpt_tos for r in received]
    return received[0]


def link_mail(server: SmtpServer, env: Mapping[str, str], opened: Opened) -> str:
    """The server's one message: alice's deploy link mail; its token, verified."""
    mail = only(server.received())
    assert mail.rcpt_tos == (ALICE,)
    assert mail.tls
    token = deploy_link(mail.parsed())
    verified(token, env, opened)
    return token


# -- the merge hook ---------------------------------------------------------------------


def test_merge_hook_mails_alice_her_deploy_link_over_starttls(
    world: World, pki: Pki, server: SmtpServer, keys: dict[str, str]
) -> None:
    opened = merged_release(world)
    use_server(world, server, pki)

    result = hook(world, "closed", opened, keys)
    assert result.exit_code == 0, result.output
    assert f"emailed it to alice <{ALICE}>" in result.stdout
    assert f"via 127.0.0.1:{server.port}" in result.stdout

    mail = only(server.received())
    assert mail.rcpt_tos == (ALICE,)
    assert mail.mail_from == "bs@example.gov.uk"
    assert mail.tls and mail.login is None
    message = mail.parsed()
    assert [a.addr_spec for a in message["To"].addresses] == [ALICE]
    assert message["Subject"] == "[frontend] Approved: your deploy link for release_2"
    assert message["From"] == FROM
    assert message["Reply-To"] == FROM
    assert re.fullmatch(r"<[^<>@\s]+@example\.gov\.uk>", message["Message-ID"])
    assert message["Date"].datetime.tzinfo is not None
    assert abs((datetime.now(UTC) - message["Date"].datetime).total_seconds()) < 300
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    token = deploy_link(message)
    claims = verified(token, keys, opened)
    assert claims.request_key == f"frontend/{opened.request_id}"
    text, html = bodies(message)
    assert opened.request_id in text and opened.request_id in html
    assert token not in result.output, "the hook never prints the link"
    assert len(approval_comments(world, opened)) == 1


@pytest.mark.parametrize("mode", ["tls", "auth"])
def test_merge_hook_over_implicit_tls_and_with_auth(
    world: World, pki: Pki, smtp: Callable[[Mode], SmtpServer], keys: dict[str, str], mode: Mode
) -> None:
    server = smtp(mode)
    opened = merged_release(world)
    use_server(world, server, pki)
    env = keys | (CREDENTIALS if mode == "auth" else {})

    result = hook(world, "closed", opened, env)
    assert result.exit_code == 0, result.output
    link_mail(server, keys, opened)
    assert only(server.received()).login == (SMTP_USER if mode == "auth" else None)
    assert SMTP_PASSWORD not in result.output


# -- the opened hook --------------------------------------------------------------------


def test_opened_hook_mails_the_review_list_with_the_patch_attached(
    world: World, pki: Pki, server: SmtpServer
) -> None:
    opened = open_release(world)
    use_server(world, server, pki)

    result = hook(world, "opened", opened)
    assert result.exit_code == 0, result.output
    assert "with the patch attached" in result.stdout
    assert f"  {REVIEW_LIST}\n" in result.stdout

    mail = only(server.received())
    assert mail.rcpt_tos == (REVIEW_LIST,)
    message = mail.parsed()
    assert [a.addr_spec for a in message["To"].addresses] == [REVIEW_LIST]
    assert message["Reply-To"] == ALICE
    assert message["Subject"] == (
        f"[frontend] Release request #{opened.number}: release_1 -> release_2 by alice"
    )
    for header in ("Message-ID", "Date", "From"):
        assert message[header], header
    pull_url = forge(world).get_pull_request(REQUESTS, opened.number).url
    text, html = bodies(message)
    assert pull_url in text and pull_url in html
    assert LINK.search(text) is None, "no deploy link before the merge"

    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    patch = attachments[0]
    filename = patch.get_filename()
    assert filename is not None and filename.endswith(".patch")
    assert filename == opened.patch_file.rsplit("/", 1)[-1]
    assert patch.get_payload(decode=True) == branch_file(world, opened, opened.patch_file)
    assert f"The complete patch is attached ({filename}," in text


def test_opened_hook_links_a_patch_too_large_to_attach(
    world: World, pki: Pki, server: SmtpServer
) -> None:
    opened = open_release(world)
    use_server(world, server, pki, attach_patch_below=10)

    result = hook(world, "opened", opened)
    assert result.exit_code == 0, result.output
    assert "without the patch (it is larger than mail carries here (" in result.stdout

    message = only(server.received()).parsed()
    assert list(message.iter_attachments()) == []
    text, html = bodies(message)
    assert "is larger than mail carries here (10 bytes)" in text
    assert "is larger than mail carries here (10 bytes)" in html
    assert f"git diff --binary --full-index {opened.release_1} {opened.release_2}" in text
    pull_url = forge(world).get_pull_request(REQUESTS, opened.number).url
    assert pull_url in text and pull_url in html


def test_opened_hook_refused_then_run_again_mails_the_list_once(
    world: World, pki: Pki, server: SmtpServer
) -> None:
    opened = open_release(world)
    use_server(world, server, pki)
    server.recorder.refuse_data = "554 5.7.1 Message rejected: try later"

    line = failed_clearly(hook(world, "opened", opened))
    assert line == (
        f"bs: error: the SMTP server 127.0.0.1:{server.port} refused the message (554 5.7.1 "
        "Message rejected: try later). Nothing was sent; run the command again to retry."
    )
    assert server.received() == []

    server.recorder.refuse_data = None
    result = hook(world, "opened", opened)
    assert result.exit_code == 0, result.output
    assert only(server.received()).rcpt_tos == (REVIEW_LIST,)


# -- bs mail test -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["starttls", "tls", "auth"])
def test_mail_test_delivers_one_message(
    world: World, pki: Pki, smtp: Callable[[Mode], SmtpServer], mode: Mode
) -> None:
    server = smtp(mode)
    use_server(world, server, pki)
    env = CREDENTIALS if mode == "auth" else {}

    result = world.bs("mail", "test", "someone@example.gov.uk", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Sent a test message to someone@example.gov.uk via 127.0.0.1:{server.port}.\n"
    )
    mail = only(server.received())
    assert mail.rcpt_tos == ("someone@example.gov.uk",)
    assert mail.tls
    message = mail.parsed()
    assert message["To"] == "someone@example.gov.uk"
    assert message["From"] == FROM
    assert message["Subject"] == "battlestations: test message"
    assert message["Message-ID"] and message["Date"]
    assert "the mail settings work" in message.get_content()


# -- AUTH -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_env", "password_env"),
    [("BS_SMTP_USERNAME", "BS_SMTP_PASSWORD"), ("RELAY_USER", "RELAY_SECRET")],
)
def test_a_wrong_password_names_the_variables_never_the_password(
    world: World,
    pki: Pki,
    smtp: Callable[[Mode], SmtpServer],
    keys: dict[str, str],
    user_env: str,
    password_env: str,
) -> None:
    server = smtp("auth")
    opened = merged_release(world)
    settings = {} if user_env == "BS_SMTP_USERNAME" else {"username_env": user_env,
                                                          "password_env": password_env}  # fmt: skip
    use_server(world, server, pki, **settings)
    wrong = "not-the-password-7c1e9a"

    result = hook(world, "closed", opened, keys | {user_env: SMTP_USER, password_env: wrong})
    assert result.exit_code == 1
    line = failed_clearly(result)
    assert line == (
        f"bs: error: the SMTP server 127.0.0.1:{server.port} refused the login (535): check "
        f"{user_env} and {password_env}. Nothing was sent; run the command again to retry."
    )
    assert wrong not in result.output and SMTP_PASSWORD not in result.output
    assert server.received() == []
    assert server.recorder.logins and set(server.recorder.logins) == {SMTP_USER}

    result = hook(
        world, "closed", opened, keys | {user_env: SMTP_USER, password_env: SMTP_PASSWORD}
    )
    assert result.exit_code == 0, result.output
    link_mail(server, keys, opened)
    assert len(approval_comments(world, opened)) == 1


def test_a_server_requiring_auth_without_credentials_fails_clearly(
    world: World, pki: Pki, smtp: Callable[[Mode], SmtpServer]
) -> None:
    server = smtp("auth")
    use_server(world, server, pki)
    line = failed_clearly(world.bs("mail", "test", ALICE))
    assert f"the SMTP server 127.0.0.1:{server.port} refused the message (530" in line
    assert server.received() == []


def test_a_username_without_a_password_is_refused_before_connecting(
    world: World, pki: Pki, server: SmtpServer
) -> None:
    use_server(world, server, pki)
    line = failed_clearly(world.bs("mail", "test", ALICE, env={"BS_SMTP_USERNAME": SMTP_USER}))
    assert line == (
        "bs: error: BS_SMTP_USERNAME is set but BS_SMTP_PASSWORD is not: set the SMTP "
        "password in the environment too."
    )
    assert server.received() == []


def test_no_starttls_offered_means_no_login_and_nothing_sent(
    world: World, pki: Pki, smtp: Callable[[Mode], SmtpServer]
) -> None:
    """A server (or a man in the middle) that offers AUTH but not STARTTLS: bs never
    sends the password or the message in clear text."""
    plain = smtp("plain")
    use_server(world, plain, pki)
    line = failed_clearly(world.bs("mail", "test", ALICE, env=CREDENTIALS))
    assert line == (
        f"bs: error: the SMTP server 127.0.0.1:{plain.port} does not offer STARTTLS: set "
        "mail.security to tls if it speaks TLS from the start (port 465), or fix the server."
    )
    assert plain.recorder.logins == []
    assert plain.received() == []


# -- servers that fail ------------------------------------------------------------------

BAD_SERVERS = [
    "recipient refused",
    "message refused",
    "never answers",
    "hangs up",
    "nothing listening",
    "no ca_file",
    "another CA",
]


def break_mail(
    case: str, world: World, pki: Pki, server: SmtpServer, stack: ExitStack, tmp_path: Path
) -> str:
    """Point bs.yaml at a server failing as `case` says; what the error must say."""
    refused = "Nothing was sent; run the command again to retry."
    if case == "recipient refused":
        server.recorder.refuse_rcpt = "550 5.1.1 <alice@example.gov.uk>: no such user"
        use_server(world, server, pki)
        return f"the SMTP server 127.0.0.1:{server.port} refused every recipient ({ALICE})."
    if case == "message refused":
        server.recorder.refuse_data = "550 5.7.1 Message refused by policy"
        use_server(world, server, pki)
        return f"refused the message (550 5.7.1 Message refused by policy). {refused}"
    if case == "never answers":
        silent = stack.enter_context(Silent())
        use_mail(world, silent.port, ca_file=str(pki.ca_file), timeout=1)
        # What bs says is test_a_silent_starttls_server_is_reported_as_not_answering's.
        return f"127.0.0.1:{silent.port}"
    if case == "hangs up":
        dropping = stack.enter_context(Dropping())
        use_mail(world, dropping.port, ca_file=str(pki.ca_file))
        return (
            f"could not send mail through 127.0.0.1:{dropping.port}: the server closed the "
            f"connection. {refused}"
        )
    if case == "nothing listening":
        port = closed_port()
        use_mail(world, port, ca_file=str(pki.ca_file))
        return (
            f"could not send mail through 127.0.0.1:{port}: connection refused (is the server "
            f"running, and is the port right?). {refused}"
        )
    if case == "no ca_file":
        use_mail(world, server.port)
    else:
        assert case == "another CA"
        use_mail(world, server.port, ca_file=str(make_pki(tmp_path / "other-ca").ca_file))
    return (
        f"the SMTP server 127.0.0.1:{server.port}'s certificate could not be verified "
        "(unable to get local issuer certificate): set mail.ca_file to the CA that signed it."
    )


@pytest.mark.parametrize("case", BAD_SERVERS)
def test_a_failing_server_fails_the_merge_hook_clearly_and_a_rerun_sends_the_link(
    world: World, pki: Pki, server: SmtpServer, keys: dict[str, str], tmp_path: Path, case: str
) -> None:
    opened = merged_release(world)
    with ExitStack() as stack:
        expected = break_mail(case, world, pki, server, stack, tmp_path)
        line = failed_clearly(hook(world, "closed", opened, keys))
    assert expected in line, line
    assert server.received() == []
    # The approval is on the pull request already; the link was never sent.
    assert len(approval_comments(world, opened)) == 1

    server.recorder.refuse_rcpt = server.recorder.refuse_data = None
    use_server(world, server, pki)
    result = hook(world, "closed", opened, keys)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    token = link_mail(server, keys, opened)
    assert token not in result.output
    assert len(approval_comments(world, opened)) == 1, "the approval is recorded once"


def test_a_silent_starttls_server_is_reported_as_not_answering(world: World, pki: Pki) -> None:
    with Silent() as silent:
        use_mail(world, silent.port, ca_file=str(pki.ca_file), timeout=1)
        line = failed_clearly(world.bs("mail", "test", ALICE))
    assert line == (
        f"bs: error: the SMTP server 127.0.0.1:{silent.port} did not answer within 1 s, "
        "so the message may not have been sent; run the command again to retry."
    )


def test_a_silent_implicit_tls_server_is_reported_as_not_answering(world: World, pki: Pki) -> None:
    with Silent() as silent:
        use_mail(world, silent.port, "tls", ca_file=str(pki.ca_file), timeout=1)
        line = failed_clearly(world.bs("mail", "test", ALICE))
    assert line == (
        f"bs: error: the SMTP server 127.0.0.1:{silent.port} did not answer within 1 s, "
        "so the message may not have been sent; run the command again to retry."
    )


@pytest.mark.parametrize("ca_file", ["missing.pem", "not-pem.pem"])
def test_an_unreadable_ca_file_fails_clearly(
    world: World, server: SmtpServer, tmp_path: Path, ca_file: str
) -> None:
    (tmp_path / "not-pem.pem").write_text("this is not a certificate\n")
    use_mail(world, server.port, ca_file=str(tmp_path / ca_file))
    line = failed_clearly(world.bs("mail", "test", ALICE))
    assert line.startswith(f"bs: error: mail.ca_file {tmp_path / ca_file} could not be read")
    assert line.endswith("point it at the CA bundle that signed the SMTP server's certificate.")
    assert server.received() == []


def test_the_rejection_hook_after_a_mail_failure_tells_alice_on_rerun(
    world: World, pki: Pki, server: SmtpServer
) -> None:
    """The mail goes first: the failed run changed nothing; the re-run removes the request
    and says who denied it."""
    opened = open_release(world)
    review(world, opened.number, "dave", "CHANGES_REQUESTED", "Not during the election")
    use_mail(world, closed_port(), ca_file=str(pki.ca_file))
    failed_clearly(hook(world, "closed", opened))
    assert forge(world).get_pull_request(REQUESTS, opened.number).state == "open"

    use_server(world, server, pki)
    result = hook(world, "closed", opened)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Request #{opened.number} rejected by dave.\n")
    assert forge(world).get_pull_request(REQUESTS, opened.number).state == "closed"
    mail = only(server.received())
    assert mail.rcpt_tos == (ALICE,)
    message = mail.parsed()
    assert message["Subject"] == f"[frontend] release_2 request #{opened.number} rejected by dave"
    text, html = bodies(message)
    assert "Not during the election" in text and "Not during the election" in html


# -- single use, across re-runs ---------------------------------------------------------


def test_links_from_reruns_are_different_tokens_of_one_single_use_request(
    world: World, pki: Pki, server: SmtpServer, keys: dict[str, str], tmp_path: Path
) -> None:
    opened = merged_release(world)
    use_mail(world, closed_port(), ca_file=str(pki.ca_file))
    failed_clearly(hook(world, "closed", opened, keys))

    use_server(world, server, pki)
    assert hook(world, "closed", opened, keys).exit_code == 0
    first = link_mail(server, keys, opened)
    server.recorder.clear()
    assert hook(world, "closed", opened, keys).exit_code == 0
    second = link_mail(server, keys, opened)
    assert first != second
    assert len(approval_comments(world, opened)) == 1

    claims = [verified(token, keys, opened) for token in (first, second)]
    assert claims[0].request_key == claims[1].request_key == f"frontend/{opened.request_id}"
    assert claims[0].nonce != claims[1].nonce

    ledger = LinkLedger(open_store(f"sqlite:///{tmp_path}/store.db"))
    now = datetime.now(UTC)
    ring = keyring(keys)
    redeemed = redeem_link(second, ring, ledger, signed_in_as="alice", now=now)
    assert isinstance(redeemed, Redeemed)
    assert redeemed.claims.request_key == f"frontend/{opened.request_id}"
    assert redeem_link(first, ring, ledger, signed_in_as="alice", now=now) == Refused(
        "used", claims[0]
    )
    assert redeem_link(second, ring, ledger, signed_in_as="alice", now=now) == Refused(
        "used", claims[1]
    )


# -- secrets ----------------------------------------------------------------------------


def test_no_secret_in_any_output_log_or_file(
    world: World,
    pki: Pki,
    smtp: Callable[[Mode], SmtpServer],
    keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server = smtp("auth")
    wrong = "wrong-password-b3f81d"
    outputs: list[str] = []
    opened = open_release(world)
    use_server(world, server, pki)

    def run(*args: str, env: Mapping[str, str]) -> Result:
        result = world.bs(*args, user="carol", env=env)
        outputs.extend([result.stdout, result.stderr])
        return result

    assert run("hook", "opened", "1", env=keys | CREDENTIALS).exit_code == 0
    review(world, opened.number, "bob")
    check(world, opened.number)
    assert world.bs("merge", "1", user="bob").exit_code == 0
    failed_clearly(run("hook", "closed", "1", env=keys | CREDENTIALS | {"BS_SMTP_PASSWORD": wrong}))
    assert run("hook", "closed", "1", env=keys | CREDENTIALS).exit_code == 0
    assert run("hook", "closed", "1", env=keys | CREDENTIALS).exit_code == 0
    assert run("mail", "test", ALICE, env=keys | CREDENTIALS).exit_code == 0

    messages = [mail.parsed() for mail in server.received()]
    assert len(messages) == 4
    tokens = [deploy_link(m) for m in messages if "Approved" in m["Subject"]]
    assert len(tokens) == 2
    secret = keys["BS_LINK_KEYS"].split(":", 1)[1]
    secrets = {"the SMTP password": SMTP_PASSWORD, "the wrong password": wrong,
               "the link key": secret} | {f"link {i}": t for i, t in enumerate(tokens)}  # fmt: skip

    captured = capfd.readouterr()
    assert any(
        r.name.startswith("mail.log") and r.levelno == logging.DEBUG for r in caplog.records
    ), "DEBUG records are captured, from every thread"
    # The test server's own log (aiosmtpd's mail.log) sees the message, as a server does.
    logs = [
        record.getMessage() + (record.exc_text or "")
        for record in caplog.records
        if not record.name.startswith("mail.log")
    ]
    files = {str(path): path.read_bytes() for path in world.root.rglob("*") if path.is_file()}
    for what, value in secrets.items():
        for output in outputs:
            assert value not in output, what
        assert value not in captured.out and value not in captured.err, what
        for line in logs:
            assert value not in line, what
        for name, content in files.items():
            assert value.encode() not in content, (what, name)


def test_a_self_signed_certificate_named_in_ca_file_is_trusted(
    world: World, tmp_path: Path, keys: dict[str, str]
) -> None:
    """STARTTLS to a server whose certificate signs itself: the merge hook's mail gets
    through when mail.ca_file names that certificate, and not without it."""
    own = make_self_signed(tmp_path / "self-signed")
    opened = merged_release(world)
    server = SmtpServer(own, "starttls").start()
    try:
        use_mail(world, server.port)  # the system's CAs only: refused, nothing sent
        refused = world.bs("hook", "closed", str(opened.number), user="carol", env=keys)
        assert refused.exit_code == 1, refused.output
        assert "certificate could not be verified" in refused.stderr
        assert server.received() == []

        use_mail(world, server.port, ca_file=str(own.ca_file))
        sent = world.bs("hook", "closed", str(opened.number), user="carol", env=keys)
        assert sent.exit_code == 0, sent.output
        (received,) = server.received()
        assert received.tls
        assert str(received.parsed()["To"]) == ALICE
        verified(deploy_link(received.parsed()), keys, opened)
    finally:
        server.stop()
