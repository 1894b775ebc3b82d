"""Running one child process and measuring it: wall time, exit status, peak RSS."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: A prefix that starts the command from a small forked shell. Linux folds the
#: old address space's peak into a process's ru_maxrss when it execs, and a
#: process spawned from Python starts from a copy of (or, with vfork, the very)
#: parent's address space: without this, every child's peak RSS would be at
#: least this benchmark's own. A shell that forks (``; exit $?`` stops bash
#: from exec'ing the command in its place) hands on only its few MB.
ISOLATE: tuple[str, ...] = ("bash", "-c", '"$@"; exit $?', "bench-isolate")


@dataclass(frozen=True)
class ChildRun:
    argv: tuple[str, ...]
    seconds: float
    returncode: int
    stdout: bytes
    stderr: bytes
    #: ru_maxrss from wait4 (Linux: KiB): the largest peak RSS over the child
    #: and the descendants it waited for (its git processes, say), not the
    #: child's alone. See ISOLATE for what else it includes.
    tree_maxrss_kib: int
    #: User + system CPU seconds of the child and the descendants it waited for
    #: (bs and its git processes): less disturbed by other load than wall time.
    cpu_seconds: float = 0.0

    def describe_failure(self) -> str:
        err = self.stderr.decode("utf-8", "replace").strip()
        out = self.stdout.decode("utf-8", "replace").strip()
        return f"`{' '.join(self.argv)}` exited {self.returncode}: {err or out or '(no output)'}"


def run_child(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], isolate: bool = False
) -> ChildRun:
    """Run `argv` to completion; reap it with wait4 to get its resource usage.

    Output goes to temporary files rather than pipes, so nothing in this
    process competes with the child while it runs. With `isolate`, run it
    through ISOLATE, for memory figures (a shell's start-up adds to the time).
    """
    if isolate:
        argv = [*ISOLATE, *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        # Reaped here: tell Popen, so it never waits for the pid again.
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            argv=tuple(argv),
            seconds=seconds,
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
            tree_maxrss_kib=usage.ru_maxrss,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
