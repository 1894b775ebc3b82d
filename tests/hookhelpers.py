"""Helpers for the hook tests (tests/test_hook_*.py): requests, the outbox, events.

`open_frontend` builds frontend (release_1 deployed, release_2 tagged) and opens
a request for release_2 with `bs open-request`, as checkhelpers' `open_release`
does, with a reason and release_2's files of the test's choosing. `hook` runs
`bs hook ...` as the bot the hooks run as. `outbox` reads the messages the hooks
wrote (bs.yaml has no `mail:`, so they go to the checkout's .bs/outbox), parsed
as a mail client would. The event payloads are trimmed copies of GitHub's own
examples (octokit/webhooks' pull_request closed and pull_request_review
submitted), with the fields bs could read set to match the local forge.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import yaml

from bs.core.links import KEY_BYTES, new_key_line
from bs.core.pulls import PullRequest
from bs.mail.outbox import outbox_messages
from tests.checkhelpers import FRONTEND, REQUESTS, Opened, forge, opened_from, publish_policy
from tests.conftest import Result, World, git

#: Who the hooks run as (on GitHub: bs's GitHub App).
BOT = "release-bot"
BOT_ADDRESS = "releases@example.gov.uk"
REVIEW_LIST = "frontend-reviewers@example.gov.uk"
APPROVAL_MARK = "<!-- bs:approval -->"
NO_LINK_MARK = "<!-- bs:no-link -->"
GATEWAY = "http://127.0.0.1:8421"
#: A deploy link in a message: the gateway's /link/ and a bs1 token.
LINK = re.compile(
    r"http://127\.0\.0\.1:8421/link/(bs1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"
)


# -- people and configuration ---------------------------------------------------------


def set_users(world: World, **changes: str | None) -> None:
    """Add (login=address) or remove (login=None) users of the local forge."""
    path = world.forge / "users.yaml"
    users = yaml.safe_load(path.read_text())
    for login, address in changes.items():
        if address is None:
            users.pop(login, None)
        else:
            users[login] = address
    path.write_text(yaml.safe_dump(users))


def with_bot(world: World) -> World:
    set_users(world, **{BOT: BOT_ADDRESS})
    return world


def set_mail(world: World, mail: Mapping[str, Any]) -> None:
    """Give the checkout's bs.yaml a `mail:` section (the hooks read the checkout's)."""
    path = world.checkout / "bs.yaml"
    config = yaml.safe_load(path.read_text())
    config["mail"] = dict(mail)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def set_review_list(world: World, addresses: list[str]) -> None:
    world.apps["frontend"]["review_list"] = addresses
    world.write_apps()


# -- requests -------------------------------------------------------------------------


def open_frontend(
    world: World,
    *,
    reason: str | None = None,
    requester: str = "alice",
    release_2_files: Mapping[str, bytes] | None = None,
    review_list: list[str] | None = None,
    policy: str | None = None,
) -> Opened:
    """frontend: release_1 deployed, release_2 (annotated) tagged; a request for release_2.

    `policy`, when given, is published as policies/standard.yaml first."""
    app = world.add_app("frontend")
    if review_list is not None:
        set_review_list(world, review_list)
    if policy is not None:
        publish_policy(world, policy)
    app.write("README.md", "frontend\n")
    app.write("app/main.py", "print(1)\n")
    release_1 = app.commit("one")
    app.tag("release_1")
    for name, content in (release_2_files or {"app/main.py": b"print(2)\n"}).items():
        app.write(name, content)
    release_2 = app.commit("two")
    app.tag("release_2", annotated=True)
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_1")
    args = ["open-request", "frontend", "release_2", "--json"]
    if reason is not None:
        args += ["--reason", reason]
    return opened_from(world.bs(*args, user=requester), release_1, release_2)


def pull(world: World, number: int) -> PullRequest:
    return forge(world, BOT).get_pull_request(REQUESTS, number)


def branch_exists(world: World, opened: Opened) -> bool:
    return forge(world, BOT).resolve_branch(REQUESTS, opened.branch) is not None


def drop_requester_email(text: str) -> str:
    """For `edit_request`: the request without the address its requester recorded."""
    kept = [line for line in text.splitlines() if not line.startswith("requester_email:")]
    assert len(kept) == len(text.splitlines()) - 1, text
    return "\n".join(kept) + "\n"


def approve_and_merge(world: World, number: int, approver: str = "bob") -> None:
    """An eligible approval, `bs check` posting success, and `bs merge` as bob."""
    forge(world, approver).submit_review(REQUESTS, number, "APPROVED", "Looks right")
    checked = world.bs("check", str(number), user="carol")
    assert checked.exit_code == 0, checked.output
    merged = world.bs("merge", str(number), user="bob")
    assert merged.exit_code == 0, merged.output


def records_path(world: World, number: int) -> Path:
    return world.forge / f"{REQUESTS}.forge" / "pulls" / f"{number}.jsonl"


def records(world: World, number: int) -> list[dict[str, Any]]:
    path = records_path(world, number)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events_of(world: World, number: int, kind: str) -> list[dict[str, Any]]:
    return [r for r in records(world, number) if r["type"] == kind]


def comments_marked(world: World, number: int, mark: str) -> list[dict[str, Any]]:
    return [c for c in events_of(world, number, "comment") if c["body"].startswith(mark)]


def set_merged_at(world: World, number: int, at: datetime) -> None:
    """Rewrite when the local forge says pull request `number` was merged, moving its
    reviews to just before then (reviews after a merge do not count)."""
    path = records_path(world, number)
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (at - timedelta(minutes=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "merged":
            record["at"] = stamp
        elif record["type"] in ("review", "dismissed") and record["at"] > stamp:
            record["at"] = before
        lines.append(json.dumps(record, sort_keys=True))
    path.write_text("\n".join(lines) + "\n")


def merged_at(world: World, number: int) -> datetime:
    (event,) = events_of(world, number, "merged")
    return datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def move_tag(world: World, tag: str, content: bytes) -> str:
    """Move frontend's `tag` to a new commit (as someone re-tagging after approval)."""
    work = world.root / "work" / "frontend"  # where `add_app` builds frontend's history
    (work / "app" / "main.py").write_bytes(content)
    git(work, "commit", "-q", "-am", "re-tagged")
    commit = git(work, "rev-parse", "HEAD")
    git(work, "tag", "-f", "-a", "-m", f"Release {tag}", tag)
    git(work, "push", "-q", "--force", str(world.app_bare(FRONTEND)), f"refs/tags/{tag}")
    assert git(world.app_bare(FRONTEND), "rev-parse", f"{tag}^{{commit}}") == commit
    return commit


