"""The GitHub Actions workflows keep SECURITY.md's rules ("GitHub Actions").

Each rule a test, over every workflow in .github/workflows: `permissions: {}` at
the top; every `uses:` pinned to a full commit SHA with a version comment; no
`${{ }}` inside a `run:`; every checkout without persisted credentials and
never of the pull request's head. The privileged workflows (pull_request_target,
workflow_run) run in the `bs` Environment as bs's GitHub App, from the default
branch; bs-events.yml has no permissions, no secrets and runs nothing; the check
has no `paths:` filter. Then zizmor and GitHub's workflow schema report nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
BS_WORKFLOWS = ["bs-check-review.yml", "bs-check.yml", "bs-closed.yml", "bs-opened.yml"]
PRIVILEGED = {"pull_request_target", "workflow_run"}
APP_TOKEN = "actions/create-github-app-token"
BIN = Path(sys.executable).parent


@cache
def text(name: str) -> str:
    return (WORKFLOWS / name).read_text(encoding="utf-8")


@cache
def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(text(name))
    return loaded


def triggers(name: str) -> dict[str, Any]:
    """`on:` (which YAML 1.1, and so PyYAML, reads as the key True)."""
    found: dict[str, Any] = workflow(name)[True]
    return found


def jobs(name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = workflow(name)["jobs"]
    return found


def steps(name: str) -> list[dict[str, Any]]:
    return [step for job in jobs(name).values() for step in job.get("steps", [])]


def is_privileged(name: str) -> bool:
    return bool(PRIVILEGED & set(triggers(name)))


def test_the_workflows_are_all_here() -> None:
    assert set(BS_WORKFLOWS) | {"bs-events.yml", "ci.yml"} <= set(NAMES)
    # A new privileged workflow is a decision: add it to BS_WORKFLOWS and its tests.
    assert [n for n in NAMES if is_privileged(n)] == BS_WORKFLOWS


# -- every workflow ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_no_permissions_at_the_top_and_the_least_in_each_job(name: str) -> None:
    assert workflow(name)["permissions"] == {}
    for job_name, job in jobs(name).items():
        allowed = {} if name == "bs-events.yml" else {"contents": "read"}
        assert job.get("permissions") == allowed, job_name
        assert isinstance(job.get("timeout-minutes"), int), job_name


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    lines = [line for line in text(name).splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) == sum(1 for step in steps(name) if "uses" in step)
    pinned = re.compile(r"\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*")
    for line in lines:
        assert pinned.fullmatch(line), line


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_inside_a_run_script(name: str) -> None:
    for step in steps(name):
        if "run" in step:
            assert "${{" not in step["run"], step["run"]


@pytest.mark.parametrize("name", NAMES)
def test_checkouts_persist_no_credentials_and_never_take_the_head(name: str) -> None:
    for step in steps(name):
        if step.get("uses", "").startswith("actions/checkout@"):
            settings = step.get("with", {})
            assert settings.get("persist-credentials") is False
            # The default ref: for pull_request_target the base branch, for workflow_run
            # the default branch. Never the pull request's head (nor any other ref).
            assert "ref" not in settings and "repository" not in settings


@pytest.mark.parametrize("name", NAMES)
def test_secrets_are_passed_only_to_the_app_token_step_and_through_env(name: str) -> None:
    for step in steps(name):
        for key, value in step.get("with", {}).items():
            if "secrets." in str(value):
                assert step["uses"].startswith(f"{APP_TOKEN}@") and key == "private-key"
        assert "secrets." not in str(step.get("run", ""))


# -- the privileged workflows ------------------------------------------------------------


EXPECTED_TRIGGERS = {
    "bs-check.yml": {
        "pull_request_target": {"types": ["opened", "synchronize", "reopened", "edited"]}
    },
    "bs-check-review.yml": {"workflow_run": {"workflows": ["bs-events"], "types": ["completed"]}},
    "bs-opened.yml": {"pull_request_target": {"types": ["opened"], "paths": ["requests/**"]}},
    "bs-closed.yml": {"pull_request_target": {"types": ["closed"]}},
    "bs-events.yml": {"pull_request_review": {"types": ["submitted", "dismissed"]}},
}
COMMANDS = {
    "bs-check.yml": "bs check --event",
    "bs-check-review.yml": "bs check --event",
    "bs-opened.yml": "bs hook opened --event",
    "bs-closed.yml": "bs hook closed --event",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TRIGGERS))
def test_triggers_are_as_designed(name: str) -> None:
    assert triggers(name) == EXPECTED_TRIGGERS[name]


@pytest.mark.parametrize("name", ["bs-check.yml", "bs-check-review.yml"])
def test_the_check_has_no_paths_filter(name: str) -> None:
    """A required check skipped by a filter counts as passed."""
    for trigger in triggers(name).values():
        assert not {"paths", "paths-ignore", "branches", "branches-ignore"} & set(trigger or {})


def main_job(name: str) -> dict[str, Any]:
    """The job that runs the workflow's command (bs-check.yml's `check`, after `record`)."""
    found = jobs(name)
    return found["check"] if name == "bs-check.yml" else next(iter(found.values()))


@pytest.mark.parametrize("name", BS_WORKFLOWS)
def test_privileged_jobs_run_bs_from_the_default_branch_as_the_app(name: str) -> None:
    job = main_job(name)
    assert job["environment"] == "bs"
    uses = [step.get("uses", "").split("@")[0] for step in job["steps"]]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    runs = [step.get("run", "") for step in job["steps"]]
    install = runs.index("python -I -m pip install --quiet .")  # from the checkout, before secrets
    token_at = uses.index(APP_TOKEN)
    assert install < token_at
    token = job["steps"][token_at]
    assert token["id"] == "token"
    assert token["with"]["private-key"] == "${{ secrets.BS_APP_PRIVATE_KEY }}"
    assert token["with"]["client-id"] == "${{ vars.BS_APP_CLIENT_ID }}"
    assert token["with"]["owner"] == "${{ github.repository_owner }}"
    assert token["with"]["repositories"] == "${{ steps.repos.outputs.repositories }}"
    granted = {k: v for k, v in token["with"].items() if k.startswith("permission-")}
    assert granted, "the token asks for the permissions it needs, not all the App's"
    assert "permission-administration" not in granted and "permission-workflows" not in granted
    [last] = job["steps"][token_at + 1 :]
    assert COMMANDS[name] + ' "$GITHUB_EVENT_PATH"' in last["run"]
    assert last["env"]["BS_GITHUB_TOKEN"] == "${{ steps.token.outputs.token }}"


def test_each_hook_gets_only_the_secrets_it_uses() -> None:
    def secrets_of(name: str) -> set[str]:
        found = re.findall(r"secrets\.(\w+)", text(name))
        return set(found) - {"BS_APP_PRIVATE_KEY"}

    assert secrets_of("bs-check.yml") == set()
    # The review check's `remove` job mails the requester of a rejected request.
    assert secrets_of("bs-check-review.yml") == {"BS_SMTP_USERNAME", "BS_SMTP_PASSWORD"}
    assert secrets_of("bs-opened.yml") == {"BS_SMTP_USERNAME", "BS_SMTP_PASSWORD"}
    assert secrets_of("bs-closed.yml") == {"BS_LINK_KEYS", "BS_SMTP_USERNAME", "BS_SMTP_PASSWORD"}

    def written(name: str) -> list[str]:
        token = next(
            s for s in main_job(name)["steps"] if s.get("uses", "").startswith(f"{APP_TOKEN}@")
        )
        return sorted(k for k, v in token["with"].items() if v.startswith("write"))

    write = {name: written(name) for name in BS_WORKFLOWS}
    assert write == {
        "bs-check-review.yml": ["permission-statuses"],
        "bs-check.yml": ["permission-statuses"],
        "bs-closed.yml": ["permission-contents", "permission-issues", "permission-pull-requests"],
        "bs-opened.yml": ["permission-pull-requests"],
    }


def test_the_check_runs_are_serialised_per_pull_request_never_cancelled() -> None:
    check = main_job("bs-check.yml")["concurrency"]
    review = workflow("bs-check-review.yml")["concurrency"]
    assert check["cancel-in-progress"] is False and review["cancel-in-progress"] is False
    # One group name for the same pull request from either workflow: its head repository
    # and branch, which both events carry (a fork's workflow_run has no pull request number).
    assert check["group"].replace("pull_request.head.repo", "X").replace(
        "pull_request.head.ref", "Y"
    ) == review["group"].replace("workflow_run.head_repository", "X").replace(
        "workflow_run.head_branch", "Y"
    )


def test_the_review_check_triggers_on_the_events_workflow_by_its_name() -> None:
    assert triggers("bs-check-review.yml")["workflow_run"]["workflows"] == [
        workflow("bs-events.yml")["name"]
    ]


def test_the_dangerous_triggers_are_acknowledged_on_their_line_only() -> None:
    """zizmor flags pull_request_target and workflow_run; they are the design (SECURITY.md).
    The one ignore allowed is that one, on the trigger's own line."""
    for name in NAMES:
        for number, line in enumerate(text(name).splitlines(), 1):
            if "zizmor:" in line:
                assert re.fullmatch(
                    r"  (pull_request_target|workflow_run): # zizmor: ignore\[dangerous-triggers\] "
                    r"default-branch code only",
                    line,
                ), f"{name}:{number}: {line}"
    assert not (ROOT / ".github" / "zizmor.yml").exists()


