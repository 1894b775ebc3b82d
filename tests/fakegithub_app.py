"""The fake GitHub's GitHub Apps: a JWT signed with the App's key buys an installation
token (``POST /app/installations/{id}/access_tokens``), which acts as ``SLUG[bot]``.

GitHub documents the answer (``installation-token``); the subset does not carry
that schema, so the route validates against the documented required fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakegithub_model import Token
from tests.fakegithub_routes import ApiError, Ctx, route

if TYPE_CHECKING:
    from tests.fakegithub import FakeGitHub

#: From GitHub's description of "Create an installation access token for an app" (201).
INSTALLATION_TOKEN_SCHEMA = {
    "type": "object",
    "required": ["token", "expires_at"],
    "properties": {
        "token": {"type": "string"},
        "expires_at": {"type": "string"},
        "permissions": {"type": "object", "additionalProperties": {"type": "string"}},
        "repository_selection": {"type": "string", "enum": ["all", "selected"]},
    },
}


@dataclass
class App:
    slug: str
    app_id: int
    installation_id: int
    private_key: str
    public_key: Any
    #: Installation tokens minted so far (the newest last).
    minted: list[str]


def add_app(fake: FakeGitHub, slug: str) -> App:
    """A GitHub App installed in the organisation; its bot account ``SLUG[bot]`` exists."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    app = App(slug, fake.next_id(), fake.next_id(), pem, key.public_key(), [])
    fake.apps[slug] = app
    if f"{slug}[bot]" not in fake.accounts:
        fake.add_user(f"{slug}[bot]", bot=True)
    return app


def token_for_jwt(fake: FakeGitHub, value: str) -> Token | None:
    """The App a JWT was signed by (its ``iss`` is the App's ID), as a pseudo-login."""
    for app in fake.apps.values():
        try:
            claims = jwt.decode(value, app.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            continue
        if str(claims.get("iss")) == str(app.app_id):
            return Token(value, f"app:{app.slug}", None)
    return None


@route(
    "POST", "/app/installations/{installation_id}/access_tokens", schema=INSTALLATION_TOKEN_SCHEMA
)
def installation_token(ctx: Ctx, installation_id: str) -> tuple[int, Any]:
    if not ctx.login.startswith("app:"):
        raise ApiError(401, "A JSON web token could not be decoded")
    app = ctx.fake.apps[ctx.login.removeprefix("app:")]
    if installation_id != str(app.installation_id):
        raise ApiError(404)
    token = ctx.fake.add_token(f"{app.slug}[bot]", scopes=None)
    app.minted.append(token)
    expires = ctx.fake.now + timedelta(hours=1)
    return 201, {
        "token": token,
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
        "repository_selection": "selected",
    }
