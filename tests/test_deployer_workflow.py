"""WorkflowDeployer against GitHub mocked at the HTTP layer (``responses``).

Response bodies are GitHub's own examples: the repository and workflow-run
examples of ../shared/github/github-rest-subset.json (validated against
the subset's schemas once retargeted), and the workflow and job examples of
GitHub's REST documentation, which the subset does not hold. Time is a fake
clock advanced by the fake sleep, so a one-hour deployment takes milliseconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from bs.deployconfig import WorkflowDeploy
from bs.deployers import DeployJob, DeployOutcome
from bs.deployers.github_workflow import WorkflowDeployer
from bs.errors import BsError
from tests.githubshapes import example, validate

TOKEN = "ghp_NeverLogThis0123456789abcdefABCDEF01"  # a fake
REPO = "alphagov/frontend"
#: PyGithub asks for the port explicitly; the bodies' own URLs do not carry it.
WIRE = "https://api.github.com:443"
WORKFLOW_ID = 161335
OLD_RUN, NEW_RUN = 9001, 9002
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
JOB = DeployJob(app="frontend", repo=REPO, tag="v1.2.3", commit="a" * 40, deployment_id=7)
INPUTS = {"gitRef": "v1.2.3", "environment": "production"}

#: GitHub's example of "Get a workflow" (docs.github.com/rest/actions/workflows#get-a-workflow).
WORKFLOW_EXAMPLE: dict[str, Any] = {
    "id": 161335,
    "node_id": "MDg6V29ya2Zsb3cxNjEzMzU=",
    "name": "CI",
    "path": ".github/workflows/blank.yaml",
    "state": "active",
    "created_at": "2020-01-08T23:48:37.000-08:00",
    "updated_at": "2020-01-08T23:50:21.000-08:00",
    "url": "https://api.github.com/repos/octo-org/octo-repo/actions/workflows/161335",
    "html_url": "https://github.com/octo-org/octo-repo/blob/master/.github/workflows/161335",
    "badge_url": "https://github.com/octo-org/octo-repo/workflows/CI/badge.svg",
}
#: GitHub's ``job-paginated`` example's job (steps cut to two), with the ``created_at``
#: its schema requires and the example leaves out.
JOB_EXAMPLE: dict[str, Any] = {
    "id": 399444496,
    "run_id": 29679449,
    "run_url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/29679449",
    "node_id": "MDEyOldvcmtmbG93IEpvYjM5OTQ0NDQ5Ng==",
    "head_sha": "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0",
    "url": "https://api.github.com/repos/octo-org/octo-repo/actions/jobs/399444496",
    "html_url": "https://github.com/octo-org/octo-repo/runs/29679449/jobs/399444496",
    "status": "completed",
    "conclusion": "success",
    "created_at": "2020-01-20T17:42:30Z",
    "started_at": "2020-01-20T17:42:40Z",
    "completed_at": "2020-01-20T17:44:39Z",
    "name": "build",
    "steps": [
        {
            "name": "Set up job",
            "status": "completed",
            "conclusion": "success",
            "number": 1,
            "started_at": "2020-01-20T09:42:40.000-08:00",
            "completed_at": "2020-01-20T09:42:41.000-08:00",
        },
        {
            "name": "Run actions/checkout@v2",
            "status": "completed",
            "conclusion": "success",
            "number": 2,
            "started_at": "2020-01-20T09:42:41.000-08:00",
            "completed_at": "2020-01-20T09:42:45.000-08:00",
        },
    ],
    "check_run_url": "https://api.github.com/repos/octo-org/octo-repo/check-runs/399444496",
    "labels": ["self-hosted", "foo", "bar"],
    "runner_id": 1,
    "runner_name": "my runner",
    "runner_group_id": 2,
    "runner_group_name": "my runner group",
    "workflow_name": "CI",
    "head_branch": "main",
}


# --- bodies ------------------------------------------------------------------------------


def _retarget(example: dict[str, Any], *swaps: tuple[str, str]) -> dict[str, Any]:
    text = json.dumps(example)
    for old, new in swaps:
        text = text.replace(old, new)
    return json.loads(text)  # type: ignore[no-any-return]


def repository() -> dict[str, Any]:
    body = _retarget(example("full-repository"), ("octocat/Hello-World", REPO))
    # GitHub's example leaves out has_discussions, which its schema requires.
    body.update(name="frontend", full_name=REPO, has_discussions=False)
    validate(body, "full-repository")
    return body


def workflow(state: str = "active") -> dict[str, Any]:
    body = _retarget(WORKFLOW_EXAMPLE, ("octo-org/octo-repo", REPO), ("blob/master", "blob/main"))
    body.update(name="Deploy", path=".github/workflows/deploy.yml", state=state)
    return body


def run(
    run_id: int = NEW_RUN,
    status: str = "queued",
    conclusion: str | None = None,
    created_at: str = "2025-06-01T12:00:03Z",
) -> dict[str, Any]:
    """GitHub's workflow-run example as a ``workflow_dispatch`` run of deploy.yml in REPO."""
    body = _retarget(
        example("workflow-run"),
        ("octo-org/octo-repo/actions/runs/30433642", f"{REPO}/actions/runs/{run_id}"),
        ("octo-org/octo-repo/actions/workflows/159038", f"{REPO}/actions/workflows/{WORKFLOW_ID}"),
        ("octo-org/octo-repo", REPO),
    )
    body.update(
        id=run_id,
        run_number=run_id - 8000,
        name="Deploy",
        event="workflow_dispatch",
        display_title="Deploy",
        path=".github/workflows/deploy.yml",
        workflow_id=WORKFLOW_ID,
        status=status,
        conclusion=conclusion,
        created_at=created_at,
        updated_at=created_at,
        run_started_at=created_at,
    )
    validate(body, "workflow-run")
    return body


