"""Bad input on the GitHub forge: one clear message, a non-zero exit, nothing half made.

The issue's "Bad input" requirement, on the fake GitHub (tests/fakegithub.py): a
repository that does not exist or is not visible, a revoked token, a missing
scope, a rate limit, a 502. Each gets exactly one ``bs: error:`` line that names
the thing and says what to do (exit 1; ``bs check`` exits 3, "could not
evaluate", as it documents), no traceback, never a token; and ``bs open-request``
leaves no branch and no pull request behind, also when it fails after the branch
was made (the branch is deleted again). A POST that got a 5xx is never sent twice.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

import bs.forges.github as github_forge
from tests.conftest import Result
from tests.githubworld import APP_REPO, APPS, BOT, REQUESTS, GitHubWorld, gh_world

__all__ = ["gh_world"]

PULLS = f"/repos/{REQUESTS}/pulls"
REFS = f"/repos/{REQUESTS}/git/refs"


@pytest.fixture(autouse=True)
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyGithub's retry as bs configures it (`open_github_forge` calls ``forge_retry()``),
    without the waits between tries."""
    original: Callable[..., Any] = github_forge.forge_retry

    def fast(**kwargs: Any) -> Any:
        return original(**({"backoff": 0.0, "secondary_wait": 0.0} | kwargs))

    monkeypatch.setattr(github_forge, "forge_retry", fast)


def user_error(world: GitHubWorld, result: Result, exit_code: int = 1) -> str:
    """The one error line of a run that must fail as a user error (exit 1, no traceback,
    no token in the output); returns it."""
    output = result.output
    assert result.exit_code == exit_code, output
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    for token in [*world.tokens.values(), *world.fake.tokens]:
        assert token not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("bs: error: ")]
    assert len(errors) == 1, output
    assert lines == errors, output
    return errors[0]


def branches(world: GitHubWorld) -> set[str]:
    return set(world.fake.repo(REQUESTS).git.refs("refs/heads/"))


def assert_nothing_left(world: GitHubWorld, before: set[str]) -> None:
    """No new branch in the requests repo, and no pull request."""
    assert branches(world) == before
    assert world.fake.repo(REQUESTS).pulls == {}


def calls(world: GitHubWorld, method: str, path: str) -> int:
    return sum(1 for m, p in world.fake.calls if m == method and re.fullmatch(path, p))


def open_request(world: GitHubWorld, user: str = "alice") -> Result:
    return world.bs("open-request", "frontend", "release_3", user=user)


def write_apps(world: GitHubWorld, repo: str) -> None:
    apps = json.loads(json.dumps(APPS))
    apps["apps"]["frontend"]["repo"] = repo
    (world.checkout / "policies" / "apps.yaml").write_text(yaml.safe_dump(apps, sort_keys=False))


# --- repositories that do not exist or cannot be seen ----------------------------------

#: Why the app repository cases fail today.
APP_REPO_VIA_GIT = (
    "bs reads the app repository only through git now (github_repos._clone_url derives its "
    "clone URL, no API call), so a missing or invisible one fails in `git clone`; "
    "repocache._fetch_error does not recognise git's 'does not appear to be a git repository "
    "... Could not read from remote repository' and says 'try again', quoting the last 300 "
    "characters of git's stderr cut mid-word"
)


@contextmanager
def hidden_from_git(world: GitHubWorld, repo: str) -> Iterator[None]:
    """GitHub refuses to clone a repository the token cannot see; the fake's ``file://``
    clone URLs know no visibility, so the bare repository is moved away meanwhile."""
    path = world.fake.repo(repo).git.path
    away = path.with_name(path.name + ".away")
    path.rename(away)
    try:
        yield
    finally:
        away.rename(path)


def assert_repo_unreadable(line: str, repo: str) -> None:
    """The message names `repo`, says it is missing or invisible, and not to just retry."""
    assert repo in line, line
    assert "does not exist" in line and "cannot see it" in line, line
    assert "try again" not in line, line  # retrying does not make a repository appear


