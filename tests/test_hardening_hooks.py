"""The second security review's fixes, through the CLI and the hooks.

One test per fix: tags and patch paths shaped in the request, line separators
shown in mail, machine-dependent zone names refused, a symlink loop as a key
file, huge or boolean event numbers, typed or counted keys, a private crash
log, an outbox git would commit, reviews after a merge, and gateway URLs that
browsers read differently.
"""

from __future__ import annotations

import base64
import json
import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bs.forges import local_records as records
from bs.mail.outbox import outbox_messages
from tests.checkhelpers import REQUESTS, edit_request, forge, head, replace_once
from tests.conftest import STANDARD_POLICY, World, git, run_bs
from tests.hookhelpers import (
    APPROVAL_MARK,
    NO_LINK_MARK,
    REVIEW_LIST,
    approve_and_merge,
    comments_marked,
    events_of,
    hook,
    html_of,
    key_line,
    links,
    open_frontend,
    outbox,
    records_path,
    set_mail,
    set_merged_at,
    text_of,
    whole,
    with_bot,
)

STAMP = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture(autouse=True)
def _no_keys_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BS_LINK_KEYS", raising=False)
    monkeypatch.delenv("BS_LINK_KEYS_FILE", raising=False)


def one_line_error(stderr: str) -> str:
    """A refusal: a single `bs: error: ...` line, no traceback, no internal error."""
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("bs: error: "), stderr
    return line


def b64url(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).rstrip(b"=").decode()


def all_mail(world: World) -> str:
    return "\n".join(whole(message) for message in outbox(world))


# -- 1. tags are tag names; a tag never starts a line of mail ------------------------


@pytest.mark.parametrize(
    ("key", "tag", "shown"),
    [
        ("to", "release_2\nPatch: sha256 0000", r"'release_2\nPatch: sha256 0000'"),
        ("from", "release_1\nRequester: carol", r"'release_1\nRequester: carol'"),
        ("to", "release 2", "'release 2'"),
    ],
)
def test_a_tag_with_a_newline_or_space_is_refused_and_starts_no_line(
    world: World, key: str, tag: str, shown: str
) -> None:
    opened = open_frontend(with_bot(world))
    line = {"from": 8, "to": 11}[key]
    original = {"from": "release_1", "to": "release_2"}[key]
    edit_request(world, opened, replace_once(f"  tag: {original}\n", f"  tag: {json.dumps(tag)}\n"))

    checked = world.bs("check", str(opened.number), user="carol")
    assert checked.exit_code == 2, checked.output
    problem = f"line {line}: {key}.tag: {shown} is not a tag name (no spaces, control characters"
    assert checked.stdout.startswith("bs/policy: failed: Invalid request: "), checked.stdout
    assert problem in checked.stdout.splitlines()[0]

    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 1, result.output
    error = one_line_error(result.stderr)
    assert f"pull request #{opened.number} is not a request bs can read" in error
    assert problem in error and error.endswith("no review mail sent.")
    # Nothing is sent about a request bs cannot read, so no line of mail starts with
    # the tag's second line (a tag git allows is shown inline: the test below).
    assert outbox(world) == []


def test_a_line_separator_in_a_tag_is_shown_not_obeyed(world: World) -> None:
    opened = open_frontend(with_bot(world))
    tag = "release_2\u2028Requester=carol"  # a tag name git allows; ':' it does not
    edit_request(world, opened, replace_once("  tag: release_2\n", f"  tag: {json.dumps(tag)}\n"))
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (message,) = outbox(world)
    text, html = text_of(message), html_of(message)
    shown = "release_2<U+2028>Requester=carol"
    assert f"Release:    release_1 -> {shown}\n" in text
    assert f"alice asks to release frontend {shown} to production." in text
    assert "release_1 &rarr; release_2&lt;U+2028&gt;Requester=carol</td>" in html
    assert "\u2028" not in whole(message)
    assert [row for row in text.splitlines() if row.startswith("Requester")] == [
        "Requester:  alice"
    ]
    assert all(not row.lstrip().startswith("Requester=") for row in text.splitlines())


# -- 2. a patch path has no control characters ----------------------------------------


