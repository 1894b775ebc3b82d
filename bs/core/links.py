"""Deploy links: signed, purpose-labelled, expiring tokens naming one request.

A token is ``bs1.<key id>.<payload>.<signature>``: the payload is base64url
JSON (purpose, request, pull request, requester, slot start and end, 256
random bits); the signature is HMAC-SHA256 over everything before it, under
the key the id names. Verification never trusts the payload before the
signature matches, compares in constant time, and refuses each failure with
its own internal reason, so the gateway can audit why a link was refused
while showing everyone the same page.

Hand-written rather than itsdangerous: that library derives a key per
"salt" and reports every failure alike, and we want key ids for rotation and
a distinct reason for a wrong purpose. The whole format is these 150 lines.

Pure: randomness and the clock are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

TOKEN_VERSION = "bs1"  # noqa: S105 (a format label)
#: The purpose label of a deploy link; other tokens signed with the same keys carry others.
DEPLOY_LINK = "deploy-link"
#: Random bytes in each token (256 bits), and the least a key may have.
NONCE_BYTES = 32
KEY_BYTES = 32
KEY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"
_KEY_ID = re.compile(KEY_ID_PATTERN)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
#: Tokens longer than this are refused before any parsing (a link is about 400 characters).
MAX_TOKEN_CHARS = 2048

_T = TypeVar("_T")

Reason = Literal["malformed", "unknown_key", "bad_signature", "wrong_purpose", "expired"]


class LinkRefused(Exception):
    """A token that does not verify; `reason` is for the audit log, never for the page."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class LinkKey:
    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id; the first signs new tokens, all of them verify."""

    keys: tuple[LinkKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring needs at least one key")
        ids = [key.key_id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("two keys share an id")

    @property
    def signing(self) -> LinkKey:
        return self.keys[0]

    def find(self, key_id: str) -> LinkKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)


@dataclass(frozen=True)
class LinkClaims:
    """What a deploy link names."""

    purpose: str
    app: str
    request_id: str
    pull_request: int
    requester: str
    not_before: datetime
    expires: datetime
    nonce: str = ""
    key_id: str = ""

    @property
    def request_key(self) -> str:
        """One request, whichever of its links: single use is per request."""
        return f"{self.app}/{self.request_id}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:  # non-canonical spellings of the same bytes are refused
        raise ValueError("not canonical base64url")
    return data


def _signature(secret: bytes, signed_part: str) -> str:
    return b64url(hmac.new(secret, signed_part.encode("ascii"), hashlib.sha256).digest())


def mint_link_token(claims: LinkClaims, keyring: Keyring, nonce: bytes) -> str:
    """Sign `claims` with the keyring's signing key; `nonce` is fresh randomness."""
    if len(nonce) < NONCE_BYTES:
        raise ValueError(f"a link needs {NONCE_BYTES} random bytes")
    key = keyring.signing
    payload = {
        "p": claims.purpose,
        "app": claims.app,
        "req": claims.request_id,
        "pr": claims.pull_request,
        "sub": claims.requester,
        "nbf": int(claims.not_before.timestamp()),
        "exp": int(claims.expires.timestamp()),
        "n": b64url(nonce),
    }
    body = b64url(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed_part = f"{TOKEN_VERSION}.{key.key_id}.{body}"
    return f"{signed_part}.{_signature(key.secret, signed_part)}"


def verify_link_token(token: str, keyring: Keyring, *, purpose: str, now: datetime) -> LinkClaims:
    """The claims of a token that is well formed, signed by a known key, for
    `purpose` and not expired at `now`; otherwise `LinkRefused` with why."""
    if now.tzinfo is None:
        raise ValueError("verify_link_token needs an aware `now` (UTC)")
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise LinkRefused("malformed", "too long or not ASCII")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise LinkRefused("malformed", "not a bs1 token")
    _, key_id, body, signature = parts
    if not _KEY_ID.fullmatch(key_id):
        raise LinkRefused("malformed", "bad key id")
    key = keyring.find(key_id)
    if key is None:
        raise LinkRefused("unknown_key", f"no key {key_id}")
    expected = _signature(key.secret, f"{TOKEN_VERSION}.{key_id}.{body}")
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise LinkRefused("bad_signature", "signature does not match")
    claims = _claims(body, key_id)
    if claims.purpose != purpose:
        raise LinkRefused("wrong_purpose", f"made for {claims.purpose!r}, not {purpose!r}")
    if now.astimezone(UTC) >= claims.expires:
        raise LinkRefused("expired", f"expired at {claims.expires.isoformat()}")
    return claims


def _claims(body: str, key_id: str) -> LinkClaims:
    # Only reached with a valid signature: a malformed payload here means a key was misused.
    try:
        data: Any = json.loads(_unb64url(body))
        return LinkClaims(
            purpose=_typed(data["p"], str),
            app=_typed(data["app"], str),
            request_id=_typed(data["req"], str),
            pull_request=_typed(data["pr"], int),
            requester=_typed(data["sub"], str),
            not_before=datetime.fromtimestamp(_typed(data["nbf"], int), UTC),
            expires=datetime.fromtimestamp(_typed(data["exp"], int), UTC),
            nonce=_typed(data["n"], str),
            key_id=key_id,
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError, binascii.Error) as exc:
        raise LinkRefused("malformed", f"unreadable payload ({type(exc).__name__})") from None


def _typed(value: object, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}")
    return value


def link_digest(token: str) -> str:
    """What the gateway stores of a link it has seen: never the link itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_url(gateway_url: str, token: str) -> str:
    return f"{gateway_url.rstrip('/')}/link/{token}"


def new_key_line(key_id: str, secret: bytes) -> str:
    """``ID:SECRET``, the form `parse_keys` reads (``bs keys generate`` prints it)."""
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r} must match {KEY_ID_PATTERN}")
    if len(secret) < KEY_BYTES:
        raise ValueError(f"a key needs {KEY_BYTES} random bytes")
    return f"{key_id}:{b64url(secret)}"


def _looks_typed(secret: bytes) -> bool:
    """A key someone typed or counted rather than generated. Random keys fail each test
    with odds under 1e-12: 32 random bytes have about 30 distinct values, are almost
    never all printable ASCII, and never count up."""
    steps = {(b - a) % 256 for a, b in itertools.pairwise(secret)}
    return (
        len(set(secret)) < min(16, len(secret) // 2)
        or all(0x20 <= byte < 0x7F for byte in secret)
        or len(steps) == 1
    )


def parse_keys(text: str, source: str) -> Keyring:
    """Keys as ``ID:SECRET`` entries, separated by spaces, commas or lines (``#``
    comments allowed); the first entry signs. Errors name the entry by position,
    never by its secret."""
    entries = [
        entry
        for line in text.splitlines()
        for entry in re.split(r"[\s,]+", line.split("#", 1)[0])
        if entry
    ]
    if not entries:
        raise ValueError(f"{source} holds no key: generate one with `bs keys generate`")
    keys: list[LinkKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"{source}: key {position} is not ID:SECRET (an id of letters, digits, '-' "
                "or '_', then the secret): generate one with `bs keys generate`"
            )
        try:
            secret = _unb64url(encoded)
        except (ValueError, binascii.Error):
            raise ValueError(
                f"{source}: key {key_id}'s secret is not base64url: generate one with "
                "`bs keys generate`"
            ) from None
        if len(secret) < KEY_BYTES:
            raise ValueError(
                f"{source}: key {key_id} has {len(secret)} bytes; at least {KEY_BYTES} are "
                "needed: generate one with `bs keys generate`"
            )
        if _looks_typed(secret):
            raise ValueError(
                f"{source}: key {key_id} does not look random (typed, counted or repeated bytes): "
                "generate one with `bs keys generate`"
            )
        if any(key.key_id == key_id for key in keys):
            raise ValueError(f"{source}: two keys have the id {key_id}: give each its own")
        keys.append(LinkKey(key_id, secret))
    return Keyring(tuple(keys))
