"""The patch: ``bs.patchfile.write_patch`` / ``hash_patch`` against git's own bytes.

Every digest is compared with SHA-256 of ``git diff --binary --full-index
FROM TO`` run by a plain subprocess under git's default configuration.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bs import gitcmd
from bs.errors import BsError
from bs.patchfile import hash_patch, write_patch
from tests.conftest import WorkRepo, git, git_bytes

BIG = 10**12  # compress_above / max_stored that never trigger


# Two texts whose myers and histogram diffs differ (found by search, checked below).
MYERS_A = "b\n}\na\nc\na\n{\n{\n{\n{\nb\na\n{\n"
MYERS_B = "a\n{\n{\n}\na\n{\nc\nb\n}\na\nc\na\n"


def git_diff(git_dir: Path, from_rev: str | None, to_rev: str, *config: str) -> bytes:
    """`git diff --binary --full-index FROM TO`, with optional `-c` settings."""
    args: list[str] = []
    for item in config:
        args += ["-c", item]
    return git_bytes(
        git_dir,
        *args,
        "diff",
        "--binary",
        "--full-index",
        from_rev or gitcmd.EMPTY_TREE_SHA1,
        to_rev,
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bare_of(repo: WorkRepo, tmp_path: Path, name: str = "app") -> Path:
    bare = tmp_path / "forge" / f"{name}.git"
    repo.push_to(bare)
    return bare


@dataclass
class History:
    repo: WorkRepo
    bare: Path
    first: str
    second: str
    third: str

    def commit(self, name: str) -> str:
        return str(getattr(self, name))


@pytest.fixture
def history(tmp_path: Path) -> History:
    """A small repository exercising every kind of change git can put in a patch."""
    rng = random.Random(1234)
    repo = WorkRepo(tmp_path / "work")
    blob = bytes(rng.randrange(256) for _ in range(3000)) + b"\0\0\0" + b"tail"
    repo.write("README.md", "hello\n")
    repo.write("src/main.py", "".join(f"line {i}\n" for i in range(60)))
    repo.write("bin/tool.sh", "#!/bin/sh\necho hi\n", mode=0o644)
    repo.write("assets/logo.bin", blob)
    repo.write("to_delete.txt", "bye\n" * 5)
    repo.write("rename_me.txt", "".join(f"keep {i}\n" for i in range(40)))
    repo.write("algo.txt", MYERS_A)
    first = repo.commit("first")
    repo.tag("release_1")  # lightweight
    repo.tag("release_1a", annotated=True)

    lines = [f"line {i}\n" for i in range(60)]
    lines[10] = "changed ten\n"
    lines.insert(30, "inserted\n")
    repo.write("src/main.py", "".join(lines))
    repo.write("bin/tool.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    blob2 = bytearray(blob)
    blob2[100:110] = b"\0" * 10
    repo.write("assets/logo.bin", bytes(blob2))
    repo.write("assets/new.bin", bytes(rng.randrange(256) for _ in range(500)))
    repo.remove("to_delete.txt")
    repo.move("rename_me.txt", "renamed/now_here.txt")
    repo.write("docs/café ünïcødé 文件.txt", "unicode name\n")
    repo.write("empty.txt", "")
    repo.write("no_newline.txt", "no newline at end")
    repo.write("algo.txt", MYERS_B)
    second = repo.commit("second")
    repo.tag("release_2", annotated=True)
    repo.tag("release_2l")

    repo.write("README.md", "hello again\n")
    third = repo.commit("third")
    repo.tag("release_3")
    bare = bare_of(repo, tmp_path)
    return History(repo, bare, first, second, third)


def test_patch_has_every_kind_of_change(history: History) -> None:
    """The fixture really contains what the other tests claim to cover."""
    bare = history.bare
    patch = git_diff(bare, history.first, history.second)
    assert b"GIT binary patch" in patch
    assert b"rename from rename_me.txt" in patch
    assert b"old mode 100644\nnew mode 100755" in patch
    assert b"deleted file mode 100644" in patch
    assert b'"b/docs/caf\\303\\251' in patch  # quoted unicode path
    assert b"new file mode 100644\nindex 0000000000000000000000000000000000000000..e69de29" in patch
    assert b"\\ No newline at end of file" in patch


@pytest.mark.parametrize(
    ("from_key", "to_key"),
    [("first", "second"), ("second", "third"), ("first", "third"), (None, "second")],
)
def test_digest_equals_sha256_of_git_diff(
    history: History, tmp_path: Path, from_key: str | None, to_key: str
) -> None:
    bare = history.bare
    from_commit = history.commit(from_key) if from_key else None
    to_commit = history.commit(to_key)
    expected = git_diff(bare, from_commit, to_commit)
    assert expected  # a non-empty patch

    digest, stats = hash_patch(bare, from_commit, to_commit)
    assert digest == sha(expected)

    out = tmp_path / "out"
    out.mkdir()
    result = write_patch(
        bare, from_commit, to_commit, out / "r.patch", compress_above=BIG, max_stored=BIG
    )
    assert result.sha256 == sha(expected)
    assert result.path == out / "r.patch"
    assert not result.compressed
    assert result.path.read_bytes() == expected
    assert result.size == result.stored_size == len(expected)
    assert result.stats == stats
    assert sorted(p.name for p in out.iterdir()) == ["r.patch"]


def test_first_deploy_diffs_against_the_empty_tree(history: History) -> None:
    bare = history.bare
    first = history.first
    digest, stats = hash_patch(bare, None, first)
    expected = git_bytes(bare, "diff", "--binary", "--full-index", gitcmd.EMPTY_TREE_SHA1, first)
    assert digest == sha(expected)
    assert b"new file mode 100644" in expected
    assert stats.files_changed == len(git(bare, "ls-tree", "-r", "--name-only", first).split("\n"))
    assert stats.deletions == 0


def test_stats_equal_git_numstat(history: History) -> None:
    bare = history.bare
    for a, b in [("first", "second"), (None, "third"), ("first", "third")]:
        from_commit = history.commit(a) if a else None
        to_commit = history.commit(b)
        _digest, stats = hash_patch(bare, from_commit, to_commit)
        numstat = git(
            bare, "diff", "--numstat", from_commit or gitcmd.EMPTY_TREE_SHA1, to_commit
        ).splitlines()
        ins = sum(int(line.split("\t")[0]) for line in numstat if not line.startswith("-"))
        dels = sum(int(line.split("\t")[1]) for line in numstat if not line.startswith("-"))
        assert (stats.files_changed, stats.insertions, stats.deletions) == (
            len(numstat),
            ins,
            dels,
        )


@pytest.mark.parametrize(
    ("from_tag", "to_tag"),
    [("release_1", "release_2"), ("release_1a", "release_2l"), ("release_1a", "release_2")],
)
def test_annotated_and_lightweight_tags(history: History, from_tag: str, to_tag: str) -> None:
    bare = history.bare
    expected = sha(git_diff(bare, from_tag, to_tag))
    assert expected == sha(git_diff(bare, history.first, history.second))
    assert hash_patch(bare, from_tag, to_tag)[0] == expected


def test_a_moved_tag_does_not_change_the_pinned_digest(history: History, tmp_path: Path) -> None:
    repo, bare = history.repo, history.bare
    first, second = history.first, history.second
    pinned = hash_patch(bare, first, second)[0]
    assert hash_patch(bare, "release_1", "release_2")[0] == pinned

    # Someone moves release_2 after the request was made.
    repo.write("sneaky.txt", "not reviewed\n")
    sneaky = repo.commit("sneaky")
    repo.tag("release_2", annotated=True, rev=sneaky, force=True)
    repo.push_to(bare)
    assert git(bare, "rev-parse", "release_2^{commit}") == sneaky

    moved = hash_patch(bare, "release_1", "release_2")[0]
    assert moved == sha(git_diff(bare, "release_1", "release_2"))
    assert moved != pinned
    # The commits still give the reviewed bytes.
    assert hash_patch(bare, first, second)[0] == pinned == sha(git_diff(bare, first, second))


def test_identical_commits_give_the_empty_patch(history: History, tmp_path: Path) -> None:
    bare = history.bare
    second = history.second
    result = write_patch(
        bare, second, second, tmp_path / "same.patch", compress_above=BIG, max_stored=BIG
    )
    assert result.size == 0
    assert result.sha256 == sha(b"")
    assert result.path.read_bytes() == b""


USER_CONFIG = [
    ("diff", "noprefix", "true"),
    ("diff", "mnemonicPrefix", "true"),
    ("diff", "algorithm", "histogram"),
    ("diff", "renames", "false"),
    ("color", "ui", "always"),
    ("diff", "external", "/bin/false"),
]


def test_user_git_config_does_not_change_the_digest(history: History, tmp_path: Path) -> None:
    bare = history.bare
    first, second = history.first, history.second
    expected = git_diff(bare, first, second)

    attributes = tmp_path / "attributes"
    attributes.write_text("* -diff\n")
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    lines = [config.read_text()]
    for section, key, value in USER_CONFIG:
        lines.append(f"[{section}]\n\t{key} = {value}\n")
    lines.append(f"[core]\n\tattributesFile = {attributes}\n")
    config.write_text("".join(lines))

    # The hostile configuration really does change what a plain `git diff` gives.
    hostile = subprocess.run(
        ["git", "diff", "--binary", "--full-index", first, second],
        cwd=bare,
        capture_output=True,
    )
    assert hostile.stdout != expected

    assert hash_patch(bare, first, second)[0] == sha(expected)
    result = write_patch(
        bare, first, second, tmp_path / "c.patch", compress_above=BIG, max_stored=BIG
    )
    assert result.path.read_bytes() == expected


@pytest.mark.parametrize(
    "setting",
    [
        "diff.noprefix=true",
        "diff.algorithm=histogram",
        "diff.renames=false",
        "color.ui=always",
        "diff.external=/bin/false",
        "core.attributesFile=ATTRS",
    ],
)
def test_each_setting_alone_is_neutralised(history: History, tmp_path: Path, setting: str) -> None:
    """Each setting on its own changes plain git's bytes, but not bs's."""
    bare = history.bare
    first, second = history.first, history.second
    expected = git_diff(bare, first, second)
    attributes = tmp_path / "attributes"
    attributes.write_text("* -diff\n")
    key, value = setting.split("=", 1)
    value = value.replace("ATTRS", str(attributes))
    section, name = key.split(".")
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    config.write_text(config.read_text() + f"[{section}]\n\t{name} = {value}\n")

    plain = subprocess.run(
        ["git", "diff", "--binary", "--full-index", first, second], cwd=bare, capture_output=True
    ).stdout
    assert plain != expected, f"{setting} should change plain git diff output"
    assert hash_patch(bare, first, second)[0] == sha(expected)


def test_git_diff_opts_in_the_environment_does_not_change_the_digest(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_DIFF_OPTS overrides -U in git itself; bs must not let it change the bytes."""
    bare = history.bare
    first, second = history.first, history.second
    expected = git_diff(bare, first, second)
    monkeypatch.setenv("GIT_DIFF_OPTS", "--unified=10")
    assert git_diff(bare, first, second) != expected  # git honours it
    assert hash_patch(bare, first, second)[0] == sha(expected)


