"""Acting as the organisation's GitHub App, for a long-running gateway.

The workflows get an installation token per job from actions/create-github-app-token.
The gateway runs for weeks and a token lasts an hour, so it holds the App's
private key instead (from its environment, never bs.yaml) and PyGithub mints
and renews installation tokens itself (``Auth.AppInstallationAuth``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import jwt
from github import Auth

from bs.errors import BsError

APP_ID, INSTALLATION_ID = "BS_GITHUB_APP_ID", "BS_GITHUB_APP_INSTALLATION_ID"
PRIVATE_KEY, PRIVATE_KEY_FILE = "BS_GITHUB_APP_PRIVATE_KEY", "BS_GITHUB_APP_PRIVATE_KEY_FILE"
SOURCE = f"the GitHub App ({APP_ID})"


def app_installation(env: Mapping[str, str]) -> Auth.AppInstallationAuth | None:
    """The App's installation auth when its variables are set; None when none is."""
    named = [n for n in (APP_ID, INSTALLATION_ID, PRIVATE_KEY, PRIVATE_KEY_FILE) if env.get(n)]
    if not named:
        return None
    missing = [n for n in (APP_ID, INSTALLATION_ID) if not env.get(n)]
    if not (env.get(PRIVATE_KEY) or env.get(PRIVATE_KEY_FILE)):
        missing.append(f"{PRIVATE_KEY} or {PRIVATE_KEY_FILE}")
    if missing:
        raise BsError(
            f"{', '.join(named)} set but not {', '.join(missing)}: a GitHub App needs its ID "
            "(or client ID), its installation's ID and its private key."
        )
    installation = env[INSTALLATION_ID].strip()
    if not installation.isascii() or not installation.isdigit():
        raise BsError(
            f"{INSTALLATION_ID} must be the installation's number (from its settings URL)."
        )
    key = env.get(PRIVATE_KEY) or _read_key(Path(env[PRIVATE_KEY_FILE]))
    try:
        jwt.encode({"iss": env[APP_ID]}, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise BsError(
            f"the GitHub App's private key ({PRIVATE_KEY if env.get(PRIVATE_KEY) else PRIVATE_KEY_FILE}) "
            "is not an RSA private key in PEM form: use the .pem file GitHub generated."
        ) from None
    return Auth.AppAuth(env[APP_ID].strip(), key).get_installation_auth(int(installation))


def _read_key(path: Path) -> str:
    try:
        info = path.lstat()
    except OSError:
        raise BsError(f"{PRIVATE_KEY_FILE}: no file {path}.") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise BsError(f"{PRIVATE_KEY_FILE}: {path} is not a regular file.")
    if info.st_mode & 0o077:
        raise BsError(
            f"{PRIVATE_KEY_FILE}: {path} can be read by others (mode {info.st_mode & 0o777:o}): "
            f"chmod 600 {path}."
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise BsError(f"{PRIVATE_KEY_FILE}: {path} belongs to another user.")
    return path.read_text(encoding="utf-8")
