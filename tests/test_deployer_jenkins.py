"""JenkinsDeployer against Jenkins' HTTP API, mocked with `responses` serving captured answers.

The bodies and headers come from ``../shared/jenkins/`` (see its README for where each
was captured). Time is a fake clock that `sleep` moves on, so nothing waits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

import requests
from bs.deployconfig import JenkinsDeploy
from bs.deployers import DeployJob, DeployOutcome
from bs.deployers.jenkins import JenkinsDeployer
from bs.errors import BsError

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "jenkins"
ROOT = "https://ci.example.org/jenkins"
JOB_URL = f"{ROOT}/job/Deploy_App"
CRUMB_URL = f"{ROOT}/crumbIssuer/api/json"
TRIGGER_URL = f"{JOB_URL}/buildWithParameters"
QUEUE_URL = f"{ROOT}/queue/item/1/api/json"  # buildWithParameters_201.json's Location: item 1
CANCEL_URL = f"{ROOT}/queue/cancelItem"
TOKEN = "11c0ffee22c0ffee33c0ffee44c0ffee55"
ENV = {"BS_JENKINS_USERNAME": "deployer", "BS_JENKINS_TOKEN": TOKEN}
JOB = DeployJob(
    app="frontend", repo="alphagov/frontend", tag="v1.2.3", commit="0a1b2c3d", deployment_id=7
)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def described(name: str) -> dict[str, Any]:
    """A descriptor file's response as keyword arguments of `responses.add`."""
    response = fixture(name)["response"]
    headers = dict(response["headers"])
    content_type = headers.pop("Content-Type", "text/plain")
    return {
        "status": response["status"],
        "headers": headers,
        "body": response["body"] or "",
        "content_type": content_type,
    }


def build_url(number: int) -> str:
    return f"{JOB_URL}/{number}/api/json"


def console_url(number: int) -> str:
    return f"{JOB_URL}/{number}/logText/progressiveText"


def started_item(
    number: int = 14, url: str = "http://localhost:8082/job/test/14/"
) -> dict[str, Any]:
    item = fixture("queue_item_left_started.json")
    item["executable"] = {**item["executable"], "number": number, "url": url}
    return item


class FakeTime:
    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def config(**fields: Any) -> JenkinsDeploy:
    return JenkinsDeploy.model_validate({"kind": "jenkins", "url": ROOT, **fields})


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def deploy(
    fake_time: FakeTime,
    deploy_config: JenkinsDeploy | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    job: DeployJob = JOB,
) -> tuple[DeployOutcome, list[str]]:
    """Run one deploy; check the token is nowhere and the summary is one line."""
    lines: list[str] = []
    deployer = JenkinsDeployer(
        deploy_config or config(), ENV, sleep=fake_time.sleep, clock=fake_time.clock
    )
    outcome = deployer.deploy(job, lines.append, should_stop)
    for text in [*lines, outcome.summary, outcome.url or ""]:
        assert TOKEN not in text
    assert "\n" not in outcome.summary
    return outcome, lines


def triggered(http: responses.RequestsMock) -> None:
    """Crumb and buildWithParameters answered as a real Jenkins does."""
    http.get(CRUMB_URL, json=fixture("crumbIssuer.json"))
    http.post(TRIGGER_URL, **described("buildWithParameters_201.json"))


def sent(http: responses.RequestsMock) -> list[str]:
    """Each request as ``METHOD path?query``."""
    out = []
    for call in http.calls:
        parts = urlsplit(call.request.url or "")
        out.append(
            f"{call.request.method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
        )
    return out