def test_app_repository_missing_from_github(gh_world: GitHubWorld) -> None:
    """apps.yaml names a repository GitHub does not have (renamed, or a typo)."""
    write_apps(gh_world, "alphagov/frontend-renamed")
    before = branches(gh_world)
    assert_repo_unreadable(
        user_error(gh_world, open_request(gh_world)), "alphagov/frontend-renamed"
    )
    assert_nothing_left(gh_world, before)
    line = user_error(gh_world, gh_world.bs("tags", "frontend"))
    assert_repo_unreadable(line, "alphagov/frontend-renamed")


def test_private_app_repository_the_user_cannot_see(gh_world: GitHubWorld) -> None:
    gh_world.fake.repo(APP_REPO).private = True  # alice is no collaborator
    before = branches(gh_world)
    with hidden_from_git(gh_world, APP_REPO):
        result = open_request(gh_world)
    assert_repo_unreadable(user_error(gh_world, result), APP_REPO)
    assert_nothing_left(gh_world, before)


def test_requests_repository_not_visible(gh_world: GitHubWorld) -> None:
    gh_world.fake.repo(REQUESTS).private = True  # erin is no collaborator
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world, user="erin"))
    assert REQUESTS in line and "(404)" in line and "cannot see it" in line
    assert_nothing_left(gh_world, before)


# --- tokens -------------------------------------------------------------------------------


def revoke(world: GitHubWorld, user: str) -> str:
    token = world.tokens[user]
    del world.fake.tokens[token]
    return token


def test_revoked_token_on_open_request(gh_world: GitHubWorld) -> None:
    revoke(gh_world, "alice")
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert "BS_GITHUB_TOKEN" in line and "401" in line
    assert "revoked or has expired" in line and "bs login" in line
    assert_nothing_left(gh_world, before)


def test_bogus_token_on_tags(gh_world: GitHubWorld) -> None:
    bogus = "ghp_" + "0" * 36
    line = user_error(gh_world, gh_world.bs("tags", "frontend", env={"BS_GITHUB_TOKEN": bogus}))
    assert bogus not in line
    assert "BS_GITHUB_TOKEN" in line and "401" in line and "bs login" in line


def test_whoami_with_a_revoked_token(gh_world: GitHubWorld) -> None:
    assert gh_world.bs("whoami").stdout.startswith("alice on ")
    revoke(gh_world, "alice")
    line = user_error(gh_world, gh_world.bs("whoami"))
    assert "BS_GITHUB_TOKEN" in line and "401" in line
    assert "unset BS_GITHUB_TOKEN" in line and "bs login" in line


@pytest.mark.parametrize("status", [404, 403])
def test_token_without_read_org_on_check(gh_world: GitHubWorld, status: int) -> None:
    """GitHub hides a team from a token without read:org (404, or 403 for a fine-grained one)."""
    number = gh_world.open_request()
    gh_world.fake.missing_scope_status = status
    gh_world.fake.set_scopes(gh_world.tokens["bob"], "repo")
    line = user_error(gh_world, gh_world.bs("check", str(number), user="bob"), exit_code=3)
    assert line.startswith(f"bs: error: could not evaluate #{number}: ")
    assert re.search(r"team alphagov/\w+'s members", line) and f"({status}" in line
    assert "the token has scopes [repo] but this needs 'read:org'" in line
    assert "bs login" in line


def test_token_without_read_org_on_open_request(gh_world: GitHubWorld) -> None:
    gh_world.fake.set_scopes(gh_world.tokens["alice"], "repo")
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert "team alphagov/developers's members" in line
    assert "needs 'read:org'" in line and "bs login" in line
    assert_nothing_left(gh_world, before)


def test_check_of_a_pull_request_that_does_not_exist(gh_world: GitHubWorld) -> None:
    line = user_error(gh_world, gh_world.bs("check", "999", user=BOT), exit_code=3)
    assert line.startswith("bs: error: could not evaluate #999: ")
    assert f"pull request #999 of {REQUESTS} (404)" in line and "does not exist" in line


# --- rate limits --------------------------------------------------------------------------

#: The first GET of any repository's endpoint, whichever a command makes first.
ANY_REPO_GET = r"/repos/.+"


