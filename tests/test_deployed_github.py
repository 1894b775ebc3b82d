"""GitHubDeploymentsSource against GitHub mocked at the HTTP layer (``responses``).

Response bodies are GitHub's own deployment and deployment-status examples from
../shared/github/github-rest-subset.json, retargeted at the app repository,
with fields overridden, and validated against the subset's schemas.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

from bs.config import AppConfig
from bs.core.tags import TagRef
from bs.core.versions import Version
from bs.deployed import source_for
from bs.deployed.github_deployments import GitHubDeploymentsSource
from bs.errors import BsError
from bs.usecases.releases import read_releases
from tests.githubshapes import example, validate

TOKEN = "ghp_NeverLogThis0123456789abcdefABCDEF01"  # a fake
ENV = {"BS_GITHUB_DEPLOY_TOKEN": TOKEN}
REPO = "alphagov/frontend"
#: PyGithub asks for the port explicitly; the bodies' own URLs do not carry it.
WIRE = "https://api.github.com:443"
DEPLOYMENTS_URL = f"{WIRE}/repos/{REPO}/deployments"
OLD, MID, NEW = "a" * 40, "b" * 40, "c" * 40


# --- bodies ------------------------------------------------------------------------------


def _example(name: str, *swaps: tuple[str, str], **overrides: Any) -> dict[str, Any]:
    """The subset's example `name`, its text swapped, then its fields overridden."""
    text = json.dumps(example(name))
    for old, new in swaps:
        text = text.replace(old, new)
    body: dict[str, Any] = json.loads(text)
    body.update(overrides)
    return body


def deployment(deployment_id: int, sha: str, **overrides: Any) -> dict[str, Any]:
    body = _example(
        "deployment-simple-example",
        ("octocat/example/deployments/1", f"{REPO}/deployments/{deployment_id}"),
        ("octocat/example", REPO),
        **{
            "id": deployment_id,
            "sha": sha,
            "ref": sha,
            "environment": "production",
            "original_environment": "production",
            **overrides,
        },
    )
    validate(body, "deployment")
    return body


def status(deployment_id: int, state: str, status_id: int = 1, **overrides: Any) -> dict[str, Any]:
    body = _example(
        "deployment-status",
        ("octocat/example/deployments/42", f"{REPO}/deployments/{deployment_id}"),
        ("octocat/example", REPO),
        id=status_id,
        state=state,
        **overrides,
    )
    validate(body, "deployment-status")
    return body


def error(message: str, status: int) -> dict[str, Any]:
    """GitHub's ``basic-error`` shape."""
    return {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }


# --- the mock and the source -------------------------------------------------------------


@pytest.fixture
def github():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def app_config(**deployed: Any) -> AppConfig:
    return AppConfig.model_validate(
        {
            "repo": REPO,
            "tags": {"scheme": "release"},
            "deployed": {"source": "github-deployments", **deployed},
            "policy": "frontend",
        }
    )


def listed(github: responses.RequestsMock, *items: dict[str, Any], link: str = "") -> None:
    """The first page of the deployments to production, newest first."""
    github.get(
        DEPLOYMENTS_URL,
        json=list(items),
        headers={"Link": link} if link else {},
        match=[matchers.query_param_matcher({"environment": "production", "per_page": "100"})],
    )


def statuses(github: responses.RequestsMock, deployment_id: int, *states: str) -> None:
    """The deployment's statuses, newest first."""
    github.get(
        f"{DEPLOYMENTS_URL}/{deployment_id}/statuses",
        json=[status(deployment_id, state, len(states) - i) for i, state in enumerate(states)],
    )


def read(config: AppConfig | None = None, env: dict[str, str] | None = None) -> str | None:
    source = GitHubDeploymentsSource(ENV if env is None else env)
    return source.deployed_commit("frontend", config or app_config())


