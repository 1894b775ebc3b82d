"""Keeping secrets out of a deploy's log: what to hide, and hiding it.

The log is shown to everyone signed in to the gateway, so every value the
deployer was given that could be a secret is replaced, whatever its name:
the variables an app's ``deploy:`` passes on or names as credentials, every
gateway variable whose name says secret, and the password in any URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_WORDS = ("TOKEN", "PASSWORD", "PASSWD", "PASS", "SECRET", "KEY", "CREDENTIAL", "AUTH",
                "PRIVATE", "COOKIE", "SESSION", "DSN", "DATABASE_URL", "STORE")  # fmt: skip
#: A shorter value would blot out ordinary words; a secret is longer.
SHORTEST = 6
REDACTED = "[redacted]"
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@")


def secret_values(env: Mapping[str, str], named: Iterable[str] = ()) -> list[str]:
    """The values to hide: those of the `named` variables and of secret-looking names."""
    names = set(named) | {n for n in env if any(w in n.upper() for w in SECRET_WORDS)}
    values = {env[n].strip() for n in names if n in env}
    # Longest first, so a secret containing another is hidden whole.
    return sorted((v for v in values if len(v) >= SHORTEST), key=len, reverse=True)


def redact(line: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if value in line:
            line = line.replace(value, REDACTED)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", line)
