"""Where the deploy-link signing keys come from: the environment or a file, never the repo.

``BS_LINK_KEYS`` holds ``ID:SECRET`` entries (the first signs, all verify);
``BS_LINK_KEYS_FILE`` names a file of them, readable by its owner only and
outside the requests repository.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from bs.core.links import Keyring, parse_keys
from bs.errors import BsError

KEYS_ENV = "BS_LINK_KEYS"
KEYS_FILE_ENV = "BS_LINK_KEYS_FILE"


def load_keyring(env: Mapping[str, str], repo_root: Path | None) -> Keyring:
    text, file = env.get(KEYS_ENV), env.get(KEYS_FILE_ENV)
    if text and file:
        raise BsError(f"both {KEYS_ENV} and {KEYS_FILE_ENV} are set: set only one.")
    if text:
        return _parse(text, KEYS_ENV)
    if file:
        return _parse(_read_key_file(Path(file), repo_root), file)
    raise BsError(
        f"no deploy-link keys: set {KEYS_ENV} (or {KEYS_FILE_ENV}, a file) to the output of "
        "`bs keys generate`; on GitHub, keep it in the Environment's secrets."
    )


def _parse(text: str, source: str) -> Keyring:
    try:
        return parse_keys(text, source)
    except ValueError as exc:
        raise BsError(str(exc)) from None


def _read_key_file(path: Path, repo_root: Path | None) -> str:
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a symlink loop"
        raise BsError(f"{KEYS_FILE_ENV}: cannot read {path}: {why}.") from None
    if repo_root is not None and resolved.is_relative_to(repo_root.resolve()):
        raise BsError(
            f"{KEYS_FILE_ENV}: {path} is inside the requests repository, where a key could be "
            "committed: move it outside (e.g. ~/.config/bs/link-keys) and generate a new one."
        )
    if not stat.S_ISREG(info.st_mode):
        raise BsError(f"{KEYS_FILE_ENV}: {path} is not a regular file.")
    if info.st_nlink > 1:
        # Another name for the same file could be inside the repository.
        raise BsError(
            f"{KEYS_FILE_ENV}: {path} has other hard links: keep the key in a file of its own."
        )
    if info.st_mode & 0o077:
        raise BsError(
            f"{KEYS_FILE_ENV}: {path} can be read by others (mode {stat.S_IMODE(info.st_mode):o}): "
            f"chmod 600 {path}."
        )
    try:
        return resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BsError(f"{KEYS_FILE_ENV}: cannot read {path}: {exc}.") from None
