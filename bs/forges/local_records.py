"""The local forge's records on disk: small JSON files and append-only logs.

Layout, beside the bare repositories (documented in docs/local-forge.md):

    DIR/OWNER/NAME.git/                   the repository (bare)
    DIR/OWNER/NAME.forge/numbers.json     last number used, per kind
    DIR/OWNER/NAME.forge/pulls/N.json     a pull request as opened
    DIR/OWNER/NAME.forge/pulls/N.jsonl    its events: reviews, dismissals,
                                          comments, closed, reopened, merged
    DIR/OWNER/NAME.forge/pushes/B.jsonl   who pushed what to branch B
    DIR/OWNER/NAME.forge/statuses/SHA.jsonl  commit statuses

Records are append-only, like git-appraise's: an update is a new record and
the newest wins, so nothing is ever rewritten in place. Writers take an
exclusive lock on ``DIR/.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bs.errors import BsError


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the forge's lock: one writer at a time, across processes."""
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BsError(f"{path}: unreadable local forge record ({exc}).") from None


def write_json_new(path: Path, data: Any) -> None:
    """Write a record that must not exist yet, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise BsError(f"{path}: a record with this number exists already.") from None
    finally:
        tmp.unlink(missing_ok=True)


def replace_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def append_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise BsError(f"{path}: line {number} is not a JSON record.") from None
    return records


def next_number(forge_dir: Path, kind: str) -> int:
    """The next number of `kind` (pull, review, comment) in a repository; call under lock."""
    path = forge_dir / "numbers.json"
    numbers = read_json(path) or {}
    number = int(numbers.get(kind, 0)) + 1
    numbers[kind] = number
    replace_json(path, numbers)
    return number
