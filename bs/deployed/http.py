"""The deployed version is in the JSON an HTTP endpoint returns (``http``).

Reading: GET ``deployed.url`` (``{app}`` replaced by the app's name), find the
value at the JSON pointer ``deployed.pointer`` (RFC 6901) and read it through
``deployed.format``. A JSON null there means nothing is deployed yet.

Recording: nothing to do. The endpoint reports what runs; the deploy changes it.

A bearer token, when ``deployed.token_env`` names one, is sent only to the
configured origin: a redirect elsewhere (another host, or http) is refused
rather than followed, so the token cannot leak. Every failure is one line that
names the app and the URL, never the token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from bs.config import AppConfig
from bs.config_sources import HttpDeployedSource
from bs.configtypes import LOCAL_HOSTS
from bs.deployed.versionformat import Origin, shown, version_commit
from bs.errors import BsError
from bs.ports import Forge

#: A status document is small; a larger answer is not the endpoint meant.
MAX_BYTES = 1_000_000
MAX_REDIRECTS = 5


def _settings(config: AppConfig) -> HttpDeployedSource:
    source = config.deployed
    assert isinstance(source, HttpDeployedSource)  # chosen by deployed.source
    return source


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at RFC 6901 `pointer`; LookupError says where the walk stopped and
    what was there (the caller adds the app and the URL)."""
    value, walked = document, ""
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")  # this order, as RFC 6901 says
        if isinstance(value, dict):
            if token not in value:
                keys = ", ".join(shown(k) for k in list(value)[:10]) or "none"
                raise LookupError(f"{walked or '/'} has no key {shown(token)} (keys: {keys})")
            value = value[token]
        elif isinstance(value, list):
            # RFC 6901: decimal without leading zeros; "-" (past the end) is never there.
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(value):
                raise LookupError(f"{walked or '/'} is a list of {len(value)}, no {shown(token)}")
            value = value[int(token)]
        else:
            raise LookupError(f"{walked or '/'} is {shown(value)}, which has no {shown(token)}")
        walked += "/" + raw
    return value


class HttpSource:
    """Reads an app's deployed commit from a JSON endpoint; records nothing.

    The forge is for the app repository, where the commit or tag read is looked up.
    """

    def __init__(self, forge: Forge, env: Mapping[str, str]) -> None:
        self.forge = forge
        self.env = env

    def deployed_commit(self, app: str, config: AppConfig) -> str | None:
        source = _settings(config)
        url = source.url.replace("{app}", quote(app, safe=""))
        token = self._token(app, source)
        try:
            document = self._get_json(app, url, source, token)
        except BsError as exc:
            raise BsError(exc.message.replace(token, "[token]") if token else exc.message) from None
        try:
            value = resolve_pointer(document, source.pointer)
        except LookupError as exc:
            raise BsError(
                f"{app}: the JSON from {url} has no {source.pointer} ({exc}): fix deployed.pointer"
            ) from None
        where = f"{source.pointer or 'the document'} of {url}"
        if value is not None and not isinstance(value, str):
            raise BsError(
                f"{app}: {where} is {shown(value)}, not a string: point deployed.pointer at "
                f"the version itself, stated as {source.format}"
            )
        return version_commit(value, source.format, self.forge, Origin(app, config.repo, where))

    def record_deployed(self, app: str, config: AppConfig, commit: str) -> str:
        url = _settings(config).url.replace("{app}", quote(app, safe=""))
        return f"{url} reports the deployed version itself: nothing to record"

    def _token(self, app: str, source: HttpDeployedSource) -> str:
        if source.token_env is None:
            return ""
        token = self.env.get(source.token_env, "").strip()
        if not token:
            raise BsError(
                f"{source.token_env} is not set: {app}'s deployed version is read from "
                f"{source.url} with the bearer token it holds (deployed.token_env); set it"
            )
        return token

    def _get_json(self, app: str, url: str, source: HttpDeployedSource, token: str) -> Any:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        origin, here = _origin(url), url
        for _ in range(MAX_REDIRECTS + 1):
            response = _get(app, url, here, headers, source.timeout)
            with response:
                if not response.is_redirect:
                    return _json_of(app, url, response, source.token_env)
                target = urljoin(here, response.headers["location"])
            if _origin(target) != origin:
                # Following would send the token (or trust an answer) from elsewhere.
                raise BsError(
                    f"{app}: {url} redirects to {shown(target)}, another origin, which bs does not "
                    "follow: set deployed.url to where the version really is"
                )
            here = target
        raise BsError(f"{app}: {url} redirects more than {MAX_REDIRECTS} times: fix deployed.url")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _get(
    app: str, url: str, here: str, headers: dict[str, str], timeout: float
) -> requests.Response:
    # Loopback is this machine: never through a proxy the environment names.
    local = urlsplit(here).hostname in {host.strip("[]") for host in LOCAL_HOSTS}
    proxies = {"http": None, "https": None} if local else None
    try:
        return requests.get(
            here, headers=headers, timeout=timeout, allow_redirects=False, stream=True,
            proxies=proxies,  # type: ignore[arg-type]  # None values mean "no proxy"
        )  # fmt: skip
    except requests.Timeout:
        reason = f"did not answer within {timeout:g} s"
    except requests.exceptions.SSLError:
        reason = "failed TLS verification (its certificate is not trusted)"
    except requests.ConnectionError as exc:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        reason = f"could not be reached ({errno.group(1) if errno else type(exc).__name__})"
    except requests.RequestException as exc:
        reason = f"could not be asked ({type(exc).__name__})"
    raise BsError(
        f"{app}: {url} {reason}: check deployed.url and that the service is up, then try again"
    )


def _json_of(app: str, url: str, response: requests.Response, token_env: str | None) -> Any:
    status = f"{response.status_code} {response.reason or ''}".strip()
    if response.status_code in (401, 403):
        fix = f"check the token in {token_env}" if token_env else "set deployed.token_env"
        raise BsError(f"{app}: {url} refused the request ({status}): {fix}")
    if response.status_code == 404:
        raise BsError(f"{app}: {url} was not found (404): fix deployed.url")
    if response.status_code >= 500:
        raise BsError(f"{app}: {url} failed ({status}): try again later")
    if not 200 <= response.status_code < 300:
        raise BsError(f"{app}: {url} answered {status}, not a version: fix deployed.url")
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_BYTES:
            raise BsError(f"{app}: {url} sent more than {MAX_BYTES} bytes: fix deployed.url")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "no content type")
        raise BsError(
            f"{app}: {url} did not answer JSON ({shown(kind)}): set deployed.url to a JSON endpoint"
        ) from None
