"""GitHub's OAuth device flow (../shared/github/oauth.md, section 1), with requests.

Ask ``{web_url}/login/device/code`` for a device code and a user code, show
the user code and the URL to enter it at, then poll
``{web_url}/login/oauth/access_token`` no faster than GitHub allows until the
person approves, cancels, or the code expires. The clock and sleep are passed
in, so tests never wait. The device code and the token are never shown or logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from bs.errors import BsError

#: What bs asks for: `repo` to open pull requests in the (often private)
#: requests repository and to read private app repositories' tags and diffs;
#: `read:org` to see team membership, which decides who may request and
#: approve; `user:email` to read the address that review and deploy mail goes to.
SCOPES = "repo read:org user:email"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: Seconds one HTTP request to GitHub may take.
HTTP_TIMEOUT = 30
#: oauth.md 1.1's defaults, for an answer that leaves them out.
DEFAULT_INTERVAL = 5
DEFAULT_EXPIRES_IN = 900
#: oauth.md 1.3: "The `slow_down` error response adds 5 seconds to the last `interval`."
SLOW_DOWN_STEP = 5

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class DeviceCode:
    """GitHub's answer to the device-code request; `device_code` is a secret."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


def sign_in(
    web_url: str,
    client_id: str,
    *,
    show: Callable[[DeviceCode], None],
    waiting: Callable[[float], None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    session: requests.Session | None = None,
) -> str:
    """Run the whole flow and return the new token.

    `show` tells the person where to enter the user code; `waiting` is called
    before each poll with the seconds left, for a progress line.
    """
    http = session or requests.Session()
    try:
        code = request_code(http, web_url, client_id)
        show(code)
        return poll_token(http, web_url, client_id, code, waiting=waiting, clock=clock, sleep=sleep)
    finally:
        if session is None:
            http.close()


def request_code(http: requests.Session, web_url: str, client_id: str) -> DeviceCode:
    """Step 1: a device code and the user code to show."""
    answer = _post(http, f"{web_url}/login/device/code", {"client_id": client_id, "scope": SCOPES})
    error = answer.get("error")
    if error is not None:
        raise _flow_error(str(error), answer, web_url)
    try:
        return DeviceCode(
            device_code=_text(answer, "device_code"),
            user_code=_text(answer, "user_code"),
            verification_uri=_text(answer, "verification_uri"),
            expires_in=_seconds(answer.get("expires_in", DEFAULT_EXPIRES_IN)),
            interval=_seconds(answer.get("interval", DEFAULT_INTERVAL)),
        )
    except (KeyError, TypeError, ValueError):
        raise BsError(
            f"GitHub at {web_url} answered the device-code request without the expected "
            "fields: is forge.web_url in bs.yaml GitHub's web address?"
        ) from None


def poll_token(
    http: requests.Session,
    web_url: str,
    client_id: str,
    code: DeviceCode,
    *,
    waiting: Callable[[float], None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> str:
    """Step 2: poll at GitHub's interval until a token, a refusal, or the code's expiry."""
    deadline = clock() + code.expires_in
    interval = code.interval
    while True:
        # Wait first: GitHub's interval is the least time between requests,
        # and the person cannot have entered the code yet anyway.
        if waiting is not None:
            waiting(max(0.0, deadline - clock()))
        sleep(interval)
        if clock() >= deadline:
            raise _expired()
        answer = _post(
            http,
            f"{web_url}/login/oauth/access_token",
            {"client_id": client_id, "device_code": code.device_code, "grant_type": GRANT_TYPE},
        )
        token = answer.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(answer.get("error") or "")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            # GitHub sends the new interval; without one, add its documented 5 s.
            try:
                interval = max(interval, _seconds(answer["interval"]))
            except (KeyError, TypeError, ValueError):
                interval += SLOW_DOWN_STEP
            continue
        raise _flow_error(error or "no access_token", answer, web_url)


def _expired() -> BsError:
    return BsError("the sign-in code expired before it was entered: run bs login again")


def _flow_error(error: str, answer: Mapping[str, Any], web_url: str) -> BsError:
    """One message per documented error (oauth.md 1.4), each saying what to do."""
    if error == "expired_token":
        return _expired()
    if error == "access_denied":
        return BsError("sign-in was cancelled in the browser: run bs login to try again")
    if error in ("device_flow_disabled", "unauthorized_client", "not_found"):
        return BsError(
            f"the OAuth app (forge.client_id in bs.yaml) does not allow the device flow on "
            f"{web_url}: enable 'Device Flow' in the app's settings, then run bs login again"
        )
    if error == "incorrect_client_credentials":
        return BsError(
            f"GitHub at {web_url} does not know the OAuth app in forge.client_id in bs.yaml: "
            "check it against the app's settings page"
        )
    said = " ".join(str(answer.get("error_description") or "").split())[:200]
    return BsError(
        f"GitHub at {web_url} refused the sign-in ({error}{': ' + said if said else ''}): "
        "run bs login again"
    )


def _post(http: requests.Session, url: str, data: Mapping[str, str]) -> Mapping[str, Any]:
    """POST a form, asking for JSON; every way it can fail is one `BsError`."""
    try:
        response = http.post(
            url, data=data, headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT
        )
    except requests.RequestException as exc:
        # The exception's text names the URL only, but the type says enough.
        raise BsError(
            f"cannot reach GitHub at {url} ({type(exc).__name__}): check the network, "
            "and forge.web_url in bs.yaml"
        ) from None
    if response.status_code == 404:
        # GitHub's own CLI reads a 404 here as "device flow not available".
        return {"error": "not_found"}
    if response.status_code >= 500:
        raise BsError(
            f"GitHub at {url} failed ({response.status_code} {response.reason}): try again later"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BsError(
            f"GitHub at {url} did not answer with JSON ({response.status_code}): "
            "is forge.web_url in bs.yaml GitHub's web address?"
        )
    if response.status_code >= 400 and "error" not in body:
        raise BsError(f"GitHub at {url} refused the request ({response.status_code})")
    return body


def _text(answer: Mapping[str, Any], key: str) -> str:
    value = answer[key]
    if not isinstance(value, str) or not value:
        raise ValueError(key)
    return value


def _seconds(value: Any) -> int:
    """A positive whole number of seconds (GitHub sends integers)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(value)
    seconds = int(value)
    if seconds <= 0:
        raise ValueError(value)
    return seconds