@pytest.mark.parametrize(
    ("escape", "shown"),
    [("\\0", "\\x00"), ("\\e[31m", "\\x1b[31m"), ("\\t", "\\t"), ("\\x7f", "\\x7f")],
)
def test_a_patch_path_with_a_control_character_is_refused(
    world: World, escape: str, shown: str
) -> None:
    opened = open_frontend(with_bot(world))
    stem = opened.patch_file.removesuffix(".patch")
    edit_request(
        world,
        opened,
        replace_once(f"  file: {opened.patch_file}\n", f'  file: "{stem}{escape}.patch"\n'),
    )
    problem = (
        f"line 14: patch.file: '{stem}{shown}.patch' is not a path without control characters."
    )
    checked = world.bs("check", str(opened.number), user="carol")
    assert checked.exit_code == 2, checked.output
    assert checked.stdout.splitlines()[0].endswith(problem), checked.stdout

    result = hook(world, "opened", str(opened.number))  # never 70, no traceback
    assert result.exit_code == 1, result.output
    error = one_line_error(result.stderr)
    assert f"pull request #{opened.number} is not a request bs can read" in error
    assert problem in error
    assert outbox(world) == []  # no mail, so no attachment


# -- 3. zone names that depend on the machine -----------------------------------------


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posix/Europe/London", "Europe"])
def test_a_machine_dependent_zone_is_refused(app_world: World, zone: str) -> None:
    policy = app_world.checkout / "policies" / "standard.yaml"
    text = STANDARD_POLICY.replace("  timezone: Europe/London\n", f"  timezone: {zone}\n")
    line = text.splitlines().index(f"  timezone: {zone}") + 1
    policy.write_text(text)
    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 1, result.output
    assert result.stdout == "invalid: 1 errors, 0 warnings\n"
    assert result.stderr.splitlines() == [
        "policies/standard.yaml: 1 problem:",
        f"  line {line}: deploy.timezone: unknown time zone '{zone}': use an IANA name such "
        "as Europe/London or UTC.",
    ]


@pytest.mark.parametrize("zone", ["Europe/London", "UTC"])
def test_iana_zones_pass(app_world: World, zone: str) -> None:
    policy = app_world.checkout / "policies" / "standard.yaml"
    policy.write_text(
        STANDARD_POLICY.replace("  timezone: Europe/London\n", f"  timezone: {zone}\n")
    )
    result = app_world.bs("policy", "validate", "--offline")
    assert (result.exit_code, result.output) == (0, "valid: 0 errors, 0 warnings\n")


# -- 4. a key file that is a symlink loop ---------------------------------------------


def test_a_key_file_in_a_symlink_loop_is_one_clear_line(world: World, tmp_path: Path) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    itself = tmp_path / "keys-itself"
    itself.symlink_to(itself)
    there, back = tmp_path / "keys-there", tmp_path / "keys-back"
    there.symlink_to(back)
    back.symlink_to(there)
    for path in (itself, there):
        result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS_FILE": str(path)})
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert one_line_error(result.stderr) == (
            f"bs: error: BS_LINK_KEYS_FILE: cannot read {path}: a symlink loop."
        )
    assert events_of(world, opened.number, "comment") == []
    assert outbox(world) == []


# -- 5. event numbers that are not pull request numbers -------------------------------


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("true", "the event names no pull request (expected pull_request.number"),
        ("9" * 5000, "not a readable JSON event payload ("),
    ],
)
def test_an_event_number_that_is_no_number_is_a_clear_error(
    world: World, number: str, says: str
) -> None:
    # Pull request #1 is merged and approved, and keys are there: were `true` read as 1,
    # the hook would act on it.
    opened = open_frontend(with_bot(world))
    assert opened.number == 1
    approve_and_merge(world, opened.number)
    comments = events_of(world, opened.number, "comment")
    event = world.root / "event.json"
    event.write_text('{"action": "closed", "pull_request": {"number": ' + number + "}}")
    env = {"BS_LINK_KEYS": key_line()}
    for args, code in (
        (("check", "--event", str(event)), 3),
        (("hook", "closed", "--event", str(event)), 1),
    ):
        result = world.bs(*args, user="release-bot", env=env)
        assert result.exit_code == code, (args, result.output)
        assert result.stdout == ""
        line = one_line_error(result.stderr)
        assert f"{event}: {says}" in line
        assert len(line) < 600  # the 5000 digits are not echoed
    assert events_of(world, opened.number, "comment") == comments
    assert outbox(world) == []


# -- 6. keys someone typed or counted -------------------------------------------------


