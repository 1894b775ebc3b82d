"""Deploy by building a parameterised Jenkins job (GOV.UK's ``Deploy_App``).

Through python-jenkins: ``buildWithParameters`` with the release filled into
the job's parameters, the queue item followed until a build starts, the
build's console streamed line by line (``logText/progressiveText``, which
python-jenkins has no call for, so it goes through its ``jenkins_request``) and
the build polled until it ends. Time is the injected ``clock`` and ``sleep``.
Every Jenkins or HTTP failure becomes a one-line `DeployOutcome`; the API token
is never written to a summary or a log line.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import jenkins  # type: ignore[import-untyped]  # python-jenkins ships no types

import requests
from bs.deployconfig import JenkinsDeploy, fill
from bs.deployers import DeployJob, DeployOutcome, LogLine, ShouldStop
from bs.errors import BsError

#: Seconds one HTTP request to Jenkins may take (python-jenkins waits forever by default).
HTTP_TIMEOUT = 30.0
#: What talking to Jenkins can raise; `JenkinsDeployer.explain` puts each in one line.
_FAILURES = (jenkins.JenkinsException, requests.RequestException, ValueError)


class JenkinsDeployer:
    """Builds ``config.job`` on the Jenkins at ``config.url`` and follows the build to its end."""

    def __init__(
        self,
        config: JenkinsDeploy,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._username = _required(
            env, config.username_env, f"the Jenkins user who builds {config.job}"
        )
        self._token = _required(
            env, config.token_env, f"an API token of the Jenkins user in {config.username_env}"
        )
        self.sleep = sleep
        self.clock = clock

    def deploy(self, job: DeployJob, log: LogLine, should_stop: ShouldStop) -> DeployOutcome:
        values = job.placeholders()
        parameters = {name: fill(text, values) for name, text in self.config.parameters.items()}
        server = jenkins.Jenkins(
            self.config.url, username=self._username, password=self._token, timeout=HTTP_TIMEOUT
        )
        run = _Run(self, server, lambda line: log(self.redact(line)), should_stop)
        try:
            return run.run(parameters)
        except _FAILURES as exc:
            run.console.close()
            return DeployOutcome(False, self.explain(exc, run.step), run.build_url)

    def redact(self, text: str) -> str:
        """`text` with the API token blotted out, should Jenkins ever echo it."""
        return text.replace(self._token, "***")

    def explain(self, exc: Exception, step: str) -> str:
        """One line saying what went wrong while `step`, and what to do about it."""
        c = self.config
        response = _http_response(exc)
        found = re.search(r"authentication failed \[(\d{3})\]", str(exc))  # python-jenkins' words
        status = response.status_code if response is not None else int(found[1]) if found else None
        detail = _one_line(str(exc))
        if status == 401:
            text = f"Jenkins refused the credentials in {c.username_env}/{c.token_env} (401): check them"
        elif status == 403:
            text = (
                f"Jenkins forbade {step} (403): check that the user in {c.username_env} "
                f"may build and cancel {c.job}, and the token in {c.token_env}"
            )
        elif status == 404:
            text = (
                f"Jenkins answered 404 (not found) while {step}: "
                f"check deploy.url ({c.url}) and deploy.job ({c.job})"
            )
        elif isinstance(exc, jenkins.TimeoutException | requests.Timeout):
            text = (
                f"Jenkins at {c.url} did not answer within {HTTP_TIMEOUT:g} s while {step}: "
                "check that it is up"
            )
        elif isinstance(exc, requests.ConnectionError):
            errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
            why = f" ({errno[1].strip()})" if errno else ""
            text = (
                f"could not reach Jenkins at {c.url}{why} while {step}: "
                "check deploy.url and that Jenkins is up"
            )
        elif status:
            reason = f" {response.reason}" if response is not None and response.reason else ""
            text = f"Jenkins answered {status}{reason} while {step}: see the Jenkins log"
        elif isinstance(exc, ValueError):
            text = (
                f"Jenkins answered something unexpected while {step} ({detail}): "
                f"check that deploy.url ({c.url}) is Jenkins' root URL"
            )
        else:
            text = f"Jenkins failed while {step}: {detail}"
        return _one_line(self.redact(text))


class _Run:
    """One deploy: its connection to Jenkins, its clock, its console and how far it got."""

    def __init__(
        self, deployer: JenkinsDeployer, server: Any, say: LogLine, should_stop: ShouldStop
    ) -> None:
        self.deployer = deployer
        self.config = deployer.config
        self.server = server
        self.say = say
        self.should_stop = should_stop
        self.started = deployer.clock()
        self.step = f"triggering {self.config.job}"
        self.build_url: str | None = None
        self.console = _Lines(say)

    def halted(self) -> str | None:
        """Why this deploy must end now, if it must."""
        if self.should_stop():
            return "the gateway is shutting down"
        if self.deployer.clock() - self.started >= self.config.timeout:
            return f"timed out after {self.config.timeout:g} s"
        return None

    def run(self, parameters: dict[str, str]) -> DeployOutcome:
        if self.should_stop():
            return DeployOutcome(False, "the gateway is shutting down; nothing was sent to Jenkins")
        queue_id = int(self.server.build_job(self.config.job, parameters))
        shown = ", ".join(f"{name}={value}" for name, value in parameters.items())
        self.say(f"Jenkins: {self.config.job} queued as item {queue_id} with {shown}")
        started = self.wait_for_start(queue_id)
        if isinstance(started, DeployOutcome):
            return started
        number, self.build_url = started
        self.say(f"Jenkins: build #{number} started: {self.build_url}")
        return self.follow(number)

    def wait_for_start(self, queue_id: int) -> tuple[int, str | None] | DeployOutcome:
        """The build's number and URL once the queue item has one, or why it never will."""
        self.step = f"following queue item {queue_id}"
        queued = self.deployer.clock()
        why: str | None = None
        while True:
            item = _mapping(self.server.get_queue_item(queue_id))
            started = _executable(item)
            if started is not None:
                return started
            if item.get("cancelled"):
                return DeployOutcome(False, "the queued build was cancelled in Jenkins")
            if item.get("why") and item["why"] != why:
                why = str(item["why"])
                self.say(f"Jenkins: waiting in the queue: {why}")
            halted = self.halted()
            if halted is None and self.deployer.clock() - queued >= self.config.start_timeout:
                halted = (
                    f"the build never started within {self.config.start_timeout:g} s "
                    f"(Jenkins says: {why or 'nothing'})"
                )
            if halted is not None:
                return DeployOutcome(False, halted + self.cancel(queue_id), self.build_url)
            self.deployer.sleep(self.config.poll_interval)

    def cancel(self, queue_id: int) -> str:
        """Take the item off the queue (and stop its build, had it just started): how it went."""
        self.step = f"cancelling queue item {queue_id}"
        try:
            self.server.cancel_queue(queue_id)
            started = _executable(_mapping(self.server.get_queue_item(queue_id)))
        except _FAILURES as exc:
            return f"; cancelling the queued build failed: {self.deployer.explain(exc, self.step)}"
        if started is None:
            return "; the queued build was cancelled"
        self.build_url = started[1]
        return self.stop(started[0])

    def stop(self, number: int) -> str:
        self.step = f"stopping build #{number}"
        try:
            self.server.stop_build(self.config.job, number)
        except _FAILURES as exc:
            return f"; asking the build to stop failed: {self.deployer.explain(exc, self.step)}"
        return "; the build was asked to stop"

    def follow(self, number: int) -> DeployOutcome:
        """Stream the build's console and poll the build until both are finished."""
        name = self.config.job
        root = self.config.url.rstrip("/")
        url = f"{root}/{_job_path(name)}{number}/logText/progressiveText"
        offset, more, building = 0, True, True
        info: Mapping[str, Any] = {}
        while True:
            if more:
                self.step = f"reading build #{number}'s console"
                request = requests.Request("GET", url, params={"start": offset})
                response = self.server.jenkins_request(request)
                self.console.feed(response.content)
                offset = _text_size(response, offset)
                more = response.headers.get("X-More-Data", "").lower() == "true"
            if building:
                self.step = f"following build #{number}"
                info = _mapping(self.server.get_build_info(name, number))
                building = bool(info.get("building"))
            if not (more or building):
                break
            halted = self.halted()
            if halted is not None:
                self.console.close()
                return DeployOutcome(False, halted + self.stop(number), self.build_url)
            self.deployer.sleep(self.config.poll_interval)
        self.console.close()
        if isinstance(info.get("url"), str):
            self.build_url = info["url"]
        result = info.get("result") or "no result"
        summary = f"Jenkins build #{number} of {name}: {result}"
        return DeployOutcome(result == "SUCCESS", summary, self.build_url)


