"""The security review's findings, unit by unit: globs, YAML, gzip patches, printable text.

Path globs match segment by segment (``db/**`` is what is under db, deep
paths cannot make them backtrack); YAML timestamps stay strings, values
PyYAML cannot convert are BsErrors, merge keys work; a ``.patch.gz`` holding
anything after its gzip stream is refused; control and format characters
(bidi overrides) and bytes that are not UTF-8 are shown escaped; logins may
hold ``_``. The end-to-end tests are in tests/test_check_hardening*.py.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from pathlib import Path

import pytest
import yaml

from bs.core.evaluate import evaluate_policy
from bs.core.explain import explain_markdown, explain_text
from bs.core.globs import compile_glob, matching_paths
from bs.core.names import LOGIN
from bs.core.words import printable
from bs.errors import BsError
from bs.gitcmd import printable_path
from bs.patchcheck import CHUNK, digest_committed_patch
from bs.yamlio import parse_yaml
from tests.conftest import WorkRepo
from tests.evalhelpers import changes, facts, one_rule, verdict_of

# --- globs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("db/**", "db", False),  # what is under db, not db itself
        ("db/", "db", False),
        ("db/**", "db/x.rb", True),
        ("db/**", "db/migrate/2024/x.rb", True),
        ("a/**/b", "a/b", True),  # a `**` inside the glob may be no folder at all
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/c", False),
        ("**", "x", True),
        ("**", "x/y/z", True),
        ("**/*.rb", "x.rb", True),
        ("*/**/b/**", "a/b/b", True),
        ("db/migrate/*.rb", "db/migrate/x\n.rb", True),  # a newline is a character like any
        ("src/[!ab].c", "src/c.c", True),
        ("src/[]].c", "src/].c", True),
        ("src/[!]].c", "src/].c", False),
    ],
)
def test_globs_match_segment_by_segment(glob: str, path: str, matches: bool) -> None:
    assert compile_glob(glob).matches(path) is matches
    assert matching_paths([glob], (path,)) == ([path] if matches else [])


@pytest.mark.parametrize(
    ("glob", "message"),
    [
        ("db/a**", "'**' must be a whole path segment in 'db/a**' (e.g. a/**/b)"),
        ("**x/y", "'**' must be a whole path segment in '**x/y' (e.g. a/**/b)"),
        ("db/[abc", "'[' without a closing ']' in 'db/[abc'"),
        ("/db/**", "'/db/**' is not a path glob: write it relative to the repository, e.g. db/migrate/**"),
    ],
)  # fmt: skip
def test_bad_globs_say_what_is_wrong(glob: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_glob(glob)
    with pytest.raises(BsError, match=re.escape(message)):
        matching_paths([glob], ("x",))


def test_a_deep_path_against_many_double_stars_completes() -> None:
    """A requester controls the paths: 5,000 folders deep must not make a glob backtrack."""
    deep = "/".join(["a"] * 5000)
    globs = ["**/a/**/a/**/a/**/a/**/c", "**/a/**/a/**/b"]
    assert matching_paths(globs, (deep + "/b", deep + "/x", deep)) == [deep + "/b"]
    assert compile_glob("**/a/**/a/**/a/**/a/**/a/**/c").matches(deep) is False


# --- YAML -----------------------------------------------------------------------------


def test_timestamps_stay_strings() -> None:
    data = parse_yaml("at: 2024-06-01T12:30:45Z\nday: 2024-02-30\nwhen: 2024-06-01\n", "x.yaml")
    assert data == {"at": "2024-06-01T12:30:45Z", "day": "2024-02-30", "when": "2024-06-01"}


def int_error(digits: str) -> str:
    try:
        int(digits)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(digits)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: !!bool maybe\n", "KeyError: 'maybe'"),
        ("a: !!int abc\n", f"ValueError: {int_error('abc')}"),
        ("a: " + "9" * 5000 + "\n", f"ValueError: {int_error('9' * 5000)}"),
        ("a: !!timestamp 2024-02-30\n", "ValueError: day is out of range for month"),
        ("a: !!float x\n", "ValueError: could not convert string to float: 'x'"),
    ],
    ids=["bool", "int", "5000-digits", "timestamp", "float"],
)
def test_values_yaml_cannot_convert_are_bs_errors(text: str, problem: str) -> None:
    with pytest.raises(BsError) as caught:
        parse_yaml(text, "x.yaml")
    assert caught.value.message == (
        f"x.yaml: a value cannot be read ({problem}). Write it plainly, without a !!tag."
    )


MERGE = """\
base: &base {repo: alphagov/base, policy: standard}
extra: &extra {review_list: [a@example.gov.uk]}
one: {<<: *base, repo: alphagov/one}
both:
  <<: [*base, *extra]
  policy: strict
