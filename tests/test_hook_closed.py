"""`bs hook closed` on a request that was not merged: closed, withdrawn or rejected.

The request is removed (pull request closed, branch deleted) and the
requester is told who denied it and what they said; nothing happens twice,
and nothing happens at all when the requester cannot be told.
"""

from __future__ import annotations

import json

from tests.checkhelpers import REQUESTS, branch_file, edit_request, forge, push
from tests.conftest import World
from tests.hookhelpers import (
    BOT,
    branch_exists,
    drop_requester_email,
    events_of,
    hook,
    html_of,
    open_frontend,
    outbox,
    pull,
    pull_request_event,
    recipients,
    review_event,
    set_mail,
    set_users,
    text_of,
    with_bot,
    write_event,
)

BOB_SAYS = "Not during the campaign freeze.\nOpen it again next week."


def test_closed_by_a_reviewer_with_a_comment(world: World) -> None:
    opened = open_frontend(with_bot(world))
    bob = forge(world, "bob")
    bob.add_comment(REQUESTS, opened.number, "First thoughts: maybe")
    bob.add_comment(REQUESTS, opened.number, BOB_SAYS)
    forge(world, "carol").add_comment(REQUESTS, opened.number, "carol's unrelated note")
    bob.close_pull_request(REQUESTS, opened.number)
    assert branch_exists(world, opened)

    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Request #{opened.number} closed by bob."
    assert f"Closed pull request #{opened.number}." not in lines  # bob already had
    assert f"Deleted branch {opened.branch}." in lines
    assert lines[-1].startswith("Emailed alice <alice@example.gov.uk> via ")
    assert not branch_exists(world, opened)
    assert len(events_of(world, opened.number, "closed")) == 1

    (message,) = outbox(world)
    assert recipients(message) == ["alice@example.gov.uk"]
    assert message["Subject"] == f"[frontend] release_2 request #{opened.number} closed by bob"
    text = text_of(message)
    assert "Your request to release frontend release_2 was closed by bob." in text
    # bob's last comment, quoted line by line; not carol's, not bob's earlier one.
    assert (
        "bob said:\n\n  > Not during the campaign freeze.\n  > Open it again next week.\n" in text
    )
    assert "carol" not in text and "First thoughts" not in text
    assert "bs open-request frontend release_2" in text
    assert "was closed by <strong>bob</strong>." in html_of(message)


def test_an_eligible_rejection_closes_an_open_request(world: World) -> None:
    opened = open_frontend(with_bot(world))
    forge(world, "bob").submit_review(
        REQUESTS, opened.number, "CHANGES_REQUESTED", "Use <b>the</b> new copy"
    )
    event = write_event(world, review_event(world, opened.number, "bob"))

    result = hook(world, "closed", "--event", str(event))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        f"Request #{opened.number} rejected by bob.",
        f"Closed pull request #{opened.number}.",
        f"Deleted branch {opened.branch}.",
    ]
    after = pull(world, opened.number)
    assert (after.state, after.merged, after.closed_by) == ("closed", False, BOT)
    assert not branch_exists(world, opened)
    (message,) = outbox(world)
    assert recipients(message) == ["alice@example.gov.uk"]
    assert message["Subject"] == f"[frontend] release_2 request #{opened.number} rejected by bob"
    assert "was rejected by bob." in text_of(message)
    assert "  > Use <b>the</b> new copy\n" in text_of(message)
    assert "Use &lt;b&gt;the&lt;/b&gt; new copy</blockquote>" in html_of(message)


def test_an_ineligible_rejection_removes_nothing(world: World) -> None:
    with_bot(world)
    set_users(world, erin="erin@example.gov.uk")  # on the forge, in no team of the policy
    opened = open_frontend(world)
    forge(world, "erin").submit_review(REQUESTS, opened.number, "CHANGES_REQUESTED", "No!")
    forge(world, "alice").submit_review(REQUESTS, opened.number, "COMMENTED", "Please look")

    event = write_event(world, review_event(world, opened.number, "erin"))
    for args in ([str(opened.number)], ["--event", str(event)]):
        result = hook(world, "closed", *args)
        assert result.exit_code == 1
        assert (
            f"bs: error: pull request #{opened.number} is open and no eligible reviewer has "
            "rejected it: nothing to remove."
        ) in result.stderr
        assert result.stdout == ""
    assert pull(world, opened.number).state == "open"
    assert events_of(world, opened.number, "closed") == []
    assert branch_exists(world, opened)
    assert outbox(world) == []


