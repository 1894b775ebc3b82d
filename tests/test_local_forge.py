"""The local forge (``bs.forges.local.LocalForge``) used directly, on real bare repositories."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bs.errors import BsError
from bs.forges.local import STATUS_DESCRIPTION_LIMIT, LocalForge
from tests.conftest import World, git

REPO = "alphagov/release-requests"


def forge_as(world: World, user: str | None) -> LocalForge:
    return LocalForge(world.forge, user=user)


def files(tmp_path: Path, **contents: str) -> list[tuple[str, Path]]:
    """(repo path, local file) pairs; keyword names use '__' for '/'."""
    out = []
    for name, text in contents.items():
        local = tmp_path / f"src-{name}"
        local.write_text(text)
        out.append((name.replace("__", "/"), local))
    return out


def open_pr(
    world: World, tmp_path: Path, branch: str, *, user: str = "alice", title: str = "A request"
) -> int:
    forge = forge_as(world, user)
    forge.create_branch(
        REPO,
        branch,
        "main",
        files(tmp_path, **{f"requests__{branch.replace('/', '_')}": "x\n"}),
        title,
    )
    return forge.open_pull_request(REPO, head=branch, base="main", title=title, body="body").number


def push_commit(bare: Path, branch: str, path: str, content: str) -> str:
    """Push a new commit on `branch` of a bare repository (like `git push` would)."""
    parent = git(bare, "rev-parse", f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}

        def run(*args: str, input: bytes | None = None) -> str:
            return (
                subprocess.run(
                    ["git", *args], cwd=bare, env=env, check=True, capture_output=True, input=input
                )
                .stdout.decode()
                .strip()
            )

        run("read-tree", parent)
        blob = run("hash-object", "-w", "--stdin", input=content.encode())
        run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
        tree = run("write-tree")
        commit = run("commit-tree", tree, "-p", parent, "-m", f"update {path}")
        run("update-ref", f"refs/heads/{branch}", commit, parent)
    return commit


# -- the acting user ---------------------------------------------------------


def test_bs_user_unset_is_a_clear_error(world: World) -> None:
    forge = forge_as(world, None)
    with pytest.raises(BsError) as caught:
        forge.current_user()
    message = str(caught.value)
    assert "BS_USER is not set" in message
    assert "alice" in message and "bob" in message  # the logins one may use


def test_bs_user_unset_refuses_writes(world: World, tmp_path: Path) -> None:
    forge = forge_as(world, None)
    with pytest.raises(BsError, match="BS_USER"):
        forge.create_branch(REPO, "request/x", "main", files(tmp_path, a="1"), "m")
    assert forge.resolve_branch(REPO, "request/x") is None


def test_unknown_bs_user_is_a_clear_error(world: World) -> None:
    forge = forge_as(world, "mallory")
    with pytest.raises(BsError) as caught:
        forge.current_user()
    message = str(caught.value)
    assert "mallory" in message
    assert "users.yaml" in message
    assert "alice" in message


def test_known_user(world: World) -> None:
    assert forge_as(world, "carol").current_user() == "carol"


def test_missing_forge_folder(tmp_path: Path) -> None:
    with pytest.raises(BsError, match="does not exist"):
        LocalForge(tmp_path / "nope", user="alice")


# -- people --------------------------------------------------------------------


def test_team_members_and_emails(world: World) -> None:
    forge = forge_as(world, "alice")
    assert forge.team_members("alphagov/deployers") == ["bob", "carol"]
    assert forge.team_members("alphagov/dba") == ["dave"]
    assert forge.team_members("alphagov/nobody") == []
    assert forge.user_email("bob") == "bob@example.gov.uk"
    assert forge.user_email("mallory") is None


@pytest.mark.parametrize(
    "content",
    [
        "alice: not-an-email\n",
        "- alice\n- bob\n",
        "alice: [unclosed\n",
        "'bad login!': x@example.com\n",
    ],
)
def test_invalid_users_yaml_is_a_clear_error(world: World, content: str) -> None:
    (world.forge / "users.yaml").write_text(content)
    forge = forge_as(world, "alice")
    with pytest.raises(BsError) as caught:
        forge.current_user()
    assert "users.yaml" in str(caught.value)


def test_invalid_teams_yaml_is_a_clear_error(world: World) -> None:
    (world.forge / "teams.yaml").write_text("alphagov/deployers: bob\n")
    with pytest.raises(BsError, match=r"teams\.yaml"):
        forge_as(world, "alice").team_members("alphagov/deployers")


# -- repositories, branches and pull requests --------------------------------


def test_bad_repository_names(world: World) -> None:
    forge = forge_as(world, "alice")
    with pytest.raises(BsError, match="not a repository name"):
        forge.git_dir("../etc")
    with pytest.raises(BsError, match="does not exist"):
        forge.git_dir("alphagov/nothing")


def test_create_branch_commits_files_on_top_of_base(world: World, tmp_path: Path) -> None:
    forge = forge_as(world, "alice")
    base = forge.resolve_branch(REPO, "main")
    commit = forge.create_branch(
        REPO,
        "request/app/one",
        "main",
        files(tmp_path, requests__app__one_yaml="id: one\n", requests__app__one_patch="diff\n"),
        "Release app one",
    )
    bare = world.requests_bare
    assert forge.resolve_branch(REPO, "request/app/one") == commit
    assert git(bare, "rev-parse", f"{commit}^") == base
    assert git(bare, "diff", "--name-only", base or "", commit).splitlines() == [
        "requests/app/one_patch",
        "requests/app/one_yaml",
    ]
    assert git(bare, "show", f"{commit}:requests/app/one_yaml") == "id: one"
    assert git(bare, "log", "-1", "--format=%an <%ae>|%s", commit) == (
        "alice <alice@example.gov.uk>|Release app one"
    )
    # main did not move.
    assert forge.resolve_branch(REPO, "main") == base


def test_create_branch_refuses_an_existing_branch(world: World, tmp_path: Path) -> None:
    forge = forge_as(world, "alice")
    first = forge.create_branch(REPO, "request/x", "main", files(tmp_path, a="1"), "m")
    with pytest.raises(BsError) as caught:
        forge.create_branch(REPO, "request/x", "main", files(tmp_path, b="2"), "m")
    assert "request/x" in str(caught.value)
    assert forge.resolve_branch(REPO, "request/x") == first
    with pytest.raises(BsError):
        forge.create_branch(REPO, "main", "main", files(tmp_path, c="3"), "m")


def test_create_branch_needs_its_base(world: World, tmp_path: Path) -> None:
    forge = forge_as(world, "alice")
    with pytest.raises(BsError, match="no branch 'nope'"):
        forge.create_branch(REPO, "request/y", "nope", files(tmp_path, a="1"), "m")
    assert forge.resolve_branch(REPO, "request/y") is None


def test_delete_branch(world: World, tmp_path: Path) -> None:
    forge = forge_as(world, "alice")
    forge.create_branch(REPO, "request/z", "main", files(tmp_path, a="1"), "m")
    forge.delete_branch(REPO, "request/z")
    assert forge.resolve_branch(REPO, "request/z") is None
    forge.delete_branch(REPO, "request/z")  # deleting twice is fine


def test_default_branch(world: World) -> None:
    assert forge_as(world, "alice").default_branch(REPO) == "main"


def test_pull_requests_are_numbered_from_one(world: World, tmp_path: Path) -> None:
    numbers = [open_pr(world, tmp_path, f"request/app/{i}") for i in range(3)]
    assert numbers == [1, 2, 3]
    forge = forge_as(world, "bob")
    pr = forge.get_pull_request(REPO, 2)
    assert pr.number == 2
    assert pr.author == "alice"
    assert pr.head_ref == "request/app/1"
    assert pr.base == "main"
    assert pr.state == "open" and not pr.merged
    assert pr.head_sha == forge.resolve_branch(REPO, "request/app/1")
    assert pr.url.startswith("file://")
    assert [p.number for p in forge.list_pull_requests(REPO)] == [1, 2, 3]


def test_open_pull_request_needs_the_branches(world: World) -> None:
    forge = forge_as(world, "alice")
    with pytest.raises(BsError, match="no branch 'request/none'"):
        forge.open_pull_request(REPO, head="request/none", base="main", title="t", body="b")
    with pytest.raises(BsError):
        forge.get_pull_request(REPO, 1)


def test_one_open_pull_request_per_branch(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/dup")
    forge = forge_as(world, "alice")
    with pytest.raises(BsError, match=f"#{number}"):
        forge.open_pull_request(REPO, head="request/dup", base="main", title="t", body="b")


def test_unknown_pull_request(world: World) -> None:
    with pytest.raises(BsError, match="no pull request #7"):
        forge_as(world, "alice").get_pull_request(REPO, 7)


def test_head_sha_follows_the_branch_while_open(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/follow")
    forge = forge_as(world, "bob")
    before = forge.get_pull_request(REPO, number).head_sha
    after = push_commit(world.requests_bare, "request/follow", "extra.txt", "more\n")
    assert after != before
    assert forge.get_pull_request(REPO, number).head_sha == after


# -- reviews -----------------------------------------------------------------------


def test_review_states_and_commit_ids(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/rev")
    head = forge_as(world, "alice").get_pull_request(REPO, number).head_sha
    approved = forge_as(world, "bob").submit_review(REPO, number, "APPROVED", "")
    changes = forge_as(world, "dave").submit_review(REPO, number, "CHANGES_REQUESTED", "no")
    commented = forge_as(world, "carol").submit_review(REPO, number, "COMMENTED", "hmm")
    assert (approved.state, changes.state, commented.state) == (
        "APPROVED",
        "CHANGES_REQUESTED",
        "COMMENTED",
    )
    assert approved.commit_id == changes.commit_id == commented.commit_id == head
    assert len({approved.id, changes.id, commented.id}) == 3

    listed = forge_as(world, "alice").list_reviews(REPO, number)
    assert [(r.user, r.state, r.commit_id, r.body) for r in listed] == [
        ("bob", "APPROVED", head, ""),
        ("dave", "CHANGES_REQUESTED", head, "no"),
        ("carol", "COMMENTED", head, "hmm"),
    ]
    assert all(r.submitted_at.tzinfo is not None for r in listed)


def test_a_new_push_leaves_old_reviews_on_the_old_commit(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/push")
    old_head = forge_as(world, "alice").get_pull_request(REPO, number).head_sha
    forge_as(world, "bob").submit_review(REPO, number, "APPROVED", "ok")

    new_head = push_commit(world.requests_bare, "request/push", "sneaky.txt", "late change\n")
    forge_as(world, "carol").submit_review(REPO, number, "APPROVED", "ok too")

    pull = forge_as(world, "alice").get_pull_request(REPO, number)
    assert pull.head_sha == new_head
    reviews = {r.user: r for r in forge_as(world, "alice").list_reviews(REPO, number)}
    assert reviews["bob"].commit_id == old_head != pull.head_sha
    assert reviews["carol"].commit_id == new_head == pull.head_sha


@pytest.mark.parametrize("state", ["APPROVED", "CHANGES_REQUESTED"])
def test_the_author_cannot_approve_or_reject(world: World, tmp_path: Path, state: str) -> None:
    number = open_pr(world, tmp_path, "request/own")
    with pytest.raises(BsError, match="your own"):
        forge_as(world, "alice").submit_review(REPO, number, state, "mine")  # type: ignore[arg-type]
    assert forge_as(world, "alice").list_reviews(REPO, number) == []


def test_the_author_may_comment(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/own-comment")
    review = forge_as(world, "alice").submit_review(REPO, number, "COMMENTED", "note")
    assert review.user == "alice" and review.state == "COMMENTED"


@pytest.mark.parametrize("body", ["", "   \n"])
def test_requesting_changes_needs_a_message(world: World, tmp_path: Path, body: str) -> None:
    number = open_pr(world, tmp_path, "request/why")
    with pytest.raises(BsError, match="-m"):
        forge_as(world, "bob").submit_review(REPO, number, "CHANGES_REQUESTED", body)
    assert forge_as(world, "bob").list_reviews(REPO, number) == []


def test_a_review_cannot_be_submitted_as_dismissed(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/dis")
    with pytest.raises(BsError):
        forge_as(world, "bob").submit_review(REPO, number, "DISMISSED", "x")
    with pytest.raises(BsError):
        forge_as(world, "bob").submit_review(REPO, number, "LGTM", "x")  # type: ignore[arg-type]


def test_dismiss_review(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/dismiss")
    approval = forge_as(world, "bob").submit_review(REPO, number, "APPROVED", "")
    rejection = forge_as(world, "dave").submit_review(REPO, number, "CHANGES_REQUESTED", "no")
    comment = forge_as(world, "carol").submit_review(REPO, number, "COMMENTED", "hm")

    dismissed = forge_as(world, "carol").dismiss_review(REPO, number, approval.id, "stale")
    assert dismissed.state == "DISMISSED"
    assert dismissed.commit_id == approval.commit_id
    forge_as(world, "carol").dismiss_review(REPO, number, rejection.id, "resolved")

    states = {r.id: r.state for r in forge_as(world, "alice").list_reviews(REPO, number)}
    assert states == {approval.id: "DISMISSED", rejection.id: "DISMISSED", comment.id: "COMMENTED"}

    with pytest.raises(BsError, match="only approvals and change requests"):
        forge_as(world, "carol").dismiss_review(REPO, number, comment.id, "x")
    with pytest.raises(BsError, match="only approvals and change requests"):
        forge_as(world, "carol").dismiss_review(REPO, number, approval.id, "again")
    with pytest.raises(BsError, match="no review 999"):
        forge_as(world, "carol").dismiss_review(REPO, number, 999, "x")


# -- comments and statuses -----------------------------------------------------------


def test_comments(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/comments")
    first = forge_as(world, "bob").add_comment(REPO, number, "first")
    second = forge_as(world, "alice").add_comment(REPO, number, "second\nline")
    assert first.id != second.id
    listed = forge_as(world, "carol").list_comments(REPO, number)
    assert [(c.id, c.user, c.body) for c in listed] == [
        (first.id, "bob", "first"),
        (second.id, "alice", "second\nline"),
    ]
    # Comments are not reviews.
    assert forge_as(world, "carol").list_reviews(REPO, number) == []
    with pytest.raises(BsError):
        forge_as(world, "bob").add_comment(REPO, 99, "nowhere")


def test_statuses(world: World, tmp_path: Path) -> None:
    ticks = iter(range(100))

    def clock() -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=next(ticks))

    number = open_pr(world, tmp_path, "request/status")
    forge = LocalForge(world.forge, user="bob", clock=clock)
    sha = forge.get_pull_request(REPO, number).head_sha
    forge.set_status(REPO, sha, "bs/check", "pending", "checking")
    forge.set_status(REPO, sha, "bs/check", "success", "x" * STATUS_DESCRIPTION_LIMIT)
    forge.set_status(REPO, sha, "other", "failure", "nope")
    statuses = forge.list_statuses(REPO, sha)
    assert [(s.context, s.state) for s in statuses] == [
        ("other", "failure"),
        ("bs/check", "success"),
        ("bs/check", "pending"),
    ]
    assert statuses[0].created_at > statuses[1].created_at > statuses[2].created_at
    assert all(s.creator == "bob" for s in statuses)
    assert forge.list_statuses(REPO, "0" * 40) == []


def test_status_description_over_140_characters_is_refused(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/long")
    forge = forge_as(world, "bob")
    sha = forge.get_pull_request(REPO, number).head_sha
    assert STATUS_DESCRIPTION_LIMIT == 140
    with pytest.raises(BsError, match="140"):
        forge.set_status(REPO, sha, "bs/check", "success", "x" * 141)
    assert forge.list_statuses(REPO, sha) == []


def test_status_needs_a_full_existing_commit(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/sha")
    forge = forge_as(world, "bob")
    sha = forge.get_pull_request(REPO, number).head_sha
    with pytest.raises(BsError):
        forge.set_status(REPO, "0" * 40, "bs/check", "success", "x")
    with pytest.raises(BsError):
        forge.set_status(REPO, sha[:12], "bs/check", "success", "x")


# -- merging and closing -----------------------------------------------------------


def test_merge_makes_a_real_two_parent_merge(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/merge")
    bare = world.requests_bare
    # main moves on meanwhile: the merge is a real merge, not a fast-forward.
    base_before = push_commit(bare, "main", "policies/other.yaml", "x: 1\n")
    pull = forge_as(world, "alice").get_pull_request(REPO, number)

    merged = forge_as(world, "carol").merge_pull_request(REPO, number)
    assert merged.state == "closed"
    assert merged.merged
    assert merged.merged_by == "carol"
    assert merged.head_sha == pull.head_sha
    main = git(bare, "rev-parse", "refs/heads/main")
    assert merged.merge_commit_sha == main
    parents = git(bare, "rev-list", "--parents", "-n", "1", main).split()[1:]
    assert parents == [base_before, pull.head_sha]
    tree = git(bare, "ls-tree", "-r", "--name-only", main).splitlines()
    assert "requests/request_merge" in tree
    assert "policies/other.yaml" in tree
    assert "bs.yaml" in tree
    assert git(bare, "log", "-1", "--format=%an", main) == "carol"
    assert f"#{number}" in git(bare, "log", "-1", "--format=%s", main)


def test_merge_when_base_did_not_move_is_still_a_merge_commit(world: World, tmp_path: Path) -> None:
    bare = world.requests_bare
    base = git(bare, "rev-parse", "refs/heads/main")
    number = open_pr(world, tmp_path, "request/ff")
    merged = forge_as(world, "bob").merge_pull_request(REPO, number)
    main = git(bare, "rev-parse", "refs/heads/main")
    assert main == merged.merge_commit_sha
    assert git(bare, "rev-list", "--parents", "-n", "1", main).split()[1:] == [
        base,
        merged.head_sha,
    ]


def test_merging_a_closed_pull_request_is_refused(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/closed")
    forge = forge_as(world, "bob")
    forge.merge_pull_request(REPO, number)
    main = git(world.requests_bare, "rev-parse", "refs/heads/main")
    with pytest.raises(BsError, match="closed"):
        forge.merge_pull_request(REPO, number)
    assert git(world.requests_bare, "rev-parse", "refs/heads/main") == main

    other = open_pr(world, tmp_path, "request/closed2")
    forge.close_pull_request(REPO, other)
    with pytest.raises(BsError, match="closed"):
        forge.merge_pull_request(REPO, other)
    assert git(world.requests_bare, "rev-parse", "refs/heads/main") == main


def test_close_pull_request(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/close")
    forge = forge_as(world, "bob")
    head = forge.get_pull_request(REPO, number).head_sha
    closed = forge.close_pull_request(REPO, number)
    assert closed.state == "closed"
    assert not closed.merged
    assert closed.merged_by is None and closed.merge_commit_sha is None
    assert [p.number for p in forge.list_pull_requests(REPO)] == []
    assert [p.number for p in forge.list_pull_requests(REPO, "closed")] == [number]
    assert [p.number for p in forge.list_pull_requests(REPO, "all")] == [number]
    # A closed pull request keeps the head it had and takes no reviews.
    push_commit(world.requests_bare, "request/close", "late.txt", "late\n")
    assert forge.get_pull_request(REPO, number).head_sha == head
    with pytest.raises(BsError, match="closed"):
        forge.submit_review(REPO, number, "APPROVED", "")
    # Closing twice changes nothing.
    assert forge.close_pull_request(REPO, number).state == "closed"


def test_list_pushes_records_the_pusher(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/pushes", user="carol")
    forge = forge_as(world, "bob")
    head = forge.get_pull_request(REPO, number).head_sha
    pushes = forge.list_pushes(REPO, number)
    assert len(pushes) == 1
    assert pushes[0].pusher == "carol"
    assert pushes[0].head_sha == head
    assert pushes[0].commits == (head,)
    assert pushes[0].pushed_at is not None
    # Another branch's pushes are not this pull request's.
    other = open_pr(world, tmp_path, "request/pushes2", user="dave")
    assert [p.pusher for p in forge.list_pushes(REPO, other)] == ["dave"]
    assert [p.pusher for p in forge.list_pushes(REPO, number)] == ["carol"]


# -- concurrency --------------------------------------------------------------------


def _open_one(root: str, index: int) -> int:
    """Create a branch and open a pull request for it (in a thread or a process)."""
    forge = LocalForge(Path(root), user="alice")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "f"
        local.write_text(f"{index}\n")
        branch = f"request/app/c{index}"
        forge.create_branch(REPO, branch, "main", [(f"requests/app/c{index}", local)], "m")
    return forge.open_pull_request(
        REPO, head=branch, base="main", title=f"t{index}", body="b"
    ).number


def check_distinct(world: World, numbers: list[int], count: int) -> None:
    assert sorted(numbers) == list(range(1, count + 1))
    forge = forge_as(world, "bob")
    pulls = forge.list_pull_requests(REPO)
    assert sorted(p.number for p in pulls) == list(range(1, count + 1))
    assert len({p.head_ref for p in pulls}) == count
    for pull in pulls:
        assert pull.title == f"t{pull.head_ref.rsplit('c', 1)[1]}"


def test_concurrent_pull_requests_from_threads_get_distinct_numbers(world: World) -> None:
    count = 8
    barrier = threading.Barrier(count)

    def work(index: int) -> int:
        barrier.wait()
        return _open_one(str(world.forge), index)

    with ThreadPoolExecutor(count) as pool:
        numbers = list(pool.map(work, range(count)))
    check_distinct(world, numbers, count)


def test_concurrent_pull_requests_from_processes_get_distinct_numbers(world: World) -> None:
    count = 8
    # fork is cheap; the test process runs no threads of its own at this point.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        numbers = list(pool.map(_open_one, [str(world.forge)] * count, range(count)))
    check_distinct(world, numbers, count)


# -- pushes to a pull request's branch, its files and commits ----------------------


def test_push_files_adds_a_commit_and_records_the_push(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/more", user="alice")
    forge = forge_as(world, "carol")
    before = forge.get_pull_request(REPO, number).head_sha
    after = forge.push_files(REPO, "request/more", files(tmp_path, extra__b="b\n"), "More")
    assert forge.get_pull_request(REPO, number).head_sha == after
    assert git(world.requests_bare, "rev-parse", f"{after}^") == before
    pushes = forge.list_pushes(REPO, number)
    assert [(p.pusher, p.head_sha) for p in pushes] == [("alice", before), ("carol", after)]
    # The commit carries the pusher's identity, so it names them as its author.
    commits = forge.list_pull_commits(REPO, number, after)
    assert [(c.sha, c.author, c.committer) for c in commits] == [
        (after, "carol", "carol"),
        (before, "alice", "alice"),
    ]
    paths = {f.path: f.status for f in forge.list_pull_files(REPO, number, after)}
    assert paths == {"requests/request_more": "added", "extra/b": "added"}


def test_push_files_can_remove_and_needs_the_branch(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/rm", user="alice")
    forge = forge_as(world, "alice")
    dropped = forge.push_files(REPO, "request/rm", [], "Drop it", remove=["requests/request_rm"])
    assert forge.list_pull_files(REPO, number, dropped) == []
    with pytest.raises(BsError, match="no branch 'request/missing'"):
        forge.push_files(REPO, "request/missing", [], "x")


def test_pull_files_are_against_the_merge_base(world: World, tmp_path: Path) -> None:
    """Like GitHub's "Files changed": what moved on the base since is not the pull request's."""
    number = open_pr(world, tmp_path, "request/base")
    push_commit(world.requests_bare, "main", "README.md", "moved on\n")
    forge = forge_as(world, "bob")
    head = forge.get_pull_request(REPO, number).head_sha
    files_now = forge.list_pull_files(REPO, number, head)
    assert [(f.path, f.status) for f in files_now] == [("requests/request_base", "added")]
    merged = forge.merge_pull_request(REPO, number)
    assert merged.merged
    # After the merge, against the merge's first parent: still the same files.
    assert forge.list_pull_files(REPO, number, head) == files_now


def test_commits_by_an_unknown_identity_have_no_login(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/stranger")
    pushed = push_commit(world.requests_bare, "request/stranger", "x.txt", "x\n")  # as Test
    commits = forge_as(world, "bob").list_pull_commits(REPO, number, pushed)
    assert commits[0].sha == pushed
    assert (commits[0].author, commits[0].committer) == (None, None)
    assert (commits[1].author, commits[1].committer) == ("alice", "alice")


def test_files_and_commits_are_those_of_the_head_asked_for(world: World, tmp_path: Path) -> None:
    """Pinned to the commit being judged: a push since does not change the answer."""
    number = open_pr(world, tmp_path, "request/pinned", user="alice")
    forge = forge_as(world, "bob")
    judged = forge.get_pull_request(REPO, number).head_sha
    later = forge_as(world, "carol").push_files(
        REPO, "request/pinned", files(tmp_path, **{"policies__standard.yaml": "anyone\n"}), "Later"
    )
    assert forge.get_pull_request(REPO, number).head_sha == later
    assert [(f.path, f.status) for f in forge.list_pull_files(REPO, number, judged)] == [
        ("requests/request_pinned", "added")
    ]
    assert [(c.sha, c.author) for c in forge.list_pull_commits(REPO, number, judged)] == [
        (judged, "alice")
    ]
    assert {f.path for f in forge.list_pull_files(REPO, number, later)} == {
        "requests/request_pinned",
        "policies/standard.yaml",
    }
    assert [c.sha for c in forge.list_pull_commits(REPO, number, later)] == [later, judged]


def test_files_of_a_commit_the_repository_lacks_are_refused(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/ghost")
    missing = "0" * 40
    message = f"{REPO} has no commit 000000000000 (pull request #{number})."
    with pytest.raises(BsError, match=re.escape(message)):
        forge_as(world, "bob").list_pull_files(REPO, number, missing)
    with pytest.raises(BsError, match=re.escape(message)):
        forge_as(world, "bob").list_pull_commits(REPO, number, missing)


def test_a_branch_sharing_no_history_with_the_base_is_refused(world: World, tmp_path: Path) -> None:
    """An orphan branch has no merge base: its files cannot be told from main's."""
    number = open_pr(world, tmp_path, "request/orphan")
    bare = world.requests_bare
    tree = git(bare, "rev-parse", "refs/heads/request/orphan^{tree}")
    orphan = git(bare, "commit-tree", tree, "-m", "orphan")
    git(bare, "update-ref", "refs/heads/request/orphan", orphan)
    forge = forge_as(world, "bob")
    assert forge.get_pull_request(REPO, number).head_sha == orphan
    message = (
        f"pull request #{number} shares no history with main: its branch was not made from "
        "main; close it and open the request with `bs open-request`."
    )
    with pytest.raises(BsError, match=re.escape(message)):
        forge.list_pull_files(REPO, number, orphan)
    with pytest.raises(BsError, match=re.escape(message)):
        forge.list_pull_commits(REPO, number, orphan)