"""


def test_merge_keys_work_and_explicit_keys_override_them() -> None:
    assert parse_yaml(MERGE, "x.yaml") == {
        "base": {"repo": "alphagov/base", "policy": "standard"},
        "extra": {"review_list": ["a@example.gov.uk"]},
        "one": {"repo": "alphagov/one", "policy": "standard"},
        "both": {"repo": "alphagov/base", "policy": "strict", "review_list": ["a@example.gov.uk"]},
    }


def test_a_merged_mapping_reached_again_through_an_alias_is_not_a_duplicate() -> None:
    """Merging rewrites a mapping in place; meeting it again must not look like a key twice."""
    nested = (
        "first:\n  <<: &defaults\n    <<: &base\n      source: staging\n"
        "    source: production\nsecond: *defaults\n"
    )
    assert parse_yaml(nested, "x.yaml") == yaml.safe_load(nested)
    deeper = "defs: {base: &b {a: 1}, mid: &m {<<: *b, a: 2}}\napp: {<<: *m}\n"
    assert parse_yaml(deeper, "x.yaml") == yaml.safe_load(deeper)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: &a {repo: one}\nb: &b {repo: two}\nc: {<<: *a, <<: *b}\n", "'<<' is given twice"),
        (
            "a: &a {repo: one}\nb: &b {repo: two}\nc: {<<: [*a, *b]}\n",
            "the key 'repo' comes from two merged mappings: give it here",
        ),
    ],
)
def test_merges_that_leave_a_key_ambiguous_are_refused(text: str, problem: str) -> None:
    """PyYAML's choice between two merged values is arbitrary: the file must say which."""
    with pytest.raises(BsError, match=re.escape(problem)):
        parse_yaml(text, "x.yaml")
    settled = text.replace("<<: *a, <<: *b}", "<<: [*a, *b], repo: three}").replace(
        "<<: [*a, *b]}", "<<: [*a, *b], repo: three}"
    )
    assert parse_yaml(settled, "x.yaml")["c"] == {"repo": "three"}


def test_a_key_given_twice_beside_a_merge_key_is_still_refused() -> None:
    with pytest.raises(BsError, match=re.escape("the key 'repo' is given twice (keep one)")):
        parse_yaml(MERGE + "two: {<<: *base, repo: a/b, repo: c/d}\n", "x.yaml")


def test_the_size_limit_counts_aliases_as_copies() -> None:
    text = "a: &a [" + ", ".join(["x"] * 400) + "]\nb: &b [" + ", ".join(["*a"] * 400) + "]\n"
    with pytest.raises(BsError) as caught:
        parse_yaml(text, "x.yaml")
    assert caught.value.message == (
        "x.yaml: holds more than 100,000 values, counting each alias as a copy (at line 2): "
        "a bs file is far smaller; write the values out, without aliases."
    )


# --- .patch.gz: nothing after the gzip stream -----------------------------------------

PATCH = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+2\n"
PATH = "requests/frontend/20240601-abcdefghijklmnop.patch.gz"
TRAILING = (
    f"{PATH} holds more after its gzip stream (another member or stray bytes), which `zcat` "
    "would show and the digest would not cover: the patch file is not bs's"
)


def committed(tmp_path: Path, content: bytes) -> tuple[Path, str]:
    repo = WorkRepo(tmp_path / "requests")
    repo.write(PATH, content)
    return repo.path / ".git", repo.commit("patch")


