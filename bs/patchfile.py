"""The release's patch: the complete ``git diff --binary --full-index FROM TO``.

Streamed from git to the patch file and hashed as it streams (SHA-256 of
exactly git's bytes), so memory does not grow with the patch's size. Never
the forge's compare API: it truncates. Above ``patch.compress_above`` the
file is stored gzip-compressed (the digest stays over the uncompressed bytes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from isal import isal_zlib

from bs import gitcmd
from bs.core.patchstats import PatchStats, PatchStatsCounter
from bs.core.words import readable_size
from bs.errors import BsError

#: Options pinned so that user configuration (diff.algorithm, diff.noprefix,
#: attributes, external diff drivers...) cannot change the bytes: the result
#: equals plain `git diff --binary --full-index FROM TO` under git's defaults.
#: (`bs.gitcmd` adds --git-dir and --no-replace-objects to every call.)
DIFF_ARGS: tuple[str, ...] = (
    "-c", "core.quotePath=true",
    "-c", "core.attributesFile=/dev/null",
    "-c", "diff.suppressBlankEmpty=false",
    "diff", "--binary", "--full-index",
    "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative",
    "--src-prefix=a/", "--dst-prefix=b/",
    "--find-renames", "-l1000", "--diff-algorithm=myers", "--indent-heuristic",
    "-U3", "--inter-hunk-context=0", "--ignore-submodules=none", "--submodule=short",
    "-O/dev/null",
)  # fmt: skip

# Small enough that the three stages (git, count, hash+compress) overlap well.
CHUNK = 1 << 18
# ISA-L's level 1 compresses at several hundred MB/s, about as small as zlib's
# level 1: the pipeline keeps up with git.
GZIP_LEVEL = 1

PIPE_BYTES = 1 << 20
GIL_SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class PatchResult:
    path: Path
    compressed: bool
    size: int  # uncompressed bytes, what the digest covers
    stored_size: int  # bytes of the file as stored
    sha256: str
    stats: PatchStats


def diff_command(from_commit: str | None, to_commit: str) -> list[str]:
    return [*DIFF_ARGS, from_commit or gitcmd.EMPTY_TREE_SHA1, to_commit, "--"]


def write_patch(
    git_dir: Path,
    from_commit: str | None,
    to_commit: str,
    dest: Path,
    *,
    compress_above: int,
    max_stored: int,
    progress: ProgressFn | None = None,
) -> PatchResult:
    """Write the patch to `dest` (``.patch``), or ``dest.gz`` when large.

    On any failure no file is left behind.
    """
    gz_path = dest.with_name(dest.name + ".gz")
    sink = _PatchSink(dest, gz_path, compress_above)
    try:
        digest, size, stats = _stream(git_dir, diff_command(from_commit, to_commit), sink, progress)
        path = sink.close()
        stored = path.stat().st_size
        if stored > max_stored:
            compressed = f" ({readable_size(stored)} compressed)" if path == gz_path else ""
            raise BsError(
                f"the patch is too large to store: {readable_size(size)}{compressed} "
                f"is over the limit of {readable_size(max_stored)} (patch.max_stored in bs.yaml). "
                "Release in smaller steps, or raise the limit if your forge accepts larger files."
            )
    except BaseException:
        sink.abort()
        raise
    return PatchResult(path, path == gz_path, size, stored, digest, stats)


def hash_patch(git_dir: Path, from_commit: str | None, to_commit: str) -> tuple[str, PatchStats]:
    """Digest and statistics of the patch, without storing it (for the checker)."""
    digest, _size, stats = _stream(git_dir, diff_command(from_commit, to_commit), None, None)
    return digest, stats


def _stream(
    git_dir: Path, args: list[str], sink: _PatchSink | None, progress: ProgressFn | None
) -> tuple[str, int, PatchStats]:
    hasher = hashlib.sha256()
    counter = PatchStatsCounter()
    size = 0

    def digest_and_store(chunk: bytes, total: int) -> None:
        hasher.update(chunk)
        if sink is not None:
            sink.write(chunk, total)

    git = gitcmd.start_process(git_dir, args)
    proc = git.proc
    assert proc.stdout is not None and proc.stderr is not None
    # git computes the diff on one core; we read, count, hash, compress and
    # write on the other. A wide pipe and quick GIL hand-overs keep git from
    # stalling while the reader thread waits for the interpreter.
    _widen_pipe(proc.stdout)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    reader = _PipeReader(proc.stdout)
    # Hashing, compressing and writing on their own thread, in order.
    worker = _ChunkWorker(digest_and_store)
    try:
        for chunk in reader:
            size += len(chunk)
            worker.submit(chunk, size)
            counter.feed(chunk)
            if progress is not None:
                progress(size)
        worker.finish()
        stderr = proc.stderr.read()
        status = proc.wait()
    finally:
        sys.setswitchinterval(switch_interval)
        worker.stop()
        reader.stop()
        with contextlib.suppress(Exception):
            proc.kill()
    if status != 0:
        detail = stderr.decode("utf-8", "replace").strip()
        raise gitcmd.GitFailed(f"git diff failed in {git_dir}: {detail or f'exit {status}'}")
    return hasher.hexdigest(), size, counter.stats()


def _widen_pipe(pipe: IO[bytes]) -> None:
    """Ask Linux for a 1 MiB pipe buffer (64 KiB by default); elsewhere, do nothing."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_pipe_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), set_pipe_size, PIPE_BYTES)


