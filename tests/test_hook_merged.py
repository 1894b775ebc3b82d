"""`bs hook closed` on a merged request: a deploy link when the policy is met, else none.

The merge proves nothing, so the hook re-checks. Met: the approval is
recorded on the pull request once, and each run mails the requester a new
single-use link, signed with the keys from the environment, for the slot the
policy's deploy windows give. Not met (an admin merge, a tag moved after
approval): nothing is minted and everyone concerned is told why.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bs.core.links import (
    DEPLOY_LINK,
    Keyring,
    LinkClaims,
    LinkRefused,
    parse_keys,
    verify_link_token,
)
from bs.core.slots import DAYS
from tests.checkhelpers import FRONTEND, REQUESTS, edit_request, forge, publish_policy, push
from tests.conftest import STANDARD_POLICY, World
from tests.hookhelpers import (
    APPROVAL_MARK,
    BOT,
    GATEWAY,
    NO_LINK_MARK,
    REVIEW_LIST,
    approve_and_merge,
    comments_marked,
    drop_requester_email,
    events_of,
    hook,
    html_of,
    key_line,
    links,
    merged_at,
    move_tag,
    now,
    open_frontend,
    outbox,
    pull_request_event,
    recipients,
    records_path,
    set_mail,
    set_merged_at,
    set_users,
    text_of,
    whole,
    with_bot,
    write_event,
)

LONDON = ZoneInfo("Europe/London")
DEPLOY = "deploy:\n  slot: 2h\n  timezone: Europe/London\n"


def policy_with(deploy: str) -> str:
    assert STANDARD_POLICY.count(DEPLOY) == 1
    return STANDARD_POLICY.replace(DEPLOY, deploy)


@pytest.fixture(autouse=True)
def _no_keys_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BS_LINK_KEYS", raising=False)
    monkeypatch.delenv("BS_LINK_KEYS_FILE", raising=False)


def verify(token: str, keyring: Keyring, at: datetime | None = None) -> LinkClaims:
    return verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=at or now())


def instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def described(moment: datetime, zone: ZoneInfo = LONDON) -> str:
    """How mail shows an instant: local time with its zone's abbreviation, then UTC."""
    local, utc = moment.astimezone(zone), moment.astimezone(UTC)
    assert local.date() == utc.date()
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()} ({utc:%H:%M} UTC)"


def all_mail_and_records(world: World, number: int) -> str:
    return "\n".join(whole(m) for m in outbox(world)) + records_path(world, number).read_text()


# -- merged, met ----------------------------------------------------------------------