def digest_of(tmp_path: Path, content: bytes) -> str:
    return digest_committed_patch(*committed(tmp_path, content), PATH)


def test_a_gzip_patch_is_hashed_uncompressed(tmp_path: Path) -> None:
    assert digest_of(tmp_path, gzip.compress(PATCH)) == hashlib.sha256(PATCH).hexdigest()


def test_a_gzip_bomb_is_inflated_in_bounded_steps(tmp_path: Path) -> None:
    zeros = bytes(32 * CHUNK)  # 8 MiB, a few KiB compressed: many bounded calls per chunk
    compressed = gzip.compress(zeros, compresslevel=9)
    assert len(compressed) < CHUNK
    assert digest_of(tmp_path, compressed) == hashlib.sha256(zeros).hexdigest()


@pytest.mark.parametrize(
    "after",
    [gzip.compress(b"\n-print(2)\n+print(1)\n"), b"garbage", b"\0"],
    ids=["second-member", "stray-bytes", "one-zero-byte"],
)
def test_anything_after_the_gzip_stream_is_refused(tmp_path: Path, after: bytes) -> None:
    with pytest.raises(BsError) as caught:
        digest_of(tmp_path, gzip.compress(PATCH) + after)
    assert caught.value.message == TRAILING


def test_more_after_a_stream_ending_on_a_read_boundary_is_refused(tmp_path: Path) -> None:
    """The stream ends exactly where one read does; the extra comes in the next read."""
    overhead = len(gzip.compress(bytes(CHUNK), compresslevel=0, mtime=0)) - CHUNK
    stream = gzip.compress(os.urandom(CHUNK - overhead), compresslevel=0, mtime=0)
    assert len(stream) == CHUNK
    with pytest.raises(BsError) as caught:
        digest_of(tmp_path, stream + b"more")
    assert caught.value.message == TRAILING


def test_a_truncated_gzip_patch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BsError) as caught:
        digest_of(tmp_path, gzip.compress(PATCH)[:-4])
    assert caught.value.message == f"{PATH} is a truncated gzip file: the patch file is damaged"


# --- text anyone can print ---------------------------------------------------------------


def test_control_and_format_characters_are_shown_as_code_points() -> None:
    assert printable("a\u202eb\u200bc\x1b[31m\td\n") == "a<U+202E>b<U+200B>c<U+001B>[31m<U+0009>d\n"
    assert printable("café ✓ 日本") == "café ✓ 日本"


def test_bytes_that_are_not_utf8_are_shown_as_hex() -> None:
    assert printable_path(os.fsdecode(b"db/migrate/\xff\xfe.rb")) == "db/migrate/\\xff\\xfe.rb"
    assert printable_path("db/migrate/café.rb") == "db/migrate/café.rb"


def test_a_bidi_override_in_a_rejection_is_shown_everywhere_as_its_code_point() -> None:
    verdict = verdict_of(one_rule(), facts("bob", changes("carol", "ok \u202edesrever")))
    assert verdict.summary == "Rejected by carol: ok \u202edesrever"
    assert verdict.status_description == "Rejected by carol: ok <U+202E>desrever"
    assert "ok <U+202E>desrever" in explain_text(verdict)
    assert "ok \\<U+202E\\>desrever" in explain_markdown(verdict)
    for shown in (verdict.status_description, explain_text(verdict), explain_markdown(verdict)):
        assert "\u202e" not in shown


# --- logins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "valid"),
    [
        ("alice_acme", True),  # GitHub Enterprise Managed Users: login_shortcode
        ("alice-smith_acme", True),
        ("renovate[bot]", True),
        ("_alice", False),
        ("alice acme", False),
        ("alice_" + "x" * 39, False),
    ],
)
def test_logins_may_hold_an_underscore(login: str, valid: bool) -> None:
    assert (re.fullmatch(LOGIN, login) is not None) is valid


def test_an_enterprise_managed_user_approves() -> None:
    pol = one_rule("{users: [bob_acme]}")
    result = evaluate_policy(pol, facts("bob_acme", requester="alice_acme"))
    assert (result.status, result.approvers) == ("satisfied", ("bob_acme",))