def test_replace_refs_do_not_change_the_digest(history: History) -> None:
    """A pushed refs/replace/* must not make the patch show other content than the commit's.

    Otherwise reviewers approve one diff while the pinned commit deploys another.
    """
    repo, bare = history.repo, history.bare
    first, second = history.first, history.second
    expected = git_diff(bare, first, second)
    # An innocent-looking commit to stand in for `second`.
    repo.checkout(first, new_branch="decoy")
    repo.write("README.md", "harmless\n")
    decoy = repo.commit("decoy")
    repo.push_to(bare)
    git(bare, "replace", second, decoy)
    assert git_diff(bare, first, second) != expected  # plain git now shows the decoy
    assert (
        git_bytes(bare, "--no-replace-objects", "diff", "--binary", "--full-index", first, second)
        == expected
    )
    assert hash_patch(bare, first, second)[0] == sha(expected)


def test_compressed_above_the_threshold(history: History, tmp_path: Path) -> None:
    bare = history.bare
    first, second = history.first, history.second
    expected = git_diff(bare, first, second)
    assert len(expected) > 100
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "abc.patch"
    result = write_patch(bare, first, second, dest, compress_above=100, max_stored=BIG)
    assert result.compressed
    assert result.path == out / "abc.patch.gz"
    assert sorted(p.name for p in out.iterdir()) == ["abc.patch.gz"]  # no plain file remains
    stored = result.path.read_bytes()
    assert stored[:2] == b"\x1f\x8b"  # gzip
    assert result.stored_size == len(stored)
    unpacked = gzip.decompress(stored)
    assert unpacked == expected
    assert result.size == len(expected)
    assert result.sha256 == sha(unpacked) == sha(expected)