def test_success_streams_the_console_and_reports_the_build(http, fake_time):
    triggered(http)
    http.get(QUEUE_URL, json=fixture("queue_item_waiting_quiet_period.json"))
    http.get(QUEUE_URL, json=fixture("queue_item_left_started.json"))
    first = described("progressiveText_in_progress.json")
    http.get(console_url(14), match=[matchers.query_param_matcher({"start": "0"})], **first)
    then = described("progressiveText_complete_next_chunk.json")
    http.get(console_url(14), match=[matchers.query_param_matcher({"start": "105"})], **then)
    http.get(build_url(14), json=fixture("build_running.json"))
    http.get(build_url(14), json=fixture("build_success.json"))

    outcome, lines = deploy(fake_time)

    assert outcome == DeployOutcome(
        True, "Jenkins build #14 of Deploy_App: SUCCESS", "http://0.0.0.0:8080/job/freestylejob/14/"
    )
    assert lines == [
        "Jenkins: Deploy_App queued as item 1 with TARGET_APPLICATION=frontend, TAG=v1.2.3, "
        "DEPLOY_TASK=deploy",
        "Jenkins: waiting in the queue: In the quiet period. Expires in 4.6 sec",
        "Jenkins: build #14 started: http://localhost:8082/job/test/14/",
        "Started by user anonymous",
        "Building in workspace /var/jenkins_home/workspace/DevTest",
        "Finished: SUCCESS",
    ]
    assert sent(http) == [
        "GET /jenkins/crumbIssuer/api/json",
        "POST /jenkins/job/Deploy_App/buildWithParameters"
        "?TARGET_APPLICATION=frontend&TAG=v1.2.3&DEPLOY_TASK=deploy",
        "GET /jenkins/queue/item/1/api/json?depth=0",
        "GET /jenkins/queue/item/1/api/json?depth=0",
        "GET /jenkins/job/Deploy_App/14/logText/progressiveText?start=0",
        "GET /jenkins/job/Deploy_App/14/api/json?depth=0",
        "GET /jenkins/job/Deploy_App/14/logText/progressiveText?start=105",
        "GET /jenkins/job/Deploy_App/14/api/json?depth=0",
    ]
    basic = "Basic " + base64.b64encode(f"deployer:{TOKEN}".encode()).decode()
    crumb = fixture("crumbIssuer.json")["crumb"]
    for call in http.calls:
        assert call.request.headers["Authorization"] == basic
    for call in http.calls[1:]:
        assert call.request.headers["Jenkins-Crumb"] == crumb
    assert fake_time.sleeps == [2.0, 2.0]


def test_the_parameters_sent_are_filled_in(http, fake_time):
    triggered(http)
    http.get(QUEUE_URL, json=fixture("queue_item_cancelled.json"))
    parameters = {"TARGET_APPLICATION": "{app}", "TAG": "{tag}", "NOTE": "{repo}@{commit} & co"}
    untagged = DeployJob(app="frontend", repo="alphagov/frontend", tag=None, commit="0a1b2c3d",
                         deployment_id=8)  # fmt: skip

    deploy(fake_time, config(parameters=parameters), job=untagged)

    trigger = http.calls[1].request
    assert trigger.method == "POST"
    assert parse_qs(urlsplit(trigger.url or "").query, keep_blank_values=True) == {
        "TARGET_APPLICATION": ["frontend"],
        "TAG": ["0a1b2c3d"],
        "NOTE": ["alphagov/frontend@0a1b2c3d & co"],
    }
    assert not trigger.body


def test_lines_split_across_chunks_are_joined(http, fake_time):
    triggered(http)
    http.get(QUEUE_URL, json=started_item())
    chunks = [(b"alpha\r\ncaf\xc3", "true"), (b"\xa9\r", "true"), (b"\nlast", None)]
    offset = 0
    for body, more in chunks:
        headers = {"X-Text-Size": str(offset + len(body))} | ({"X-More-Data": more} if more else {})
        start = matchers.query_param_matcher({"start": str(offset)})
        http.get(console_url(14), body=body, headers=headers, match=[start])
        offset += len(body)
    http.get(build_url(14), json=fixture("build_running.json"))
    http.get(build_url(14), json=fixture("build_running.json"))
    http.get(build_url(14), json=fixture("build_success.json"))

    outcome, lines = deploy(fake_time)

    assert outcome.ok
    assert lines[-3:] == ["alpha", "café", "last"]


@pytest.mark.parametrize(
    ("name", "result"), [("build_failure.json", "FAILURE"), ("build_aborted.json", "ABORTED")]
)
def test_a_build_that_fails_is_not_ok(http, fake_time, name, result):
    build = fixture(name)
    triggered(http)
    http.get(QUEUE_URL, json=started_item(build["number"], build["url"]))
    http.get(console_url(build["number"]), **described("progressiveText_complete.json"))
    http.get(build_url(build["number"]), json=build)

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(
        False, f"Jenkins build #{build['number']} of Deploy_App: {result}", build["url"]
    )


