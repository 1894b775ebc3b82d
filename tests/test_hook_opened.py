"""`bs hook opened`: the review list is emailed what it needs to decide."""

from __future__ import annotations

import gzip
import hashlib
import json
import stat

from bs.mail.outbox import outbox_messages
from tests.checkhelpers import REQUESTS, branch_file, forge, push
from tests.conftest import World
from tests.hookhelpers import (
    BOT,
    REVIEW_LIST,
    attachments,
    hook,
    html_of,
    move_tag,
    open_frontend,
    outbox,
    outbox_dir,
    pull,
    pull_request_event,
    recipients,
    set_mail,
    text_of,
    whole,
    with_bot,
    write_event,
)

REASON = "Ship the cookie banner before the campaign"


def test_the_review_list_gets_the_summary_the_patch_and_the_link(world: World) -> None:
    opened = open_frontend(with_bot(world), reason=REASON)
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"Emailed the review list of frontend about #{opened.number}, with the patch attached:\n"
        f"  {REVIEW_LIST}\nSent via "
    )
    (message,) = outbox(world)
    assert recipients(message) == [REVIEW_LIST]
    assert message["Subject"] == (
        f"[frontend] Release request #{opened.number}: release_1 -> release_2 by alice"
    )
    # Replies go to the requester, not to the bot.
    assert message["Reply-To"] == "alice@example.gov.uk"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] and message["Date"] and message["References"]
    text, html = text_of(message), html_of(message)
    url = pull(world, opened.number).url
    for line in (
        "alice asks to release frontend release_2 to production.",
        "App:        frontend (alphagov/frontend)",
        "Release:    release_1 -> release_2",
        f"Commits:    {opened.release_1} -> {opened.release_2}",
        "Requester:  alice",
        f"Reason:     {REASON}",
        "Changes:    1 commit, 1 file changed, +1 -1",
        f"Patch:      sha256 {opened.patch_sha256}",
        f"Review it on pull request #{opened.number}:\n  {url}\n",
        "bs/policy says: Needs 1 more approval from alphagov/deployers",
        f"The complete patch is attached ({opened.request_id}.patch, ",
    ):
        assert line in text, line
    assert f'<a href="{url}">Review it on pull request #{opened.number}</a>' in html
    assert "<td>release_1 &rarr; release_2</td>" in html
    assert f"<td>{REASON}</td>" in html
    assert f"<code>{opened.patch_sha256}</code>" in html
    # The committed patch, attached as it is.
    committed = branch_file(world, opened, opened.patch_file)
    ((name, content_type, content),) = attachments(message)
    assert (name, content_type) == (f"{opened.request_id}.patch", "text/x-diff")
    assert content == committed
    assert hashlib.sha256(content).hexdigest() == opened.patch_sha256
    # Messages can carry deploy links: the outbox keeps them to their owner.
    (path,) = outbox_messages(outbox_dir(world))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_awkward_patch_is_attached_byte_for_byte(world: World) -> None:
    """CRLF, Latin-1, a line starting "From " (mbox) and a lone "." (SMTP) survive."""
    awkward = {
        "app/main.py": b"print(2)\r\n",
        "docs/notes.txt": b"caf\xe9 cr\xe8me\r\nFrom the start\n.\ntrailing space \n\ttab\n",
        "docs/no-newline.txt": b"no newline at the end",
    }
    opened = open_frontend(with_bot(world), release_2_files=awkward)
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (message,) = outbox(world)
    ((_, _, content),) = attachments(message)
    committed = branch_file(world, opened, opened.patch_file)
    assert b"caf\xe9 cr\xe8me\r\n" in committed
    assert content == committed
    assert hashlib.sha256(content).hexdigest() == opened.patch_sha256
    assert "Changes:    1 commit, 3 files changed, +7 -1" in text_of(message), text_of(message)