def test_merge_refuses_when_the_head_moved_since_it_was_checked(
    world: World, tmp_path: Path
) -> None:
    number = open_pr(world, tmp_path, "request/race")
    forge = forge_as(world, "bob")
    checked = forge.get_pull_request(REPO, number).head_sha
    forge_as(world, "alice").push_files(REPO, "request/race", files(tmp_path, late="x\n"), "Late")
    main = git(world.requests_bare, "rev-parse", "refs/heads/main")
    with pytest.raises(BsError, match="check it again"):
        forge.merge_pull_request(REPO, number, sha=checked)
    assert git(world.requests_bare, "rev-parse", "refs/heads/main") == main
    head = forge.get_pull_request(REPO, number).head_sha
    assert forge.merge_pull_request(REPO, number, sha=head).merged


def test_retarget_pull_request(world: World, tmp_path: Path) -> None:
    number = open_pr(world, tmp_path, "request/retarget")
    git(world.requests_bare, "branch", "staging", "main")
    forge = forge_as(world, "alice")
    assert forge.retarget_pull_request(REPO, number, "staging").base == "staging"
    with pytest.raises(BsError, match="no branch 'nowhere'"):
        forge.retarget_pull_request(REPO, number, "nowhere")
    forge.close_pull_request(REPO, number)
    with pytest.raises(BsError, match="closed"):
        forge.retarget_pull_request(REPO, number, "main")


def test_a_branch_may_have_a_new_pull_request_once_the_old_one_closed(
    world: World, tmp_path: Path
) -> None:
    number = open_pr(world, tmp_path, "request/again")
    forge = forge_as(world, "alice")
    with pytest.raises(BsError, match=f"already open: #{number}"):
        forge.open_pull_request(REPO, head="request/again", base="main", title="t", body="b")
    forge.close_pull_request(REPO, number)
    again = forge.open_pull_request(REPO, head="request/again", base="main", title="t", body="b")
    assert again.number == number + 1
