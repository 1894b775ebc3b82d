"""Keeping secrets out of a deploy's log: what to hide, and hiding it.

The log is shown to everyone signed in to the gateway, so every value the
deployer was given that could be a secret is replaced, whatever its name:
the variables an app's ``deploy:`` passes on or names as credentials, every
gateway variable whose name says secret, and the password in any URL. Each
in the forms a program prints it in: as is, line by line (a key), URL-encoded,
base64 (alone, or as HTTP Basic's ``user:secret``), and the value of any
``Authorization`` header.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

SECRET_WORDS = ("TOKEN", "PASSWORD", "PASSWD", "PASS", "SECRET", "KEY", "CREDENTIAL", "AUTH",
                "PRIVATE", "COOKIE", "SESSION", "DSN", "DATABASE_URL", "STORE")  # fmt: skip
#: A shorter value would blot out ordinary words; a secret is longer.
SHORTEST = 6
REDACTED = "[redacted]"
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@")
_AUTHORIZATION = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:\S+\s+)?\S+")


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value)}
    forms |= {line.strip() for line in value.splitlines()}
    encoded = base64.b64encode(value.encode()).decode()
    forms |= {encoded, encoded.rstrip("=")}
    return {form for form in forms if len(form) >= SHORTEST}


def secret_values(
    env: Mapping[str, str], named: Iterable[str] = (), pairs: Iterable[tuple[str, str]] = ()
) -> list[str]:
    """The strings to hide: the `named` variables' values and those of secret-looking
    names, in each form; and for each (user variable, secret variable) in `pairs`, HTTP
    Basic's base64 of ``user:secret``."""
    names = set(named) | {n for n in env if any(w in n.upper() for w in SECRET_WORDS)}
    found: set[str] = set()
    for name in names:
        value = env.get(name, "").strip()
        if len(value) >= SHORTEST:
            found |= _forms(value)
    for user, secret in pairs:
        if env.get(user) and len(env.get(secret, "")) >= SHORTEST:
            basic = base64.b64encode(f"{env[user]}:{env[secret]}".encode()).decode()
            found |= {basic, basic.rstrip("=")}
    # Longest first, so a secret containing another is hidden whole.
    return sorted(found, key=len, reverse=True)


def redact(line: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if value in line:
            line = line.replace(value, REDACTED)
    line = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, line)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", line)
