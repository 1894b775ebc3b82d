"""GitHub's OAuth web flow, mocked at the HTTP layer with ``responses``, for the gateway tests.

The gateway signs people in through Authlib, which talks to GitHub with
``requests``: the token exchange (``POST https://github.com/login/oauth/access_token``,
no ``:443``: Authlib sends the URL as configured), then ``GET /user`` and
``GET /user/memberships/orgs/{org}`` on ``https://api.github.com``.

The bodies are GitHub's own: the token response and its errors as quoted in
../shared/github/oauth.md (web flow, sections 2.3 and 2.4: errors come back as
HTTP 200 with an ``error`` field); ``/user`` is the subset's
``private-user-response-with-public-and-private-profile-information`` example,
retargeted to the person signing in and validated against ``private-user``. The
subset does not hold ``GET /user/memberships/orgs/{org}``: its body is the
``org-membership`` example of GitHub's REST description (github/rest-api-docs-md,
``user/memberships/orgs/{org}/get.md`` at 71bc6540503004f1e294ff8e79cb0fb566f7b944),
validated against that file's ``org-membership`` schema, and its 404 is the
subset's ``basic-error`` with the operation's documentation URL.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
import yaml
from flask.testing import FlaskClient
from responses import matchers

from tests.conftest import World
from tests.githubshapes import example, validate

ORG = "alphagov"
#: Fakes, shaped like GitHub's: an OAuth app's client id and secret, a code, a token.
CLIENT_ID = "Ov23liYkz3pSBWq2mXcD"
CLIENT_SECRET = "5f1c0e7b9d2a4c6e8f0a1b3c5d7e9f1a2b4c6d8e"
CODE = "9a2c41e7d0b35f68c1e4"
#: GitHub's own example token (oauth.md 2.3).
ACCESS_TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
ENV = {"BS_GITHUB_CLIENT_ID": CLIENT_ID, "BS_GITHUB_CLIENT_SECRET": CLIENT_SECRET}

WEB = "https://github.com"
API = "https://api.github.com"
AUTHORIZE_URL = f"{WEB}/login/oauth/authorize"
TOKEN_URL = f"{WEB}/login/oauth/access_token"
USER_URL = f"{API}/user"
MEMBERSHIP_URL = f"{API}/user/memberships/orgs/{ORG}"
#: Where GitHub sends the browser back: bs.yaml's gateway.url (the default) and the callback.
REDIRECT_URI = "http://127.0.0.1:8421/signin/github/callback"
#: host="0.0.0.0" means Secure cookies, so the session cookie has the __Host- prefix.
SECURE_COOKIE = "__Host-bs_session"
LOCAL_COOKIE = "bs_session"

#: oauth.md 2.3, verbatim but for the scope: the gateway asks for read:org only.
TOKEN_RESPONSE = {"access_token": ACCESS_TOKEN, "scope": "read:org", "token_type": "bearer"}
#: oauth.md 2.4 (TRB-TOKEN), verbatim.
TOKEN_ERRORS: dict[str, dict[str, str]] = {
    "bad_verification_code": {
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired.",
        "error_uri": "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
    },
    "incorrect_client_credentials": {
        "error": "incorrect_client_credentials",
        "error_description": "The client_id and/or client_secret passed are incorrect.",
        "error_uri": "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials",
    },
    "redirect_uri_mismatch": {
        "error": "redirect_uri_mismatch",
        "error_description": "The redirect_uri MUST match the registered callback URL for this application.",
        "error_uri": "/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2",
    },
}
#: The ``org-membership`` example of GitHub's REST description (see the module docstring).
ORG_MEMBERSHIP_EXAMPLE: dict[str, Any] = {
    "url": "https://api.github.com/orgs/invitocat/memberships/defunkt",
    "state": "pending",
    "role": "admin",
    "organization_url": "https://api.github.com/orgs/invitocat",
    "organization": {
        "login": "github",
        "id": 1,
        "node_id": "MDEyOk9yZ2FuaXphdGlvbjE=",
        "url": "https://api.github.com/orgs/github",
        "repos_url": "https://api.github.com/orgs/github/repos",
        "events_url": "https://api.github.com/orgs/github/events",
        "hooks_url": "https://api.github.com/orgs/github/hooks",
        "issues_url": "https://api.github.com/orgs/github/issues",
        "members_url": "https://api.github.com/orgs/github/members{/member}",
        "public_members_url": "https://api.github.com/orgs/github/public_members{/member}",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "description": "A great organization",
    },
    "user": {
        "login": "octocat",
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "gravatar_id": "",
        "url": "https://api.github.com/users/octocat",
        "html_url": "https://github.com/octocat",
        "followers_url": "https://api.github.com/users/octocat/followers",
        "following_url": "https://api.github.com/users/octocat/following{/other_user}",
        "gists_url": "https://api.github.com/users/octocat/gists{/gist_id}",
        "starred_url": "https://api.github.com/users/octocat/starred{/owner}{/repo}",
        "subscriptions_url": "https://api.github.com/users/octocat/subscriptions",
        "organizations_url": "https://api.github.com/users/octocat/orgs",
        "repos_url": "https://api.github.com/users/octocat/repos",
        "events_url": "https://api.github.com/users/octocat/events{/privacy}",
        "received_events_url": "https://api.github.com/users/octocat/received_events",
        "type": "User",
        "site_admin": False,
    },
}
#: That file's ``org-membership`` schema; its ``organization`` ($ref organization-simple,
#: which neither source spells out) is checked as an object, its ``user`` against the
#: subset's ``nullable-simple-user``.
ORG_MEMBERSHIP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "state": {"type": "string", "enum": ["active", "pending"]},
        "role": {"type": "string", "enum": ["admin", "member", "billing_manager"]},
        "organization_url": {"type": "string", "format": "uri"},
        "organization": {"type": "object"},
        "user": {"$ref": "#/components/schemas/nullable-simple-user"},
        "permissions": {
            "type": "object",
            "properties": {"can_create_repository": {"type": "boolean"}},
            "required": ["can_create_repository"],
        },
    },
    "required": ["state", "role", "organization_url", "url", "organization", "user"],
}
MEMBERSHIP_DOCS = (
    "https://docs.github.com/rest/orgs/members"
    "#get-an-organization-membership-for-the-authenticated-user"
)


# --- bodies --------------------------------------------------------------------------


def _retarget(example: Any, login: str) -> Any:
    return json.loads(json.dumps(example).replace("octocat", login))


def user_body(login: str, user_id: int = 4171) -> dict[str, Any]:
    """GitHub's ``GET /user`` example for `login` (the person who authorised the app)."""
    body: dict[str, Any] = _retarget(
        example("private-user-response-with-public-and-private-profile-information"), login
    )
    node = base64.b64encode(f"04:User{user_id}".encode()).decode()
    body.update(id=user_id, node_id=node, name=login.title(), email=f"{login}@example.gov.uk")
    validate(body, "private-user")
    return body