def test_compression_is_deterministic(history: History, tmp_path: Path) -> None:
    bare = history.bare
    first, third = history.first, history.third
    a = write_patch(bare, first, third, tmp_path / "a.patch", compress_above=10, max_stored=BIG)
    b = write_patch(bare, first, third, tmp_path / "b.patch", compress_above=10, max_stored=BIG)
    assert a.path.read_bytes() == b.path.read_bytes()


def test_at_the_threshold_stays_plain(history: History, tmp_path: Path) -> None:
    bare = history.bare
    first, second = history.first, history.second
    size = len(git_diff(bare, first, second))
    result = write_patch(
        bare, first, second, tmp_path / "p.patch", compress_above=size, max_stored=BIG
    )
    assert not result.compressed
    assert result.path == tmp_path / "p.patch"
    assert not (tmp_path / "p.patch.gz").exists()


def big_text_repo(tmp_path: Path, size: int) -> tuple[Path, str, str]:
    """A repository whose one-commit patch is a little over `size` bytes of varied text."""
    rng = random.Random(7)
    repo = WorkRepo(tmp_path / "big")
    repo.write("a.txt", "start\n")
    first = repo.commit()
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    text, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(12)) + f" {rng.random()}\n"
        text.append(line)
        total += len(line) + 1
    repo.write("big.txt", "".join(text))
    second = repo.commit()
    return bare_of(repo, tmp_path, "big"), first, second


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def test_too_large_uncompressed_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    bare, first, second = big_text_repo(tmp_path, 1_300_000)
    size = len(git_diff(bare, first, second))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BsError) as caught:
        write_patch(bare, first, second, out / "x.patch", compress_above=BIG, max_stored=1_000_000)
    message = str(caught.value)
    assert mb(size) in message
    assert mb(1_000_000) in message
    assert "max_stored" in message
    assert list(out.iterdir()) == []


