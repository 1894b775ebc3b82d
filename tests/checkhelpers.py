"""Helpers for the `bs check` and `bs merge` end-to-end tests (tests/test_check_*.py).

`open_release` builds a small app (release_1 deployed, release_2 tagged) and opens
a request for release_2 with `bs open-request`; `push`, `review` and
`inject_review` change the pull request through the local forge; `check` and
`expect` run `bs check PR --json` and assert its outcome, exit status, summary and
the `bs/policy` status posted on the pull request's head commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bs.core.pulls import CommitStatus, ReviewState
from bs.forges import local_records as records
from bs.forges.local import LocalForge
from tests.conftest import Result, World, git_bytes

REQUESTS = "alphagov/release-requests"
FRONTEND = "alphagov/frontend"
MIGRATION = "db/migrate/20240101_add_users.rb"
NO_MIGRATION = "nothing under db/migrate/**, db/schema.rb changed"
NEEDS_DEPLOYER = "Needs 1 more approval from alphagov/deployers"
SEPARATE_PR = (
    "a request's pull request changes nothing but requests/<app>/<id>.yaml and its patch; "
    "open a separate pull request for anything else"
)
NOT_CHECKED = "not checked: the request could not be read"


# -- building a request ---------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A request opened by `bs open-request`, and the app's commits."""

    number: int
    request_id: str
    request_file: str
    patch_file: str
    patch_sha256: str
    branch: str
    release_1: str
    release_2: str


def open_release(world: World, *, requester: str = "alice", migration: bool = False) -> Opened:
    """frontend: release_1 deployed, release_2 (annotated) tagged; a request for release_2."""
    app = world.add_app("frontend")
    app.write("README.md", "frontend\n")
    app.write("app/main.py", "print(1)\n")
    release_1 = app.commit("one")
    app.tag("release_1")
    app.write("app/main.py", "print(2)\n")
    if migration:
        app.write(MIGRATION, "create_table :users\n")
    release_2 = app.commit("two")
    app.tag("release_2", annotated=True)
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_1")
    result = world.bs("open-request", "frontend", "release_2", "--json", user=requester)
    return opened_from(result, release_1, release_2)


def opened_from(result: Result, release_1: str, release_2: str) -> Opened:
    """The request `bs open-request frontend release_2 --json` reported opening."""
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return Opened(
        number=data["pull_request"]["number"],
        request_id=data["id"],
        request_file=data["request_file"],
        patch_file=data["patch_file"],
        patch_sha256=data["patch_sha256"],
        branch=f"request/frontend/{data['id']}",
        release_1=release_1,
        release_2=release_2,
    )


def forge(world: World, user: str = "bob") -> LocalForge:
    return LocalForge(world.forge, user=user)


def head(world: World, number: int) -> str:
    return forge(world).get_pull_request(REQUESTS, number).head_sha


def branch_file(world: World, opened: Opened, path: str) -> bytes:
    return git_bytes(world.requests_bare, "show", f"refs/heads/{opened.branch}:{path}")


def push(
    world: World,
    opened: Opened,
    user: str,
    files: dict[str, bytes] | None = None,
) -> str:
    """Push a commit to the request's branch as `user`, through the forge; return it.

    Without `files`, the request's own two files are pushed again unchanged:
    a new head commit with the same tree, so only the head moves.
    """
    if files is None:
        files = {
            path: branch_file(world, opened, path)
            for path in (opened.request_file, opened.patch_file)
        }
    staged = world.root / "staged" / user
    sources: list[tuple[str, Path]] = []
    for i, (path, content) in enumerate(files.items()):
        source = staged / str(i)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(content)
        sources.append((path, source))
    before = head(world, opened.number)
    commit = forge(world, user).push_files(REQUESTS, opened.branch, sources, f"Push by {user}")
    assert commit != before
    assert head(world, opened.number) == commit
    return commit


def edit_request(world: World, opened: Opened, change: Callable[[str], str]) -> str:
    """Push the request file, changed by `change`, as alice; return the new text."""
    text = change(branch_file(world, opened, opened.request_file).decode())
    push(world, opened, "alice", {opened.request_file: text.encode()})
    return text


def replace_once(old: str, new: str) -> Callable[[str], str]:
    """A change for `edit_request`: `old`, which must be there once, becomes `new`."""

    def change(text: str) -> str:
        assert text.count(old) == 1, (old, text)
        return text.replace(old, new)

    return change