def test_withdrawn_by_the_requester(world: World) -> None:
    opened = open_frontend(with_bot(world))
    alice = forge(world, "alice")
    alice.add_comment(REQUESTS, opened.number, "Wrong tag, sorry")
    alice.close_pull_request(REQUESTS, opened.number)
    event = write_event(world, pull_request_event(world, opened.number, "closed"))

    result = hook(world, "closed", "--event", str(event), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "pull_request": opened.number,
        "outcome": "withdrawn",
        "denied_by": "alice",
        "comment": "Wrong tag, sorry",
        "closed_now": False,
        "branch_deleted": True,
        "emailed": "alice@example.gov.uk",
    }
    (message,) = outbox(world)
    assert message["Subject"] == f"[frontend] release_2 request #{opened.number} withdrawn by alice"
    assert "was withdrawn by alice." in text_of(message)
    assert "  > Wrong tag, sorry" in text_of(message)


def test_running_again_closes_nothing_twice_and_sends_nothing_twice(world: World) -> None:
    """The hook leaves a mark once the requester is told: on GitHub, closing a rejected
    request's pull request runs the closed hook again, which must not mail again (a run
    whose mail failed left no mark, and running it again sends it)."""
    opened = open_frontend(with_bot(world))
    forge(world, "bob").close_pull_request(REQUESTS, opened.number)
    first = hook(world, "closed", str(opened.number))
    assert first.exit_code == 0, first.output
    again = hook(world, "closed", str(opened.number), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {
        "pull_request": opened.number, "outcome": "already-removed",
        "closed_now": False, "branch_deleted": False,
    }  # fmt: skip
    assert len(events_of(world, opened.number, "closed")) == 1
    (only,) = outbox(world)
    assert "bob left no comment." in text_of(only)


def test_running_again_after_a_rejection_does_nothing_more(world: World) -> None:
    opened = open_frontend(with_bot(world))
    forge(world, "bob").submit_review(REQUESTS, opened.number, "CHANGES_REQUESTED", "Not yet")
    first = hook(world, "closed", str(opened.number))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0] == f"Request #{opened.number} rejected by bob."
    again = hook(world, "closed", str(opened.number))
    assert again.exit_code == 0, again.output
    assert "already removed" in again.stdout
    assert len(events_of(world, opened.number, "closed")) == 1
    subjects = [m["Subject"] for m in outbox(world)]
    assert subjects == [f"[frontend] release_2 request #{opened.number} rejected by bob"]


def test_a_requester_without_an_address_stops_everything(world: World) -> None:
    opened = open_frontend(with_bot(world))
    # The request recorded alice's address: take it out, then alice from the forge.
    text = edit_request(world, opened, drop_requester_email)
    assert "requester_email" not in text
    forge(world, "bob").submit_review(REQUESTS, opened.number, "CHANGES_REQUESTED", "No")
    set_users(world, alice=None)

    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 1
    assert result.stderr == (
        "bs: error: no email address for alice: add it under mail.addresses in bs.yaml "
        "(login: address). Nothing was changed or sent.\n"
    )
    assert pull(world, opened.number).state == "open"
    assert events_of(world, opened.number, "closed") == []
    assert branch_exists(world, opened)
    assert outbox(world) == []

    # bs.yaml's mail.addresses is then the only place alice's address is.
    set_mail(world, {"kind": "outbox", "addresses": {"alice": "alice.private@example.org"}})
    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "Emailed alice <alice.private@example.org> via " in result.stdout
    assert pull(world, opened.number).state == "closed"
    assert not branch_exists(world, opened)
    (message,) = outbox(world)
    assert recipients(message) == ["alice.private@example.org"]


def test_the_recorded_address_serves_when_the_forge_has_none(world: World) -> None:
    opened = open_frontend(with_bot(world))
    set_users(world, alice=None)  # the forge no longer knows alice: the request's address is used
    forge(world, "bob").close_pull_request(REQUESTS, opened.number)
    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "Emailed alice <alice@example.gov.uk>" in result.stdout
    assert [recipients(m) for m in outbox(world)] == [["alice@example.gov.uk"]]


