"""Run the bs CLI in this process, then record this process's own peak RSS.

Used as ``python bench/bs_maxrss.py ARGS...`` in place of ``bs ARGS...`` (the
console script does the same: import ``bs.cli.main`` and call ``main``). At
exit, with ``BENCH_MAXRSS_FILE`` set, it writes there a JSON object
``{"self_kib": N}``: the peak RSS of this Python process alone (RUSAGE_SELF).

The parent cannot get that figure with wait4: Linux reports there the larger
of the child's peak and its waited-for children's, and a spawned child's peak
includes the parent's RSS at the moment of fork/exec.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys


def _report() -> None:
    path = os.environ.get("BENCH_MAXRSS_FILE")
    if not path:
        return
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f'{{"self_kib": {own}}}\n')


def main() -> None:
    # Run as a script, this file's folder leads sys.path: bs must not see bench's modules.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    atexit.register(_report)
    sys.argv[0] = "bs"
    from bs.cli.main import main as bs_main

    bs_main()


if __name__ == "__main__":
    main()