# -- the unprivileged events workflow -----------------------------------------------------


def test_the_events_workflow_has_no_permissions_no_secrets_and_runs_nothing() -> None:
    source = yaml.safe_dump(workflow("bs-events.yml"))  # what GitHub reads: no comments
    assert "secrets" not in source and "${{" not in source and "environment" not in source
    [job] = jobs("bs-events.yml").values()
    assert job["permissions"] == {}
    assert job["steps"] == [{"run": 'echo "recorded"'}]
    assert "concurrency" not in workflow("bs-events.yml")  # every review gets its evaluation


# -- the tools -------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{path}: missing; `make test` installs it (.[dev])"
    return str(path)


def test_zizmor_finds_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    done = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_the_workflows_validate_against_github_s_schema() -> None:
    done = subprocess.run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *(str(WORKFLOWS / name) for name in NAMES),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- the repositories the App's token may reach ----------------------------------------------


SCRIPT = ROOT / ".github" / "scripts" / "bs_token_repositories.py"


def _repositories(tmp_path: Path, apps: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "bs.yaml").write_text(
        "version: 1\nforge: {kind: local, path: forge}\nrequests_repo: alphagov/release-requests\n"
    )
    if apps is not None:
        (tmp_path / "policies").mkdir(exist_ok=True)
        (tmp_path / "policies" / "apps.yaml").write_text(apps)
    output = tmp_path / "output"
    output.write_text("")
    env = os.environ | {
        "GITHUB_REPOSITORY": "alphagov/release-requests",
        "GITHUB_OUTPUT": str(output),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=tmp_path, env=env
    )