def refusal(github: responses.RequestsMock) -> str:
    with pytest.raises(BsError) as raised:
        read()
    message = str(raised.value)
    assert TOKEN not in message
    assert "\n" not in message
    return message


# --- reading -----------------------------------------------------------------------------


def test_nothing_deployed_is_none(github) -> None:
    listed(github)

    assert read() is None
    assert github.calls[0].request.headers["Authorization"] == f"token {TOKEN}"


def test_the_newest_successful_deployment_wins_over_newer_failures(github) -> None:
    listed(github, deployment(3, NEW), deployment(2, MID), deployment(1, OLD))
    statuses(github, 3, "failure", "in_progress")
    statuses(github, 2, "success", "in_progress")

    assert read() == MID


def test_a_deployment_made_inactive_is_passed_over(github) -> None:
    listed(github, deployment(3, NEW), deployment(2, MID), deployment(1, OLD))
    statuses(github, 3, "inactive", "success")  # its newest status counts, not any success
    statuses(github, 2, "error")
    statuses(github, 1, "success")

    assert read() == OLD


def test_a_deployment_without_statuses_is_passed_over(github) -> None:
    listed(github, deployment(2, NEW), deployment(1, OLD))
    statuses(github, 2)
    statuses(github, 1, "success")

    assert read() == OLD


def test_deployments_are_read_across_pages(github) -> None:
    page2 = (
        "https://api.github.com/repositories/1296269/deployments"
        "?environment=production&per_page=100&page=2"
    )
    listed(
        github,
        deployment(3, NEW),
        link=f'<{page2}>; rel="next", <{page2}>; rel="last"',
    )
    statuses(github, 3, "failure")
    github.get(
        f"{WIRE}/repositories/1296269/deployments",
        json=[deployment(2, MID)],
        match=[
            matchers.query_param_matcher(
                {"environment": "production", "per_page": "100", "page": "2"}
            )
        ],
    )
    statuses(github, 2, "success")

    assert read() == MID


def test_the_configured_environment_is_asked_for(github) -> None:
    github.get(
        DEPLOYMENTS_URL,
        json=[deployment(5, NEW, environment="staging")],
        match=[matchers.query_param_matcher({"environment": "staging"}, strict_match=False)],
    )
    statuses(github, 5, "success")

    assert read(app_config(environment="staging")) == NEW


# --- recording ---------------------------------------------------------------------------


def test_recording_creates_a_deployment_and_marks_it_success(github) -> None:
    created = github.post(DEPLOYMENTS_URL, status=201, json=deployment(7, NEW))
    marked = github.post(f"{DEPLOYMENTS_URL}/7/statuses", status=201, json=status(7, "success"))

    said = GitHubDeploymentsSource(ENV).record_deployed("frontend", app_config(), NEW)

    assert said == f"a deployment of {NEW[:12]} to production, marked success, on {REPO}"
    assert json.loads(created.calls[0].request.body or "") == {
        "ref": NEW,
        "environment": "production",
        "auto_merge": False,
        "required_contexts": [],
        "description": "bs: frontend deployed by the gateway",
        "transient_environment": False,
        "production_environment": True,
    }
    sent = json.loads(marked.calls[0].request.body or "")
    assert sent["state"] == "success"
    assert sent["auto_inactive"] is True
    assert sent["environment"] == "production"


def test_a_failed_status_says_the_deployment_was_left_unmarked(github) -> None:
    github.post(DEPLOYMENTS_URL, status=201, json=deployment(7, NEW))
    github.post(f"{DEPLOYMENTS_URL}/7/statuses", status=502, json=error("Server Error", 502))

    with pytest.raises(BsError) as raised:
        GitHubDeploymentsSource(ENV).record_deployed("frontend", app_config(), NEW)

    assert str(raised.value) == (
        f"deployment 7 of {NEW[:12]} was created but marking it success failed, so the "
        "deployed version is unchanged: GitHub failed (502 Server Error); try again later"
    )


