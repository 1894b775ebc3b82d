"""Signed deploy links (bs/core/links.py): minting, verifying, key rotation and key files.

Every refusal is checked by its reason (malformed, unknown_key, bad_signature,
wrong_purpose, expired), with real random keys. Hypothesis shows that no
one-character change, deletion or insertion of a good token verifies, and that
tokens round-trip for any app, request and requester the formats allow.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bs.core.ids import REQUEST_ID_PATTERN
from bs.core.links import (
    DEPLOY_LINK,
    KEY_BYTES,
    MAX_TOKEN_CHARS,
    NONCE_BYTES,
    Keyring,
    LinkClaims,
    LinkKey,
    LinkRefused,
    b64url,
    link_digest,
    mint_link_token,
    new_key_line,
    parse_keys,
    verify_link_token,
)
from bs.core.names import APP_NAME, LOGIN

NOW = datetime(2026, 3, 23, 10, 0, tzinfo=UTC)
KEY = LinkKey("k2026", secrets.token_bytes(KEY_BYTES))
OLD_KEY = LinkKey("k2025", secrets.token_bytes(KEY_BYTES))
KEYRING = Keyring((KEY,))
B64URL_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def claims(**changes: Any) -> LinkClaims:
    base = LinkClaims(
        purpose=DEPLOY_LINK,
        app="frontend",
        request_id="20260323-abcdefghijklmnop",
        pull_request=42,
        requester="alice",
        not_before=NOW,
        expires=NOW + timedelta(hours=2),
    )
    return dataclasses.replace(base, **changes)


def mint(minted: LinkClaims | None = None, keyring: Keyring = KEYRING) -> str:
    return mint_link_token(minted or claims(), keyring, secrets.token_bytes(NONCE_BYTES))


def verify(token: str, keyring: Keyring = KEYRING, *, now: datetime = NOW) -> LinkClaims:
    return verify_link_token(token, keyring, purpose=DEPLOY_LINK, now=now)


def refusal(token: str, keyring: Keyring = KEYRING, *, now: datetime = NOW) -> str:
    """The reason `token` is refused (it must be)."""
    with pytest.raises(LinkRefused) as refused:
        verify(token, keyring, now=now)
    return refused.value.reason


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload_of(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(unb64url(token.split(".")[2]))
    return data


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """`token` with its payload replaced, keeping the old signature."""
    version, key_id, _, signature = token.split(".")
    body = b64url(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{version}.{key_id}.{body}.{signature}"


def with_part(token: str, index: int, part: str) -> str:
    parts = token.split(".")
    parts[index] = part
    return ".".join(parts)


def other_char(char: str) -> str:
    return "B" if char == "A" else "A"


# Minted once, verified by the property tests below under KEYRING at NOW.
TOKEN = mint()


# --- round trip ------------------------------------------------------------------------------


def test_a_token_verifies_to_the_claims_it_was_minted_with() -> None:
    minted = claims()
    verified = verify(mint(minted))
    assert dataclasses.replace(verified, nonce="", key_id="") == minted
    assert verified.key_id == KEY.key_id
    assert verified.request_key == "frontend/20260323-abcdefghijklmnop"


def test_times_round_trip_to_the_second() -> None:
    minted = claims(
        not_before=NOW + timedelta(microseconds=999_999),
        expires=NOW + timedelta(hours=2, microseconds=500_000),
    )
    verified = verify(mint(minted))
    assert verified.not_before == NOW
    assert verified.expires == NOW + timedelta(hours=2)
    assert verified.expires.tzinfo is UTC


def test_times_in_another_zone_round_trip_as_the_same_instants() -> None:
    london = NOW.astimezone(ZoneInfo("Europe/London"))
    verified = verify(mint(claims(not_before=london, expires=london + timedelta(hours=2))))
    assert verified.not_before == NOW
    assert verified.expires == NOW + timedelta(hours=2)


def test_the_token_has_four_dot_separated_parts() -> None:
    version, key_id, body, signature = TOKEN.split(".")
    assert (version, key_id) == ("bs1", KEY.key_id)
    assert len(unb64url(signature)) == 32  # HMAC-SHA256
    assert json.loads(unb64url(body))["app"] == "frontend"


# --- tampering ---------------------------------------------------------------------------------


def test_a_changed_payload_with_the_old_signature_is_a_bad_signature() -> None:
    payload = payload_of(TOKEN)
    payload["pr"] = 43
    assert refusal(with_payload(TOKEN, payload)) == "bad_signature"


def test_an_extended_expiry_with_the_old_signature_is_a_bad_signature() -> None:
    payload = payload_of(TOKEN)
    payload["exp"] += 86_400
    assert refusal(with_payload(TOKEN, payload), now=NOW + timedelta(hours=3)) == "bad_signature"


def test_the_same_payload_reencoded_keeps_verifying() -> None:
    """The helper above changes only what it is told to: the tampering tests are fair."""
    assert with_payload(TOKEN, payload_of(TOKEN)) == TOKEN


def test_a_changed_signature_is_a_bad_signature() -> None:
    signature = TOKEN.split(".")[3]
    changed = other_char(signature[0]) + signature[1:]
    assert refusal(with_part(TOKEN, 3, changed)) == "bad_signature"


def test_another_tokens_signature_is_a_bad_signature() -> None:
    other = mint(claims(pull_request=43))
    assert refusal(with_part(TOKEN, 3, other.split(".")[3])) == "bad_signature"


def test_an_empty_signature_is_a_bad_signature() -> None:
    assert refusal(with_part(TOKEN, 3, "")) == "bad_signature"


# --- expiry and purpose ------------------------------------------------------------------------


def test_a_token_verifies_until_the_second_before_it_expires() -> None:
    expires = NOW + timedelta(hours=2)
    assert verify(TOKEN, now=expires - timedelta(seconds=1)).expires == expires


@pytest.mark.parametrize(
    "after", [timedelta(0), timedelta(seconds=1), timedelta(days=365)], ids=["at", "1s", "1y"]
)
def test_a_token_at_or_after_its_expiry_is_expired(after: timedelta) -> None:
    assert refusal(TOKEN, now=NOW + timedelta(hours=2) + after) == "expired"


def test_expiry_compares_instants_whatever_the_zone_of_now() -> None:
    at_expiry = (NOW + timedelta(hours=2)).astimezone(ZoneInfo("America/New_York"))
    assert refusal(TOKEN, now=at_expiry) == "expired"


def test_a_token_for_another_purpose_is_wrong_purpose() -> None:
    session = mint(claims(purpose="session"))
    assert refusal(session) == "wrong_purpose"
    assert verify_link_token(session, KEYRING, purpose="session", now=NOW).purpose == "session"


# --- keys and rotation -------------------------------------------------------------------------


def test_a_token_signed_by_a_key_not_in_the_keyring_is_unknown_key() -> None:
    stranger = Keyring((LinkKey("stranger", secrets.token_bytes(KEY_BYTES)),))
    assert refusal(mint(keyring=stranger)) == "unknown_key"


def test_after_rotation_old_tokens_still_verify() -> None:
    old_token = mint(keyring=Keyring((OLD_KEY,)))
    rotated = Keyring((KEY, OLD_KEY))
    assert verify(old_token, rotated).key_id == OLD_KEY.key_id


def test_after_rotation_new_tokens_are_signed_by_the_first_key() -> None:
    rotated = Keyring((KEY, OLD_KEY))
    token = mint(keyring=rotated)
    assert token.split(".")[1] == KEY.key_id
    assert verify(token, Keyring((KEY,))).key_id == KEY.key_id
    assert refusal(token, Keyring((OLD_KEY,))) == "unknown_key"


def test_a_token_from_a_removed_key_is_unknown_key() -> None:
    old_token = mint(keyring=Keyring((OLD_KEY,)))
    assert refusal(old_token, Keyring((KEY,))) == "unknown_key"


def test_a_key_with_the_same_id_but_another_secret_is_a_bad_signature() -> None:
    impostor = Keyring((LinkKey(KEY.key_id, secrets.token_bytes(KEY_BYTES)),))
    assert refusal(TOKEN, impostor) == "bad_signature"


def test_a_keyring_needs_a_key_and_distinct_ids() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Keyring(())
    with pytest.raises(ValueError, match="share an id"):
        Keyring((KEY, LinkKey(KEY.key_id, secrets.token_bytes(KEY_BYTES))))


def test_a_key_never_shows_its_secret_in_its_repr() -> None:
    assert KEY.secret.hex() not in repr(KEY)
    assert repr(KEY.secret) not in repr(KEY)


# --- malformed tokens --------------------------------------------------------------------------

MALFORMED = {
    "empty": "",
    "too-long": TOKEN + "A" * (MAX_TOKEN_CHARS + 1 - len(TOKEN)),
    "non-ascii": TOKEN[:-1] + "é",
    "non-ascii-key-id": with_part(TOKEN, 1, "kéy"),
    "wrong-prefix": "bs2" + TOKEN[3:],
    "no-prefix": TOKEN.split(".", 1)[1],
    "three-parts": TOKEN.rsplit(".", 1)[0],
    "five-parts": TOKEN + ".extra",
    "empty-key-id": with_part(TOKEN, 1, ""),
    "key-id-bad-char": with_part(TOKEN, 1, "k!2026"),
    "key-id-starts-with-dash": with_part(TOKEN, 1, "-k2026"),
    "key-id-too-long": with_part(TOKEN, 1, "k" * 33),
    "whitespace": " " + TOKEN,
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_token_is_malformed(token: str) -> None:
    assert refusal(token) == "malformed"


def test_the_too_long_token_is_just_over_the_limit() -> None:
    assert len(MALFORMED["too-long"]) == MAX_TOKEN_CHARS + 1


def test_a_token_of_exactly_the_limit_is_read_not_refused_for_length() -> None:
    version, key_id, body, signature = TOKEN.split(".")
    padding = "A" * (MAX_TOKEN_CHARS - len(TOKEN))
    token = f"{version}.{key_id}.{body}{padding}.{signature}"
    assert len(token) == MAX_TOKEN_CHARS
    assert refusal(token) == "bad_signature"


# --- randomness --------------------------------------------------------------------------------


def test_two_mints_of_the_same_claims_differ() -> None:
    first, second = mint(), mint()
    assert first != second
    assert payload_of(first)["n"] != payload_of(second)["n"]
    assert verify(first).nonce != verify(second).nonce


def test_the_nonce_holds_256_random_bits() -> None:
    nonce = verify(TOKEN).nonce
    assert len(unb64url(nonce)) == NONCE_BYTES >= 32


def test_minting_refuses_a_short_nonce() -> None:
    with pytest.raises(ValueError, match="32 random bytes"):
        mint_link_token(claims(), KEYRING, secrets.token_bytes(NONCE_BYTES - 1))


# --- properties --------------------------------------------------------------------------------

any_char = st.one_of(st.integers(0, 255).map(chr), st.sampled_from(B64URL_ALPHABET + "."))


def test_the_token_the_properties_change_verifies() -> None:
    assert verify(TOKEN).app == "frontend"


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(TOKEN) - 1), char=any_char)
def test_no_one_character_change_verifies(position: int, char: str) -> None:
    assume(char != TOKEN[position])
    changed = TOKEN[:position] + char + TOKEN[position + 1 :]
    with pytest.raises(LinkRefused):
        verify(changed)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, len(TOKEN)), char=any_char)
def test_no_one_character_insertion_verifies(position: int, char: str) -> None:
    with pytest.raises(LinkRefused):
        verify(TOKEN[:position] + char + TOKEN[position:])


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, len(TOKEN) - 1))
def test_no_one_character_deletion_verifies(position: int) -> None:
    with pytest.raises(LinkRefused):
        verify(TOKEN[:position] + TOKEN[position + 1 :])


def test_no_one_character_deletion_verifies_at_any_position() -> None:
    """Exhaustively, which the property above only samples."""
    for position in range(len(TOKEN)):
        with pytest.raises(LinkRefused):
            verify(TOKEN[:position] + TOKEN[position + 1 :])


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@settings(max_examples=100, deadline=None)
@given(
    app=st.from_regex(APP_NAME, fullmatch=True),
    request_id=st.from_regex(REQUEST_ID_PATTERN, fullmatch=True),
    requester=st.from_regex(LOGIN, fullmatch=True),
    pull_request=st.integers(1, 10**9),
    not_before=instants,
    length=st.integers(1, 7 * 86_400),
)
def test_any_claims_in_the_formats_round_trip(
    app: str, request_id: str, requester: str, pull_request: int, not_before: datetime, length: int
) -> None:
    minted = claims(
        app=app,
        request_id=request_id,
        requester=requester,
        pull_request=pull_request,
        not_before=not_before,
        expires=not_before + timedelta(seconds=length),
    )
    verified = verify(mint(minted), now=not_before)
    assert dataclasses.replace(verified, nonce="", key_id="") == minted


# --- key files ---------------------------------------------------------------------------------


def test_new_key_line_is_what_parse_keys_reads() -> None:
    secret = secrets.token_bytes(KEY_BYTES)
    keyring = parse_keys(new_key_line("k1", secret), "LINK_KEYS")
    assert keyring.keys == (LinkKey("k1", secret),)


def test_new_key_line_refuses_a_bad_id_or_a_short_secret() -> None:
    with pytest.raises(ValueError, match="key id"):
        new_key_line("k 1", secrets.token_bytes(KEY_BYTES))
    with pytest.raises(ValueError, match="32 random bytes"):
        new_key_line("k1", secrets.token_bytes(KEY_BYTES - 1))


def test_parse_keys_reads_keys_separated_by_spaces_commas_and_lines_with_comments() -> None:
    secrets_by_id = {key_id: secrets.token_bytes(KEY_BYTES) for key_id in ("a", "b-2", "C_3", "d")}
    a, b, c, d = (new_key_line(key_id, secret) for key_id, secret in secrets_by_id.items())
    text = f"# deploy-link keys; the first signs\n{a}, {b}\n\n  {c}\t# retired soon\n,{d},\n# end\n"
    keyring = parse_keys(text, "LINK_KEYS")
    assert [(key.key_id, key.secret) for key in keyring.keys] == list(secrets_by_id.items())
    assert keyring.signing.key_id == "a"


def test_parse_keys_ignores_a_key_commented_out() -> None:
    line = new_key_line("k1", secrets.token_bytes(KEY_BYTES))
    retired = new_key_line("k0", secrets.token_bytes(KEY_BYTES))
    keyring = parse_keys(f"{line} # {retired}\n#{retired}\n", "LINK_KEYS")
    assert [key.key_id for key in keyring.keys] == ["k1"]


SECRET_TEXT = b64url(secrets.token_bytes(KEY_BYTES))
SHORT_TEXT = b64url(secrets.token_bytes(KEY_BYTES - 1))
# The same 32 bytes spelt with non-zero padding bits in the last character.
NON_CANONICAL = SECRET_TEXT[:-1] + B64URL_ALPHABET[B64URL_ALPHABET.index(SECRET_TEXT[-1]) ^ 1]
KEY_FILE_ERRORS = {
    "short-key": (f"k1:{SHORT_TEXT}", "key k1 has 31 bytes; at least 32 are needed", SHORT_TEXT),
    "not-base64url": (f"k1:{SECRET_TEXT[:-2]}+/", "key k1's secret is not base64url", SECRET_TEXT),
    "padded": (f"k1:{SECRET_TEXT}=", "key k1's secret is not base64url", SECRET_TEXT),
    "non-canonical": (f"k1:{NON_CANONICAL}", "key k1's secret is not base64url", NON_CANONICAL),
    "empty-secret": ("k1:", "key k1's secret is not base64url", "k1:"),
    "duplicate-id": (
        f"k1:{SECRET_TEXT}\nk1:{b64url(secrets.token_bytes(KEY_BYTES))}",
        "two keys have the id k1: give each its own",
        SECRET_TEXT,
    ),
    "missing-colon": (f"k1{SECRET_TEXT}", "key 1 is not ID:SECRET", SECRET_TEXT),
    "equals-for-colon": (f"k1={SECRET_TEXT}", "key 1 is not ID:SECRET", SECRET_TEXT),
    "space-for-colon": (
        f"k0:{SECRET_TEXT} k1 {SECRET_TEXT}",
        "key 2 is not ID:SECRET",
        SECRET_TEXT,
    ),
    "bad-id": (f"k 1:{SECRET_TEXT}", "key 1 is not ID:SECRET", SECRET_TEXT),
    "empty": ("", "LINK_KEYS holds no key", "\x00"),
    "only-comments": ("# k1:" + SECRET_TEXT, "LINK_KEYS holds no key", SECRET_TEXT),
}


@pytest.mark.parametrize(
    ("text", "expected", "secret"), KEY_FILE_ERRORS.values(), ids=KEY_FILE_ERRORS.keys()
)
def test_a_bad_key_file_says_what_is_wrong_and_never_the_secret(
    text: str, expected: str, secret: str
) -> None:
    with pytest.raises(ValueError) as refused:
        parse_keys(text, "LINK_KEYS")
    message = str(refused.value)
    assert expected in message
    assert message.startswith("LINK_KEYS")
    assert secret not in message
    assert "bs keys generate" in message or "give each its own" in message


def test_the_non_canonical_secret_decodes_to_the_same_bytes() -> None:
    """So its refusal above is for the spelling, not for the bytes."""
    assert NON_CANONICAL != SECRET_TEXT
    assert unb64url(NON_CANONICAL) == unb64url(SECRET_TEXT)


# --- digests -----------------------------------------------------------------------------------


def test_link_digest_is_the_hex_sha256_of_the_token() -> None:
    digest = link_digest(TOKEN)
    assert digest == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_link_digest_is_not_the_token_and_tells_tokens_apart() -> None:
    digest = link_digest(TOKEN)
    assert digest != TOKEN
    assert TOKEN not in digest and TOKEN.split(".")[3] not in digest
    assert link_digest(mint()) != digest


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"p": "deploy-link"}',
        b'{"p": "deploy-link", "app": "frontend", "req": "r", "pr": "1", "sub": "alice",'
        b' "nbf": 0, "exp": 99999999999, "n": "x"}',
        b'{"p": "deploy-link", "app": "frontend", "req": "r", "pr": true, "sub": "alice",'
        b' "nbf": 0, "exp": 99999999999, "n": "x"}',
        b'{"p": "deploy-link", "app": "frontend", "req": "r", "pr": 1, "sub": "alice",'
        b' "nbf": 0, "exp": 1e400, "n": "x"}',
    ],
    ids=["not-json", "a-list", "missing-keys", "pr-a-string", "pr-a-bool", "exp-infinite"],
)
def test_a_signed_but_unreadable_payload_is_malformed(payload: bytes) -> None:
    """Only someone holding the key could sign these: refused all the same, never a crash."""
    signed = f"bs1.{KEY.key_id}.{b64url(payload)}"
    mac = hmac.new(KEY.secret, signed.encode(), hashlib.sha256).digest()
    assert refusal(f"{signed}.{b64url(mac)}") == "malformed"
