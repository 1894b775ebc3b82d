"""The deployed version is the latest successful GitHub deployment (``github-deployments``).

Reading: the app repository's deployments to ``deployed.environment`` are listed
newest first, page by page; the first whose newest status is ``success`` is the
deployed one, and its ``sha`` the deployed commit. Deployments whose newest
status is anything else (inactive, failure, error, pending...) or that have no
status yet are passed over. No such deployment means nothing is deployed yet.

Recording (the gateway, after a deploy): a deployment of the commit is created,
then a ``success`` status on it with ``auto_inactive`` so GitHub marks the older
ones inactive.

The token comes from the environment variable ``deployed.token_env``. GitHub's
and the network's errors become a `BsError` of one line saying what to do; the
token never appears in one.
"""

from __future__ import annotations

from collections.abc import Mapping

from github import Github, GithubException, RateLimitExceededException
from github.Deployment import Deployment
from github.Repository import Repository

import requests
from bs.config import AppConfig
from bs.config_sources import GitHubDeploymentsSource as SourceConfig
from bs.errors import BsError
from bs.githubapi import github_said, open_github, retry_hint

_Errors = (GithubException, requests.RequestException)


def _settings(config: AppConfig) -> SourceConfig:
    source = config.deployed
    assert isinstance(source, SourceConfig)  # chosen by deployed.source
    return source


class GitHubDeploymentsSource:
    """Reads and records an app's deployed commit as GitHub deployments."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def deployed_commit(self, app: str, config: AppConfig) -> str | None:
        source = _settings(config)
        github, repo = self._connect(app, config)
        try:
            for deployment in repo.get_deployments(environment=source.environment):
                if _newest_state(deployment) == "success":
                    return deployment.sha
            return None
        except _Errors as exc:
            raise BsError(self._explain(exc, app, config, "read deployments in")) from None
        finally:
            github.close()

    def record_deployed(self, app: str, config: AppConfig, commit: str) -> str:
        source = _settings(config)
        github, repo = self._connect(app, config)
        deployment: Deployment | None = None
        try:
            deployment = repo.create_deployment(
                ref=commit,
                environment=source.environment,
                auto_merge=False,
                required_contexts=[],
                description=f"bs: {app} deployed by the gateway",
                transient_environment=False,
                production_environment=True,
            )
            deployment.create_status(
                "success",
                description=f"bs: {commit[:12]} deployed by the gateway",
                environment=source.environment,
                auto_inactive=True,
            )
        except _Errors as exc:
            if deployment is None:
                raise BsError(self._explain(exc, app, config, "create deployments in")) from None
            what = self._explain(exc, app, config, "create deployment statuses in")
            raise BsError(
                f"deployment {deployment.id} of {commit[:12]} was created but marking it "
                f"success failed, so the deployed version is unchanged: {what}"
            ) from None
        finally:
            github.close()
        return (
            f"a deployment of {commit[:12]} to {source.environment}, marked success, "
            f"on {config.repo}"
        )

    def _connect(self, app: str, config: AppConfig) -> tuple[Github, Repository]:
        source = _settings(config)
        token = self.env.get(source.token_env, "").strip()
        if not token:
            raise BsError(
                f"{source.token_env} is not set: {app}'s deployed version is read from GitHub "
                f"deployments to {source.environment} (deployed.source: github-deployments), "
                f"and the gateway needs it to record deploys; set it to a GitHub token with "
                f"Deployments: read and write on {config.repo}"
            )
        # lazy: no GET of the repository itself; its deployments answer 404 alike
        github = open_github(token, source.api_url, lazy=True)
        return github, github.get_repo(config.repo)

    def _explain(self, exc: Exception, app: str, config: AppConfig, doing: str) -> str:
        """One line on what went wrong and what to do about it, without the token."""
        source = _settings(config)
        env, repo, url = source.token_env, config.repo, source.api_url
        token = self.env.get(env, "").strip()
        line = _explanation(exc, env, repo, url, doing)
        return line.replace(token, "[token]") if token else line


def _newest_state(deployment: Deployment) -> str | None:
    """The state of the deployment's newest status (GitHub lists them newest first)."""
    for status in deployment.get_statuses():
        return status.state
    return None


def _explanation(exc: Exception, env: str, repo: str, url: str, doing: str) -> str:
    if not isinstance(exc, GithubException):
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            what = f"GitHub did not answer at {url} ({type(exc).__name__})"
        else:
            what = f"talking to GitHub at {url} failed ({type(exc).__name__})"
        return f"{what}: check the network and try again"
    status, said = exc.status, github_said(exc)
    if isinstance(exc, RateLimitExceededException) or status == 429 or "rate limit" in said.lower():
        return f"GitHub's rate limit for the token in {env} is used up{retry_hint(exc)}"
    if status == 401:
        return (
            f"GitHub refused the token in {env} ({said}): "
            f"it is wrong, expired or revoked; set a valid one"
        )
    if status == 403:
        return (
            f"the token in {env} may not {doing} {repo} ({said}): it needs Deployments: "
            f"read and write (the 'repo_deployment' scope, or 'repo' for a private "
            f"repository, for a classic token)"
        )
    if status == 404:
        return (
            f"repository {repo} not found at {url} or the token in {env} cannot see it: "
            f"check the app's repo and give the token access to it"
        )
    if status in (409, 422):
        hint = ": is the commit pushed there?" if doing.startswith("create deployments") else ""
        return f"GitHub refused to {doing} {repo} ({status} {said}){hint}"
    if status >= 500:
        return f"GitHub failed ({status} {said}); try again later"
    return f"GitHub answered {status} when asked to {doing} {repo}: {said}"