def reset_in_an_hour() -> tuple[int, str]:
    """A rate limit's reset (epoch seconds), and how bs must show it."""
    reset = int(datetime.now(UTC).timestamp()) + 3600
    return reset, f"it resets at {datetime.fromtimestamp(reset, UTC):%H:%M:%S} UTC"


def test_primary_rate_limit_says_when_it_resets(gh_world: GitHubWorld) -> None:
    reset, shown = reset_in_an_hour()
    gh_world.fake.fail_rate_limit("GET", ANY_REPO_GET, reset=reset)
    line = user_error(gh_world, gh_world.bs("tags", "frontend"))
    assert "GitHub's API rate limit is used up while reading repository " in line
    assert shown in line and "run it again then" in line
    assert len(gh_world.fake.calls) == 1  # bs neither waits an hour nor asks again


def test_primary_rate_limit_after_the_branch_was_made(gh_world: GitHubWorld) -> None:
    reset, shown = reset_in_an_hour()
    gh_world.fake.fail_rate_limit("POST", PULLS, reset=reset)
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert f"rate limit is used up while opening a pull request in {REQUESTS}" in line
    assert shown in line
    assert calls(gh_world, "POST", REFS) == 1  # the branch was made ...
    assert_nothing_left(gh_world, before)  # ... and deleted again


def test_secondary_rate_limit_is_waited_out(gh_world: GitHubWorld) -> None:
    fake = gh_world.fake
    fake.fail_secondary_rate_limit("GET", ANY_REPO_GET, retry_after=1)
    fake.fail_secondary_rate_limit("POST", PULLS, retry_after=1)
    result = gh_world.bs("open-request", "frontend", "release_3", "--json")
    assert result.exit_code == 0, result.output
    number = json.loads(result.stdout)["pull_request"]["number"]
    assert list(fake.repo(REQUESTS).pulls) == [number]
    first_get = next(call for call in fake.calls if call[0] == "GET" and "/repos/" in call[1])
    assert fake.calls.count(first_get) == 2
    # GitHub said "slow down", not "failed": sending the POST again is safe.
    assert calls(gh_world, "POST", PULLS) == 2


def test_secondary_rate_limit_that_persists(gh_world: GitHubWorld) -> None:
    gh_world.fake.fail_secondary_rate_limit("POST", PULLS, retry_after=30, times=100)
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert f"rate limit is used up while opening a pull request in {REQUESTS}" in line
    assert "try again in 30 s" in line
    assert calls(gh_world, "POST", PULLS) == 5  # four retries, then bs gives up
    assert_nothing_left(gh_world, before)


# --- GitHub failing (5xx) -----------------------------------------------------------------


def test_a_502_that_goes_away_is_retried(gh_world: GitHubWorld) -> None:
    gh_world.fake.fail_next("GET", ANY_REPO_GET, 502, times=2)
    result = gh_world.bs("tags", "frontend", "--json")
    assert result.exit_code == 0, result.output
    assert [t["tag"] for t in json.loads(result.stdout)["tags"]] == [
        "release_3", "release_2", "release_1"
    ]  # fmt: skip
    first = gh_world.fake.calls[0]
    assert gh_world.fake.calls[:3] == [first] * 3


def test_a_502_that_persists(gh_world: GitHubWorld) -> None:
    gh_world.fake.fail_next("GET", ANY_REPO_GET, 502, times=100)
    line = user_error(gh_world, gh_world.bs("tags", "frontend"))
    assert re.search(r"GitHub failed while reading repository \S+ \(502\)", line), line
    assert "githubstatus.com" in line and "try again in a few minutes" in line
    assert gh_world.fake.calls == [gh_world.fake.calls[0]] * 5  # four retries, then no more


@pytest.mark.parametrize("status", [502, 500, 422])
def test_pull_request_refused_after_the_branch_was_made(gh_world: GitHubWorld, status: int) -> None:
    gh_world.fake.fail_next("POST", PULLS, status, times=100)
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert f"opening a pull request in {REQUESTS} ({status}" in line
    if status >= 500:
        assert "try again in a few minutes" in line
    assert calls(gh_world, "POST", REFS) == 1  # the branch was made ...
    assert calls(gh_world, "POST", PULLS) == 1  # a POST that failed is never sent twice
    assert calls(gh_world, "DELETE", REFS + "/heads/.+") == 1
    assert_nothing_left(gh_world, before)  # ... and deleted again