def test_a_patch_at_the_limit_is_linked_not_attached(world: World) -> None:
    opened = open_frontend(with_bot(world))
    size = len(branch_file(world, opened, opened.patch_file))
    set_mail(world, {"kind": "outbox", "attach_patch_below": size})  # attached when smaller
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "without the patch (it is larger than mail carries here (" in result.stdout
    (message,) = outbox(world)
    assert attachments(message) == []
    text, html = text_of(message), html_of(message)
    assert (
        f"The patch ({size} bytes) is not attached: it is larger than mail carries here "
        f"({size} bytes).\nRead it in the pull request, or make it yourself with git:\n"
    ) in text
    command = f"git diff --binary --full-index {opened.release_1} {opened.release_2}"
    assert f"  {command}\n" in text
    assert f"<code>{command}</code>" in html
    assert pull(world, opened.number).url in text
    assert f"sha256 {opened.patch_sha256}" in text

    set_mail(world, {"kind": "outbox", "attach_patch_below": size + 1})
    result = hook(world, "opened", str(opened.number), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["patch_attached"], data["patch_bytes"]) == (True, size)
    assert len(attachments(outbox(world)[-1])) == 1


def test_people_s_words_are_escaped_in_html_and_bidi_is_shown(world: World) -> None:
    reason = "Fix <script>alert(1)</script> and <b>bold</b> \u202egnp.exe & more"
    opened = open_frontend(with_bot(world), reason=reason)
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (message,) = outbox(world)
    text, html = text_of(message), html_of(message)
    assert "<script>" not in html and "<b>" not in html
    assert (
        "<td>Fix &lt;script&gt;alert(1)&lt;/script&gt; and &lt;b&gt;bold&lt;/b&gt; "
        "&lt;U+202E&gt;gnp.exe &amp; more</td>"
    ) in html
    # The text part is plain text: the words as written, the override made visible.
    assert (
        "Reason:     Fix <script>alert(1)</script> and <b>bold</b> <U+202E>gnp.exe & more" in text
    )
    assert "\u202e" not in whole(message)


def test_the_review_mail_lists_what_the_checker_found_wrong(world: World) -> None:
    opened = open_frontend(with_bot(world))
    moved = move_tag(world, "release_2", b"print('not what was requested')\n")
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    (message,) = outbox(world)
    problem = (
        f"tag release_2 now points at {moved[:12]}, not the pinned {opened.release_2[:12]}: "
        "it was moved after the request was opened; open a new request"
    )
    assert f"bs/policy says: Invalid request: {problem}\n  ! {problem}\n" in text_of(message)
    assert f"<li>{problem}</li>" in html_of(message)


def test_a_reason_cannot_forge_lines_of_the_summary(world: World) -> None:
    fake = "0" * 64
    reason = f"Urgent\nPatch:      sha256 {fake}\u2028Requester:  carol\r\nThanks"
    opened = open_frontend(with_bot(world), reason=reason)
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    (message,) = outbox(world)
    lines = text_of(message).splitlines()
    assert [line for line in lines if line.startswith("Patch:")] == [
        f"Patch:      sha256 {opened.patch_sha256}"
    ]
    assert [line for line in lines if line.startswith("Requester:")] == ["Requester:  alice"]
    start = lines.index("Reason:     Urgent")
    # Line and paragraph separators and carriage returns are shown, not obeyed.
    assert lines[start + 1 : start + 3] == [
        f"            Patch:      sha256 {fake}<U+2028>Requester:  carol<U+000D>",
        "            Thanks",
    ]


def test_an_app_without_a_review_list_sends_nothing_and_says_so(world: World) -> None:
    opened = open_frontend(with_bot(world), review_list=[])
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    assert result.stdout == "frontend has no review_list in policies/apps.yaml: nothing sent.\n"
    assert outbox(world) == []
    result = hook(world, "opened", str(opened.number), "--json")
    data = json.loads(result.stdout)
    assert (data["recipients"], data["sent_via"]) == ([], [])
    assert outbox(world) == []


def test_a_pull_request_that_is_not_a_request_is_refused(world: World) -> None:
    open_frontend(with_bot(world))
    readme = world.root / "readme.md"
    readme.write_text("# Release requests\n")
    bob = forge(world, "bob")
    bob.create_branch(REQUESTS, "docs", "main", [("README.md", readme)], "Add a README")
    other = bob.open_pull_request(REQUESTS, head="docs", base="main", title="Docs", body="")
    result = hook(world, "opened", str(other.number))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"bs: error: pull request #{other.number} is not a request bs can read ("
    )
    assert result.stderr.endswith("): no review mail sent.\n")
    assert outbox(world) == []


