"""Policy globs (bs.core.globs): fnmatch's meaning within a segment, never across '/',
and no glob a policy can hold makes matching slow on paths a requester chooses."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bs.core.globs import compile_glob, matching_paths

SEGMENT_GLOB = st.text(alphabet="ab*?", min_size=1, max_size=7).filter(lambda g: "**" not in g)
NAME = st.text(alphabet="ab", min_size=1, max_size=9)


@given(SEGMENT_GLOB, NAME)
def test_within_a_segment_a_glob_means_what_fnmatch_says(glob: str, name: str) -> None:
    assert compile_glob(glob).matches(name) == fnmatch.fnmatchcase(name, glob)


@given(SEGMENT_GLOB, NAME, NAME)
def test_both_routes_agree_under_a_double_star(glob: str, folder: str, name: str) -> None:
    """`**/G` takes the one-regex route; `**/x/**/G` the segment walk: same answers."""
    path = f"{folder}/x/{name}"
    one = compile_glob(f"**/{glob}")
    walked = compile_glob(f"**/x/**/{glob}")
    assert one.whole is not None and walked.whole is None
    assert one.matches(path) == walked.matches(path) == fnmatch.fnmatchcase(name, glob)


@pytest.mark.parametrize(
    ("glob", "path"),
    [
        ("docs[!_]*.md", "docs/secret.md"),
        ("a[.-0]b", "a/b"),
        ("[!]]x", "/x"),
        ("**/docs[!_]*.md", "x/docs/secret.md"),
        ("**/x/**/docs[!_]*.md", "x/docs/secret.md"),
    ],
)
def test_a_class_never_matches_a_slash(glob: str, path: str) -> None:
    assert matching_paths((glob,), (path,)) == []


def test_only_an_exclamation_mark_negates_a_class() -> None:
    assert matching_paths(("[^a]b",), ("^b", "ab", "cb")) == ["^b", "ab"]
    assert matching_paths(("[!a]b",), ("^b", "ab", "cb")) == ["^b", "cb"]


@pytest.mark.parametrize(
    ("glob", "miss", "hit"),
    [
        ("*a*a*a*a*a*a*a*ab", "a" * 3000, "a" * 3000 + "b"),
        ("db/**/*-*-*-*.sql", "db/" + "-" * 5000, "db/x/" + "-" * 5000 + ".sql"),
        ("**/x/**/*a*a*a*a*ab", "x/" + "a" * 3000, "x/y/" + "a" * 3000 + "b"),
        ("**/test/**/fixtures/**/*.yml", "/".join(["test"] * 3000), "test/fixtures/a.yml"),
    ],
)
def test_star_heavy_globs_finish_on_long_names(glob: str, miss: str, hit: str) -> None:
    """Each finishes in milliseconds; before the fix, the first took minutes."""
    assert matching_paths((glob,), (miss, hit)) == [hit]