def test_typed_counted_or_zero_keys_are_refused_without_the_secret(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    typed = b"Tr0ub4dor&3-correct-horse-battery"[:32]
    assert len(typed) == 32 and len(set(typed)) >= 16  # refused for being typed alone
    for secret in (typed, bytes(range(32)), bytes(32)):
        encoded = b64url(secret)
        result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": f"k:{encoded}"})
        assert result.exit_code == 1, result.output
        assert one_line_error(result.stderr) == (
            "bs: error: BS_LINK_KEYS: key k does not look random (typed, counted or repeated bytes): "
            "generate one with `bs keys generate`"
        )
        assert encoded not in result.output and encoded[:12] not in result.output
        assert typed.decode() not in result.output
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    assert outbox(world) == []

    long_key = f"k:{b64url(secrets.token_bytes(64))}"
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": long_key})
    assert result.exit_code == 0, result.output
    (message,) = outbox(world)
    assert len(links(message)) == 1
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1


# -- 7. the crash log is its owner's ---------------------------------------------------


def crash(monkeypatch: pytest.MonkeyPatch, app_world: World, state: Path) -> tuple[Path, str]:
    """`bs apps` hitting an internal error whose message quotes input."""

    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("boom: a secret-looking value s3cr3t")

    monkeypatch.setattr("bs.usecases.requesters.may_request", broken)
    result = run_bs(
        app_world.checkout, "apps", env={"BS_USER": "alice", "XDG_STATE_HOME": str(state)}
    )
    assert result.exit_code == 70, result.output
    log = state / "bs" / "crash.log"
    assert result.stderr == (
        "bs: internal error (RuntimeError): this is a bug in bs. "
        f"Details are in {log}; please report them.\n"
    )
    assert "s3cr3t" not in result.output
    return log, log.read_text()


def test_the_crash_log_is_readable_by_its_owner_only(
    monkeypatch: pytest.MonkeyPatch, app_world: World, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    log, text = crash(monkeypatch, app_world, state)
    assert "RuntimeError: boom: a secret-looking value s3cr3t" in text
    assert "Traceback" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    # A second crash appends, and keeps the modes.
    _, again = crash(monkeypatch, app_world, state)
    assert again.count("RuntimeError: boom") == 2
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_an_existing_world_readable_crash_log_is_made_private(
    monkeypatch: pytest.MonkeyPatch, app_world: World, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    (state / "bs").mkdir(parents=True, mode=0o755)
    (state / "bs").chmod(0o755)
    old = state / "bs" / "crash.log"
    old.write_text("--- an older bs's crash\n")
    old.chmod(0o644)
    log, text = crash(monkeypatch, app_world, state)
    assert "s3cr3t" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


# -- 8. an outbox inside the checkout must be git-ignored -----------------------------


def test_an_outbox_git_would_commit_is_refused(world: World) -> None:
    opened = open_frontend(with_bot(world))
    set_mail(world, {"kind": "outbox", "path": "outbox"})
    box = world.checkout / "outbox"
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert one_line_error(result.stderr) == (
        f"bs: error: the outbox {box} is inside the requests repository and git does not "
        "ignore it, so deploy links in it could be committed: add it to .gitignore (bs's own "
        "default, .bs/, is there) or set mail.path outside the repository."
    )
    assert not box.exists()
    assert outbox(world) == []

    # Ignored, it works; and git sees nothing to commit in it.
    (world.checkout / ".gitignore").write_text(".bs/\noutbox/\n")
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (sent,) = outbox_messages(box)
    assert f"Sent via {sent}" in result.stdout
    assert "outbox" not in git(world.checkout, "status", "--porcelain", "--untracked-files=all")


def test_an_outbox_outside_the_checkout_works(world: World) -> None:
    opened = open_frontend(with_bot(world))
    box = world.root / "elsewhere" / "outbox"
    set_mail(world, {"kind": "outbox", "path": str(box)})
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (sent,) = outbox_messages(box)
    assert f"Sent via {sent}" in result.stdout


def test_an_outbox_reached_through_a_symlink_is_still_checked(world: World) -> None:
    opened = open_frontend(with_bot(world))
    inside = world.checkout / "outbox"
    inside.mkdir()
    link = world.root / "mailbox"
    link.symlink_to(inside)
    set_mail(world, {"kind": "outbox", "path": str(link)})
    result = hook(world, "opened", str(opened.number))
    untracked = git(world.checkout, "status", "--porcelain", "--untracked-files=all")
    assert "outbox/" not in untracked, untracked
    assert result.exit_code == 1, result.output
    assert "git does not ignore it" in result.stderr


# -- 9. reviews after a merge do not count --------------------------------------------


def test_an_approval_after_an_admin_merge_mints_nothing(world: World) -> None:
    opened = open_frontend(with_bot(world))
    merged = world.bs("merge", str(opened.number), "--admin", user="bob")
    assert merged.exit_code == 0, merged.output
    (event,) = events_of(world, opened.number, "merged")
    merged_at = datetime.strptime(event["at"], STAMP).replace(tzinfo=UTC)
    late = (merged_at + timedelta(minutes=5)).strftime(STAMP)
    # bob approves the head commit after the merge (GitHub takes reviews on merged PRs).
    forge_dir = world.forge / f"{REQUESTS}.forge"
    with records.locked(world.forge):
        records.append_record(
            records_path(world, opened.number),
            {"type": "review", "id": records.next_number(forge_dir, "review"), "user": "bob",
             "state": "APPROVED", "commit_id": head(world, opened.number), "body": "",
             "at": late},
        )  # fmt: skip
    reviews = forge(world).list_reviews(REQUESTS, opened.number)
    assert [(r.user, r.state) for r in reviews] == [("bob", "APPROVED")]

    env = {"BS_LINK_KEYS": key_line()}
    result = hook(world, "closed", str(opened.number), "--json", env=env)
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert (data["outcome"], data["minted"]) == ("refused", False)
    assert data["reason"] == "Needs 1 more approval from alphagov/deployers"
    assert data["emailed"] == ["alice@example.gov.uk", REVIEW_LIST]
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    assert len(comments_marked(world, opened.number, NO_LINK_MARK)) == 1
    (message,) = outbox(world)
    assert links(message) == []
    assert "/link/" not in all_mail(world) and "bs1." not in all_mail(world)

    # The same approval before the merge is one that counts: it is its time that matters.
    set_merged_at(world, opened.number, merged_at + timedelta(minutes=6))
    minted = hook(world, "closed", str(opened.number), env=env)
    assert minted.exit_code == 0, minted.output
    assert len(links(outbox(world)[-1])) == 1


# -- 10. gateway URLs browsers read differently ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example\\@localhost",
        "http://evil.example\\.localhost",
        "https://evil.example\\@deploy.example.gov.uk",
        "http://localhost@evil.example",
        "http://localhost:8421#@evil.example",
        "http://localhost:8421?@evil.example",
    ],
)
def test_a_gateway_url_browsers_read_differently_is_refused(app_world: World, url: str) -> None:
    path = app_world.checkout / "bs.yaml"
    path.write_text(path.read_text() + f"gateway: {{url: '{url}'}}\n")
    result = app_world.bs("apps")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    first, problem = result.stderr.splitlines()  # one problem, on one line
    assert first == "bs: error: bs.yaml: 1 problem:"
    assert problem.startswith(("  gateway.url: ", "  line 4: gateway.url: ")), problem
    assert problem.endswith(
        " is not a URL: http(s)://HOST[:PORT][/PATH], with no user name, backslash, query "
        "or fragment."
    ), problem


# -- third review: odd inputs that must get one clear line, never exit 70 --------------


@pytest.mark.parametrize(
    "payload",
    [
        {"workflow_run": {"pull_requests": 5}},
        {"workflow_run": {"pull_requests": {"a": 1}}},
        {"workflow_run": {"pull_requests": ["x"]}},
    ],
    ids=["a-number", "a-mapping", "a-list-of-strings"],
)
def test_odd_workflow_run_payloads_are_refused_clearly(world: World, payload: object) -> None:
    event = world.root / "event.json"
    event.write_text(json.dumps(payload))
    result = world.bs("hook", "closed", "--event", str(event))
    assert result.exit_code == 1, result.output
    assert "the event names no pull request" in one_line_error(result.stderr)


def test_mail_show_refuses_odd_numbers_and_shows_odd_charsets(world: World) -> None:
    outbox = world.checkout / ".bs" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "20260101T000000000000Z-abcdef.eml").write_bytes(
        b"From: a@example.gov.uk\r\nTo: b@example.gov.uk\r\nSubject: odd\r\n"
        b'Content-Type: text/plain; charset="x-nonsense"\r\n\r\nhello\r\n'
    )
    superscript = world.bs("mail", "show", "\u00b2")
    assert superscript.exit_code == 1, superscript.output
    assert "no message \u00b2 in the outbox" in one_line_error(superscript.stderr)
    shown = world.bs("mail", "show")
    assert shown.exit_code == 0, shown.output
    assert "(this part cannot be decoded: " in shown.stdout
    as_json = world.bs("mail", "show", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["text"].startswith("(this part cannot be decoded: ")


def test_a_control_character_in_an_outbox_path_is_refused(world: World) -> None:
    set_mail(world, {"kind": "outbox", "path": "../outbox\u0000x"})
    result = world.bs("mail", "list")
    assert result.exit_code == 1, result.output
    assert "a path cannot hold control characters" in result.stderr
    assert "Traceback" not in result.output