def test_a_closed_request_gets_no_review_mail(world: World) -> None:
    opened = open_frontend(with_bot(world))
    forge(world, "alice").close_pull_request(REQUESTS, opened.number)
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 1
    assert f"pull request #{opened.number} is closed: no review mail sent." in result.stderr
    assert outbox(world) == []


def test_json_says_what_was_sent(world: World) -> None:
    opened = open_frontend(with_bot(world), reason=REASON)
    result = hook(world, "opened", str(opened.number), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    size = len(branch_file(world, opened, opened.patch_file))
    (path,) = outbox_messages(outbox_dir(world))
    assert data == {
        "pull_request": opened.number,
        "app": "frontend",
        "request": opened.request_id,
        "recipients": [REVIEW_LIST],
        "patch_attached": True,
        "patch_bytes": size,
        "policy": "Needs 1 more approval from alphagov/deployers",
        "sent_via": [str(path)],
        # The policy's approvers, asked on the forge (the standard policy names teams).
        "reviewers_asked": ["alphagov/dba", "alphagov/deployers"],
        "reviewers_error": None,
    }


def test_the_pull_request_comes_from_the_event_payload(world: World) -> None:
    opened = open_frontend(with_bot(world))
    event = write_event(world, pull_request_event(world, opened.number, "opened"))
    result = hook(world, "opened", "--event", str(event))
    assert result.exit_code == 0, result.output
    assert f"about #{opened.number}" in result.stdout
    (message,) = outbox(world)
    assert f"Release request #{opened.number}:" in message["Subject"]

    both = hook(world, "opened", str(opened.number), "--event", str(event))
    assert both.exit_code == 1
    assert "give either PR or --event FILE, not both." in both.stderr
    missing = hook(world, "opened", "--event", str(world.root / "nope.json"))
    assert missing.exit_code == 1
    assert "no such event file" in missing.stderr
    no_pull = write_event(world, {"action": "opened", "sender": {"login": BOT}}, "other.json")
    refused = hook(world, "opened", "--event", str(no_pull))
    assert refused.exit_code == 1
    assert "the event names no pull request" in refused.stderr
    assert len(outbox(world)) == 1


def test_a_small_compressed_patch_is_attached_as_stored(world: World) -> None:
    config = world.checkout / "bs.yaml"
    config.write_text(config.read_text() + "patch: {compress_above: 100}\n")
    world.publish()
    opened = open_frontend(with_bot(world), release_2_files={"app/main.py": b"print(2)\n" * 50})
    assert opened.patch_file.endswith(".patch.gz")
    stored = branch_file(world, opened, opened.patch_file)
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "with the patch attached" in result.stdout
    (message,) = outbox(world)
    ((name, content_type, content),) = attachments(message)
    assert (name, content_type) == (f"{opened.request_id}.patch.gz", "application/gzip")
    assert content == stored
    assert hashlib.sha256(gzip.decompress(content)).hexdigest() == opened.patch_sha256
    assert f"The complete patch is attached ({opened.request_id}.patch.gz, " in text_of(message)


def test_a_patch_that_is_not_the_release_s_diff_is_not_attached(world: World) -> None:
    opened = open_frontend(with_bot(world))
    committed = branch_file(world, opened, opened.patch_file)
    tampered = committed.replace(b"+print(2)", b"+print('tampered-line-9f3c')")
    assert tampered != committed
    push(world, opened, "alice", {opened.patch_file: tampered})
    result = hook(world, "opened", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "without the patch (bs could not confirm it is the release's own diff)" in result.stdout
    (message,) = outbox(world)
    assert attachments(message) == []
    text = text_of(message)
    assert "is not attached: bs could not confirm it is the release's own diff (see above)." in text
    assert "bs/policy says: Invalid request: " in text
    # (A marker no random Message-ID or boundary can hold: "666" could appear in one.)
    assert "tampered-line-9f3c" not in whole(message)


def test_the_review_mail_lists_the_release_s_commits_and_files(world: World) -> None:
    opened = open_frontend(with_bot(world))
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    (message,) = outbox(world)
    text = text_of(message)
    assert "Commits, newest first:\n  " in text and " two\n" in text
    assert "Files changed:\n  modified app/main.py\n" in text
    assert "<li>modified <code>app/main.py</code></li>" in html_of(message)
