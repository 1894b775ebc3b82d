"""Whether a requested version is newer than the deployed one (``bs.core.versions``)."""

from __future__ import annotations

import pytest

from bs.core.tags import TagRef, TagScheme
from bs.core.versions import Version, judge_newer, mark_newer, tag_for_commit
from bs.errors import BsError

RELEASE = TagScheme("release")
V = TagScheme("v")
SEMVER = TagScheme("semver")

C1, C2, C3, C4, FORK = (c * 40 for c in "12345")


# --- judge_newer -------------------------------------------------------------


def test_first_deploy_allows_anything() -> None:
    judge_newer(
        "frontend", RELEASE, None, Version(C1, "release_1"), requested_contains_deployed=False
    )
    judge_newer("frontend", RELEASE, None, Version(C1, None), requested_contains_deployed=False)


def test_a_newer_descendant_tag_is_allowed() -> None:
    judge_newer(
        "frontend",
        RELEASE,
        Version(C1, "release_9"),
        Version(C2, "release_10"),
        requested_contains_deployed=True,
    )


def test_the_deployed_commit_itself_is_refused() -> None:
    with pytest.raises(BsError) as caught:
        judge_newer(
            "frontend",
            RELEASE,
            Version(C1, "release_9"),
            Version(C1, "release_9"),
            requested_contains_deployed=True,
        )
    message = caught.value.message
    assert message.startswith("frontend: ")
    assert "deployed now" in message
    assert "bs tags frontend" in message


def test_another_tag_on_the_deployed_commit_is_refused() -> None:
    """Same commit, later tag name: still nothing to release."""
    with pytest.raises(BsError, match="nothing to release"):
        judge_newer(
            "frontend",
            RELEASE,
            Version(C1, "release_9"),
            Version(C1, "release_10"),
            requested_contains_deployed=True,
        )


def test_a_tag_that_does_not_contain_the_deployed_commit_is_refused() -> None:
    with pytest.raises(BsError) as caught:
        judge_newer(
            "frontend",
            RELEASE,
            Version(C2, "release_10"),
            Version(FORK, "release_11"),
            requested_contains_deployed=False,
        )
    message = caught.value.message
    assert "release_11" in message
    assert "release_10" in message
    assert "does not contain" in message
    assert "rollback" in message and "fork" in message


def test_not_descendant_is_refused_even_when_the_scheme_says_newer_or_deployed_is_untagged() -> (
    None
):
    with pytest.raises(BsError) as caught:
        judge_newer(
            "frontend",
            RELEASE,
            Version(C2, None),
            Version(FORK, "release_99"),
            requested_contains_deployed=False,
        )
    # With no deployed tag, the message names the deployed commit instead.
    assert "release_99" in caught.value.message
    assert C2[:12] in caught.value.message


@pytest.mark.parametrize(
    ("scheme", "deployed_tag", "requested_tag"),
    [
        (RELEASE, "release_10", "release_9"),  # older in the scheme
        (RELEASE, "release_10", "release_10"),  # same number, e.g. a moved tag
        (V, "v10", "v9"),
        (SEMVER, "1.0.0", "1.0.0-rc.1"),  # a pre-release of the deployed release
        (SEMVER, "1.0.0+build.1", "1.0.0+build.2"),  # build metadata does not order
    ],
)
def test_scheme_disagreeing_with_ancestry_is_refused(
    scheme: TagScheme, deployed_tag: str, requested_tag: str
) -> None:
    with pytest.raises(BsError) as caught:
        judge_newer(
            "frontend",
            scheme,
            Version(C1, deployed_tag),
            Version(C2, requested_tag),
            requested_contains_deployed=True,
        )
    message = caught.value.message
    assert f"{requested_tag} does not come after the deployed {deployed_tag}" in message
    assert scheme.describe() in message


def test_untagged_deployed_commit_relies_on_ancestry() -> None:
    judge_newer(
        "frontend",
        RELEASE,
        Version(C1, None),
        Version(C2, "release_1"),
        requested_contains_deployed=True,
    )


def test_untagged_requested_commit_relies_on_ancestry() -> None:
    judge_newer(
        "frontend",
        RELEASE,
        Version(C1, "release_9"),
        Version(C2, None),
        requested_contains_deployed=True,
    )