APP = """
  {name}:
    repo: {repo}
    tags: {{scheme: release}}
    policy: standard
"""


def test_the_token_reaches_the_requests_repo_and_the_registered_apps(tmp_path: Path) -> None:
    apps = "version: 1\napps:" + "".join(
        APP.format(name=name, repo=repo)
        for name, repo in [
            ("frontend", "alphagov/frontend"),
            ("router", "alphagov/Router"),
            ("elsewhere", "someone-else/app"),
        ]
    )
    apps += (
        "    deployed: {source: gitops-file, repo: alphagov/govuk-helm-charts, "
        "path: charts/values.yaml, key: image.tag}\n"
    )
    done = _repositories(tmp_path, apps)
    assert done.returncode == 0, done.stderr
    line = "repositories=Router,frontend,govuk-helm-charts,release-requests\n"
    assert (tmp_path / "output").read_text() == line
    assert "::warning::someone-else/app is not alphagov's" in done.stdout


def test_without_a_readable_registry_the_token_reaches_the_requests_repo(tmp_path: Path) -> None:
    done = _repositories(tmp_path, "version: 1\napps: [unclosed\n")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "output").read_text() == "repositories=release-requests\n"
    assert "::warning::" in done.stdout


def test_every_push_is_recorded_before_the_check_and_no_record_is_cancelled() -> None:
    """GitHub keeps no record of who pushed each head of a pull request: `bs hook pushed`
    (the App) posts one on every opened and synchronize event, in a job of its own with no
    concurrency group (a cancelled record would break the chain, and the check fail
    closed); the check runs after it."""
    found = jobs("bs-check.yml")
    record, check = found["record"], found["check"]
    assert "concurrency" not in record and "concurrency" not in workflow("bs-check.yml")
    assert "opened" in record["if"] and "synchronize" in record["if"]
    assert check["needs"] == "record" and "needs.record.result != 'failure'" in check["if"]
    assert record["steps"][-1]["run"] == 'bs hook pushed --event "$GITHUB_EVENT_PATH"'
    token = next(s for s in record["steps"] if s.get("uses", "").startswith(f"{APP_TOKEN}@"))
    granted = {k: v for k, v in token["with"].items() if k.startswith("permission-")}
    assert granted == {"permission-statuses": "write"}


