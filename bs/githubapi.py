"""What every use of GitHub's REST API through PyGithub shares.

A client made the one way (a token, a base URL for Enterprise, a timeout, no
hidden retries or pauses: callers pace and retry themselves, and never send a
write twice), and the pieces of a one-line error: GitHub's own words, and
when a rate limit lets one try again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from github import Auth, Github, GithubException, GithubRetry
from urllib3 import Retry


def _quiet_pygithub() -> None:
    """PyGithub logs each retry and backoff at INFO to its own stderr handler on import:
    lines beside bs's one message (and URLs in a gateway's log). bs says what happened."""
    logger = logging.getLogger("github")
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler:
            logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)


_quiet_pygithub()

#: Seconds one HTTP request to GitHub may take.
HTTP_TIMEOUT = 30


def open_github(
    token: str | Auth.Auth,
    api_url: str,
    *,
    lazy: bool = False,
    retry: GithubRetry | None = None,
) -> Github:
    """A client for `api_url` acting with `token` (or another PyGithub auth, a GitHub App's
    installation). Close it when done. Without `retry` nothing is retried: the caller
    paces and retries itself.
    """
    return Github(
        auth=Auth.Token(token) if isinstance(token, str) else token,
        base_url=api_url,
        timeout=HTTP_TIMEOUT,
        per_page=100,
        retry=retry,
        seconds_between_requests=None,  # callers pace their own polling
        seconds_between_writes=None,
        lazy=lazy,
    )


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def github_said(exc: GithubException) -> str:
    """GitHub's own words in an error answer: its message and its errors' messages."""
    data = exc.data
    if not isinstance(data, dict):
        return _one_line(data or "")
    errors = [
        e.get("message") or e.get("code") if isinstance(e, dict) else e
        for e in data.get("errors") or []
    ]
    return _one_line("; ".join(str(part) for part in [data.get("message"), *errors] if part))


def retry_hint(exc: GithubException) -> str:
    """When to try again after a rate limit, from GitHub's headers (lower-cased by PyGithub)."""
    headers = exc.headers or {}
    if str(headers.get("retry-after", "")).isdigit():
        return f"; try again in {headers['retry-after']} s"
    if str(headers.get("x-ratelimit-reset", "")).isdigit():
        reset = datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC)
        return f"; it resets at {reset:%H:%M:%S} UTC"
    return "; try again later"


class _ForgeRetry(GithubRetry):
    """PyGithub's retry, except that a POST is retried only when GitHub said "slow down".

    A POST that failed with a 5xx may have been done (a pull request opened, a
    comment posted); sending it again could do it twice.
    """

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and status_code not in (403, 429):
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(  # type: ignore[override]  # GithubRetry's own signature differs too
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        # A POST whose answer was lost (a read error) may have been done: never again.
        if method and method.upper() == "POST" and error is not None and self._is_read_error(error):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def forge_retry(
    *, total: int = 4, backoff: float = 1.0, secondary_wait: float = 60, max_wait: float = 90
) -> GithubRetry:
    """Back off on 5xx and rate limits; give up (with when it resets) beyond `max_wait` s."""
    return _ForgeRetry(
        total=total,
        backoff_factor=backoff,
        secondary_rate_wait=secondary_wait,
        max_rate_limit_wait=max_wait,
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "POST"}),
        raise_on_status=False,  # the last answer reaches PyGithub, which names it
    )