def test_a_scheme_change_is_allowed_when_ancestry_holds() -> None:
    """release_4572 deployed, the app now tagged v1796: ancestry decides.

    The deployed tag belongs to the old scheme, so the new scheme cannot order
    it; judge_newer must not ask it to (it raised ValueError, an internal error).
    """
    judge_newer(
        "frontend",
        V,
        Version(C1, "release_4572"),
        Version(C2, "v1796"),
        requested_contains_deployed=True,
    )


def test_a_scheme_change_is_still_refused_without_ancestry() -> None:
    with pytest.raises(BsError, match="does not contain"):
        judge_newer(
            "frontend",
            V,
            Version(C1, "release_4572"),
            Version(FORK, "v1796"),
            requested_contains_deployed=False,
        )


# --- tag_for_commit ----------------------------------------------------------


def test_tag_for_commit_picks_the_newest_scheme_tag_on_the_commit() -> None:
    tags = [
        TagRef("release_1", C1),
        TagRef("release_3", C2),
        TagRef("release_2", C2),
        TagRef("v99", C2),  # not in the scheme
        TagRef("release_4", C3),
    ]
    assert tag_for_commit(RELEASE, tags, C2) == "release_3"
    assert tag_for_commit(RELEASE, tags, C1) == "release_1"
    assert tag_for_commit(V, tags, C2) == "v99"
    assert tag_for_commit(RELEASE, tags, C4) is None
    assert tag_for_commit(SEMVER, tags, C2) is None
    assert tag_for_commit(RELEASE, [], C1) is None


# --- mark_newer --------------------------------------------------------------


def test_mark_newer_on_first_deploy_marks_every_scheme_tag() -> None:
    tags = [TagRef("release_1", C1), TagRef("release_2", C2), TagRef("latest", C2)]
    assert mark_newer(RELEASE, tags, None, set()) == [
        (TagRef("release_2", C2), True),
        (TagRef("release_1", C1), True),
    ]


def test_mark_newer_uses_ancestry_and_the_scheme() -> None:
    tags = [
        TagRef("release_1", C1),  # older: not a descendant
        TagRef("release_2", C2),  # deployed
        TagRef("release_5", C3),  # newer descendant
        TagRef("release_4", C4),  # descendant, but before deployed in the scheme
        TagRef("release_9", FORK),  # later number, other line of history
        TagRef("deploy-1", C3),  # off-scheme: left out
    ]
    marked = mark_newer(RELEASE, tags, Version(C2, "release_2"), descendants={C2, C3, C4})
    assert [(ref.name, newer) for ref, newer in marked] == [
        ("release_9", False),
        ("release_5", True),
        ("release_4", True),
        ("release_2", False),
        ("release_1", False),
    ]
    marked = mark_newer(RELEASE, tags, Version(C4, "release_4"), descendants={C4, C3})
    assert dict((ref.name, newer) for ref, newer in marked) == {
        "release_9": False,
        "release_5": True,
        "release_4": False,
        "release_2": False,
        "release_1": False,
    }


def test_mark_newer_refuses_a_descendant_that_comes_earlier_in_the_scheme() -> None:
    tags = [TagRef("release_3", C2), TagRef("release_7", C1)]
    marked = mark_newer(RELEASE, tags, Version(C1, "release_7"), descendants={C1, C2})
    assert [(ref.name, newer) for ref, newer in marked] == [
        ("release_7", False),
        ("release_3", False),
    ]


def test_mark_newer_with_an_untagged_deployed_commit_relies_on_ancestry() -> None:
    tags = [TagRef("release_1", C1), TagRef("release_2", C3)]
    marked = mark_newer(RELEASE, tags, Version(C2, None), descendants={C2, C3})
    assert [(ref.name, newer) for ref, newer in marked] == [
        ("release_2", True),
        ("release_1", False),
    ]


def test_mark_newer_after_a_scheme_change() -> None:
    """The deployed tag is of the old scheme: ancestry alone decides (no ValueError)."""
    tags = [TagRef("v1", C1), TagRef("v2", C3), TagRef("release_4572", C2)]
    marked = mark_newer(V, tags, Version(C2, "release_4572"), descendants={C2, C3})
    assert [(ref.name, newer) for ref, newer in marked] == [("v2", True), ("v1", False)]


def test_version_label() -> None:
    assert Version(C1, "release_9").label() == f"release_9 ({C1[:12]})"
    assert Version(C1).label() == C1[:12]
