"""A second security review: who pushed (the App's ``bs/pushed`` records), the
"not a release request" success, the closed hook's removal mark, the App's
installation auth and the rejection removal job, as tests.

Each ``xfail(strict=True)`` test demonstrates a finding: it states the property that
should hold and fails today; once fixed it passes, and strict xfail turns that into a
failure, so the marker goes with the fix. Unmarked tests pin properties that hold.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.githubworld import BOT, REQUESTS, GitHubWorld, gh_world
from tests.hookhelpers import outbox, recipients
from tests.test_github_security import code_owners

__all__ = ["gh_world"]

BOT_LOGIN = f"{BOT}[bot]"


def verdict_of(world: GitHubWorld, number: int) -> dict[str, Any]:
    """`bs check --json` as the App would run it, without posting the status."""
    result = world.bs("check", str(number), "--json", "--no-status", user=BOT)
    assert result.stdout, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def approve(world: GitHubWorld, number: int, login: str) -> None:
    pull = world.fake.client(world.tokens[login]).get_repo(REQUESTS).get_pull(number)
    pull.create_review(body="Looks right", event="APPROVE")


def approvers(verdict: dict[str, Any]) -> list[str]:
    return list(verdict["policy"]["approved_by"]) if verdict.get("policy") else []


def request_yaml(world: GitHubWorld, number: int) -> tuple[str, str]:
    """(path, text) of the request file on pull request `number`'s head."""
    pull = world.fake.pull(REQUESTS, number)
    git = world.fake.repo(REQUESTS).git
    changed = git.git("diff", "--name-only", "main", pull.head_sha).split()
    path = next(p for p in changed if p.endswith(".yaml"))
    return path, git.git("show", f"{pull.head_sha}:{path}") + "\n"


def bobs_words(text: str) -> str:
    assert "reason: null" in text, text
    return text.replace("reason: null", "reason: bob's words, pushed by bob")


def bob_pushes_as_alice(world: GitHubWorld, number: int) -> str:
    """bob (a deployer) pushes his own change to alice's request, the commit under alice's
    name (git's author and committer are whatever the pusher writes); the App records the
    synchronize event as "pushed by bob after <alice's head>"."""
    fake = world.fake
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(world, number)
    sha = fake.commit(REQUESTS, {path: bobs_words(text)}, branch=branch, author="alice")
    fake.sync("bob")
    assert fake.pull(REQUESTS, number).head_sha == sha
    world.record_push("synchronize", number, sender="bob")
    return sha


def open_pull_at(world: GitHubWorld, login: str, branch: str, sha: str, title: str) -> int:
    """`login` opens a pull request to main from `branch`, made at commit `sha` (in the
    requests repository, or in their fork when they cannot push to it)."""
    fake = world.fake
    repo = fake.client(world.tokens[login]).get_repo(REQUESTS)
    if login in fake.repo(REQUESTS).writers:
        fake.repo(REQUESTS).git.update_ref(f"refs/heads/{branch}", sha)
        head = branch
    else:
        fork = fake.repo(repo.create_fork().full_name).git
        fork.fetch(fake.repo(REQUESTS).git, sha)  # the commit is public: anyone can fetch it
        fork.update_ref(f"refs/heads/{branch}", sha)
        head = f"{login}:{branch}"
    pull = repo.create_pull(title=title, body="", head=head, base="main")
    number = int(pull.number)
    world.record_push("opened", number)  # the check workflow runs on it, as on any pull request
    return number


# === Finding A: a record of ANOTHER pull request hides who pushed =======================
#
# bs/forges/github.py list_pushes takes, for each head, the newest bs/pushed status of the
# App on that commit. A status belongs to a commit, not to a pull request, and the App
# records every pull request to the default branch. Anyone able to open a pull request on
# the requests repository (any account when it is public: from a fork) opens one whose
# head is the commit bob pushed to alice's request: the App records "opened by dave" on
# it, the newest record, and alice's request's chain now starts and ends there. bob's
# push is gone; with his commit written under alice's name, his approval counts.


