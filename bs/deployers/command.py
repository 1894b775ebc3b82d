"""The command deployer: run a program, no shell, with the release in its arguments.

The embedded default. Its output (stdout and stderr together) is streamed to
the deployment page line by line. It gets a small environment: PATH, HOME,
LANG and the variables the app's ``deploy.env`` names, never the gateway's
own secrets. Past its timeout it is stopped (SIGTERM, then SIGKILL), and so
is it when the gateway shuts down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bs.deployconfig import CommandDeploy, fill
from bs.deployers import DeployJob, DeployOutcome, LogLine, ShouldStop
from bs.errors import BsError

PASSED_ALWAYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
#: After SIGTERM, how long a program has to exit before SIGKILL.
GRACE_SECONDS = 10.0


class CommandDeployer:
    def __init__(
        self,
        config: CommandDeploy,
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = [name for name in config.env if name not in env]
        if missing:
            raise BsError(
                f"the deploy command needs {', '.join(missing)} in the gateway's environment "
                "(policies/apps.yaml, deploy.env): set it where bs serve runs."
            )
        self.config = config
        self.env = {name: env[name] for name in (*PASSED_ALWAYS, *config.env) if name in env}
        self.clock = clock
        self.cwd = cwd

    def deploy(self, job: DeployJob, log: LogLine, should_stop: ShouldStop) -> DeployOutcome:
        argv = [fill(arg, job.placeholders()) for arg in self.config.argv]
        for template, filled in zip(self.config.argv, argv, strict=True):
            if template.startswith("{") and filled.startswith("-"):
                # A release value the program would read as an option (git's --upload-pack).
                return DeployOutcome(
                    False, f"refused to run: {template} would be {filled!r}, an option"
                )
        if self.cwd is not None and "/" in argv[0] and not argv[0].startswith("/"):
            argv[0] = str(self.cwd / argv[0])  # a path in the repository, not on PATH
        log(f"$ {' '.join(argv)}")
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        except OSError as exc:
            return DeployOutcome(
                False, f"could not run {argv[0]}: {exc.strerror or exc}. Check deploy.argv."
            )
        reader = threading.Thread(target=_pump, args=(process, log), daemon=True)
        reader.start()
        deadline = self.clock() + self.config.timeout
        stopped_because = ""
        while process.poll() is None:
            if self.clock() >= deadline:
                stopped_because = f"timed out after {self.config.timeout:g} s"
            elif should_stop():
                stopped_because = "the gateway is shutting down"
            if stopped_because:
                _stop(process)
                break
            reader.join(timeout=0.2)
        process.wait()
        reader.join(timeout=5)
        if stopped_because:
            return DeployOutcome(False, f"{stopped_because}; the command was stopped")
        code = process.returncode
        if code == 0:
            return DeployOutcome(True, "the command exited with status 0")
        if code < 0:
            return DeployOutcome(False, f"the command was killed by signal {-code}")
        return DeployOutcome(False, f"the command exited with status {code}")


def _pump(process: subprocess.Popen[bytes], log: LogLine) -> None:
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        log(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
