"""The GitHub token bs acts with, and where `bs login` keeps it.

Looked for in this order: ``BS_GITHUB_TOKEN``, ``GITHUB_TOKEN`` (what Actions
sets), the token `bs login` stored for the host (the system keyring, service
"battlestations" and the host as username; or, where there is no keyring, the
private file ``$XDG_CONFIG_HOME/bs/tokens/HOST``), then ``gh auth token``.

Every path comes from the environment passed in (HOME, XDG_CONFIG_HOME, PATH,
PYTHON_KEYRING_BACKEND), so tests run in a temporary home. Nothing here prints
or logs a token, and no error message holds one.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bs.errors import BsError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

#: The keyring service tokens are kept under; the username is the GitHub host.
SERVICE = "battlestations"
#: The environment variables that hold a token, strongest first.
ENV_VARIABLES = ("BS_GITHUB_TOKEN", "GITHUB_TOKEN")
#: How `token_source` names the keyring and gh as sources.
KEYRING = "the system keyring"
GH = "gh auth token"
#: Seconds `gh auth token` may take: it only reads its own config, so it is quick or broken.
GH_TIMEOUT = 5
_HOST = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class FoundToken:
    """A token and where it came from; only `source` may be shown."""

    token: str = field(repr=False)
    source: str


def host_of(web_url: str) -> str:
    """The host (and port) of GitHub's web URL: the keyring username and the file's name."""
    host = urlsplit(web_url).netloc.lower()
    if not _HOST.match(host):
        raise BsError(f"forge.web_url {web_url!r} in bs.yaml has no usable host name")
    return host


def token_source(
    env: Mapping[str, str], web_url: str, *, backend: KeyringBackend | None = None
) -> FoundToken | None:
    """The token to act with on `web_url`'s host and its source, or None.

    `backend` is the keyring to use; None finds it as keyring does (a backend
    that stores nothing, such as ``keyring.backends.fail.Keyring``, means none).
    """
    for name in ENV_VARIABLES:
        if env.get(name, "").strip():
            return FoundToken(env[name].strip(), name)
    host = host_of(web_url)
    ring = usable_keyring(env) if backend is None else _usable(backend)
    if ring is not None:
        from keyring.errors import KeyringError

        try:
            stored = ring.get_password(SERVICE, host)
        except KeyringError:
            stored = None  # a locked or broken keyring: the file and gh may still serve
        if stored:
            return FoundToken(stored, KEYRING)
    path = token_file(env, host)
    stored = _read_file(path)
    if stored:
        return FoundToken(stored, shown(path, env))
    from_gh = _gh_token(env, host)
    return FoundToken(from_gh, GH) if from_gh else None


def find_github_token(env: Mapping[str, str], web_url: str) -> FoundToken:
    """The token to act with on `web_url`'s host, and its source; a `BsError` when none."""
    found = token_source(env, web_url)
    if found is None:
        raise BsError(
            f"not signed in to {host_of(web_url)}: run `bs login`, or set BS_GITHUB_TOKEN"
        )
    return found


def github_token(env: Mapping[str, str], web_url: str) -> str:
    """The token to act with on `web_url`'s host; a `BsError` when there is none."""
    return find_github_token(env, web_url).token


def store_token(
    env: Mapping[str, str], web_url: str, token: str, *, backend: KeyringBackend | None = None
) -> str:
    """Keep `token` for the host (keyring, else the private file); say where it went."""
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise BsError("GitHub's answer held no usable token: run bs login again")
    host = host_of(web_url)
    path = token_file(env, host)
    ring = usable_keyring(env) if backend is None else _usable(backend)
    if ring is not None:
        from keyring.errors import KeyringError

        try:
            ring.set_password(SERVICE, host, token)
        except KeyringError:
            pass  # e.g. no D-Bus session for the Secret Service: use the file instead
        else:
            # A file left from a sign-in without a keyring would hold a stale token.
            _remove_file(path)
            return KEYRING
    _write_file(path, token)
    return shown(path, env)