def test_another_pull_request_at_the_same_head_does_not_erase_a_push(
    gh_world: GitHubWorld,
) -> None:
    w = gh_world
    number = w.open_request()
    bob_sha = bob_pushes_as_alice(w, number)
    approve(w, number, "bob")
    assert "bob" not in approvers(verdict_of(w, number))  # the record works...
    # ...until someone else (erin, who cannot push here: from her fork; or any account
    # bob controls) opens a pull request at bob's commit: the App records "opened by
    # erin" there, newer than bob's record.
    other = open_pull_at(w, "erin", "copy", bob_sha, "Copy")
    assert w.fake.pull(REQUESTS, other).head_sha == bob_sha
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met" and "bob" not in approvers(verdict), (
        f"bob pushed the head {bob_sha[:12]} of #{number}, yet his approval counts: "
        f"{approvers(verdict)} ({verdict['summary']})"
    )


# === Finding B: a head seen twice makes a loop: the request can never pass =============
#
# The chain follows "after <before>" to the newest record on that commit. When a pull
# request's head comes back to a commit it had before (a force-push undoing a push, or
# another pull request at that commit pushing and coming back), the newest record there
# points forward again: the chain loops until MAX_RECORDED_PUSHES and returns nothing, so
# "who pushed it is unknown" for good, whatever is pushed after. It fails closed, but
# anyone able to open a pull request can do it to any request (availability).


def test_undoing_a_push_does_not_make_a_request_unapprovable(gh_world: GitHubWorld) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    first = fake.pull(REQUESTS, number).head_sha
    branch = fake.pull(REQUESTS, number).head_ref
    bob_pushes_as_alice(w, number)
    fake.push(REQUESTS, branch, first, pusher="alice")  # alice undoes it (force-push)
    w.record_push("synchronize", number)
    assert fake.pull(REQUESTS, number).head_sha == first
    approve(w, number, "carol")
    verdict = verdict_of(w, number)
    assert "who pushed it is unknown" not in json.dumps(verdict), verdict["summary"]


def test_a_stranger_cannot_make_a_request_unapprovable(gh_world: GitHubWorld) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    alice_head = fake.pull(REQUESTS, number).head_sha
    approve(w, number, "bob")
    assert verdict_of(w, number)["outcome"] == "met"
    # erin (no access: from her fork) opens a pull request at alice's head, pushes to it,
    # and pushes back.
    other = open_pull_at(w, "erin", "grief", alice_head, "Grief")
    fork = fake.pull(REQUESTS, other).head_repo.full_name
    fake.push(fork, "grief", {"x.txt": "x\n"}, pusher="erin")
    w.record_push("synchronize", other, sender="erin")
    fake.push(fork, "grief", alice_head, pusher="erin")
    w.record_push("synchronize", other, sender="erin")
    assert fake.pull(REQUESTS, other).head_sha == alice_head
    verdict = verdict_of(w, number)
    assert verdict["outcome"] == "met", verdict["summary"]


# === Finding C: the removal mark lands last, and the closed run does not wait for it ====
#
# bs-check-review.yml's `remove` job (concurrency group bs-policy-<repo>-<branch>) closes
# the pull request, deletes the branch, mails the requester and only then posts the
# "removed" mark (hook_closed.py). Closing fires `closed`: bs-closed.yml (group
# bs-closed-<number>, a different one) runs the same hook at once; when it reads the
# comments before the mark lands (or the mark's POST failed: it is suppressed) it mails
# the requester again. Shown here with the mark's POST failing, the same window.


def test_a_rejection_tells_the_requester_once_whatever_the_closed_run_sees(
    gh_world: GitHubWorld,
) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number).create_review(
        body="Not this week", event="REQUEST_CHANGES"
    )
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    fake.fail_next("POST", rf"/repos/{REQUESTS}/issues/{number}/comments", 502)
    removed = w.bs("hook", "closed", user=BOT, env=w.actions(run, "remove"))
    assert removed.exit_code == 0, removed.output
    closed = fake.webhook("pull_request", "closed", repo=REQUESTS, number=number, sender=BOT_LOGIN)
    again = w.bs("hook", "closed", user=BOT, env=w.actions(closed, "closed"))
    assert again.exit_code == 0, again.output
    told = [m for m in outbox(w) if recipients(m) == ["alice@example.gov.uk"]]  # type: ignore[arg-type]
    assert len(told) == 1, f"alice was told {len(told)} times"