class _PipeReader:
    """Drains a pipe on a thread so git never waits while we hash and compress.

    A bounded queue caps what is held in memory at QUEUE_CHUNKS chunks.
    """

    QUEUE_CHUNKS = 8

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self.QUEUE_CHUNKS)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="git-diff-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopped.is_set():
                chunk = self._pipe.read(CHUNK)
                if not chunk:
                    break
                self._queue.put(chunk)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put(exc)
            return
        self._queue.put(None)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._stopped.set()
        # Unblock a reader waiting to put into a full queue.
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join(timeout=5)


class _ChunkWorker:
    """Applies a function to each submitted chunk, in order, on its own thread."""

    def __init__(self, fn: Callable[[bytes, int], None]) -> None:
        self._fn = fn
        self._queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(_PipeReader.QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="patch-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._fn(*item)
                except BaseException as exc:  # re-raised by finish() in the caller's thread
                    self._error = exc

    def submit(self, chunk: bytes, total: int) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((chunk, total))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("stopped")
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._queue.put(None)
            self._thread.join(timeout=5)


class _PatchSink:
    """Writes plainly until the size passes the threshold, then switches to gzip."""

    def __init__(self, plain: Path, gz: Path, compress_above: int) -> None:
        self.plain_path = plain
        self.gz_path = gz
        self.compress_above = compress_above
        self._file: BinaryIO = plain.open("xb")
        self._compressor: isal_zlib.Compress | None = None

    def write(self, chunk: bytes, total: int) -> None:
        if self._compressor is None and total > self.compress_above:
            self._switch_to_gzip()
        if self._compressor is not None:
            self._file.write(self._compressor.compress(chunk))
        else:
            self._file.write(chunk)

    def _switch_to_gzip(self) -> None:
        self._file.close()
        # wbits 31: a gzip container, with no file name and mtime 0, so the
        # same patch always compresses to the same bytes.
        self._compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
        self._file = self.gz_path.open("xb")
        with self.plain_path.open("rb") as done:
            while block := done.read(CHUNK):
                self._file.write(self._compressor.compress(block))
        self.plain_path.unlink()

    def close(self) -> Path:
        if self._compressor is not None:
            self._file.write(self._compressor.flush())
            self._file.close()
            return self.gz_path
        self._file.close()
        return self.plain_path

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        for path in (self.plain_path, self.gz_path):
            path.unlink(missing_ok=True)