def test_a_rejected_request_is_removed_by_the_review_workflow() -> None:
    """An eligible reviewer's "request changes" removes the request (closed, branch
    deleted, requester told) in a job of its own, with the write token that needs and
    the check's own job kept to statuses."""
    found = jobs("bs-check-review.yml")
    check, remove = found["check"], found["remove"]
    assert check["outputs"]["outcome"] == "${{ steps.check.outputs.outcome }}"
    assert remove["needs"] == "check"
    assert remove["if"] == "needs.check.outputs.outcome == 'rejected'"
    assert remove["steps"][-1]["run"] == 'bs hook closed --event "$GITHUB_EVENT_PATH"'
    token = next(s for s in remove["steps"] if s.get("uses", "").startswith(f"{APP_TOKEN}@"))
    written = sorted(k for k, v in token["with"].items() if v.startswith("write"))
    assert written == ["permission-contents", "permission-issues", "permission-pull-requests"]
    assert "BS_LINK_KEYS" not in remove["steps"][-1]["env"]  # it never mints


def test_the_daily_check_lists_emergencies_and_fails_on_a_broken_chain_read_only() -> None:
    """Every morning, bs status (emergencies awaiting review among the rest) and bs audit,
    whose exit 4 fails the run; the App's token may only read, and only the store's URL
    is given beside it."""
    assert triggers("bs-daily.yml") == {
        "schedule": [{"cron": "17 7 * * *"}],
        "workflow_dispatch": None,
    }
    [job] = jobs("bs-daily.yml").values()
    assert job["permissions"] == {"contents": "read"} and job["environment"] == "bs"
    token = next(s for s in job["steps"] if s.get("uses", "").startswith(f"{APP_TOKEN}@"))
    granted = {k: v for k, v in token["with"].items() if k.startswith("permission-")}
    assert set(granted.values()) == {"read"}
    last = job["steps"][-1]
    assert "bs status" in last["run"] and 'bs audit --since "$since"' in last["run"]
    assert 'exit "$status"' in last["run"]  # the audit's own exit status, after the summary
    assert set(re.findall(r"secrets\.(\w+)", text("bs-daily.yml"))) == {
        "BS_APP_PRIVATE_KEY", "BS_GATEWAY_STORE",
    }  # fmt: skip
    assert last["env"]["BS_GATEWAY_STORE"] == "${{ secrets.BS_GATEWAY_STORE }}"