def test_bs_yaml_addresses_come_first(world: World) -> None:
    opened = open_frontend(with_bot(world))
    set_users(world, alice="alice@forge.example.gov.uk")
    set_mail(world, {"kind": "outbox", "addresses": {"Alice": "alice@bs-yaml.example.gov.uk"}})
    forge(world, "bob").close_pull_request(REQUESTS, opened.number)
    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 0, result.output
    assert "Emailed alice <alice@bs-yaml.example.gov.uk>" in result.stdout
    assert [recipients(m) for m in outbox(world)] == [["alice@bs-yaml.example.gov.uk"]]


def test_a_closed_pull_request_that_is_no_request_is_left_alone(world: World) -> None:
    with_bot(world)
    open_frontend(world)
    readme = world.root / "readme.md"
    readme.write_text("# Release requests\n")
    bob = forge(world, "bob")
    bob.create_branch(REQUESTS, "docs", "main", [("README.md", readme)], "Add a README")
    other = bob.open_pull_request(REQUESTS, head="docs", base="main", title="Docs", body="")
    forge(world, "carol").close_pull_request(REQUESTS, other.number)
    event = write_event(world, pull_request_event(world, other.number, "closed"))
    result = hook(world, "closed", "--event", str(event))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"#{other.number} is not a release request bs can read (")
    assert result.stdout.endswith("): nothing to do.\n")
    assert bob.resolve_branch(REQUESTS, "docs") is not None
    assert len(events_of(world, other.number, "closed")) == 1
    assert outbox(world) == []
    data = json.loads(hook(world, "closed", str(other.number), "--json").stdout)
    assert (data["pull_request"], data["outcome"]) == (other.number, "not-a-request")


def test_why_a_closed_pull_request_is_no_request_names_the_real_reason(world: World) -> None:
    with_bot(world)
    open_frontend(world)
    readme = world.root / "readme.md"
    readme.write_text("# Release requests\n")
    bob = forge(world, "bob")
    bob.create_branch(REQUESTS, "docs", "main", [("README.md", readme)], "Add a README")
    other = bob.open_pull_request(REQUESTS, head="docs", base="main", title="Docs", body="")
    bob.close_pull_request(REQUESTS, other.number)
    result = hook(world, "closed", str(other.number), "--json")
    assert result.exit_code == 0, result.output
    reason = json.loads(result.stdout)["reason"]
    # Not "Invalid request: the pull request is closed without being merged".
    assert "nothing under requests/" in reason


def test_an_address_someone_else_could_have_written_is_not_used(world: World) -> None:
    """The request file records alice's address, but bob pushed to her branch too."""
    opened = open_frontend(with_bot(world))
    edit_request(world, opened, drop_requester_email)
    text = branch_file(world, opened, opened.request_file).decode()
    push(
        world,
        opened,
        "bob",
        {opened.request_file: (text + "requester_email: mallory@evil.example\n").encode()},
    )
    forge(world, "bob").close_pull_request(REQUESTS, opened.number)
    set_users(world, alice=None)
    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 1, result.output
    assert "bs: error: no email address for alice" in result.stderr
    assert branch_exists(world, opened)
    assert outbox(world) == []


def test_a_mail_failure_after_removing_is_fixed_by_running_again(world: World) -> None:
    opened = open_frontend(with_bot(world))
    forge(world, "bob").submit_review(
        REQUESTS, opened.number, "CHANGES_REQUESTED", "Reverse \u202egnp.exe please"
    )
    (world.checkout / ".bs").mkdir(exist_ok=True)
    (world.checkout / ".bs" / "not-a-folder").write_text("")
    set_mail(world, {"kind": "outbox", "path": ".bs/not-a-folder"})
    failed = hook(world, "closed", str(opened.number))
    assert failed.exit_code == 1
    assert "could not write the message to the outbox" in failed.stderr
    # The mail goes first: when it fails, nothing has changed yet.
    assert pull(world, opened.number).state == "open"
    assert branch_exists(world, opened)

    set_mail(world, {"kind": "outbox"})
    again = hook(world, "closed", str(opened.number))
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == f"Request #{opened.number} rejected by bob."
    assert len(events_of(world, opened.number, "closed")) == 1
    (message,) = outbox(world)
    # A reviewer's words are theirs: a bidi override is shown, not obeyed.
    assert "  > Reverse <U+202E>gnp.exe please\n" in text_of(message)
    assert "Reverse &lt;U+202E&gt;gnp.exe please" in html_of(message)
