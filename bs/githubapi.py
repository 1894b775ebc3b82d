"""What every use of GitHub's REST API through PyGithub shares.

A client made the one way (a token, a base URL for Enterprise, a timeout, no
hidden retries or pauses: callers pace and retry themselves, and never send a
write twice), and the pieces of a one-line error: GitHub's own words, and
when a rate limit lets one try again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from github import Auth, Github, GithubException, GithubRetry


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
