"""The digest of a patch file as committed in the requests repository.

Read straight from git (the pull request's head commit), decompressed when
it is ``.patch.gz``, hashed as it streams: never loaded whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import zlib
from pathlib import Path

from bs import gitcmd
from bs.errors import BsError

CHUNK = 1 << 18
# What reviewers see with zcat must be exactly what was hashed: nothing may follow.
_TRAILING = (
    "{path} holds more after its gzip stream (another member or stray bytes), which "
    "`zcat` would show and the digest would not cover: the patch file is not bs's"
)
#: A gzip bomb costs only time when streamed; still, refuse anything absurd.
MAX_UNCOMPRESSED = 4 << 30


def digest_committed_patch(git_dir: Path, commit: str, path: str) -> str:
    """SHA-256 of the uncompressed patch at `path` in `commit`; BsError says why not."""
    if gitcmd.blob_size(git_dir, commit, path) is None:
        raise BsError(f"{path} is not in the pull request's head commit {commit[:12]}")
    git = gitcmd.start_process(git_dir, ["cat-file", "blob", f"{commit}:{path}"])
    proc = git.proc
    assert proc.stdout is not None and proc.stderr is not None
    hasher = hashlib.sha256()
    inflate = zlib.decompressobj(wbits=31) if path.endswith(".gz") else None
    total = 0

    def take(data: bytes) -> None:
        nonlocal total
        total += len(data)
        if total > MAX_UNCOMPRESSED:
            raise BsError(f"{path} decompresses to more than {MAX_UNCOMPRESSED >> 30} GiB: refused")
        hasher.update(data)

    try:
        while chunk := proc.stdout.read(CHUNK):
            if inflate is None:
                take(chunk)
                continue
            if inflate.eof:
                raise BsError(_TRAILING.format(path=path))
            try:
                # At most CHUNK bytes out per call: a small bomb cannot balloon memory.
                take(inflate.decompress(chunk, CHUNK))
                while inflate.unconsumed_tail and not inflate.eof:
                    take(inflate.decompress(inflate.unconsumed_tail, CHUNK))
            except zlib.error as exc:
                raise BsError(
                    f"{path} is not valid gzip ({exc}): the patch file is damaged"
                ) from None
            if inflate.unused_data:
                raise BsError(_TRAILING.format(path=path))
        if inflate is not None and not inflate.eof:
            raise BsError(f"{path} is a truncated gzip file: the patch file is damaged")
        status = proc.wait()
    finally:
        with contextlib.suppress(Exception):
            proc.kill()
    if status != 0:
        raise BsError(f"{path} could not be read from commit {commit[:12]}")
    return hasher.hexdigest()
