"""Generate a large app repository for the open-request benchmark.

Two tagged commits, ``release_1`` (deployed) and ``release_2`` (requested), whose
complete binary diff touches FILES files and weighs at least the given size.
Built with ``git fast-import`` so that generating 200 MB takes seconds.
"""

from __future__ import annotations

import argparse
import random
import subprocess
from pathlib import Path


def _text_blob(rng: random.Random, size: int) -> bytes:
    words = [b"alpha", b"beta", b"gamma", b"delta", b"deploy", b"release", b"govuk", b"tag"]
    lines: list[bytes] = []
    total = 0
    while total < size:
        line = b" ".join(rng.choice(words) for _ in range(8)) + b" %d\n" % rng.getrandbits(32)
        lines.append(line)
        total += len(line)
    return b"".join(lines)


def _stream(files: int, file_size: int, binary_every: int, seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    mark = 0

    def blob(data: bytes) -> tuple[int, bytes]:
        nonlocal mark
        mark += 1
        return mark, b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data)

    for version in (1, 2):
        entries: list[tuple[str, int]] = []
        for i in range(files):
            if binary_every and i % binary_every == 0:
                data = rng.randbytes(file_size // 4)
                path = f"assets/{i // 100:03d}/image_{i}.bin"
            else:
                data = _text_blob(rng, file_size)
                path = f"app/{i // 100:03d}/module_{i}.rb"
            m, chunk = blob(data)
            yield chunk
            entries.append((path, m))
        mark += 1
        commit_mark = mark
        msg = f"Release {version}".encode()
        head = (
            b"commit refs/heads/main\nmark :%d\n"
            b"author Bench <bench@example.com> %d +0000\n"
            b"committer Bench <bench@example.com> %d +0000\n"
            b"data %d\n%s\n" % (commit_mark, 1700000000 + version, 1700000000 + version, len(msg), msg)
        )
        if version == 2:
            head += b"from :%d\n" % first_commit
        else:
            first_commit = commit_mark
        yield head + b"deleteall\n"
        for path, m in entries:
            yield b"M 100644 :%d %s\n" % (m, path.encode())
        yield b"\n"
        yield b"reset refs/tags/release_%d\nfrom :%d\n\n" % (version, commit_mark)


def make_repo(path: Path, files: int, file_size: int, binary_every: int = 50, seed: int = 1) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    for chunk in _stream(files, file_size, binary_every, seed):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(
        ["git", "-C", str(path), "update-ref", "refs/heads/deployed-to-production", "release_1"],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--file-size", type=int, default=24_000)
    args = parser.parse_args()
    make_repo(args.path, args.files, args.file_size)


if __name__ == "__main__":
    main()
