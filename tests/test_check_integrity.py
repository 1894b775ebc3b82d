"""`bs check` end to end: the checks that a request is what it claims to be.

A pull request that changes anything but the request's files, a patch or digest
edited by hand, a tag moved or a deployed version changed after opening, a pull
request retargeted away from the default branch, two request files in one pull
request: each fails its one check, and the request is invalid.

Each test builds a small app (release_1 deployed, release_2 tagged), opens a
request for release_2 with `bs open-request`, changes something and runs
`bs check PR --json`, asserting the outcome, the exit status, the message and the
`bs/policy` status posted on the pull request's head commit (helpers in
tests/checkhelpers.py).
"""

from __future__ import annotations

import pytest

from tests.checkhelpers import (
    FRONTEND,
    NOT_CHECKED,
    REQUESTS,
    SEPARATE_PR,
    Opened,
    branch_file,
    check_named,
    expect,
    failed_checks,
    forge,
    latest_status,
    only_check_fails,
    open_release,
    push,
    review,
    sha256,
)
from tests.conftest import STANDARD_POLICY, World, git

# -- 6. a pull request that changes anything else -------------------------------------


@pytest.mark.parametrize(
    ("path", "content"),
    [
        # Anyone in developers could approve under this policy, were it read from the request.
        (
            "policies/standard.yaml",
            STANDARD_POLICY.replace("[alphagov/deployers]\n", "[alphagov/developers]\n"),
        ),
        (".github/workflows/x.yml", "on: push\njobs: {}\n"),
    ],
)
def test_a_pull_request_that_also_changes_another_file_is_invalid(
    world: World, path: str, content: str
) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    push(world, opened, "alice", {path: content.encode()})
    review(world, opened.number, "bob")  # approving the new head changes nothing

    message = f"it also changes {path}: {SEPARATE_PR}"
    data = only_check_fails(world, opened.number, "files", message)
    for name in ("tag", "deployed", "ancestry", "digest", "stats"):
        assert check_named(data, name) == {"name": name, "ok": None, "message": NOT_CHECKED}
    assert data["policy"] is None
    posted = latest_status(world, data["head_sha"])
    assert posted is not None
    assert posted.description.startswith(f"Invalid request: it also changes {path}: ")
    assert posted.description.endswith("…")


# -- 7 and 8. the digests ---------------------------------------------------------------


def edited_patch(world: World, opened: Opened) -> bytes:
    original = branch_file(world, opened, opened.patch_file)
    edited = original.replace(b"+print(2)", b"+print(3)")
    assert edited != original
    return edited


def test_a_patch_edited_by_hand_fails_the_digest_check(world: World) -> None:
    opened = open_release(world)
    patch = edited_patch(world, opened)
    push(world, opened, "alice", {opened.patch_file: patch})
    review(world, opened.number, "bob")

    message = (
        f"{opened.patch_file} does not match the request's sha256 (the file's is "
        f"{sha256(patch)[:12]}, the request says {opened.patch_sha256[:12]}): the patch was edited"
    )
    data = only_check_fails(world, opened.number, "digest", message)
    assert check_named(data, "files")["ok"] is True


def test_a_digest_edited_to_match_an_edited_patch_fails_against_git(world: World) -> None:
    opened = open_release(world)
    patch = edited_patch(world, opened)
    request = branch_file(world, opened, opened.request_file).decode()
    assert request.count(opened.patch_sha256) == 1
    request = request.replace(opened.patch_sha256, sha256(patch))
    push(world, opened, "alice", {opened.patch_file: patch, opened.request_file: request.encode()})
    review(world, opened.number, "bob")

    message = (
        f"the diff git computes for this release ({opened.patch_sha256[:12]}) is not the one in "
        f"the request ({sha256(patch)[:12]}): the request's digest and patch do not describe this release"
    )
    only_check_fails(world, opened.number, "digest", message)


# -- 9 and 10. the tag and the deployed version -----------------------------------------


def test_a_tag_moved_after_opening_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")

    git(world.app_bare(FRONTEND), "tag", "-f", "release_2", opened.release_1)
    message = (
        f"tag release_2 now points at {opened.release_1[:12]}, not the pinned "
        f"{opened.release_2[:12]}: it was moved after the request was opened; open a new request"
    )
    data = expect(world, opened.number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, "tag") == {"name": "tag", "ok": False, "message": message}
    # Moved onto the deployed commit, release_2 is now also what bs calls the deployed version.
    assert failed_checks(data) == ["tag", "deployed"]

    git(world.app_bare(FRONTEND), "tag", "-d", "release_2")
    message = (
        f"tag release_2 no longer exists: it was pinned to {opened.release_2[:12]}; "
        "open a new request"
    )
    data = expect(world, opened.number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, "tag") == {"name": "tag", "ok": False, "message": message}


def test_the_deployed_version_moving_after_opening_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    world.deploy(FRONTEND, "release_2")

    message = (
        "the deployed version changed since this request was opened "
        f"(was {opened.release_1[:12]}, now {opened.release_2[:12]}): open a new one"
    )
    only_check_fails(world, opened.number, "deployed", message)


# -- 11 and 12. the base branch and one request per pull request ------------------------


def test_a_pull_request_retargeted_to_another_branch_fails(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    git(world.requests_bare, "branch", "staging", "main")
    forge(world, "alice").retarget_pull_request(REQUESTS, opened.number, "staging")

    message = (
        "the pull request targets 'staging', not the default branch 'main': retarget it to main"
    )
    only_check_fails(world, opened.number, "base", message)


def test_a_second_request_file_in_the_same_pull_request_fails(world: World) -> None:
    opened = open_release(world)
    other = f"requests/frontend/{opened.request_id[:9]}{'a' * 16}.yaml"
    assert other != opened.request_file
    push(world, opened, "alice", {other: branch_file(world, opened, opened.request_file)})
    review(world, opened.number, "bob")

    both = ", ".join(sorted([opened.request_file, other]))
    message = f"it adds 2 request files ({both}): one request per pull request"
    data = expect(world, opened.number, "failed", 2, f"Invalid request: {message}")
    assert check_named(data, "files") == {"name": "files", "ok": False, "message": message}
