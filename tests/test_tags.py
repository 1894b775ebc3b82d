"""Tag schemes (``bs.core.tags``): which tags are releases, and their total order."""

from __future__ import annotations

import itertools
import re
from functools import cmp_to_key

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bs.core.tags import TagRef, TagScheme, compile_tag_regex
from bs.errors import BsError

RELEASE = TagScheme("release")
V = TagScheme("v")
SEMVER = TagScheme("semver")

# semver.org, section 11: "Example: 1.0.0-alpha < 1.0.0-alpha.1 < ...".
SEMVER_ORG_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]


def refs(*names: str) -> list[TagRef]:
    return [TagRef(name, f"{i:040x}") for i, name in enumerate(names)]


def names(tags: list[TagRef]) -> list[str]:
    return [ref.name for ref in tags]


def assert_strictly_increasing(scheme: TagScheme, ordered: list[str]) -> None:
    for older, newer in itertools.pairwise(ordered):
        assert scheme.compare(older, newer) == -1, f"{older} should come before {newer}"
        assert scheme.compare(newer, older) == 1, f"{newer} should come after {older}"
    for tag in ordered:
        assert scheme.compare(tag, tag) == 0


# --- ordering ---------------------------------------------------------------


def test_release_scheme_orders_numerically_not_lexically() -> None:
    assert_strictly_increasing(RELEASE, ["release_0", "release_9", "release_10", "release_100"])
    shuffled = refs("release_10", "release_9", "release_100", "release_1")
    assert names(RELEASE.newest_first(shuffled)) == [
        "release_100",
        "release_10",
        "release_9",
        "release_1",
    ]


def test_v_scheme_orders_numerically() -> None:
    assert_strictly_increasing(V, ["v1", "v9", "v10", "v1796"])
    assert names(V.newest_first(refs("v9", "v10", "v2"))) == ["v10", "v9", "v2"]


def test_semver_follows_semver_org_precedence_example() -> None:
    assert_strictly_increasing(SEMVER, SEMVER_ORG_ORDER)
    reversed_refs = refs(*reversed(SEMVER_ORG_ORDER))
    assert names(SEMVER.newest_first(reversed_refs)) == list(reversed(SEMVER_ORG_ORDER))