def test_a_cancelled_queue_item(http, fake_time):
    triggered(http)
    http.get(QUEUE_URL, json=fixture("queue_item_waiting_quiet_period.json"))
    http.get(QUEUE_URL, json=fixture("queue_item_cancelled.json"))

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(False, "the queued build was cancelled in Jenkins")
    assert sent(http)[2:] == ["GET /jenkins/queue/item/1/api/json?depth=0"] * 2


def queue_until_cancelled(http: responses.RequestsMock, after_cancel: dict[str, Any]) -> None:
    """The item waits, then is blocked, until cancelItem; then it is `after_cancel`."""
    polls: list[int] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if any((call.request.url or "").startswith(CANCEL_URL) for call in http.calls):
            return 200, {}, json.dumps(after_cancel)
        polls.append(1)
        name = (
            "queue_item_waiting_quiet_period.json" if len(polls) == 1 else "queue_item_blocked.json"
        )
        return 200, {}, json.dumps(fixture(name))

    http.add_callback(responses.GET, QUEUE_URL, callback=answer, content_type="application/json")
    cancelled = fixture("queue_cancelItem.json")["responses"][0]
    http.post(CANCEL_URL, status=cancelled["status"], body=cancelled["body"])


def test_a_build_that_never_starts_is_taken_off_the_queue(http, fake_time):
    triggered(http)
    queue_until_cancelled(http, fixture("queue_item_cancelled.json"))

    outcome, lines = deploy(fake_time, config(start_timeout=5, poll_interval=2))

    assert outcome == DeployOutcome(
        False,
        "the build never started within 5 s (Jenkins says: Build #9 is already in progress "
        "(ETA:15 sec)); the queued build was cancelled",
    )
    assert [line for line in lines if "waiting in the queue" in line] == [
        "Jenkins: waiting in the queue: In the quiet period. Expires in 4.6 sec",
        "Jenkins: waiting in the queue: Build #9 is already in progress (ETA:15 sec)",
    ]
    cancel = [call.request for call in http.calls if call.request.method == "POST"][-1]
    assert cancel.url == f"{CANCEL_URL}?id=1"
    assert cancel.headers["Referer"] == f"{ROOT}/"
    assert fake_time.sleeps == [2, 2, 2]


def test_a_build_that_starts_as_it_is_cancelled_is_stopped(http, fake_time):
    triggered(http)
    queue_until_cancelled(http, started_item())
    http.post(f"{JOB_URL}/14/stop")

    outcome, _ = deploy(fake_time, config(start_timeout=5, poll_interval=2))

    assert outcome.summary.endswith("; the build was asked to stop")
    assert outcome.url == "http://localhost:8082/job/test/14/"
    assert sent(http)[-1] == "POST /jenkins/job/Deploy_App/14/stop"


def running_forever(http: responses.RequestsMock) -> None:
    triggered(http)
    http.get(QUEUE_URL, json=started_item())
    http.get(console_url(14), **described("progressiveText_not_started.json"))
    http.get(build_url(14), json=fixture("build_running.json"))
    http.post(f"{JOB_URL}/14/stop")


def test_an_overall_timeout_stops_the_build(http, fake_time):
    running_forever(http)

    outcome, _ = deploy(fake_time, config(timeout=10, poll_interval=2))

    assert outcome == DeployOutcome(
        False,
        "timed out after 10 s; the build was asked to stop",
        "http://localhost:8082/job/test/14/",
    )
    assert sent(http).count("POST /jenkins/job/Deploy_App/14/stop") == 1
    assert sum(fake_time.sleeps) == 10


def test_shutting_down_stops_the_build(http, fake_time):
    running_forever(http)
    asked = iter([False, False, True])

    outcome, _ = deploy(fake_time, should_stop=lambda: next(asked))

    assert outcome.summary == "the gateway is shutting down; the build was asked to stop"
    assert sent(http)[-1] == "POST /jenkins/job/Deploy_App/14/stop"