# -- running the hooks ----------------------------------------------------------------


def hook(world: World, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """`bs hook ARGS` as the bot, with no traceback whatever happens."""
    result = world.bs("hook", *args, user=BOT, env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code != 70, result.output
    return result


def key_line(key_id: str = "test") -> str:
    return new_key_line(key_id, secrets.token_bytes(KEY_BYTES))


# -- the outbox -----------------------------------------------------------------------


def outbox_dir(world: World) -> Path:
    return world.checkout / ".bs" / "outbox"


def outbox(world: World) -> list[EmailMessage]:
    """Every message in the outbox, oldest first, parsed as a mail client would."""
    messages = []
    for path in outbox_messages(outbox_dir(world)):
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    content: str = part.get_content()
    return content


def recipients(message: EmailMessage) -> list[str]:
    return [address.addr_spec for address in message["To"].addresses]


def attachments(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    """(file name, content type, exact bytes) of each attachment."""
    found = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_filename(), part.get_content_type(), payload))
    return found


def links(message: EmailMessage) -> list[str]:
    """The deploy-link tokens in a message's text part."""
    return LINK.findall(text_of(message))


def whole(message: EmailMessage) -> str:
    """Everything a message says, all parts decoded, for 'not anywhere' assertions."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() != "multipart":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts.append(payload.decode("utf-8", "replace"))
    return "\n".join(parts)


# -- GitHub event payloads (trimmed from octokit/webhooks' examples) -------------------


def _user(login: str, user_id: int = 21031067) -> dict[str, Any]:
    return {"login": login, "id": user_id, "type": "User", "site_admin": False}


def _repository() -> dict[str, Any]:
    return {
        "id": 186853002,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": "release-requests",
        "full_name": REQUESTS,
        "private": False,
        "owner": _user("alphagov", 596977),
        "default_branch": "main",
    }


def _when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _pull_request(world: World, number: int) -> dict[str, Any]:
    """A pull request as GitHub's webhooks carry it, from the local forge's record."""
    found = pull(world, number)
    return {
        "url": f"https://api.github.com/repos/{REQUESTS}/pulls/{number}",
        "id": 279147437 + number,
        "node_id": "MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3",
        "html_url": f"https://github.com/{REQUESTS}/pull/{number}",
        "number": number,
        "state": found.state,
        "locked": False,
        "title": found.title,
        "user": _user(found.author),
        "body": found.body,
        "created_at": _when(found.created_at),
        "updated_at": _when(found.created_at),
        "closed_at": _when(found.merged_at or now()) if found.state == "closed" else None,
        "merged_at": _when(found.merged_at),
        "merge_commit_sha": found.merge_commit_sha,
        "head": {
            "label": f"alphagov:{found.head_ref}",
            "ref": found.head_ref,
            "sha": found.head_sha,
            "user": _user("alphagov", 596977),
        },
        "base": {
            "label": f"alphagov:{found.base}",
            "ref": found.base,
            "sha": git(world.requests_bare, "rev-parse", found.base),
            "user": _user("alphagov", 596977),
        },
        "draft": False,
        "merged": found.merged,
        "merged_by": _user(found.merged_by) if found.merged_by else None,
        "commits": 1,
        "additions": 20,
        "deletions": 0,
        "changed_files": 2,
    }


def pull_request_event(world: World, number: int, action: str) -> dict[str, Any]:
    """A `pull_request` event (opened, closed...) for pull request `number`."""
    found = pull(world, number)
    return {
        "action": action,
        "number": number,
        "pull_request": _pull_request(world, number),
        "repository": _repository(),
        "installation": {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
        "sender": _user(found.closed_by or found.author),
    }


def review_event(world: World, number: int, reviewer: str) -> dict[str, Any]:
    """A `pull_request_review` submitted event for `reviewer`'s latest review."""
    review = [r for r in forge(world, BOT).list_reviews(REQUESTS, number) if r.user == reviewer][-1]
    body = _pull_request(world, number)
    for key in ("merged", "merged_by", "commits", "additions", "deletions", "changed_files"):
        body.pop(key)  # a review event carries the simple pull request
    return {
        "action": "submitted",
        "review": {
            "id": 237895671 + review.id,
            "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3MjM3ODk1Njcx",
            "user": _user(reviewer),
            "body": review.body or None,
            "commit_id": review.commit_id,
            "submitted_at": review.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state": review.state.lower(),
            "html_url": f"https://github.com/{REQUESTS}/pull/{number}#pullrequestreview-1",
            "pull_request_url": f"https://api.github.com/repos/{REQUESTS}/pulls/{number}",
            "author_association": "MEMBER",
        },
        "pull_request": body,
        "repository": _repository(),
        "sender": _user(reviewer),
    }


def write_event(world: World, payload: Mapping[str, Any], name: str = "event.json") -> Path:
    path = world.root / name
    path.write_text(json.dumps(payload, indent=2))
    return path


def now() -> datetime:
    return datetime.now(UTC)