def commit_entries(world: World, opened: Opened, entries: list[tuple[str, bytes, bytes]]) -> str:
    """Commit raw tree entries (mode, path bytes, content) on the request's branch with
    git itself: symlinks, file names no `push` could write. Then push an empty commit
    on top through the forge, so who pushed the head is known; return that head."""
    env = {**os.environ, "GIT_INDEX_FILE": str(world.root / "raw-index")}

    def run(*args: str, input: bytes | None = None) -> bytes:
        return subprocess.run(
            ["git", f"--git-dir={world.requests_bare}", *args],
            env=env, input=input, capture_output=True, check=True,
        ).stdout.strip()  # fmt: skip

    branch = f"refs/heads/{opened.branch}"
    run("read-tree", branch)
    info = b""
    for mode, path, content in entries:
        blob = run("hash-object", "-w", "--stdin", input=content)
        info += mode.encode() + b" " + blob + b"\t" + path + b"\0"
    run("update-index", "-z", "--index-info", input=info)
    tree = run("write-tree").decode()
    commit = run("commit-tree", tree, "-p", branch, "-m", "Raw entries").decode()
    run("update-ref", branch, commit)
    return forge(world, "alice").push_files(REQUESTS, opened.branch, [], "On top")


def review(
    world: World, number: int, user: str, state: ReviewState = "APPROVED", body: str = ""
) -> int:
    return forge(world, user).submit_review(REQUESTS, number, state, body).id


def inject_review(world: World, number: int, user: str, state: ReviewState, commit: str) -> None:
    """A review record the forge's own rules would refuse (the author approving their own)."""
    forge_dir = world.forge / f"{REQUESTS}.forge"
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with records.locked(world.forge):
        review_id = records.next_number(forge_dir, "review")
        records.append_record(
            forge_dir / "pulls" / f"{number}.jsonl",
            {"type": "review", "id": review_id, "user": user, "state": state,
             "commit_id": commit, "body": "", "at": at},
        )  # fmt: skip


def publish_policy(world: World, text: str) -> None:
    (world.checkout / "policies" / "standard.yaml").write_text(text)
    world.publish()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- running bs check -----------------------------------------------------------------


def check(world: World, number: int, *extra: str, user: str = "carol") -> tuple[Result, Any]:
    """`bs check N --json` as `user`; the result and its parsed JSON."""
    result = world.bs("check", str(number), "--json", *extra, user=user)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 1, 2), result.output
    data = json.loads(result.stdout)
    assert data["exit_code"] == result.exit_code
    assert data["pull_request"] == number
    assert data["head_sha"] == head(world, number)
    return result, data


def expect(
    world: World, number: int, outcome: str, exit_code: int, summary: str, *extra: str
) -> Any:
    """Check `number`; assert outcome, exit status, summary and the status posted."""
    result, data = check(world, number, *extra)
    assert (data["outcome"], result.exit_code) == (outcome, exit_code), data
    assert data["summary"] == summary
    state = {"met": "success", "pending": "pending", "rejected": "failure", "failed": "failure"}
    assert data["status"]["state"] == state[outcome]
    if "--no-status" not in extra:
        assert data["status_posted"] is True
        posted = latest_status(world, data["head_sha"])
        assert posted is not None
        assert (posted.state, posted.description) == (state[outcome], data["status"]["description"])
        assert len(posted.description) <= 140
        if len(summary) <= 139:
            assert posted.description == summary
    return data


def only_check_fails(world: World, number: int, name: str, message: str) -> Any:
    """Check `number`: invalid, with check `name` failing alone with `message`."""
    data = expect(world, number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, name) == {"name": name, "ok": False, "message": message}
    assert failed_checks(data) == [name]
    return data


def statuses(world: World, sha: str) -> list[CommitStatus]:
    return [s for s in forge(world).list_statuses(REQUESTS, sha) if s.context == "bs/policy"]


def latest_status(world: World, sha: str) -> CommitStatus | None:
    found = statuses(world, sha)
    return found[0] if found else None


def check_named(data: Any, name: str) -> dict[str, Any]:
    found = [c for c in data["checks"] if c["name"] == name]
    assert len(found) == 1, data["checks"]
    return dict(found[0])


def rule(data: Any, name: str) -> dict[str, Any]:
    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "rule" in node:
            return [node]
        return [r for child in node["children"] for r in walk(child)]

    found = [r for r in walk(data["policy"]["approval"]) if r["rule"] == name]
    assert len(found) == 1
    return found[0]


def ignored(data: Any, rule_name: str = "deployer approval") -> list[tuple[str, str]]:
    return [(i["user"], i["reason"]) for i in rule(data, rule_name)["ignored"]]


def failed_checks(data: Any) -> list[str]:
    return [c["name"] for c in data["checks"] if c["ok"] is False]


def could_not_evaluate(result: Result, *names: str) -> str:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    return result.stderr