def runs(*items: dict[str, Any]) -> dict[str, Any]:
    return {"total_count": len(items), "workflow_runs": list(items)}


def job(job_id: int, name: str, status: str, conclusion: str | None = None) -> dict[str, Any]:
    body = _retarget(
        JOB_EXAMPLE,
        ("octo-org/octo-repo/actions/runs/29679449", f"{REPO}/actions/runs/{NEW_RUN}"),
        ("29679449/jobs/399444496", f"{NEW_RUN}/jobs/{job_id}"),
        ("399444496", str(job_id)),
        ("octo-org/octo-repo", REPO),
    )
    body.update(run_id=NEW_RUN, name=name, status=status, conclusion=conclusion)
    if status != "completed":
        body.update(completed_at=None, steps=[])
    return body


def jobs(*items: dict[str, Any]) -> dict[str, Any]:
    return {"total_count": len(items), "jobs": list(items)}


def error(message: str, status: int) -> dict[str, Any]:
    """GitHub's ``basic-error`` shape."""
    return {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }


# --- the mock and the deployer -----------------------------------------------------------

REPO_URL = f"{WIRE}/repos/{REPO}"
WORKFLOW_URL = f"{REPO_URL}/actions/workflows/deploy.yml"
DISPATCH_URL = f"{REPO_URL}/actions/workflows/{WORKFLOW_ID}/dispatches"
RUNS_URL = f"{REPO_URL}/actions/workflows/{WORKFLOW_ID}/runs"
RUN_URL = f"{REPO_URL}/actions/runs/{NEW_RUN}"
RUN_PAGE = f"https://github.com/{REPO}/actions/runs/{NEW_RUN}"
#: The runs are listed since two minutes (the allowed clock skew) before NOW.
RUNS_QUERY = {"event": "workflow_dispatch", "branch": "main", "created": ">=2025-06-01T11:58:00Z"}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def github():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def config(**overrides: Any) -> WorkflowDeploy:
    settings: dict[str, Any] = {"kind": "github-workflow", "poll_interval": 5, "start_timeout": 60}
    return WorkflowDeploy.model_validate({**settings, **overrides})


def deploy(
    fake_time: FakeTime, cfg: WorkflowDeploy | None = None, stop_after: float | None = None
) -> tuple[DeployOutcome, list[str]]:
    lines: list[str] = []
    deployer = WorkflowDeployer(
        cfg or config(),
        {"BS_GITHUB_DEPLOY_TOKEN": TOKEN},
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        now=lambda: NOW,
    )
    outcome = deployer.deploy(
        JOB, lines.append, lambda: stop_after is not None and fake_time.now >= stop_after
    )
    assert TOKEN not in outcome.summary and all(TOKEN not in line for line in lines)
    assert "\n" not in outcome.summary
    return outcome, lines


def given_workflow(github: responses.RequestsMock, state: str = "active") -> None:
    github.get(REPO_URL, json=repository())
    github.get(WORKFLOW_URL, json=workflow(state))


def given_dispatch(github: responses.RequestsMock, *earlier_runs: dict[str, Any]) -> None:
    """The runs listed before the dispatch, and a dispatch answered the old way (204)."""
    github.get(
        RUNS_URL,
        json=runs(*earlier_runs),
        match=[matchers.query_param_matcher(RUNS_QUERY, strict_match=False)],
    )
    github.post(
        DISPATCH_URL,
        status=204,
        match=[
            matchers.json_params_matcher(
                {"ref": "main", "inputs": INPUTS, "return_run_details": True}
            )
        ],
    )


def old_run() -> dict[str, Any]:
    return run(OLD_RUN, "completed", "success", created_at="2025-06-01T11:58:30Z")


# --- following a run ---------------------------------------------------------------------


