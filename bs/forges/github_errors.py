"""GitHub's refusals as one line each that says what to do.

Every call the GitHub forge makes goes through `translate`: a 401 means the
token was revoked, a 403 a missing permission or scope (or a rate limit, with
when it resets), a 404 a repository that does not exist or that the token
cannot see, a 5xx that GitHub is down after PyGithub's own retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from github import GithubException, RateLimitExceededException
from github.GithubException import RateLimitExceededExceedsMaxWait

import requests
from bs.errors import BsError
from bs.githubapi import github_said, retry_hint


class NotFound(BsError):
    """GitHub answered 404: the thing does not exist, or the token cannot see it."""


def _scopes_hint(exc: GithubException, needs: str | None) -> str:
    headers = exc.headers or {}
    scopes = headers.get("x-oauth-scopes")
    if scopes is None or needs is None:
        return ""
    have = {s.strip() for s in str(scopes).split(",") if s.strip()}
    if needs in have:
        return ""
    return (
        f"; the token has scopes [{', '.join(sorted(have)) or 'none'}] but this needs "
        f"'{needs}': run `bs login` again (it asks for it) or give the token that scope"
    )


@contextmanager
def translate(what: str, *, token_source: str, needs_scope: str | None = None) -> Iterator[None]:
    """Run GitHub calls for `what` (e.g. "reading repository o/r"), turning failures into BsError."""
    try:
        yield
    except RateLimitExceededExceedsMaxWait as exc:
        raise BsError(
            f"GitHub's API rate limit is used up while {what}{retry_hint(exc)}; bs does not "
            "wait that long: run it again then."
        ) from None
    except RateLimitExceededException as exc:
        raise BsError(
            f"GitHub's API rate limit is used up while {what}{retry_hint(exc)}."
        ) from None
    except GithubException as exc:
        raise _error(exc, what, token_source, needs_scope) from None
    except requests.exceptions.RetryError:
        raise BsError(
            f"GitHub kept failing while {what} (5xx after several tries): it may be down; see "
            "https://www.githubstatus.com and try again in a few minutes."
        ) from None
    except requests.exceptions.RequestException as exc:
        raise BsError(
            f"cannot reach GitHub while {what}: {type(exc).__name__}; check the network and "
            "forge.api_url in bs.yaml, then try again."
        ) from None


def _error(exc: GithubException, what: str, source: str, needs: str | None) -> BsError:
    said = github_said(exc)
    status = exc.status
    if status == 401:
        return BsError(
            f"GitHub refused the token from {source} while {what} (401 {said or 'Bad credentials'}): "
            "it was revoked or has expired; run `bs login` again or set a new one."
        )
    if status == 404:
        hint = _scopes_hint(exc, needs)
        return NotFound(
            f"GitHub found nothing while {what} (404): it does not exist, or the token from "
            f"{source} cannot see it (a private repository, or an App not installed on it)"
            f"{hint or '; check the name'}."
        )
    if status == 403:
        headers = exc.headers or {}
        if str(headers.get("x-ratelimit-remaining", "")) == "0" or "rate limit" in said.lower():
            return BsError(f"GitHub's API rate limit is used up while {what}{retry_hint(exc)}.")
        return BsError(
            f"GitHub refused {what} (403 {said}): the token from {source} lacks a permission"
            f"{_scopes_hint(exc, needs) or ' (it needs write access for this)'}."
        )
    if status is not None and status >= 500:
        return BsError(
            f"GitHub failed while {what} ({status}): it may be down; see "
            "https://www.githubstatus.com and try again in a few minutes."
        )
    return BsError(f"GitHub refused {what} ({status}: {said or 'no reason given'}).")