def delete_token(
    env: Mapping[str, str], web_url: str, *, backend: KeyringBackend | None = None
) -> list[str]:
    """Remove the host's stored token from the keyring and the file; say where it was."""
    host = host_of(web_url)
    removed: list[str] = []
    ring = usable_keyring(env) if backend is None else _usable(backend)
    if ring is not None:
        from keyring.errors import KeyringError

        try:
            if ring.get_password(SERVICE, host) is not None:
                ring.delete_password(SERVICE, host)
                removed.append(KEYRING)
        except KeyringError as exc:
            raise BsError(
                f"cannot remove the token for {host} from the system keyring "
                f"({type(exc).__name__}): unlock the keyring and run bs logout again"
            ) from None
    path = token_file(env, host)
    if _remove_file(path):
        removed.append(shown(path, env))
    return removed


def usable_keyring(env: Mapping[str, str]) -> KeyringBackend | None:
    """The keyring to store tokens in, or None when there is none that stores anything."""
    # Imported here: finding backends is slow, and most commands never need it.
    import keyring
    import keyring.core
    from keyring.errors import KeyringError

    # Read from `env`, not os.environ, and not keyring's cached choice: the
    # environment given decides, as it does for every other path here.
    name = env.get("PYTHON_KEYRING_BACKEND", "").strip()
    try:
        backend = keyring.core.load_keyring(name) if name else keyring.get_keyring()
    except KeyringError:
        return None
    except (ImportError, AttributeError, ValueError, RuntimeError) as exc:
        raise BsError(
            f"PYTHON_KEYRING_BACKEND={name}: cannot load that keyring backend "
            f"({type(exc).__name__}): unset it, or name one such as keyring.backends.fail.Keyring"
        ) from None
    return _usable(backend)


def _usable(backend: KeyringBackend) -> KeyringBackend | None:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def token_file(env: Mapping[str, str], host: str) -> Path:
    """``$XDG_CONFIG_HOME/bs/tokens/HOST`` (``~/.config`` when unset or relative)."""
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and Path(config).is_absolute() else _home(env) / ".config"
    return base / "bs" / "tokens" / host


def shown(path: Path, env: Mapping[str, str]) -> str:
    """`path` as people write it: ``~/...`` under the home folder."""
    home = _home(env)
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "")
    return Path(home) if home else Path.home()


def _read_file(path: Path) -> str | None:
    # A symlink could point bs at another file (or make it read one it should
    # not trust); a file others may read holds a token they may have copied.
    if path.is_symlink():
        raise BsError(
            f"{path} is a symbolic link: bs reads a token only from a plain file. "
            "Remove it and run bs login again."
        )
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # made a symlink since the check above
            raise BsError(f"{path} is a symbolic link: remove it and run bs login again") from None
        raise BsError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BsError(f"{path} is not a regular file: remove it and run bs login again")
        if info.st_uid != os.getuid():
            raise BsError(f"{path} belongs to another user: remove it and run bs login again")
        if info.st_mode & 0o077:
            raise BsError(
                f"{path} may be read by other users (mode {stat.S_IMODE(info.st_mode):o}): "
                f"run `chmod 600 {path}`, or remove it and run bs login again"
            )
        try:
            text = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BsError(
                f"cannot read {path} ({type(exc).__name__}): run bs login again"
            ) from None
    return text or None


def _write_file(path: Path, token: str) -> None:
    # Created 0600 in a 0700 folder, under a temporary name then renamed, so
    # the token is never readable by others, nor half written, at any moment.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # a folder made looser earlier would list the hosts one uses
        descriptor = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(token + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            temp.replace(path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BsError(f"cannot write {path}: {exc.strerror}") from None


def _remove_file(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise BsError(f"cannot remove {path}: {exc.strerror}") from None
    return True


def _gh_token(env: Mapping[str, str], host: str) -> str | None:
    """GitHub CLI's token for `host`; any failure of gh just means none."""
    gh = shutil.which("gh", path=env.get("PATH"))
    if gh is None:
        return None
    try:
        done = subprocess.run(
            [gh, "auth", "token", "--hostname", host],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GH_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    token = done.stdout.strip()
    if done.returncode != 0 or not token or any(ch.isspace() for ch in token):
        return None
    return token