def test_semver_orders_major_minor_patch_numerically() -> None:
    assert_strictly_increasing(
        SEMVER, ["0.9.9", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0"]
    )
    # semver.org section 11, item 2: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1.
    assert_strictly_increasing(SEMVER, ["1.0.0", "2.0.0", "2.1.0", "2.1.1"])


def test_semver_numeric_identifiers_compare_numerically_and_before_alphanumeric() -> None:
    assert SEMVER.compare("1.0.0-2", "1.0.0-10") == -1
    assert SEMVER.compare("1.0.0-999", "1.0.0-a") == -1
    # Alphanumeric identifiers compare in ASCII order.
    assert SEMVER.compare("1.0.0-Beta", "1.0.0-alpha") == -1
    assert SEMVER.compare("1.0.0-alpha-1", "1.0.0-alpha-2") == -1


def test_semver_build_metadata_is_ignored_for_order() -> None:
    assert SEMVER.compare("1.0.0+build.1", "1.0.0+build.2") == 0
    assert SEMVER.compare("1.0.0+zzz", "1.0.0") == 0
    assert SEMVER.compare("1.0.0-rc.1+exp.sha.5114f85", "1.0.0-rc.1") == 0
    assert SEMVER.compare("1.0.0-rc.1+zzz", "1.0.0+aaa") == -1
    assert SEMVER.compare("1.0.1+0", "1.0.0+999") == 1


def test_semver_accepts_an_optional_leading_v() -> None:
    assert SEMVER.matches("v1.4.2")
    assert SEMVER.matches("1.4.2")
    assert SEMVER.compare("v1.4.2", "1.4.2") == 0
    assert SEMVER.compare("v1.4.2", "1.4.3") == -1
    assert SEMVER.compare("v1.0.0-rc.1", "1.0.0") == -1


def test_newest_first_breaks_ties_by_name_deterministically() -> None:
    tied = refs("1.0.0+a", "v1.0.0", "1.0.0", "1.0.0+b")
    first = names(SEMVER.newest_first(tied))
    assert first == names(SEMVER.newest_first(list(reversed(tied))))
    assert sorted(first, reverse=True) == first


@pytest.mark.parametrize(
    "tag",
    [
        "1.0",
        "1",
        "1.0.0.0",
        "01.0.0",
        "1.01.0",
        "1.0.01",
        "1.0.0-",
        "1.0.0-01",
        "1.0.0-alpha..1",
        "1.0.0+",
        "1.0.0+a..b",
        "V1.0.0",
        "vv1.0.0",
        " 1.0.0",
        "1.0.0 ",
        "1.0.0\n",
        "release-1.0.0",
        "1.0.0-al_pha",
    ],
)
def test_semver_refuses_tags_outside_the_grammar(tag: str) -> None:
    assert not SEMVER.matches(tag)
    assert SEMVER.sort_key(tag) is None


@pytest.mark.parametrize(
    ("scheme", "tag"),
    [
        (RELEASE, "release_"),
        (RELEASE, "release-9"),
        (RELEASE, "Release_9"),
        (RELEASE, "release_9a"),
        (RELEASE, "xrelease_9"),
        (RELEASE, "release_9\n"),
        (RELEASE, "release_-9"),
        (RELEASE, "v9"),
        (V, "v"),
        (V, "V9"),
        (V, "v1.2"),
        (V, "v1.2.3"),
        (V, "release_9"),
        (V, "v9\n"),
        (V, "v+9"),
    ],
)
def test_numeric_schemes_refuse_other_tags(scheme: TagScheme, tag: str) -> None:
    assert not scheme.matches(tag)


@pytest.mark.parametrize(
    ("scheme", "tag"),
    [
        (RELEASE, "release_\u0663"),  # ARABIC-INDIC DIGIT THREE
        (RELEASE, "release_\uff19"),  # FULLWIDTH DIGIT NINE
        (V, "v\u0967\u0966"),  # DEVANAGARI ONE ZERO
        (SEMVER, "1\u0661.0.0"),  # 1 then ARABIC-INDIC DIGIT ONE
        (SEMVER, "1.0.0-\u0661"),
        (SEMVER, "1.0.0-rc.1\u0661"),  # sorts as rc.11 if accepted
    ],
)
def test_schemes_refuse_non_ascii_digits(scheme: TagScheme, tag: str) -> None:
    """A tag like ``release_٣`` is not ``release_3``: Python's ``\\d`` matches any
    Unicode decimal digit, and ``int()`` accepts them, so without care the
    lookalike sorts as (and ties with) the real release. The regex scheme
    already refuses them; the built-in schemes must too."""
    assert not scheme.matches(tag)


def test_off_scheme_tags_are_dropped_by_newest_first() -> None:
    mixed = refs("release_2", "v5", "deploy-7", "release_10", "1.0.0", "latest", "release_x")
    assert names(RELEASE.newest_first(mixed)) == ["release_10", "release_2"]
    assert names(V.newest_first(mixed)) == ["v5"]
    assert names(SEMVER.newest_first(mixed)) == ["1.0.0"]
    assert RELEASE.newest_first(refs("latest", "main")) == []


def test_newest_first_keeps_each_tags_commit() -> None:
    tags = [TagRef("release_1", "a" * 40), TagRef("release_2", "b" * 40)]
    assert RELEASE.newest_first(tags) == [
        TagRef("release_2", "b" * 40),
        TagRef("release_1", "a" * 40),
    ]


def test_compare_refuses_off_scheme_tags() -> None:
    with pytest.raises(ValueError, match="scheme"):
        RELEASE.compare("release_1", "v2")


# --- the regex scheme ---------------------------------------------------------


def test_regex_scheme_orders_by_its_numeric_group() -> None:
    scheme = TagScheme("regex", r"deploy-(\d+)")
    assert_strictly_increasing(scheme, ["deploy-1", "deploy-9", "deploy-10", "deploy-100"])
    assert names(scheme.newest_first(refs("deploy-9", "deploy-10", "release_99", "deploy-x"))) == [
        "deploy-10",
        "deploy-9",
    ]
    # The whole tag must match, not a part of it.
    assert not scheme.matches("deploy-10-hotfix")
    assert not scheme.matches("pre-deploy-10")


def test_regex_scheme_uses_the_group_named_n() -> None:
    scheme = TagScheme("regex", r"(?P<env>prod|staging)-(?P<n>\d+)")
    assert scheme.matches("prod-3")
    assert scheme.compare("prod-3", "staging-20") == -1
    assert scheme.compare("staging-3", "prod-3") == 0
    assert not scheme.matches("dev-3")


def test_regex_scheme_refuses_tags_whose_group_is_not_a_number() -> None:
    scheme = TagScheme("regex", r"build-(\w+)")
    assert scheme.matches("build-12")
    assert not scheme.matches("build-abc")
    assert not scheme.matches("build-\u0663")  # a non-ASCII digit
    optional = TagScheme("regex", r"x(\d+)?")
    assert not optional.matches("x")
    assert optional.matches("x5")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (None, "needs a pattern"),
        ("", "needs a pattern"),
        ("deploy-(", "not a valid regular expression"),
        ("deploy-[0-9", "not a valid regular expression"),
        (r"deploy-\d+", "exactly one group"),
        (r"(deploy)-(\d+)", "exactly one group"),
        (r"(?P<env>\w+)-(?P<num>\d+)", "exactly one group"),
    ],
)
def test_bad_regex_patterns_are_refused_clearly(pattern: str | None, message: str) -> None:
    with pytest.raises(BsError, match=re.escape(message)) as caught:
        TagScheme("regex", pattern)
    if pattern:
        # The message quotes the pattern so the user finds it in the file.
        assert repr(pattern) in caught.value.message
    assert "deploy-(\\d+)" in caught.value.message or "regular expression" in caught.value.message
    with pytest.raises(BsError):
        compile_tag_regex(pattern)


