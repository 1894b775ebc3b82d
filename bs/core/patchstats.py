"""Statistics of a git patch, counted while it streams past.

Counting in the stream, instead of asking git for ``--numstat`` as well,
keeps ``bs open-request`` to one pass of ``git diff`` over a large release.
The counts equal git's own numstat totals: in a ``git diff`` patch, a line
that starts with ``diff --git `` always opens a file's section (content lines
start with a space, ``+``, ``-`` or ``\\``; binary patch lines with a letter),
and a section's ``+``/``-`` lines after its first ``@@ `` are its insertions
and deletions (the ``---``/``+++`` header lines come before it).
"""

from __future__ import annotations

from dataclasses import dataclass

_FILE_HEADER = b"\ndiff --git "
_HUNK_HEADER = b"\n@@ "


@dataclass(frozen=True)
class PatchStats:
    files_changed: int
    insertions: int
    deletions: int


class PatchStatsCounter:
    """Feed it the patch in chunks of any size; read `stats()` at the end."""

    def __init__(self) -> None:
        self._carry = b""
        self._in_hunks = False
        self._files = 0
        self._last_header = b""
        self._insertions = 0
        self._deletions = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        data = bytes(chunk)
        start = 0
        if self._carry:
            # Finish the line split across chunks on its own, without copying the chunk.
            first = data.find(b"\n")
            if first < 0:
                self._carry += data
                return
            line = self._carry + data[: first + 1]
            self._carry = b""
            self._count_lines(line, 0, len(line))
            start = first + 1
        cut = data.rfind(b"\n", start)
        if cut < 0:
            self._carry = data[start:]
            return
        # Only whole lines are counted; the rest waits for the next chunk.
        self._carry = data[cut + 1 :]
        self._count_lines(data, start, cut + 1)

    def stats(self) -> PatchStats:
        if self._carry:
            carry, self._carry = self._carry + b"\n", b""
            self._count_lines(carry, 0, len(carry))
        return PatchStats(self._files, self._insertions, self._deletions)

    def _count_lines(self, data: bytes, start: int, end: int) -> None:
        """Count the whole lines in data[start:end]; `start` is a line start."""
        # A section may open on the very first line of the block.
        if data.startswith(b"diff --git ", start):
            self._open_section(data, start)
        while start < end:
            header = data.find(_FILE_HEADER, start, end)
            segment_end = end if header < 0 else header + 1
            self._count_segment(data, start, segment_end)
            if header < 0:
                break
            self._open_section(data, header + 1)
            start = header + 1

    def _open_section(self, data: bytes, at: int) -> None:
        # A file whose type changes (a file replaced by a symlink) comes as two
        # sections under the same header; git counts it once, and so do we.
        header = data[at : data.find(b"\n", at)]
        if header != self._last_header:
            self._files += 1
        self._last_header = header
        self._in_hunks = False

    def _count_segment(self, data: bytes, start: int, end: int) -> None:
        """Count +/- lines of one file section's part data[start:end]."""
        if not self._in_hunks:
            if data.startswith(b"@@ ", start):
                hunk = start
            else:
                hunk = data.find(_HUNK_HEADER, start, end)
                if hunk < 0:
                    return
                hunk += 1
            self._in_hunks = True
            start = hunk
        # Lines in data[start:end]: the first starts at `start`, which is
        # either a hunk header or a line start inside the hunks.
        self._insertions += data.count(b"\n+", start, end - 1)
        self._deletions += data.count(b"\n-", start, end - 1)
        if data.startswith(b"+", start):
            self._insertions += 1
        elif data.startswith(b"-", start):
            self._deletions += 1
