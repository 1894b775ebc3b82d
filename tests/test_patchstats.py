"""Patch statistics counted in the stream (``bs.core.patchstats``) against git's numstat.

Real repositories, the canonical diff of ``bs.patchfile.diff_command``, and
``git diff --numstat`` with the same options as the reference.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bs.core.patchstats import PatchStats, PatchStatsCounter
from bs.patchfile import diff_command
from tests.conftest import WorkRepo, git_bytes

# Lines that look like patch syntax, as file content (git prefixes each with
# ' ', '+' or '-' in the patch, so none of them opens a section or a hunk).
TRICKY_LINES = [
    "++ not an insertion header",
    "-- not a deletion header",
    "+++ b/fake",
    "--- a/fake",
    "@@ -1,2 +1,2 @@",
    "@@ not a hunk",
    "diff --git a/fake b/fake",
    "diff --git ",
    "\\ No newline at end of file",
    "index 0000000..1111111 100644",
    "GIT binary patch",
    "+",
    "-",
    "",
]


def count(patch: bytes, chunk: int | None = None) -> PatchStats:
    counter = PatchStatsCounter()
    if chunk is None:
        counter.feed(patch)
    else:
        for start in range(0, len(patch), chunk):
            counter.feed(memoryview(patch)[start : start + chunk])
    return counter.stats()


def canonical_patch(repo: Path, from_rev: str | None, to_rev: str) -> bytes:
    return git_bytes(repo, *diff_command(from_rev, to_rev))


_IMPLIES_PATCH = re.compile(r"--binary|-U\d+|--unified=\d+|--inter-hunk-context=\d+|-p|--patch")


def numstat(repo: Path, from_rev: str | None, to_rev: str) -> PatchStats:
    """git's own totals for the same diff: diff_command's options, --numstat instead of --binary."""
    # Leave out the options that imply --patch; none changes which lines differ.
    args = [a for a in diff_command(from_rev, to_rev) if not _IMPLIES_PATCH.fullmatch(a)]
    args.insert(args.index("diff") + 1, "--numstat")
    out = git_bytes(repo, *args)
    lines = out.splitlines()
    assert all(line.count(b"\t") == 2 for line in lines), "an option implies --patch"
    insertions = deletions = 0
    for line in lines:
        added, removed, _ = line.split(b"\t", 2)
        if added != b"-":  # binary files show "-\t-"
            insertions += int(added)
            deletions += int(removed)
    return PatchStats(len(lines), insertions, deletions)


def assert_matches_numstat(repo: Path, from_rev: str | None, to_rev: str) -> bytes:
    patch = canonical_patch(repo, from_rev, to_rev)
    expected = numstat(repo, from_rev, to_rev)
    assert count(patch) == expected, patch.decode("utf-8", "replace")[:4000]
    for chunk in (1, 2, 7, 64, 4096):
        assert count(patch, chunk) == expected, f"chunk size {chunk}"
    return patch


def lines(*items: str, newline_at_end: bool = True) -> str:
    return "\n".join(items) + ("\n" if newline_at_end else "")


@pytest.fixture
def history(tmp_path: Path) -> dict[str, object]:
    """Three commits exercising every kind of change a patch can hold."""
    rng = random.Random(20240601)
    repo = WorkRepo(tmp_path / "app")
    long_text = lines(*(f"line {i}: {'x' * (i % 13)}" for i in range(200)))
    binary = bytes(rng.randrange(256) for _ in range(3000)) + b"\0"
    repo.write("README.md", lines("# App", "", "Hello."))
    repo.write("long.txt", long_text)
    repo.write("tricky.txt", lines(*TRICKY_LINES))
    repo.write("no-newline.txt", lines("first", "last", newline_at_end=False))
    repo.write("gets-newline.txt", lines("a", "b", newline_at_end=False))
    repo.write("loses-newline.txt", lines("a", "b"))
    repo.write("bin/logo.png", binary)
    repo.write("bin/deleted.bin", bytes(range(256)) * 4)
    repo.write("script.sh", "#!/bin/sh\necho hi\n", mode=0o644)
    repo.write("script2.sh", "#!/bin/sh\necho two\n", mode=0o644)
    repo.write("to-delete.txt", lines("gone", "soon"))
    repo.write("to-rename.txt", long_text.replace("line", "row"))
    repo.write("to-rename-and-edit.txt", long_text.replace("line", "entry"))
    repo.write("empty.txt", "")
    repo.write("crlf.txt", "one\r\ntwo\r\nthree\r\n")
    repo.write("ünïcødé/名前.txt", lines("héllo", "wörld"))
    repo.write("with space.txt", lines("s"))
    repo.write("@@ odd name.txt", lines("odd"))
    base = repo.commit("base")

    repo.write("README.md", lines("# App", "", "Hello, world.", "More."))
    repo.write(
        "long.txt",
        long_text.replace("line 5:", "LINE 5:").replace("line 150:", "changed 150:")
        + lines(*TRICKY_LINES),
    )
    # Replace the tricky lines by other tricky lines: deletions and insertions
    # whose content starts with patch syntax.
    repo.write("tricky.txt", lines(*(f"+{t}" for t in TRICKY_LINES), *TRICKY_LINES[::2]))
    repo.write("no-newline.txt", lines("first", "middle", "last", newline_at_end=False))
    repo.write("gets-newline.txt", lines("a", "b"))
    repo.write("loses-newline.txt", lines("a", "b", newline_at_end=False))
    repo.write("bin/logo.png", binary[::-1])
    repo.write("bin/new.bin", bytes(rng.randrange(256) for _ in range(500)) + b"\0")
    repo.remove("bin/deleted.bin")
    (repo.path / "script.sh").chmod(0o755)  # mode only
    repo.write("script2.sh", "#!/bin/sh\necho TWO\n", mode=0o755)  # mode and content
    repo.remove("to-delete.txt")
    repo.move("to-rename.txt", "renamed/pure.txt")
    repo.move("to-rename-and-edit.txt", "renamed/edited.txt")
    repo.write("renamed/edited.txt", long_text.replace("line", "entry").replace("entry 7:", "E7:"))
    repo.write("new-empty.txt", "")
    repo.write("crlf.txt", "one\r\nTWO\r\nthree\r\n")
    repo.write("ünïcødé/名前.txt", lines("héllo", "wörld", "新しい"))
    repo.move("with space.txt", "ünïcødé/with späce.txt")
    repo.write("@@ odd name.txt", lines("odd", "@@ still odd"))
    repo.write("diff --git a/x b/x.txt", lines("diff --git a/x b/x", "@@ -1 +1 @@"))
    repo.write("new\nline name.txt", lines("a name with a newline"))
    os.symlink("README.md", repo.path / "link-to-readme")
    middle = repo.commit("changes of every kind")

    repo.write("added-late.txt", lines(*(f"+{i}" for i in range(50))))
    repo.write("tricky.txt", "")
    repo.remove("bin/logo.png")
    last = repo.commit("more")
    return {"repo": repo.path, "base": base, "middle": middle, "last": last}


def test_counts_equal_numstat_for_every_kind_of_change(history: dict[str, object]) -> None:
    repo = history["repo"]
    assert isinstance(repo, Path)
    patch = assert_matches_numstat(repo, str(history["base"]), str(history["middle"]))
    # The fixture does exercise what it claims to.
    for marker in (
        b"GIT binary patch",
        b"rename from",
        b"old mode 100644",
        b"deleted file mode",
        b"new file mode 120000",
        b"\\ No newline at end of file",
        b"\n+++ not an insertion",
        b"\n++++ not an insertion",
        b"\n--- not a deletion",
        b"\n---- a/fake",
        b"\n+diff --git a/fake",
        b"\n-diff --git \n",
        b"\n diff --git a/fake",
        b"\n+@@ -1,2 +1,2 @@",
        b"\n @@ -1,2 +1,2 @@",
        b"\n-@@ not a hunk",
        b"\n+\\ No newline at end of file",
        b'"a/new\\nline name.txt"',
    ):
        assert marker in patch, marker
    stats = count(patch)
    assert stats.files_changed >= 20
    assert stats.insertions > 0 and stats.deletions > 0


def test_counts_equal_numstat_for_each_range(history: dict[str, object]) -> None:
    repo = history["repo"]
    assert isinstance(repo, Path)
    base, middle, last = str(history["base"]), str(history["middle"]), str(history["last"])
    assert_matches_numstat(repo, middle, last)
    assert_matches_numstat(repo, base, last)
    # Backwards: additions become deletions.
    assert_matches_numstat(repo, last, base)


def test_counts_equal_numstat_for_a_first_deploy(history: dict[str, object]) -> None:
    repo = history["repo"]
    assert isinstance(repo, Path)
    # from None: the diff from the empty tree, every file added.
    patch = assert_matches_numstat(repo, None, str(history["middle"]))
    assert count(patch).deletions == 0


def test_an_empty_diff_counts_nothing(history: dict[str, object]) -> None:
    repo = history["repo"]
    assert isinstance(repo, Path)
    patch = canonical_patch(repo, str(history["middle"]), str(history["middle"]))
    assert patch == b""
    assert count(patch) == PatchStats(0, 0, 0)
    assert PatchStatsCounter().stats() == PatchStats(0, 0, 0)


def test_only_renames_and_mode_changes_count_files_but_no_lines(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "app")
    repo.write("a.txt", lines(*map(str, range(20))))
    repo.write("run.sh", "echo\n", mode=0o644)
    base = repo.commit()
    repo.move("a.txt", "b.txt")
    (repo.path / "run.sh").chmod(0o755)
    head = repo.commit()
    assert_matches_numstat(repo.path, base, head)
    assert count(canonical_patch(repo.path, base, head)) == PatchStats(2, 0, 0)


def test_a_file_replaced_by_a_symlink_counts_as_one_file(tmp_path: Path) -> None:
    """A type change (file to symlink) is one file for git's numstat and --stat,
    though the patch shows it as a deletion section and a creation section under
    the same ``diff --git a/f b/f`` header."""
    repo = WorkRepo(tmp_path / "app")
    repo.write("target.txt", "target\n")
    repo.write("f", "was a file\n")
    base = repo.commit()
    (repo.path / "f").unlink()
    os.symlink("target.txt", repo.path / "f")
    head = repo.commit()
    patch = canonical_patch(repo.path, base, head)
    assert patch.count(b"diff --git a/f b/f\n") == 2
    assert numstat(repo.path, base, head) == PatchStats(1, 1, 1)
    assert count(patch) == PatchStats(1, 1, 1)


def test_large_text_diff_across_many_chunks(tmp_path: Path) -> None:
    rng = random.Random(7)
    repo = WorkRepo(tmp_path / "app")
    for i in range(30):
        repo.write(f"f{i}.txt", lines(*(f"{rng.random()}" for _ in range(400))))
    base = repo.commit()
    for i in range(0, 30, 2):
        text = (repo.path / f"f{i}.txt").read_text().splitlines()
        for j in rng.sample(range(len(text)), 40):
            text[j] = rng.choice(["+" + text[j], "-" + text[j], "@@ " + text[j], "diff --git "])
        repo.write(f"f{i}.txt", lines(*text))
    head = repo.commit()
    patch = assert_matches_numstat(repo.path, base, head)
    assert len(patch) > 50_000


# --- chunk boundaries ----------------------------------------------------------

# Offsets where a split is most likely to break a counter that scans for
# "\ndiff --git " and "\n@@ ": inside those markers, and around every newline.
_MARKERS = re.compile(rb"\ndiff --git |\n@@ |\n\+|\n-")


def _interesting_offsets(patch: bytes) -> list[int]:
    offsets: set[int] = set()
    for match in _MARKERS.finditer(patch):
        offsets.update(range(match.start(), match.end() + 1))
    return sorted(offsets)


def test_every_single_split_point_gives_the_same_stats(history: dict[str, object]) -> None:
    """Two chunks, split at each marker byte of a real patch."""
    repo = history["repo"]
    assert isinstance(repo, Path)
    patch = canonical_patch(repo, str(history["base"]), str(history["middle"]))
    expected = count(patch)
    for cut in _interesting_offsets(patch):
        counter = PatchStatsCounter()
        counter.feed(patch[:cut])
        counter.feed(patch[cut:])
        assert counter.stats() == expected, f"split at {cut}: {patch[cut - 20 : cut + 20]!r}"


_PATCH_CACHE: dict[Path, bytes] = {}


def _split(patch: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(patch)]
    return [patch[a:b] for a, b in itertools.pairwise(bounds)]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_chunking_gives_the_same_stats(history: dict[str, object], data: st.DataObject) -> None:
    repo = history["repo"]
    assert isinstance(repo, Path)
    # The fixture runs once per test; the patch is the same for every example.
    if repo not in _PATCH_CACHE:
        _PATCH_CACHE[repo] = canonical_patch(repo, str(history["base"]), str(history["middle"]))
    patch = _PATCH_CACHE[repo]
    expected = count(patch)
    interesting = _interesting_offsets(patch)
    cuts = data.draw(
        st.lists(
            st.one_of(st.integers(0, len(patch)), st.sampled_from(interesting)),
            max_size=60,
        ),
        label="cuts",
    )
    counter = PatchStatsCounter()
    for chunk in _split(patch, cuts):
        counter.feed(chunk)
    # Empty chunks are harmless too.
    counter.feed(b"")
    assert counter.stats() == expected


# A hand-written patch in git's format (each case a marker split across chunks).
SAMPLE = (
    b"diff --git a/a.txt b/a.txt\n"
    b"index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644\n"
    b"--- a/a.txt\n"
    b"+++ b/a.txt\n"
    b"@@ -1,3 +1,3 @@\n"
    b" context\n"
    b"--- content that was '-- ...'\n"
    b"+++ content that is '++ ...'\n"
    b"-diff --git a/x b/x\n"
    b"+@@ -1 +1 @@\n"
    b"@@ -10 +10,2 @@\n"
    b" more\n"
    b"+x\n"
    b"\\ No newline at end of file\n"
    b"diff --git a/b.bin b/b.bin\n"
    b"new file mode 100644\n"
    b"index 0000000000000000000000000000000000000000..3333333333333333333333333333333333333333\n"
    b"GIT binary patch\n"
    b"literal 3\n"
    b"KcmZ?wxB&nFAOHaX\n"
    b"\n"
    b"literal 0\n"
    b"HcmV?d00001\n"
    b"\n"
    b"diff --git a/c b/c\n"
    b"old mode 100644\n"
    b"new mode 100755\n"
    b"diff --git a/d.txt b/d.txt\n"
    b"deleted file mode 100644\n"
    b"index 4444444444444444444444444444444444444444..0000000000000000000000000000000000000000\n"
    b"--- a/d.txt\n"
    b"+++ /dev/null\n"
    b"@@ -1,2 +0,0 @@\n"
    b"-gone\n"
    b"-+also gone"
)
SAMPLE_STATS = PatchStats(files_changed=4, insertions=3, deletions=4)


def test_hand_written_sample_counts() -> None:
    assert count(SAMPLE) == SAMPLE_STATS
    assert count(SAMPLE + b"\n") == SAMPLE_STATS  # with or without a final newline


@given(st.lists(st.integers(0, len(SAMPLE)), max_size=40))
def test_sample_any_chunking(cuts: list[int]) -> None:
    counter = PatchStatsCounter()
    for chunk in _split(SAMPLE, cuts):
        counter.feed(chunk)
    assert counter.stats() == SAMPLE_STATS


@pytest.mark.parametrize("size", [1, 2, 3, 5, 11, 12, 13])
def test_sample_small_fixed_chunks(size: int) -> None:
    assert count(SAMPLE, size) == SAMPLE_STATS


@pytest.mark.parametrize("marker", [b"diff --git ", b"\n@@ ", b"\n+", b"\n-"])
def test_sample_split_inside_each_marker(marker: bytes) -> None:
    start = 0
    while (at := SAMPLE.find(marker, start)) >= 0:
        for offset in range(len(marker) + 1):
            counter = PatchStatsCounter()
            counter.feed(SAMPLE[: at + offset])
            counter.feed(SAMPLE[at + offset :])
            assert counter.stats() == SAMPLE_STATS, (marker, at, offset)
        start = at + 1