def test_success_finds_the_new_run_and_logs_its_progress(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github, old_run())
    github.get(RUNS_URL, json=runs(old_run()))  # 1st poll: not there yet
    github.get(RUNS_URL, json=runs(run(status="queued"), old_run()))  # 2nd poll: there
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "build", "queued")))
    github.get(RUN_URL, json=run(status="in_progress"))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "build", "in_progress")))
    github.get(RUN_URL, json=run(status="in_progress"))
    github.get(
        f"{RUN_URL}/jobs",
        json=jobs(job(1, "build", "completed", "success"), job(2, "deploy", "in_progress")),
    )
    github.get(RUN_URL, json=run(status="completed", conclusion="success"))
    github.get(
        f"{RUN_URL}/jobs",
        json=jobs(
            job(1, "build", "completed", "success"), job(2, "deploy", "completed", "success")
        ),
    )

    outcome, lines = deploy(fake_time)

    assert outcome == DeployOutcome(True, "workflow run #1002 of deploy.yml: success", RUN_PAGE)
    assert lines == [
        "dispatching deploy.yml on main in alphagov/frontend (gitRef=v1.2.3, environment=production)",
        f"run #1002 started: {RUN_PAGE}",
        "run #1002: queued",
        "job build: queued",
        "run #1002: in_progress",
        "job build: in_progress",
        "job build: completed, success",
        "job deploy: in_progress",
        "run #1002: completed, success",
        "job deploy: completed, success",
    ]
    assert fake_time.sleeps == [5, 5, 5, 5]
    (dispatch,) = [call for call in github.calls if call.request.method == "POST"]
    assert json.loads(dispatch.request.body or "") == {
        "ref": "main",
        "inputs": {"gitRef": "v1.2.3", "environment": "production"},
        "return_run_details": True,
    }
    assert all(call.request.headers["Authorization"] == f"token {TOKEN}" for call in github.calls)


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out", "action_required"])
def test_a_run_that_does_not_succeed_fails_the_deployment(github, fake_time, conclusion) -> None:
    given_workflow(github)
    given_dispatch(github)
    github.get(RUNS_URL, json=runs(run(status="completed", conclusion=conclusion)))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "completed", conclusion)))

    outcome, lines = deploy(fake_time)

    assert outcome == DeployOutcome(
        False, f"workflow run #1002 of deploy.yml: {conclusion}", RUN_PAGE
    )
    assert f"job deploy: completed, {conclusion}" in lines


def test_a_dispatch_that_names_its_run_is_followed_without_searching(github, fake_time) -> None:
    given_workflow(github)
    github.get(RUNS_URL, json=runs(old_run()))
    answer = _retarget(
        example("workflow-dispatch-response"),
        ("octo-org/octo-repo/actions/runs/1", f"{REPO}/actions/runs/{NEW_RUN}"),
    )
    answer["workflow_run_id"] = NEW_RUN
    validate(answer, "workflow-dispatch-response")
    github.post(DISPATCH_URL, json=answer)
    github.get(RUN_URL, json=run(status="completed", conclusion="success"))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "completed", "success")))

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(True, "workflow run #1002 of deploy.yml: success", RUN_PAGE)
    assert [call.request.method for call in github.calls].count("GET") == 5


def test_a_github_that_refuses_return_run_details_is_dispatched_without_it(
    github, fake_time
) -> None:
    given_workflow(github)
    github.get(RUNS_URL, json=runs())
    refusal = error('Invalid request.\n\n"return_run_details" is not a permitted key.', 422)
    github.post(DISPATCH_URL, status=422, json=refusal)
    github.post(
        DISPATCH_URL,
        status=204,
        match=[matchers.json_params_matcher({"ref": "main", "inputs": INPUTS})],
    )
    github.get(RUNS_URL, json=runs(run(status="completed", conclusion="success")))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "completed", "success")))

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(True, "workflow run #1002 of deploy.yml: success", RUN_PAGE)


def test_a_run_that_never_appears_times_out(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github, old_run())
    github.get(RUNS_URL, json=runs(old_run()))

    outcome, _ = deploy(fake_time, config(start_timeout=30))

    assert outcome == DeployOutcome(False, "the dispatched run never appeared within 30 s", None)
    assert fake_time.now == 30


def test_an_overall_timeout_cancels_the_run(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github)
    github.get(RUNS_URL, json=runs(run(status="in_progress")))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "in_progress")))
    github.get(RUN_URL, json=run(status="in_progress"))
    cancel = github.post(f"{RUN_URL}/cancel", status=202, json={})

    outcome, lines = deploy(fake_time, config(timeout=20))

    assert outcome == DeployOutcome(False, "timed out after 20 s; the run was cancelled", RUN_PAGE)
    assert cancel.call_count == 1
    assert lines[-1] == "run #1002: cancelled"