def test_met_records_the_approval_once_and_mails_a_new_link_each_run(world: World) -> None:
    opened = open_frontend(with_bot(world), reason="Cookie banner")
    assert hook(world, "opened", str(opened.number)).exit_code == 0
    approve_and_merge(world, opened.number)
    # Someone else's comment with the marker does not count as bs's record.
    forge(world, "bob").add_comment(REQUESTS, opened.number, f"{APPROVAL_MARK}\nApproved!")
    old = key_line("old")
    keys = f"{key_line('new')} {old}"  # the first signs; both verify
    env = {"BS_LINK_KEYS": keys}

    first = hook(world, "closed", str(opened.number), env=env)
    assert first.exit_code == 0, first.output
    event = write_event(world, pull_request_event(world, opened.number, "closed"))
    second = hook(world, "closed", "--event", str(event), "--json", env=env)
    assert second.exit_code == 0, second.output

    # The approval comment: once, by the bot.
    mine = [c for c in comments_marked(world, opened.number, APPROVAL_MARK) if c["user"] == BOT]
    assert len(mine) == 1
    assert "| Requester | alice |" in mine[0]["body"]
    assert "| Approved by | bob (" in mine[0]["body"]

    # Two messages to alice, each with its own link; both verify with the keyring.
    review_mail, *approved = outbox(world)
    assert len(approved) == 2
    keyring = parse_keys(keys, "BS_LINK_KEYS")
    tokens = []
    for message in approved:
        assert recipients(message) == ["alice@example.gov.uk"]
        assert message["Subject"] == "[frontend] Approved: your deploy link for release_2"
        assert message["References"] == review_mail["References"]  # one thread per request
        (token,) = links(message)
        assert f'href="{GATEWAY}/link/{token}"' in html_of(message)
        tokens.append(token)
    assert tokens[0] != tokens[1]
    data = json.loads(second.stdout)
    record = data["approval"]
    for token in tokens:
        claims = verify(token, keyring)
        assert claims.key_id == "new"
        assert (claims.purpose, claims.app, claims.request_id) == (
            DEPLOY_LINK,
            "frontend",
            opened.request_id,
        )
        assert (claims.pull_request, claims.requester) == (opened.number, "alice")
        assert claims.not_before == instant(record["slot"]["start"])
        assert claims.expires == instant(record["slot"]["end"])
    # Not signed by a keyring without the signing key.
    with pytest.raises(LinkRefused, match="unknown_key"):
        verify(tokens[0], parse_keys(old, "old"))

    # The approval record, in text and JSON; never the link.
    merged = merged_at(world, opened.number)
    approvals = [r for r in events_of(world, opened.number, "review") if r["state"] == "APPROVED"]
    assert data["outcome"] == "minted" and data["minted"] is True
    assert data["emailed"] == "alice@example.gov.uk"
    assert record["requester"] == "alice"
    assert record["approvers"] == [{"user": "bob", "approved_at": approvals[0]["at"]}]
    assert (record["merged_by"], record["merged_at"]) == (
        "bob",
        merged.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert record["from"] == {"tag": "release_1", "commit": opened.release_1}
    assert record["to"] == {"tag": "release_2", "commit": opened.release_2}
    assert record["patch_sha256"] == opened.patch_sha256
    assert (record["pull_request"], record["request"]) == (opened.number, opened.request_id)
    assert record["slot"] == {
        "start": record["merged_at"],
        "end": (merged + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": "Europe/London",
    }
    text = first.stdout
    for line in (
        f"Approval recorded for #{opened.number}: frontend request {opened.request_id}",
        "  requester:   alice",
        f"  approved by: bob at {approvals[0]['at']}",
        f"  merged by:   bob at {record['merged_at']}",
        f"  from:        release_1 {opened.release_1}",
        f"  to:          release_2 {opened.release_2}",
        f"  patch:       sha256 {opened.patch_sha256}",
        f"  slot:        {record['slot']['start']} to {record['slot']['end']}",
        "Minted a deploy link and emailed it to alice <alice@example.gov.uk>",
    ):
        assert line in text.splitlines(), line
    for token in tokens:
        nonce = json.loads(_payload(token))["n"]
        for said in (first.output, second.output, records_path(world, opened.number).read_text()):
            assert token not in said and nonce not in said


def _payload(token: str) -> bytes:
    import base64

    body = token.split(".")[2]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def test_without_keys_nothing_is_posted_or_sent(world: World, tmp_path: Path) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    result = hook(world, "closed", str(opened.number))
    assert result.exit_code == 1
    assert "bs: error: no deploy-link keys: set BS_LINK_KEYS" in result.stderr
    file = tmp_path / "keys"
    file.write_text(key_line())
    file.chmod(0o600)
    both = hook(
        world,
        "closed",
        str(opened.number),
        env={"BS_LINK_KEYS": key_line(), "BS_LINK_KEYS_FILE": str(file)},
    )
    assert both.exit_code == 1
    assert "both BS_LINK_KEYS and BS_LINK_KEYS_FILE are set: set only one." in both.stderr
    short = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": "k:c2hvcnQ"})
    assert short.exit_code == 1
    assert "BS_LINK_KEYS: key k has 5 bytes; at least 32 are needed" in short.stderr
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    assert outbox(world) == []


def test_a_key_file_must_be_private_and_outside_the_repository(
    world: World, tmp_path: Path
) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    line = key_line("filed")

    inside = world.checkout / "link-keys"
    inside.write_text(f"# deploy-link keys\n{line}\n")
    inside.chmod(0o600)
    linked = tmp_path / "link-to-inside"
    linked.symlink_to(inside)
    for path in (inside, linked):
        refused = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS_FILE": str(path)})
        assert refused.exit_code == 1
        assert f"BS_LINK_KEYS_FILE: {path} is inside the requests repository" in refused.stderr

    hard = tmp_path / "hard-linked-keys"
    hard.write_text(line)
    hard.chmod(0o600)
    (world.checkout / "hard-link").hardlink_to(hard)
    refused = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS_FILE": str(hard)})
    assert refused.exit_code == 1
    assert f"BS_LINK_KEYS_FILE: {hard} has other hard links" in refused.stderr

    readable = tmp_path / "readable-keys"
    readable.write_text(line)
    readable.chmod(0o644)
    refused = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS_FILE": str(readable)})
    assert refused.exit_code == 1
    assert "can be read by others (mode 644)" in refused.stderr
    assert f"chmod 600 {readable}" in refused.stderr
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    assert outbox(world) == []

    private = tmp_path / "private-keys"
    private.write_text(f"# deploy-link keys\n{line}\n")
    private.chmod(0o600)
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS_FILE": str(private)})
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    (message,) = outbox(world)
    (token,) = links(message)
    assert verify(token, parse_keys(line, "file")).key_id == "filed"
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1


def _next(weekday: int, after: date) -> date:
    day = after + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def test_merged_outside_the_windows_the_slot_starts_at_the_next_opening(world: World) -> None:
    today = now().astimezone(LONDON).weekday()
    open_day = (today + 3) % 7  # neither today nor tomorrow: the merge is outside
    policy = policy_with(
        "deploy:\n  slot: 2h\n  timezone: Europe/London\n  windows:\n"
        f'    - {{days: [{DAYS[open_day]}], from: "09:30", to: "17:00"}}\n'
    )
    opened = open_frontend(with_bot(world), policy=policy)
    approve_and_merge(world, opened.number)
    keys = key_line()
    result = hook(world, "closed", str(opened.number), "--json", env={"BS_LINK_KEYS": keys})
    assert result.exit_code == 0, result.output

    merged = merged_at(world, opened.number).astimezone(LONDON)
    assert merged.weekday() != open_day
    start = datetime.combine(_next(open_day, merged.date()), time(9, 30), LONDON).astimezone(UTC)
    end = start + timedelta(hours=2)
    (message,) = outbox(world)
    (token,) = links(message)
    claims = verify(token, parse_keys(keys, "keys"), at=start)
    assert (claims.not_before, claims.expires) == (start, end)
    slot = json.loads(result.stdout)["approval"]["slot"]
    assert (instant(slot["start"]), instant(slot["end"])) == (start, end)
    text = text_of(message)
    assert f"  starts  {described(start)}\n  ends    {described(end)}\n" in text
    assert "  (it starts later than the merge: outside the deploy windows)" in text
    assert f"Starts {described(start)}<br>Ends {described(end)}" in html_of(message)


def test_the_slot_in_summer_time_freezes_and_closing_windows(world: World) -> None:
    """Merge times rewritten to fixed dates in 2030: local (BST) and UTC differ by an hour."""
    policy = policy_with(
        "deploy:\n  slot: 2h\n  timezone: Europe/London\n  windows:\n"
        '    - {days: [mon-thu], from: "09:30", to: "17:00"}\n'
        "  freezes:\n    - {from: 2030-07-15, to: 2030-07-16, reason: Summer release freeze}\n"
    )
    opened = open_frontend(with_bot(world), policy=policy)
    approve_and_merge(world, opened.number)
    keys = key_line()
    keyring = parse_keys(keys, "keys")

    def slot_for(merged: datetime) -> tuple[LinkClaims, EmailMessage]:
        set_merged_at(world, opened.number, merged)
        result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": keys})
        assert result.exit_code == 0, result.output
        message = outbox(world)[-1]
        (token,) = links(message)
        return verify(token, keyring, at=merged), message

    # Saturday 6 July 2030, 13:00 BST: the next opening is Monday's, 09:30 BST = 08:30 UTC.
    claims, message = slot_for(datetime(2030, 7, 6, 12, 0, tzinfo=UTC))
    assert claims.not_before == datetime(2030, 7, 8, 8, 30, tzinfo=UTC)
    assert claims.expires == datetime(2030, 7, 8, 10, 30, tzinfo=UTC)
    text = text_of(message)
    assert "  starts  Mon 08 Jul 2030 09:30 BST (08:30 UTC)\n" in text
    assert "  ends    Mon 08 Jul 2030 11:30 BST (10:30 UTC)\n" in text
    assert "Merged by bob, Sat 06 Jul 2030 13:00 BST (12:00 UTC)." in text

    # Wednesday 10 July, 16:00 BST: inside the window, cut short when it closes.
    claims, message = slot_for(datetime(2030, 7, 10, 15, 0, tzinfo=UTC))
    assert (claims.not_before, claims.expires) == (
        datetime(2030, 7, 10, 15, 0, tzinfo=UTC),
        datetime(2030, 7, 10, 16, 0, tzinfo=UTC),
    )
    assert "  (it is shorter than 2h: the deploy window closes)" in text_of(message)

    # Friday 12 July: after the weekend comes the freeze; the slot waits for Wednesday.
    claims, message = slot_for(datetime(2030, 7, 12, 10, 0, tzinfo=UTC))
    assert claims.not_before == datetime(2030, 7, 17, 8, 30, tzinfo=UTC)
    text = text_of(message)
    assert "  starts  Wed 17 Jul 2030 09:30 BST (08:30 UTC)\n" in text
    assert "(it starts later than the merge: the freeze 'Summer release freeze')" in text
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1


def test_a_slot_that_has_ended_mints_nothing(world: World) -> None:
    opened = open_frontend(
        with_bot(world), policy=policy_with("deploy:\n  slot: 5m\n  timezone: Europe/London\n")
    )
    approve_and_merge(world, opened.number)
    set_merged_at(world, opened.number, now() - timedelta(hours=1))
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": key_line()})
    assert result.exit_code == 1
    assert f"bs: error: the deploy slot of pull request #{opened.number} ended " in result.stderr
    assert (
        "no deploy link was minted. Open a new request: bs open-request frontend release_2"
        in result.stderr
    )
    assert result.stdout == ""
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    assert outbox(world) == []


# -- merged, not met ------------------------------------------------------------------


def test_an_admin_merge_mints_nothing_and_says_why(world: World) -> None:
    opened = open_frontend(with_bot(world))
    merged = world.bs("merge", str(opened.number), "--admin", user="bob")
    assert merged.exit_code == 0, merged.output
    env = {"BS_LINK_KEYS": key_line()}  # keys are there: the policy is why nothing is minted

    first = hook(world, "closed", str(opened.number), env=env)
    assert first.exit_code == 2, first.output
    assert first.stdout.splitlines() == [
        f"Pull request #{opened.number} was merged, but its policy is not met: no deploy link minted.",
        "Why: Needs 1 more approval from alphagov/deployers",
        f"Commented on #{opened.number}.",
        f"Emailed alice@example.gov.uk, {REVIEW_LIST}.",
    ]
    second = hook(world, "closed", str(opened.number), "--json", env=env)
    assert second.exit_code == 2, second.output
    assert json.loads(second.stdout) == {
        "pull_request": opened.number,
        "outcome": "refused",
        "minted": False,
        "reason": "Needs 1 more approval from alphagov/deployers",
        "emailed": ["alice@example.gov.uk", REVIEW_LIST],
    }

    (comment,) = comments_marked(world, opened.number, NO_LINK_MARK)
    assert comment["user"] == BOT
    assert "**No deploy link was minted.** This pull request was merged by bob" in comment["body"]
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    messages = outbox(world)
    assert len(messages) == 2
    for message in messages:
        assert recipients(message) == ["alice@example.gov.uk", REVIEW_LIST]
        assert message["Subject"] == (
            f"[frontend] No deploy link: #{opened.number} merged without approval"
        )
        text = text_of(message)
        assert "was merged by bob, but its approval policy is not met, so no deploy" in text
        assert "Why: Needs 1 more approval from alphagov/deployers" in text
        assert "Needs 1 more approval from alphagov/deployers" in html_of(message)
    everything = all_mail_and_records(world, opened.number)
    assert "/link/" not in everything and "bs1." not in everything


def test_a_tag_moved_after_approval_mints_nothing(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    moved = move_tag(world, "release_2", b"print('something else')\n")
    assert moved != opened.release_2

    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": key_line()})
    assert result.exit_code == 2, result.output
    assert "its policy is not met: no deploy link minted." in result.stdout
    why = result.stdout.splitlines()[1]
    assert why.startswith("Why: Invalid request: ")
    assert (
        f"tag release_2 now points at {moved[:12]}, not the pinned {opened.release_2[:12]}" in why
    )
    assert len(comments_marked(world, opened.number, NO_LINK_MARK)) == 1
    assert comments_marked(world, opened.number, APPROVAL_MARK) == []
    (message,) = outbox(world)
    assert recipients(message) == ["alice@example.gov.uk", REVIEW_LIST]
    everything = all_mail_and_records(world, opened.number)
    assert "/link/" not in everything and "bs1." not in everything


def test_a_merged_request_that_cannot_be_evaluated_exits_3(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    publish_policy(world, "version: 1\napproval: nobody\n")
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": key_line()})
    assert result.exit_code == 3, result.output
    assert f"could not evaluate merged pull request #{opened.number}" in result.stderr
    assert "No deploy link was minted; run the hook again once that is fixed." in result.stderr
    assert events_of(world, opened.number, "comment") == []
    assert outbox(world) == []


def test_a_mail_failure_after_the_comment_is_fixed_by_running_again(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    env = {"BS_LINK_KEYS": key_line()}
    (world.checkout / ".bs").mkdir(exist_ok=True)
    (world.checkout / ".bs" / "not-a-folder").write_text("")
    set_mail(world, {"kind": "outbox", "path": ".bs/not-a-folder"})
    failed = hook(world, "closed", str(opened.number), env=env)
    assert failed.exit_code == 1
    assert "could not write the message to the outbox" in failed.stderr
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1

    set_mail(world, {"kind": "outbox"})
    again = hook(world, "closed", str(opened.number), env=env)
    assert again.exit_code == 0, again.output
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1
    (message,) = outbox(world)
    assert len(links(message)) == 1


def test_a_merged_broken_request_is_refused_as_loudly_as_an_unapproved_one(world: World) -> None:
    """Here a request that also changes README.md, merged by an admin: bs reads no request
    in it, mints nothing, and says so on the pull request and to its author."""
    opened = open_frontend(with_bot(world))
    push(world, opened, "alice", {"README.md": b"sneaked in with the request\n"})
    assert world.bs("merge", str(opened.number), "--admin", user="bob").exit_code == 0
    env = {"BS_LINK_KEYS": key_line()}

    result = hook(world, "closed", str(opened.number), "--json", env=env)
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert (data["outcome"], data["minted"], data["pull_request"]) == (
        "refused",
        False,
        opened.number,
    )
    assert "README.md" in data["reason"]
    assert data["emailed"] == ["alice@example.gov.uk"]
    assert len(comments_marked(world, opened.number, NO_LINK_MARK)) == 1
    (message,) = outbox(world)
    assert "README.md" in text_of(message) and not links(message)
    assert hook(world, "closed", str(opened.number), env=env).exit_code == 2
    assert len(comments_marked(world, opened.number, NO_LINK_MARK)) == 1  # said once


def test_a_merged_pull_request_that_is_no_request_is_left_alone(world: World) -> None:
    """A pull request that touches nothing under requests/ (policy notes, say)."""
    world.add_app("frontend")
    notes = world.root / "notes.md"
    notes.write_text("policy notes\n")
    local = forge(world, "bob")
    local.create_branch(REQUESTS, "notes", "main", [("policies/notes.md", notes)], "Notes")
    pull = local.open_pull_request(REQUESTS, head="notes", base="main", title="Notes", body="")
    local.merge_pull_request(REQUESTS, pull.number)

    result = hook(with_bot(world), "closed", str(pull.number), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "not-a-request"
    assert events_of(world, pull.number, "comment") == []
    assert outbox(world) == []


def test_a_re_run_after_the_release_went_out_mints_nothing_and_says_nothing(world: World) -> None:
    opened = open_frontend(with_bot(world))
    approve_and_merge(world, opened.number)
    env = {"BS_LINK_KEYS": key_line()}
    assert hook(world, "closed", str(opened.number), env=env).exit_code == 0
    world.deploy(FRONTEND, "release_2")  # deployed: the request no longer starts from it

    again = hook(world, "closed", str(opened.number), env=env)
    assert again.exit_code == 0, again.output  # nothing went wrong: the job was done before
    assert again.stdout.startswith(
        f"#{opened.number}'s deploy link was minted before (see its approval comment); "
        "the policy no longer holds ("
    )
    assert again.stdout.endswith("), so no new link is minted.\n")
    data = json.loads(hook(world, "closed", str(opened.number), "--json", env=env).stdout)
    assert (data["outcome"], data["minted"]) == ("minted-before", False)
    assert comments_marked(world, opened.number, NO_LINK_MARK) == []
    assert len(comments_marked(world, opened.number, APPROVAL_MARK)) == 1
    (message,) = outbox(world)  # alice's one link, and nothing after it
    assert len(links(message)) == 1


def test_a_requester_without_an_address_gets_nothing_minted_or_posted(world: World) -> None:
    opened = open_frontend(with_bot(world))
    edit_request(world, opened, drop_requester_email)
    approve_and_merge(world, opened.number)
    set_users(world, alice=None)
    result = hook(world, "closed", str(opened.number), env={"BS_LINK_KEYS": key_line()})
    assert result.exit_code == 1
    assert "bs: error: no email address for alice: add it under mail.addresses" in result.stderr
    assert events_of(world, opened.number, "comment") == []
    assert outbox(world) == []