def membership_body(login: str, state: str, user_id: int = 4171) -> dict[str, Any]:
    """GitHub's org-membership example: `login`'s membership of ORG, `state` active or pending."""
    body: dict[str, Any] = _retarget(copy.deepcopy(ORG_MEMBERSHIP_EXAMPLE), login)
    body.update(
        url=f"{API}/orgs/{ORG}/memberships/{login}",
        state=state,
        role="member",
        organization_url=f"{API}/orgs/{ORG}",
    )
    organization = body["organization"]
    for key, value in list(organization.items()):
        if isinstance(value, str):
            organization[key] = value.replace("/orgs/github", f"/orgs/{ORG}")
    organization.update(login=ORG, description="Government Digital Service")
    body["user"]["id"] = user_id
    validate(body, ORG_MEMBERSHIP_SCHEMA)
    return body


def not_found_body() -> dict[str, Any]:
    """What GitHub answers (404) when the person is no member of the organisation."""
    body = {"message": "Not Found", "documentation_url": MEMBERSHIP_DOCS, "status": "404"}
    validate(body, "basic-error")
    return body


# --- bs.yaml -------------------------------------------------------------------------


def sign_in_with_github(world: World) -> None:
    """bs.yaml's gateway: {github: {org: alphagov}}, published to the default branch."""
    path = world.checkout / "bs.yaml"
    config = yaml.safe_load(path.read_text())
    config["gateway"] = {"github": {"org": ORG}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.publish("Sign in to the gateway with GitHub")


# --- GitHub, mocked ------------------------------------------------------------------


def _basic() -> str:
    return "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def mock_token(rsps: responses.RequestsMock, *, error: str | None = None) -> None:
    """The code exchange: GitHub's token (or one of its errors, with HTTP 200) for CODE,
    sent with the app's credentials and the same redirect_uri."""
    body = TOKEN_ERRORS[error] if error else TOKEN_RESPONSE
    rsps.post(
        TOKEN_URL,
        json=body,
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "authorization_code", "code": CODE, "redirect_uri": REDIRECT_URI}
            ),
            matchers.header_matcher(
                {"Accept": "application/json", "Authorization": _basic()}, strict_match=False
            ),
        ],
    )


def _bearer() -> list[Any]:
    return [matchers.header_matcher({"Authorization": f"Bearer {ACCESS_TOKEN}"})]


def mock_user(rsps: responses.RequestsMock, login: str) -> None:
    rsps.get(USER_URL, json=user_body(login), match=_bearer())


def mock_membership(rsps: responses.RequestsMock, login: str, state: str | None) -> None:
    """`state` active or pending; None: no member (GitHub's 404)."""
    if state is None:
        rsps.get(MEMBERSHIP_URL, json=not_found_body(), status=404, match=_bearer())
    else:
        rsps.get(MEMBERSHIP_URL, json=membership_body(login, state), match=_bearer())


def mock_github(
    rsps: responses.RequestsMock, login: str, membership: str | None = "active"
) -> None:
    """A whole successful exchange for `login` (member of ORG in `membership`'s state)."""
    mock_token(rsps)
    mock_user(rsps, login)
    mock_membership(rsps, login, membership)


# --- the browser's side --------------------------------------------------------------


def start(client: FlaskClient, next_: str | None = None) -> str:
    """GET /signin/github (as the sign-in page's button does); the `state` GitHub gets."""
    query = {"next": next_} if next_ is not None else {}
    response = client.get("/signin/github", query_string=query)
    assert response.status_code == 302, response.text
    return authorize_query(response.headers["Location"])["state"]


def authorize_query(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE_URL, location
    query = parse_qs(parts.query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), location
    return {key: values[0] for key, values in query.items()}


def callback(client: FlaskClient, state: str | None, code: str = CODE) -> Any:
    """GitHub sending the browser back with `code` and `state`."""
    query = {"code": code} | ({"state": state} if state is not None else {})
    return client.get("/signin/github/callback", query_string=query)


def github_sign_in(client: FlaskClient, login: str, next_: str | None = None) -> Any:
    """The whole web flow for `login`, an active member; the callback's response."""
    with responses.RequestsMock() as rsps:
        mock_github(rsps, login)
        state = start(client, next_)
        return callback(client, state)


def github_button(page: str) -> str:
    """The sign-in page's "Sign in with GitHub" link."""
    found = re.search(r'<a class="button" href="(/signin/github[^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))
