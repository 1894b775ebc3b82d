"""Deploy by dispatching a GitHub Actions workflow and following its run (``github-workflow``).

The release's inputs are sent with a ``workflow_dispatch`` of ``config.workflow``
on ``config.ref``. GitHub answers with the run's id when it can (the dispatch
asks for ``return_run_details``); an older GitHub answers 204 with no body, and
then the run is found by listing the workflow's ``workflow_dispatch`` runs
created since just before the dispatch, leaving out the ones listed before it.
The run is then polled until it completes, its status and its jobs' changes
logged as they happen. Past ``config.timeout``, or once the gateway is shutting
down, the run is cancelled. GitHub's and the network's errors become a failed
`DeployOutcome` of one line; the token never appears in a line or a summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from github import Github, GithubException, RateLimitExceededException
from github.Workflow import Workflow
from github.WorkflowRun import WorkflowRun

import requests
from bs.deployconfig import WorkflowDeploy, fill
from bs.deployers import DeployJob, DeployOutcome, LogLine, ShouldStop
from bs.errors import BsError
from bs.githubapi import github_said, open_github, retry_hint

#: How far GitHub's clock may lag ours when matching a run to its dispatch.
CLOCK_SKEW = timedelta(minutes=2)
#: Tries of a read that fails with a 5xx or a network error while following a run.
READ_TRIES = 3

T = TypeVar("T")
_Errors = (GithubException, requests.RequestException)


class _Failed(Exception):
    """Ends the deployment with its one-line argument as the summary."""


def _transient(exc: Exception) -> str | None:
    """What went wrong, if a later try of the same read may work."""
    if isinstance(exc, GithubException):
        return f"GitHub answered {exc.status}" if exc.status >= 500 else None
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return f"GitHub did not answer ({type(exc).__name__})"
    return None


def _state(status: str | None, conclusion: str | None) -> str:
    return f"{status}, {conclusion}" if status == "completed" and conclusion else str(status)


class WorkflowDeployer:
    """Runs each release through a ``workflow_dispatch`` of the configured workflow."""

    def __init__(
        self,
        config: WorkflowDeploy,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        token = env.get(config.token_env, "").strip()
        if not token:
            raise BsError(
                f"{config.token_env} is not set: set it in the gateway's environment to a GitHub "
                f"token that may run workflows (Actions: read and write) in the deploy repository"
            )
        self.config = config
        self._token = token
        self.sleep = sleep
        self.clock = clock
        self.now = now

    def deploy(self, job: DeployJob, log: LogLine, should_stop: ShouldStop) -> DeployOutcome:
        inputs = {
            name: fill(value, job.placeholders()) for name, value in self.config.inputs.items()
        }
        github = open_github(self._token, self.config.api_url)
        attempt = _Attempt(self, github, self.config.repo or job.repo, log, should_stop)
        try:
            outcome = attempt.run(inputs)
        finally:
            github.close()
        return DeployOutcome(outcome.ok, self.redact(outcome.summary), outcome.url)

    def redact(self, text: str) -> str:
        """`text` with the token blotted out, should GitHub ever echo it."""
        return text.replace(self._token, "[token]")


class _Attempt:
    """One deployment: its repository, its run once known, and where it has got to."""

    def __init__(
        self,
        deployer: WorkflowDeployer,
        github: Github,
        repo: str,
        log: LogLine,
        should_stop: ShouldStop,
    ) -> None:
        self.d = deployer
        self.cfg = deployer.config
        self.github = github
        self.repo = repo
        self._log = log
        self.should_stop = should_stop
        self.start = deployer.clock()
        self.stage = "repository"
        self.url: str | None = None

    def log(self, line: str) -> None:
        self._log(self.d.redact(line))

    def run(self, inputs: dict[str, str]) -> DeployOutcome:
        try:
            if self.should_stop():
                raise _Failed("the gateway is shutting down; nothing was dispatched")
            repository = self.github.get_repo(self.repo)
            self.stage = "workflow"
            workflow = repository.get_workflow(self.cfg.workflow)
            if workflow.state != "active":
                raise _Failed(
                    f"workflow {self.cfg.workflow} in {self.repo} is {workflow.state}: "
                    f"enable it in the repository's Actions tab"
                )
            since = (self.d.now() - CLOCK_SKEW).astimezone(UTC)
            known = {run.id for run in self.read(lambda: list(self.runs_since(workflow, since)))}
            run = self.dispatch(workflow, inputs) or self.find(workflow, since, known)
            self.stage = "run"
            return self.follow(run)
        except _Failed as failed:
            return DeployOutcome(ok=False, summary=str(failed), url=self.url)
        except _Errors as exc:
            summary = self.explain(exc)
            if self.stage == "dispatch" and _transient(exc):
                summary += "; a run may have started anyway: look at the workflow's runs first"
            elif self.stage == "run":
                summary = f"lost track of the run, which may still be going: {summary}"
            return DeployOutcome(ok=False, summary=summary, url=self.url)

    def read(self, fetch: Callable[[], T]) -> T:
        """`fetch()`, tried again after a 5xx or a network error (reads only)."""
        tries = 1
        while True:
            try:
                return fetch()
            except _Errors as exc:
                what = _transient(exc)
                if what is None or tries >= READ_TRIES:
                    raise
                self.log(f"{what}; trying again in {self.cfg.poll_interval:g} s")
                tries += 1
                self.d.sleep(self.cfg.poll_interval)

    def runs_since(self, workflow: Workflow, since: datetime) -> Iterable[WorkflowRun]:
        created = ">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return workflow.get_runs(event="workflow_dispatch", branch=self.cfg.ref, created=created)

    def dispatch(self, workflow: Workflow, inputs: dict[str, str]) -> WorkflowRun | None:
        """Dispatch the workflow; the run GitHub started, if it said which."""
        self.stage = "dispatch"
        shown = ", ".join(f"{name}={value}" for name, value in inputs.items())
        self.log(f"dispatching {self.cfg.workflow} on {self.cfg.ref} in {self.repo} ({shown})")
        answer: object
        try:
            answer = workflow.create_dispatch(
                self.cfg.ref, inputs, throw=True, return_run_details=True
            )
        except GithubException as exc:
            if exc.status != 422 or "return_run_details" not in github_said(exc):
                raise
            answer = workflow.create_dispatch(self.cfg.ref, inputs, throw=True)  # an older GitHub
        if isinstance(answer, WorkflowRun):
            self.url = answer.html_url
            self.read(answer.update)
            return answer
        if answer is not True:
            raise _Failed(
                f"GitHub did not accept the dispatch of {self.cfg.workflow} in {self.repo}"
            )
        return None

    def find(self, workflow: Workflow, since: datetime, known: set[int]) -> WorkflowRun:
        """The run the dispatch started: a run since `since` that was not there before."""
        self.stage = "find"
        waited_from = self.d.clock()
        while True:
            runs = self.read(lambda: list(self.runs_since(workflow, since)))
            new = [run for run in runs if run.id not in known and run.created_at >= since]
            if len(new) == 1:
                return new[0]
            if new:
                # Someone else's dispatch (another app, a person) started at the same time:
                # taking one would risk reporting another run's result as this deploy's.
                raise _Failed(
                    f"{len(new)} runs of {self.cfg.workflow} started at once and GitHub did "
                    "not say which one this dispatch made: bs will not guess. Check the runs "
                    f"at https://github.com/{self.repo}/actions and try again."
                )
            if self.should_stop():
                raise _Failed(
                    "the gateway is shutting down; the dispatched run had not appeared yet"
                )
            if self.d.clock() - self.start >= self.cfg.timeout:
                raise _Failed(f"timed out after {self.cfg.timeout:g} s; the run never appeared")
            if self.d.clock() - waited_from >= self.cfg.start_timeout:
                raise _Failed(
                    f"the dispatched run never appeared within {self.cfg.start_timeout:g} s"
                )
            self.d.sleep(self.cfg.poll_interval)

    def follow(self, run: WorkflowRun) -> DeployOutcome:
        """Poll `run` until it completes, logging its status and its jobs' as they change."""
        self.url = run.html_url
        self.log(f"run #{run.run_number} started: {run.html_url}")
        status: str | None = None
        jobs: dict[int, tuple[str, str | None]] = {}
        while True:
            if run.status != status:
                status = run.status
                self.log(f"run #{run.run_number}: {_state(run.status, run.conclusion)}")
            for job in self.read(lambda: list(run.jobs())):
                if jobs.get(job.id) != (job.status, job.conclusion):
                    jobs[job.id] = (job.status, job.conclusion)
                    self.log(f"job {job.name}: {_state(job.status, job.conclusion)}")
            if status == "completed":
                break
            if self.should_stop():
                return self.cancel(run, "the gateway is shutting down")
            if self.d.clock() - self.start >= self.cfg.timeout:
                return self.cancel(run, f"timed out after {self.cfg.timeout:g} s")
            self.d.sleep(self.cfg.poll_interval)
            self.read(run.update)
        conclusion = run.conclusion or "no conclusion"
        summary = f"workflow run #{run.run_number} of {self.cfg.workflow}: {conclusion}"
        return DeployOutcome(ok=conclusion == "success", summary=summary, url=run.html_url)

    def cancel(self, run: WorkflowRun, why: str) -> DeployOutcome:
        try:
            cancelled = run.cancel()
        except _Errors as exc:
            self.log(f"cancelling run #{run.run_number} failed: {self.explain(exc)}")
            cancelled = False
        if cancelled:
            self.log(f"run #{run.run_number}: cancelled")
            return DeployOutcome(
                ok=False, summary=f"{why}; the run was cancelled", url=run.html_url
            )
        summary = f"{why}; cancelling the run failed: cancel it at {run.html_url}"
        return DeployOutcome(ok=False, summary=summary, url=run.html_url)

    def explain(self, exc: Exception) -> str:
        """One line on what went wrong and what to do about it."""
        env, repo = self.cfg.token_env, self.repo
        if not isinstance(exc, GithubException):
            what = _transient(exc) or f"talking to GitHub failed ({type(exc).__name__})"
            return f"{what} at {self.cfg.api_url}: check the network and try again"
        status, said = exc.status, github_said(exc)
        if isinstance(exc, RateLimitExceededException) or "rate limit" in said.lower():
            return f"GitHub's rate limit for the token in {env} is used up{retry_hint(exc)}"
        if status == 401:
            return (
                f"GitHub refused the token in {env} ({said}): "
                f"it is wrong, expired or revoked; set a valid one"
            )
        if status == 403:
            return (
                f"the token in {env} may not do this in {repo} ({said}): it needs "
                f"Actions: read and write (the 'repo' scope for a classic token)"
            )
        if status == 404:
            if self.stage == "repository":
                return f"repository {repo} not found or the token in {env} cannot see it"
            if self.stage == "run":
                return f"the workflow run at {self.url} is gone ({said})"
            return f"workflow {self.cfg.workflow} not found in {repo} or the token cannot see it"
        if status == 422 and self.stage == "dispatch":
            return f"GitHub refused the inputs: {said}"
        if status >= 500:
            return f"GitHub failed ({status} {said}); try again later"
        return f"GitHub answered {status}: {said}"
