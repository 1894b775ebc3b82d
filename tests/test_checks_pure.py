"""The pure checks beside the approvals: ``bs.core.checks``.

``run_checks`` (open, base, files, request, app, tag, deployed, ancestry, digest,
stats, pushes: each failure says why, later checks are skipped after an early one) and
``locate_request_files`` (which request and patch a pull request adds). No I/O
anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from bs.core.checks import RELEASE_CHECKS, IntegrityFacts, locate_request_files, run_checks
from bs.core.evaluate import evaluate_policy
from bs.core.pulls import PullFile
from bs.core.request import MAX_REASON_CHARS, ReleaseRequest
from bs.core.tags import TagScheme
from bs.core.verdict import judge
from tests.evalhelpers import cases, facts, one_rule

# --- checks beside the approvals ----------------------------------------------------

RID = "20240601-abcdefghijklmnop"
REQUEST_PATH = f"requests/frontend/{RID}.yaml"
PATCH_PATH = f"requests/frontend/{RID}.patch"
GZ_PATH = PATCH_PATH + ".gz"
SHA_FROM = "a" * 40
SHA_TO = "0123456789abcdef0123456789abcdef01234567"
SHA_OTHER = "c" * 40
DIGEST = "9" * 64


def added(*paths: str) -> tuple[PullFile, ...]:
    return tuple(PullFile(path, "added") for path in paths)


def request(**changes: Any) -> ReleaseRequest:
    document: dict[str, Any] = {
        "version": 1,
        "id": RID,
        "app": "frontend",
        "environment": "production",
        "requested_by": "alice",
        "requested_at": "2024-06-01T12:30:45Z",
        "from": {"tag": "release_9", "commit": SHA_FROM},
        "to": {"tag": "release_10", "commit": SHA_TO},
        "patch": {
            "file": PATCH_PATH,
            "sha256": DIGEST,
            "files_changed": 3,
            "insertions": 10,
            "deletions": 2,
            "commits": 4,
        },
        "reason": "Fix the banner",
    }
    document.update(changes)
    return ReleaseRequest.from_document(document)


def integrity(**changes: Any) -> IntegrityFacts:
    """Facts every check passes, with `changes`."""
    fields: dict[str, Any] = {
        "pull_state": "open",
        "base": "main",
        "default_branch": "main",
        "files": added(REQUEST_PATH, PATCH_PATH),
        "author": "alice",
        "request_path": REQUEST_PATH,
        "patch_path": PATCH_PATH,
        "request": request(),
        "known_apps": ("frontend", "backend"),
        "scheme": TagScheme("release"),
        "tag_commit_now": SHA_TO,
        "deployed_tag_now": "release_9",
        "deployed_now": SHA_FROM,
        "to_descends": True,
        "digest_from_git": DIGEST,
        "digest_of_patch_file": DIGEST,
        "stats_from_git": (3, 10, 2, 4),
        "head_pushed_by": "alice",
    }
    fields.update(changes)
    return IntegrityFacts(**fields)


ALL_CHECKS = ["open", "base", "files", "request", "app", "tag", "deployed", "ancestry", "digest", "stats", "pushes"]  # fmt: skip


def test_the_release_checks_follow_the_request_checks() -> None:
    assert RELEASE_CHECKS == ("tag", "deployed", "ancestry", "digest", "stats")
    assert ALL_CHECKS[5:-1] == list(RELEASE_CHECKS)
    assert ALL_CHECKS[-1] == "pushes"


def test_a_well_formed_current_request_passes_every_check() -> None:
    results = run_checks(integrity())
    assert [c.name for c in results] == ALL_CHECKS
    assert all(c.ok is True for c in results), results


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"pull_state": "merged"}, id="merged"),
        pytest.param({"files": added(REQUEST_PATH, GZ_PATH), "request": request(patch={**request().patch.model_dump(), "file": GZ_PATH})}, id="gz-patch"),
        pytest.param({"request": request(**{"from": None}), "deployed_now": None, "to_descends": None, "deployed_tag_now": None}, id="first-deploy"),
        pytest.param({"request": request(**{"from": {"tag": None, "commit": SHA_FROM}}), "deployed_tag_now": None}, id="deployed-untagged"),
        pytest.param({"author": "Alice"}, id="requester-case"),
        pytest.param({"request": request(reason="x" * MAX_REASON_CHARS)}, id="longest-reason"),
        pytest.param({"request": request(reason=None)}, id="no-reason"),
        pytest.param({"scheme": None}, id="scheme-unknown"),
    ],
)  # fmt: skip
def test_variants_that_pass_every_check(changes: dict[str, Any]) -> None:
    failed = [c for c in run_checks(integrity(**changes)) if c.ok is not True]
    assert failed == []


FILE_CASES = [
    # (files, problem, or None when they are right)
    (added(REQUEST_PATH, PATCH_PATH), None, "request-and-patch"),
    (added(REQUEST_PATH, GZ_PATH), None, "request-and-gz-patch"),
    (added(REQUEST_PATH, PATCH_PATH, "policies/standard.yaml"), "it also changes policies/standard.yaml: a request's pull request changes nothing but", "extra-policy-file"),
    (added(REQUEST_PATH, PATCH_PATH, ".github/workflows/x.yml"), "it also changes .github/workflows/x.yml:", "extra-workflow"),
    ((), "it adds no request file (requests/<app>/<id>.yaml)", "nothing"),
    (added(REQUEST_PATH, PATCH_PATH, "requests/frontend/20240602-abcdefghijklmnop.yaml"), "it adds 2 request files (", "two-request-files"),
    ((PullFile(REQUEST_PATH, "modified"), *added(PATCH_PATH)), f"it modified {REQUEST_PATH}: a request file is only ever added, never edited", "modified-request"),
    (added(REQUEST_PATH), f"it adds no patch file for {REQUEST_PATH} ({PATCH_PATH} or .patch.gz)", "missing-patch"),
    (added(REQUEST_PATH, PATCH_PATH, GZ_PATH), f"it adds both {PATCH_PATH} and {GZ_PATH}: a request has one patch file", "both-patches"),
    (added(REQUEST_PATH, PATCH_PATH, "requests/backend/x.patch"), "it adds requests/backend/x.patch, which belongs to no request it adds: remove it", "stray-patch"),
    ((*added(REQUEST_PATH), PullFile(PATCH_PATH, "modified")), f"it modified {PATCH_PATH}: a patch file is only ever added, never edited", "modified-patch"),
    # `$` matches before a final newline: a name ending in one is no request file.
    (added(REQUEST_PATH + "\n", PATCH_PATH), f"it also changes {REQUEST_PATH}\n: a request's pull request changes nothing but", "request-name-ending-in-newline"),
    (added(REQUEST_PATH, PATCH_PATH + "\n"), f"it also changes {PATCH_PATH}\n: a request's pull request changes nothing but", "patch-name-ending-in-newline"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "problem"), cases(FILE_CASES))
def test_locate_request_files(files: tuple[PullFile, ...], problem: str | None) -> None:
    located = locate_request_files(files)
    if problem is None:
        assert located.problem is None
        assert located.request_path == REQUEST_PATH
        assert located.patch_path == files[1].path
    else:
        assert located.problem is not None and problem in located.problem
        assert (located.request_path, located.patch_path) == (None, None)


CHECK_CASES = [
    # (changes, the one failing check, its message)
    ({"pull_state": "closed"}, "open", "the pull request is closed without being merged", "closed"),
    ({"base": "develop"}, "base", "the pull request targets 'develop', not the default branch 'main': retarget it to main", "base-not-default"),
    ({"files": added(REQUEST_PATH, PATCH_PATH, "policies/standard.yaml")}, "files", "it also changes policies/standard.yaml", "extra-file"),
    ({"files": added(REQUEST_PATH)}, "files", "it adds no patch file", "missing-patch"),
    ({"request": None, "request_error": "not valid YAML: line 3"}, "request", "not valid YAML: line 3", "unreadable-request"),
    ({"request": request(app="backend", patch={**request().patch.model_dump(), "file": PATCH_PATH})}, "request", f"{REQUEST_PATH} holds request {RID} of app backend: it belongs at requests/backend/{RID}.yaml", "wrong-folder"),
    ({"request": request(patch={**request().patch.model_dump(), "file": GZ_PATH})}, "request", f"the request's patch.file is '{GZ_PATH}', but the pull request adds {PATCH_PATH}", "patch-file-mismatch"),
    ({"author": "mallory"}, "request", "requested_by is alice, but the pull request was opened by mallory: a request is opened by its requester", "requested-by-mismatch"),
    ({"known_apps": ("backend",)}, "app", "app frontend is not in policies/apps.yaml on the default branch", "app-unknown"),
    ({"request": request(environment="staging")}, "request", "environment is 'staging': bs deploys to production only so far", "environment-not-production"),
    ({"request": request(reason="x" * (MAX_REASON_CHARS + 1))}, "request", f"reason is {MAX_REASON_CHARS + 1} characters: at most {MAX_REASON_CHARS}", "reason-too-long"),
    ({"request": request(to={"tag": None, "commit": SHA_TO}), "tag_commit_now": None}, "tag", "the request names no tag for 0123456789ab: a release is a tag of frontend's scheme (release_NNN, e.g. release_4572); open it with `bs open-request`", "untagged"),
    ({"request": request(to={"tag": "v10", "commit": SHA_TO})}, "tag", "'v10' is not a release tag of frontend (release_NNN, e.g. release_4572)", "off-scheme-tag"),
    ({"tag_commit_now": None}, "tag", "tag release_10 no longer exists: it was pinned to 0123456789ab; open a new request", "tag-gone"),
    ({"tag_commit_now": SHA_OTHER}, "tag", "tag release_10 now points at cccccccccccc, not the pinned 0123456789ab: it was moved", "tag-moved"),
    ({"deployed_now": SHA_OTHER}, "deployed", "the deployed version changed since this request was opened (was aaaaaaaaaaaa, now cccccccccccc): open a new one", "deployed-changed"),
    ({"request": request(**{"from": None}), "to_descends": None}, "deployed", "(was nothing, now aaaaaaaaaaaa): open a new one", "first-deploy-but-deployed"),
    ({"deployed_tag_now": "release_10"}, "deployed", "the request names the deployed aaaaaaaaaaaa with tag release_9, but it is tagged release_10: the request misnames what is deployed", "from-tag-other"),
    ({"deployed_tag_now": None}, "deployed", "the request names the deployed aaaaaaaaaaaa with tag release_9, but it has no scheme tag", "from-tag-gone"),
    ({"request": request(**{"from": {"tag": None, "commit": SHA_FROM}})}, "deployed", "the request names the deployed aaaaaaaaaaaa with no tag, but it is tagged release_9: the request misnames what is deployed", "from-tag-left-out"),
    ({"request": request(to={"tag": "release_10", "commit": SHA_FROM}), "tag_commit_now": SHA_FROM, "to_descends": False}, "ancestry", "release_10 is what is deployed: there is nothing to release", "nothing-to-release"),
    ({"request": request(to={"tag": "release_8", "commit": SHA_TO}), "tag_commit_now": SHA_TO}, "ancestry", "release_8 does not come after the deployed release_9 in the tag scheme, although its commit descends from it", "not-after-in-scheme"),
    ({"request": request(to={"tag": "release_9", "commit": SHA_TO}), "tag_commit_now": SHA_TO}, "ancestry", "release_9 does not come after the deployed release_9 in the tag scheme", "same-place-in-scheme"),
    ({"to_descends": False}, "ancestry", "release_10 does not descend from the deployed aaaaaaaaaaaa: it is not newer", "not-descending"),
    ({"digest_of_patch_file": "8" * 64}, "digest", f"{PATCH_PATH} does not match the request's sha256 (the file's is 888888888888, the request says 999999999999): the patch was edited", "patch-digest-mismatch"),
    ({"digest_of_patch_file": None, "patch_error": "not gzip"}, "digest", "not gzip", "patch-unreadable"),
    ({"digest_from_git": "8" * 64}, "digest", "the diff git computes for this release (888888888888) is not the one in the request (999999999999)", "git-digest-mismatch"),
    ({"stats_from_git": (3, 10, 2, 5)}, "stats", "the request says 3 files, +10 -2, 4 commits; git counts 3 files, +10 -2, 5 commits: the request misdescribes the release", "stats-commits"),
    ({"stats_from_git": (1, 0, 0, 1)}, "stats", "the request says 3 files, +10 -2, 4 commits; git counts 1 file, +0 -0, 1 commit: the request misdescribes the release", "stats-all"),
    ({"head_pushed_by": None}, "pushes", "the head commit was not pushed through the forge, so who pushed it is unknown", "head-pusher-unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "name", "message"), cases(CHECK_CASES))
def test_each_failing_check_says_why(changes: dict[str, Any], name: str, message: str) -> None:
    results = run_checks(integrity(**changes))
    failed = [c for c in results if c.ok is False]
    assert [c.name for c in failed] == [name]
    assert message in failed[0].message
    verdict = judge(results, "standard", evaluate_policy(one_rule(), facts("bob")))
    assert (verdict.outcome, verdict.summary) == ("failed", f"Invalid request: {failed[0].message}")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"request": None, "request_error": "bad"}, id="unreadable-request"),
        pytest.param({"files": added(REQUEST_PATH)}, id="bad-files"),
        pytest.param({"known_apps": ()}, id="unknown-app"),
    ],
)
def test_later_checks_are_not_run_after_an_early_failure(changes: dict[str, Any]) -> None:
    results = {c.name: c for c in run_checks(integrity(**changes))}
    for name in ("tag", "deployed", "ancestry", "digest", "stats"):
        assert results[name].ok is None
        assert results[name].message.startswith("not checked")
    assert results["pushes"].ok is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"request": None, "request_error": "bad"}, id="unreadable-request"),
        pytest.param({"files": added(REQUEST_PATH)}, id="bad-files"),
    ],
)
def test_every_check_is_reported_whatever_fails(changes: dict[str, Any]) -> None:
    assert [c.name for c in run_checks(integrity(**changes))] == ALL_CHECKS


def test_stats_are_not_checked_when_git_could_not_count() -> None:
    results = {c.name: c for c in run_checks(integrity(stats_from_git=None))}
    assert (results["stats"].ok, results["stats"].message) == (
        None,
        "not checked: git could not count the release",
    )
    assert [name for name, c in results.items() if c.ok is not True] == ["stats"]


def test_matching_stats_are_described() -> None:
    results = {c.name: c for c in run_checks(integrity())}
    message = "git counts what the request says: 3 files, +10 -2, 4 commits"
    assert results["stats"].message == message