def test_an_unknown_commit_is_refused_in_one_line(github) -> None:
    github.post(DEPLOYMENTS_URL, status=422, json=error(f"No ref found for: {NEW}", 422))

    with pytest.raises(BsError) as raised:
        GitHubDeploymentsSource(ENV).record_deployed("frontend", app_config(), NEW)

    assert str(raised.value) == (
        f"GitHub refused to create deployments in {REPO} (422 No ref found for: {NEW}): "
        "is the commit pushed there?"
    )


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_token_is_named_before_anything_is_sent(github, value) -> None:
    env = {} if value is None else {"BS_GITHUB_DEPLOY_TOKEN": value}

    with pytest.raises(BsError, match=r"^BS_GITHUB_DEPLOY_TOKEN is not set: ") as raised:
        read(env=env)

    assert "the gateway needs it" in str(raised.value)
    assert not github.calls


def test_bad_credentials_name_the_variable(github) -> None:
    github.get(DEPLOYMENTS_URL, status=401, json=error("Bad credentials", 401))

    assert refusal(github) == (
        "GitHub refused the token in BS_GITHUB_DEPLOY_TOKEN (Bad credentials): "
        "it is wrong, expired or revoked; set a valid one"
    )


def test_an_invisible_repository_is_named(github) -> None:
    github.get(DEPLOYMENTS_URL, status=404, json=error("Not Found", 404))

    assert refusal(github) == (
        f"repository {REPO} not found at https://api.github.com or the token in "
        "BS_GITHUB_DEPLOY_TOKEN cannot see it: check the app's repo and give the token access to it"
    )


def test_a_token_without_permission_says_what_it_needs(github) -> None:
    said = f"Resource not accessible by personal access token {TOKEN}"
    github.get(DEPLOYMENTS_URL, status=403, json=error(said, 403))

    message = refusal(github)

    assert message.startswith(
        f"the token in BS_GITHUB_DEPLOY_TOKEN may not read deployments in {REPO} "
        "(Resource not accessible by personal access token [token]): it needs Deployments"
    )


def test_a_used_up_rate_limit_says_when_it_resets(github) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1748779800"}
    said = "API rate limit exceeded for user ID 1."
    github.get(DEPLOYMENTS_URL, status=403, json=error(said, 403), headers=headers)

    assert refusal(github) == (
        "GitHub's rate limit for the token in BS_GITHUB_DEPLOY_TOKEN is used up; "
        "it resets at 12:10:00 UTC"
    )


def test_a_failing_github_says_try_again(github) -> None:
    github.get(DEPLOYMENTS_URL, status=503, json=error("Service Unavailable", 503))

    assert refusal(github) == "GitHub failed (503 Service Unavailable); try again later"


def test_an_unreachable_github_is_one_line(github) -> None:
    config = app_config(api_url="https://github.example.org/api/v3")

    with pytest.raises(BsError) as raised:
        read(config)

    assert str(raised.value) == (
        "GitHub did not answer at https://github.example.org/api/v3 (ConnectionError): "
        "check the network and try again"
    )


# --- through bs --------------------------------------------------------------------------


class TagsOnly:
    """A forge that only lists tags: all reading the releases asks of it here."""

    def list_tags(self, repo: str) -> list[TagRef]:
        assert repo == REPO
        return [TagRef("release_41", OLD), TagRef("release_42", MID)]


def test_read_releases_takes_the_deployed_commit_from_github(github, monkeypatch) -> None:
    monkeypatch.setenv("BS_GITHUB_DEPLOY_TOKEN", TOKEN)
    listed(github, deployment(3, NEW), deployment(2, MID))
    statuses(github, 3, "failure")
    statuses(github, 2, "success")
    forge: Any = TagsOnly()
    config = app_config()

    assert isinstance(source_for(config, forge), GitHubDeploymentsSource)
    releases = read_releases(forge, "frontend", config)

    assert releases.deployed == Version(MID, "release_42")