@pytest.mark.parametrize("kind", ["release", "v", "semver"])
def test_a_pattern_on_a_non_regex_scheme_is_refused(kind: str) -> None:
    with pytest.raises(BsError, match="takes no pattern") as caught:
        TagScheme(kind, r"deploy-(\d+)")  # type: ignore[arg-type]
    assert f"'{kind}'" in caught.value.message
    assert "regex" in caught.value.message


def test_describe_names_the_tag_shape() -> None:
    assert "release_" in RELEASE.describe()
    assert "v" in V.describe()
    assert "1.4.2" in SEMVER.describe()
    assert repr(r"deploy-(\d+)") in TagScheme("regex", r"deploy-(\d+)").describe()


# --- properties: a total order consistent with newest_first ------------------

release_tags = st.integers(min_value=0, max_value=10**6).map(lambda n: f"release_{n}")

_numeric_id = st.integers(min_value=0, max_value=30).map(str)
_ALNUM = "0123456789abcxyzABCXYZ-"
# An alphanumeric identifier has at least one non-digit.
_alnum_id = st.text(alphabet=_ALNUM, min_size=1, max_size=6).map(
    lambda s: s if not s.isdigit() else s + "a"
)
_pre = st.lists(st.one_of(_numeric_id, _alnum_id), min_size=1, max_size=3)
_build = st.lists(st.text(alphabet=_ALNUM, min_size=1, max_size=4), min_size=1, max_size=2)