def test_shutting_down_before_the_start_sends_nothing(http, fake_time):
    outcome, _ = deploy(fake_time, should_stop=lambda: True)

    assert outcome.summary == "the gateway is shutting down; nothing was sent to Jenkins"
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("env", "fields", "missing"),
    [
        ({}, {}, "BS_JENKINS_USERNAME"),
        ({"BS_JENKINS_USERNAME": "deployer"}, {}, "BS_JENKINS_TOKEN"),
        ({"BS_JENKINS_USERNAME": "deployer", "BS_JENKINS_TOKEN": ""}, {}, "BS_JENKINS_TOKEN"),
        ({"BS_JENKINS_USERNAME": "deployer"}, {"token_env": "CI_TOKEN"}, "CI_TOKEN"),
    ],
)
def test_missing_credentials_are_refused_before_anything_is_sent(http, env, fields, missing):
    with pytest.raises(BsError) as raised:
        JenkinsDeployer(config(**fields), env)

    assert raised.value.message.startswith(
        f"{missing} is not set: set it in the gateway's environment"
    )
    assert "\n" not in raised.value.message
    assert len(http.calls) == 0


@pytest.mark.parametrize("refused", ["crumb", "trigger"])
def test_refused_credentials_are_one_line(http, fake_time, refused):
    page = f"<html><body>Invalid password/token for user: deployer {TOKEN}</body></html>"
    if refused == "crumb":
        http.get(CRUMB_URL, status=401, body=page)
    else:
        http.get(CRUMB_URL, **described("crumbIssuer_404_csrf_disabled.json"))
        http.post(TRIGGER_URL, status=401, body=page)

    outcome, lines = deploy(fake_time)

    assert outcome == DeployOutcome(
        False,
        "Jenkins refused the credentials in BS_JENKINS_USERNAME/BS_JENKINS_TOKEN (401): check them",
    )
    assert lines == []


@pytest.mark.parametrize(
    ("crumb", "trigger", "summary"),
    [
        (
            {"status": 404},
            {"status": 404},
            f"Jenkins answered 404 (not found) while triggering Deploy_App: check deploy.url "
            f"({ROOT}) and deploy.job (Deploy_App)",
        ),
        (
            {"json": fixture("crumbIssuer.json")},
            {"status": 403, "body": "No valid crumb was included in the request"},
            "Jenkins forbade triggering Deploy_App (403): check that the user in "
            "BS_JENKINS_USERNAME may build and cancel Deploy_App, and the token in BS_JENKINS_TOKEN",
        ),
        (
            {"body": "<html><title>Sign in</title></html>"},
            {"status": 201},
            "Jenkins answered something unexpected while triggering Deploy_App (Expecting value: "
            f"line 1 column 1 (char 0)): check that deploy.url ({ROOT}) is Jenkins' root URL",
        ),
        (
            {"body": requests.ReadTimeout("read timed out")},
            {"status": 201},
            f"Jenkins at {ROOT} did not answer within 30 s while triggering Deploy_App: "
            "check that it is up",
        ),
    ],
)
def test_other_failures_are_one_line(http, fake_time, crumb, trigger, summary):
    http.get(CRUMB_URL, **crumb)
    http.post(TRIGGER_URL, **trigger)

    outcome, _ = deploy(fake_time)

    assert outcome == DeployOutcome(False, summary)


def test_connection_refused_is_one_line(http, fake_time):
    refused = requests.ConnectionError(
        "HTTPSConnectionPool(host='ci.example.org', port=443): Max retries exceeded "
        "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: "
        "Failed to establish a new connection: [Errno 111] Connection refused'))"
    )
    http.get(CRUMB_URL, body=refused)

    outcome, _ = deploy(fake_time)

    assert outcome.summary == (
        f"could not reach Jenkins at {ROOT} (Connection refused) while triggering Deploy_App: "
        "check deploy.url and that Jenkins is up"
    )


def test_the_token_is_never_written_even_when_jenkins_echoes_it(http, fake_time):
    triggered(http)
    http.get(QUEUE_URL, json=started_item())
    echo = f"+ curl -u deployer:{TOKEN} https://example.org\r\n".encode()
    headers = {"X-Text-Size": str(len(echo)), "X-More-Data": "true"}
    http.get(console_url(14), body=echo, headers=headers)
    http.get(build_url(14), status=500, body=f"<pre>java.lang.Exception: {TOKEN}</pre>")

    outcome, lines = deploy(fake_time)  # asserts TOKEN is in no line and no summary

    assert "+ curl -u deployer:*** https://example.org" in lines
    assert outcome == DeployOutcome(
        False,
        "Jenkins answered 500 Internal Server Error while following build #14: see the Jenkins log",
        "http://localhost:8082/job/test/14/",
    )