def test_branch_deleted_even_when_github_stumbles_on_the_delete(gh_world: GitHubWorld) -> None:
    gh_world.fake.fail_next("POST", PULLS, 502)
    gh_world.fake.fail_next("DELETE", REFS + "/heads/.+", 502)
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert f"opening a pull request in {REQUESTS} (502)" in line  # the failure, not the cleanup's
    assert calls(gh_world, "DELETE", REFS + "/heads/.+") == 2  # a DELETE may be retried
    assert_nothing_left(gh_world, before)


@pytest.mark.parametrize("status", [502, 422])
def test_creating_the_branch_fails(gh_world: GitHubWorld, status: int) -> None:
    gh_world.fake.fail_next("POST", REFS, status, times=100)
    before = branches(gh_world)
    line = user_error(gh_world, open_request(gh_world))
    assert re.search(rf"creating branch request/frontend/\S+ in {REQUESTS} \({status}\b", line)
    assert calls(gh_world, "POST", REFS) == 1
    assert calls(gh_world, "POST", PULLS) == 0
    assert_nothing_left(gh_world, before)


# --- PyGithub's own console log -------------------------------------------------------------


@pytest.fixture
def github_console(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What PyGithub's console handler prints: on import it gives the ``github`` logger a
    StreamHandler on stderr at INFO, and its retry logs every 403 there."""
    printed = io.StringIO()
    for handler in logging.getLogger("github").handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", printed)
    return printed


@pytest.mark.parametrize("case", ["missing scope", "primary rate limit", "secondary rate limit"])
def test_nothing_but_the_one_message_on_stderr(
    gh_world: GitHubWorld, github_console: io.StringIO, case: str
) -> None:
    fake = gh_world.fake
    if case == "missing scope":
        fake.missing_scope_status = 403
        fake.set_scopes(gh_world.tokens["alice"], "repo")
    elif case == "primary rate limit":
        fake.fail_rate_limit("GET", ANY_REPO_GET, reset=reset_in_an_hour()[0])
    else:
        fake.fail_secondary_rate_limit("GET", ANY_REPO_GET, retry_after=1)
    result = open_request(gh_world)
    if case == "secondary rate limit":
        assert result.exit_code == 0, result.output
    else:
        user_error(gh_world, result)
    assert github_console.getvalue() == ""
    # Nor anywhere else: PyGithub's own console handler is gone and its INFO lines are off.
    logger = logging.getLogger("github")
    assert not [h for h in logger.handlers if type(h) is logging.StreamHandler]
    assert logger.getEffectiveLevel() >= logging.WARNING


# --- many tags, many team members -----------------------------------------------------------


def test_thousands_of_tags(gh_world: GitHubWorld) -> None:
    """1,200 more tags (on release_3's commit): all listed, in few API calls."""
    commit = gh_world.tags["release_3"]
    lines = "".join(f"create refs/tags/release_{n} {commit}\n" for n in range(4, 1204))
    gh_world.fake.repo(APP_REPO).git.git("update-ref", "--stdin", input=lines.encode())
    gh_world.fake.reset_calls()
    result = gh_world.bs("tags", "frontend", "--json")
    assert result.exit_code == 0, result.output
    listed = [t["tag"] for t in json.loads(result.stdout)["tags"]]
    assert len(listed) == 1203 and len(set(listed)) == 1203
    assert listed[:2] == ["release_1203", "release_1202"] and listed[-1] == "release_1"
    # Through the API that is 13 pages of 100; from the fetched copy, none at all.
    assert len(gh_world.fake.calls) <= 14


def test_a_team_of_hundreds_is_read_page_by_page(gh_world: GitHubWorld) -> None:
    """The requesters' team has 250 members; alice is on the last page."""
    fake = gh_world.fake
    members = [f"dev{n:03}" for n in range(249)] + ["alice"]
    fake.add_team("alphagov", "developers", members)
    fake.reset_calls()
    assert gh_world.bs("open-request", "frontend", "release_3").exit_code == 0
    assert calls(gh_world, "GET", "/orgs/alphagov/teams/developers/members") == 3