# === Properties that hold ===============================================================


def test_a_status_from_another_app_or_a_look_alike_is_not_trusted(gh_world: GitHubWorld) -> None:
    """Only `forge.app`'s bot is trusted: another App's bot (battlestations-x[bot]) and a
    person are not, whatever their records say."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    before = fake.pull(REQUESTS, number).head_sha
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(w, number)
    bob_sha = fake.commit(REQUESTS, {path: bobs_words(text)}, branch=branch, author="alice")
    fake.sync("bob")
    other = fake.add_user(f"{BOT}-x[bot]", bot=True)
    fake.repo(REQUESTS).writers.add(f"{BOT}-x[bot]")
    for token in (other, w.tokens["bob"]):
        fake.client(token).get_repo(REQUESTS).get_commit(bob_sha).create_status(
            "success", description=f"pushed by alice after {before}", context="bs/pushed"
        )
    approve(w, number, "bob")
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met"
    assert "who pushed it is unknown" in json.dumps(verdict)


def test_bs_hook_pushed_with_a_persons_token_records_nothing_trusted(
    gh_world: GitHubWorld,
) -> None:
    """bob runs `bs hook pushed` himself, with his own token and a forged event naming
    alice: the status is his, not the App's, and the check ignores it."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(w, number)
    fake.commit(REQUESTS, {path: bobs_words(text)}, branch=branch, author="alice")
    fake.sync("bob")
    payload = fake.webhook("pull_request", "synchronize", repo=REQUESTS, number=number,
                           sender="alice")  # fmt: skip
    # Even with the App's slug in his environment: the record's creator is still bob.
    env = w.actions(payload, "forged-push") | {"BS_GITHUB_APP_SLUG": BOT}
    result = w.bs("hook", "pushed", user="bob", env=env)
    assert result.exit_code == 0, result.output
    approve(w, number, "bob")
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met"
    assert "who pushed it is unknown" in json.dumps(verdict)


def test_a_long_login_fits_the_record() -> None:
    """The longest record ("#N pushed by <39 characters> after <40 hex>") fits GitHub's 140."""
    from bs.forges.github_pushes import _parse

    login = "a" * 38 + "b"
    said = f"#99999999 pushed by {login} after {'0' * 40}"
    assert len(said) <= 140
    assert _parse(said) == (99999999, login, "0" * 40)
    assert _parse(f"#3 pushed by {BOT}[bot] after {'0' * 40}") == (3, f"{BOT}[bot]", "0" * 40)
    assert _parse("#3 opened by alice after x") is None
    assert _parse("opened by alice") is None  # a record names its pull request


def test_a_removal_mark_from_anyone_but_bs_is_ignored(gh_world: GitHubWorld) -> None:
    """alice pre-posts bs's "removed" mark on her own request: when dave rejects it, the
    closed hook (the App) still closes it and tells her."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    pull = fake.client(w.tokens["alice"]).get_repo(REQUESTS).get_pull(number)
    pull.create_issue_comment("<!-- bs:removed -->\nRequest rejected by bob: told by mail.")
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number).create_review(
        body="No", event="REQUEST_CHANGES"
    )
    run = fake.webhook("workflow_run", "completed", repo=REQUESTS)
    result = w.bs("hook", "closed", "--json", user=BOT, env=w.actions(run, "pre-marked"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout).get("outcome") != "already-removed", result.output
    assert fake.pull(REQUESTS, number).state == "closed"


@pytest.mark.parametrize(
    "path",
    ["setup.py", "pip.py", "sitecustomize.py", "README.md", "docs/x.md", "Requests/a.yaml",
     "requests", ".github/CODEOWNERS", "tests/conftest.py", "bench/x.py"],
)  # fmt: skip
def test_everything_waved_through_as_not_a_request_has_a_code_owner(path: str) -> None:
    """bs/policy says "not a release request" (success) only when nothing under requests/
    changes; CODEOWNERS now owns `*`, so every such path needs a code owner's review."""
    assert not path.startswith("requests/")
    assert code_owners(path), path
    assert code_owners("requests/frontend/20260101-abcdefghijklmnop.patch") == []
