"""Generate a large app repository for the open-request benchmark.

Two tagged commits, ``release_1`` (deployed, also the ``deployed-to-production``
branch) and ``release_2`` (requested), whose complete binary diff modifies every
one of FILES files: with the defaults, 5000 files of 24 KB and a patch of about
240 MB. Built with ``git fast-import`` so that generating it takes seconds.

    python -m bench.make_repo PATH [--files N] [--file-size BYTES]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

#: Called with (blobs written, blobs in all, bytes of blob data written).
ProgressFn = Callable[[int, int, int], None]

_WORDS = (b"alpha", b"beta", b"gamma", b"delta", b"deploy", b"release", b"govuk", b"tag")
_EPOCH = 1_700_000_000


def _text_blob(rng: random.Random, size: int) -> bytes:
    lines: list[bytes] = []
    total = 0
    while total < size:
        line = b" ".join(rng.choices(_WORDS, k=8)) + b" %d\n" % rng.getrandbits(32)
        lines.append(line)
        total += len(line)
    return b"".join(lines)


def _file_path(i: int, binary: bool) -> str:
    if binary:
        return f"assets/{i // 100:03d}/image_{i}.bin"
    return f"app/{i // 100:03d}/module_{i}.rb"


def fast_import_stream(
    files: int,
    file_size: int,
    binary_every: int,
    seed: int,
    progress: ProgressFn | None = None,
) -> Iterator[bytes]:
    """The ``git fast-import`` input: every blob of each release, then its commit and tag."""
    rng = random.Random(seed)
    mark = 0
    blobs_done = 0
    data_done = 0
    previous_commit: int | None = None
    for version in (1, 2):
        entries: list[tuple[str, int]] = []
        for i in range(files):
            binary = bool(binary_every) and i % binary_every == 0
            data = rng.randbytes(file_size // 4) if binary else _text_blob(rng, file_size)
            mark += 1
            yield b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data)
            entries.append((_file_path(i, binary), mark))
            blobs_done += 1
            data_done += len(data)
            if progress is not None:
                progress(blobs_done, 2 * files, data_done)
        mark += 1
        commit_mark = mark
        when = _EPOCH + version
        msg = f"Release {version}".encode()
        head = (
            b"commit refs/heads/main\nmark :%d\n"
            b"author Bench <bench@example.com> %d +0000\n"
            b"committer Bench <bench@example.com> %d +0000\n"
            b"data %d\n%s\n" % (commit_mark, when, when, len(msg), msg)
        )
        if previous_commit is not None:
            head += b"from :%d\n" % previous_commit
        yield head + b"deleteall\n"
        yield b"".join(b"M 100644 :%d %s\n" % (m, path.encode()) for path, m in entries)
        yield b"\n"
        yield b"reset refs/tags/release_%d\nfrom :%d\n\n" % (version, commit_mark)
        previous_commit = commit_mark


def make_repo(
    path: Path,
    files: int,
    file_size: int,
    binary_every: int = 50,
    seed: int = 1,
    progress: ProgressFn | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Create the bare repository at `path` (which must not exist yet or be empty).

    `env`, when given, is git's whole environment (to isolate it from user config).
    """
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True, env=env)
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None
    try:
        for chunk in fast_import_stream(files, file_size, binary_every, seed, progress):
            proc.stdin.write(chunk)
        proc.stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed in {path} (exit {proc.returncode})")
    subprocess.run(
        ["git", "-C", str(path), "update-ref", "refs/heads/deployed-to-production", "release_1"],
        check=True,
        env=env,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--file-size", type=int, default=24_000)
    args = parser.parse_args()

    def progress(done: int, total: int, size: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"\r{done}/{total} blobs, {size / 1e6:.0f} MB", end="", file=sys.stderr)

    make_repo(args.path, args.files, args.file_size, progress=progress)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