@st.composite
def semver_tags(draw: st.DrawFn) -> str:
    core = ".".join(str(draw(st.integers(min_value=0, max_value=12))) for _ in range(3))
    tag = draw(st.sampled_from(["", "v"])) + core
    if draw(st.booleans()):
        tag += "-" + ".".join(draw(_pre))
    if draw(st.booleans()):
        tag += "+" + ".".join(draw(_build))
    return tag


def semver_reference_cmp(a: str, b: str) -> int:
    """semver.org section 11, written out independently of bs."""

    def parts(tag: str) -> tuple[list[int], list[str] | None]:
        tag = tag.removeprefix("v").split("+", 1)[0]
        core, _, pre = tag.partition("-")
        return [int(x) for x in core.split(".")], (pre.split(".") if pre else None)

    (core_a, pre_a), (core_b, pre_b) = parts(a), parts(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if pre_a is None or pre_b is None:
        if pre_a is None and pre_b is None:
            return 0
        return 1 if pre_a is None else -1
    for x, y in zip(pre_a, pre_b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    if len(pre_a) == len(pre_b):
        return 0
    return -1 if len(pre_a) < len(pre_b) else 1


def _check_total_order(scheme: TagScheme, tags: list[str]) -> None:
    for a in tags:
        assert scheme.matches(a), a
        assert scheme.compare(a, a) == 0
    for a, b in itertools.product(tags, repeat=2):
        # Antisymmetric, and equal exactly when the sort keys are.
        assert scheme.compare(a, b) == -scheme.compare(b, a)
        assert (scheme.compare(a, b) == 0) == (scheme.sort_key(a) == scheme.sort_key(b))
    for a, b, c in itertools.product(tags, repeat=3):
        if scheme.compare(a, b) <= 0 and scheme.compare(b, c) <= 0:
            assert scheme.compare(a, c) <= 0, (a, b, c)


def _check_newest_first(scheme: TagScheme, tags: list[str]) -> None:
    ordered = names(scheme.newest_first(refs(*tags)))
    assert sorted(ordered) == sorted(tags)  # nothing dropped, nothing invented
    for newer, older in itertools.pairwise(ordered):
        assert scheme.compare(newer, older) >= 0, (newer, older)
        if scheme.compare(newer, older) == 0:
            assert newer >= older  # ties broken by name
    # The same tags in any input order come out in the same order.
    assert names(scheme.newest_first(refs(*reversed(tags)))) == ordered
    # And it agrees with sorting by compare().
    by_compare = sorted(tags, key=cmp_to_key(scheme.compare), reverse=True)
    assert [scheme.sort_key(t) for t in by_compare] == [scheme.sort_key(t) for t in ordered]


@given(st.lists(release_tags, min_size=1, max_size=8))
def test_release_order_is_total_and_matches_newest_first(tags: list[str]) -> None:
    _check_total_order(RELEASE, tags)
    _check_newest_first(RELEASE, tags)
    numbers = [int(t.removeprefix("release_")) for t in names(RELEASE.newest_first(refs(*tags)))]
    assert numbers == sorted(numbers, reverse=True)


@given(st.lists(semver_tags(), min_size=1, max_size=7))
def test_semver_order_is_total_and_matches_newest_first(tags: list[str]) -> None:
    _check_total_order(SEMVER, tags)
    _check_newest_first(SEMVER, tags)


@given(semver_tags(), semver_tags())
def test_semver_compare_agrees_with_the_spec(a: str, b: str) -> None:
    assert SEMVER.compare(a, b) == semver_reference_cmp(a, b)


@given(st.lists(st.one_of(release_tags, semver_tags(), st.text(max_size=12)), max_size=10))
def test_newest_first_keeps_exactly_the_scheme_tags(tags: list[str]) -> None:
    for scheme in (RELEASE, SEMVER, V):
        kept = names(scheme.newest_first(refs(*tags)))
        assert sorted(kept) == sorted(t for t in tags if scheme.matches(t))