def test_a_run_that_cannot_be_cancelled_is_pointed_at(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github)
    github.get(RUNS_URL, json=runs(run(status="in_progress")))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "in_progress")))
    github.get(RUN_URL, json=run(status="in_progress"))
    refusal = error("Cannot cancel a workflow run that is completed.", 409)
    github.post(f"{RUN_URL}/cancel", status=409, json=refusal)

    outcome, _ = deploy(fake_time, config(timeout=20))

    assert outcome == DeployOutcome(
        False, f"timed out after 20 s; cancelling the run failed: cancel it at {RUN_PAGE}", RUN_PAGE
    )


def test_the_gateway_shutting_down_cancels_the_run(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github)
    github.get(RUNS_URL, json=runs(run(status="in_progress")))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "in_progress")))
    github.get(RUN_URL, json=run(status="in_progress"))
    cancel = github.post(f"{RUN_URL}/cancel", status=202, json={})

    outcome, _ = deploy(fake_time, stop_after=10)

    assert outcome == DeployOutcome(
        False, "the gateway is shutting down; the run was cancelled", RUN_PAGE
    )
    assert cancel.call_count == 1


def test_a_5xx_while_following_is_tried_again(github, fake_time) -> None:
    given_workflow(github)
    given_dispatch(github)
    github.get(RUNS_URL, json=runs(run(status="in_progress")))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "in_progress")))
    github.get(RUN_URL, status=502, json={"message": "Server Error"})
    github.get(RUN_URL, json=run(status="completed", conclusion="success"))
    github.get(f"{RUN_URL}/jobs", json=jobs(job(1, "deploy", "completed", "success")))

    outcome, lines = deploy(fake_time)

    assert outcome.ok
    assert "GitHub answered 502; trying again in 5 s" in lines


# --- refusals ----------------------------------------------------------------------------


def test_a_missing_token_is_refused_before_anything_is_sent(github) -> None:
    with pytest.raises(BsError, match="BS_GITHUB_DEPLOY_TOKEN is not set: set it") as raised:
        WorkflowDeployer(config(), {"BS_GITHUB_DEPLOY_TOKEN": "  "})
    assert "\n" not in str(raised.value)
    assert not github.calls


def test_an_unknown_workflow_is_named(github, fake_time) -> None:
    github.get(REPO_URL, json=repository())
    github.get(WORKFLOW_URL, status=404, json=error("Not Found", 404))

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(
        False, "workflow deploy.yml not found in alphagov/frontend or the token cannot see it"
    )


def test_a_disabled_workflow_is_not_dispatched(github, fake_time) -> None:
    given_workflow(github, state="disabled_manually")

    outcome, _ = deploy(fake_time)

    assert not outcome.ok
    assert "is disabled_manually: enable it" in outcome.summary


def test_the_configured_repository_is_used_instead_of_the_apps(github, fake_time) -> None:
    github.get(f"{WIRE}/repos/alphagov/govuk-deploy", status=404, json=error("Not Found", 404))

    outcome, _ = deploy(fake_time, config(repo="alphagov/govuk-deploy"))

    assert outcome.summary == (
        "repository alphagov/govuk-deploy not found or the token in BS_GITHUB_DEPLOY_TOKEN "
        "cannot see it"
    )


def test_bad_credentials_name_the_variable(github, fake_time) -> None:
    github.get(REPO_URL, status=401, json=error("Bad credentials", 401))

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(
        False,
        "GitHub refused the token in BS_GITHUB_DEPLOY_TOKEN (Bad credentials): "
        "it is wrong, expired or revoked; set a valid one",
    )


def test_refused_inputs_are_quoted_without_the_token(github, fake_time) -> None:
    given_workflow(github)
    github.get(RUNS_URL, json=runs())
    said = f'Unexpected inputs provided: ["gitRef"] (token {TOKEN})'
    github.post(DISPATCH_URL, status=422, json=error(said, 422))

    outcome, _ = deploy(fake_time)

    assert outcome.summary == (
        'GitHub refused the inputs: Unexpected inputs provided: ["gitRef"] (token [token])'
    )


def test_a_used_up_rate_limit_says_when_it_resets(github, fake_time) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW.timestamp()) + 600)}
    said = "API rate limit exceeded for user ID 1."
    github.get(REPO_URL, status=403, json=error(said, 403), headers=headers)

    outcome, _ = deploy(fake_time)

    assert outcome.summary == (
        "GitHub's rate limit for the token in BS_GITHUB_DEPLOY_TOKEN is used up; "
        "it resets at 12:10:00 UTC"
    )


def test_an_unreachable_github_is_one_line(github, fake_time) -> None:
    outcome, _ = deploy(fake_time, config(api_url="https://github.example.org/api/v3"))

    assert not outcome.ok
    assert outcome.summary.endswith("check the network and try again")