class _Lines:
    """Console bytes in, complete lines out (a partial line waits for its end)."""

    def __init__(self, say: LogLine) -> None:
        self._say = say
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + self._decoder.decode(data)).split("\n")
        for line in lines:
            self._say(line.rstrip("\r"))

    def close(self) -> None:
        rest, self._partial = self._partial + self._decoder.decode(b"", final=True), ""
        if rest.rstrip("\r"):
            self._say(rest.rstrip("\r"))


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name)
    if not value:
        raise BsError(f"{name} is not set: set it in the gateway's environment to {what}.")
    return value


def _job_path(name: str) -> str:
    """``job/a/job/b/`` for the job ``a/b`` (a job in a folder), as python-jenkins spells it."""
    return "".join(f"job/{quote(part)}/" for part in name.split("/"))


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"a {type(value).__name__} where a JSON object was expected")
    return value


def _executable(item: Mapping[str, Any]) -> tuple[int, str | None] | None:
    """The number and URL of the build a queue item became, if it became one yet."""
    executable = item.get("executable")
    if isinstance(executable, dict) and isinstance(executable.get("number"), int):
        url = executable.get("url")
        return executable["number"], url if isinstance(url, str) else None
    return None


def _text_size(response: requests.Response, offset: int) -> int:
    """Where the next console chunk starts: ``X-Text-Size``, a byte offset in the raw log."""
    size = response.headers.get("X-Text-Size", "")
    return int(size) if size.isdigit() else offset + len(response.content)


def _http_response(exc: BaseException) -> requests.Response | None:
    """The HTTP response behind `exc`: python-jenkins re-raises HTTP errors as its own."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, requests.HTTPError) and seen.response is not None:
            return seen.response
        seen = seen.__cause__ or seen.__context__
    return None


def _one_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "no details")
    return line if len(line) <= 300 else line[:297] + "..."