def test_too_large_even_compressed_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    bare, first, second = big_text_repo(tmp_path, 2_600_000)
    size = len(git_diff(bare, first, second))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BsError) as caught:
        write_patch(bare, first, second, out / "x.patch", compress_above=1000, max_stored=200_000)
    message = str(caught.value)
    assert mb(size) in message
    assert "compressed" in message
    assert "200.0 kB" in message
    assert list(out.iterdir()) == []


def test_too_large_message_is_informative_for_small_limits(
    history: History, tmp_path: Path
) -> None:
    """A limit of a few kB must not be reported as '0.0 MB is over the limit of 0.0 MB'."""
    bare = history.bare
    first, second = history.first, history.second
    size = len(git_diff(bare, first, second))
    limit = size // 2
    with pytest.raises(BsError) as caught:
        write_patch(bare, first, second, tmp_path / "x.patch", compress_above=BIG, max_stored=limit)
    message = str(caught.value)
    assert "0.0 MB" not in message, message
    # Nothing was compressed: the message should not claim a compressed size.
    assert "compressed" not in message, message
    assert list(tmp_path.glob("x.patch*")) == []


@pytest.mark.parametrize(
    ("from_rev", "to_rev"),
    [
        ("0" * 40, "TO"),
        ("FROM", "1234567890abcdef1234567890abcdef12345678"),
        ("FROM", "no-such-ref"),
    ],
)
def test_a_bad_commit_raises_git_failed_and_leaves_nothing(
    history: History, tmp_path: Path, from_rev: str, to_rev: str
) -> None:
    bare = history.bare
    from_rev = from_rev.replace("FROM", history.first)
    to_rev = to_rev.replace("TO", history.second)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(gitcmd.GitFailed) as caught:
        write_patch(bare, from_rev, to_rev, out / "x.patch", compress_above=BIG, max_stored=BIG)
    assert isinstance(caught.value, BsError)
    message = str(caught.value)
    assert "git diff failed" in message
    assert str(bare) in message
    assert list(out.iterdir()) == []
    with pytest.raises(gitcmd.GitFailed):
        hash_patch(bare, from_rev, to_rev)


def test_a_bad_commit_with_compression_leaves_nothing(history: History, tmp_path: Path) -> None:
    bare = history.bare
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(gitcmd.GitFailed):
        write_patch(
            bare,
            "0" * 40,
            history.second,
            out / "x.patch",
            compress_above=0,
            max_stored=BIG,
        )
    assert list(out.iterdir()) == []


def test_progress_reports_growing_sizes(tmp_path: Path) -> None:
    bare, first, second = big_text_repo(tmp_path, 700_000)
    seen: list[int] = []
    result = write_patch(
        bare,
        first,
        second,
        tmp_path / "p.patch",
        compress_above=BIG,
        max_stored=BIG,
        progress=seen.append,
    )
    assert seen and seen == sorted(seen)
    assert seen[-1] == result.size
