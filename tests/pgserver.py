"""A throwaway PostgreSQL cluster for the tests that need a real server.

`running_postgres()` makes a cluster in a temp dir (``initdb -A trust -U bs``),
starts it on a free loopback port with its socket in that dir, creates the
database ``bs_test`` and yields its SQLAlchemy URL; afterwards it stops the
server (``pg_ctl stop -m immediate``) and deletes the dir. conftest.py wraps
it as the session-scoped ``postgres_url`` fixture: under pytest-xdist each
worker that needs it starts its own cluster.

PostgreSQL will not run as root: as root (CI, containers) every server command
runs as the ``postgres`` user through ``runuser`` on a dir that user owns; as
anyone else the commands run directly.

When PostgreSQL is not installed the fixture fails, never skips: a missing
server must not quietly turn the concurrency tests off. ``make test`` installs it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "bs"
DATABASE = "bs_test"
#: Ports tried before giving up when another process takes the free port first.
PORT_ATTEMPTS = 5
#: Seconds pg_ctl waits for the server to accept connections.
START_TIMEOUT = 60
#: The threaded tests open up to ~60 connections at once; leave room for retries.
MAX_CONNECTIONS = 200
INSTALL_HINT = (
    "PostgreSQL is needed for the store's concurrency tests: run `make test`, which "
    "installs it (scripts/system-deps.sh), or install Debian's `postgresql` package."
)


class PostgresError(Exception):
    """The throwaway cluster could not be made or started."""


def find_bindir() -> Path:
    """The directory with initdb and pg_ctl: on PATH, else Debian's newest
    /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl", path=str(Path(on_path).parent)):
        return Path(on_path).parent
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").is_file()
    ]
    if not found:
        raise PostgresError(f"initdb was not found. {INSTALL_HINT}")

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))

    return max(found, key=version)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_root() -> bool:
    return os.geteuid() == 0


def _server_prefix() -> list[str]:
    """How to run a server command: as postgres through runuser when root."""
    if not _as_root():
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresError(
            "running as root, and PostgreSQL refuses to: there is no `postgres` user to run "
            f"it as. {INSTALL_HINT}"
        ) from None
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"]


def _environment() -> dict[str, str]:
    # The developer's PGDATA, PGPORT, PGHOST... must not steer the throwaway cluster.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(prefix: list[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *argv],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=START_TIMEOUT + 30,
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """A fresh cluster with database bs_test; yields its URL and removes it all afterwards."""
    bindir = find_bindir()
    prefix = _server_prefix()
    # Not pytest's tmp_path: its base is private to the user running pytest, and a
    # server running as postgres must reach this dir. /tmp paths also keep the Unix
    # socket's path under its ~100-character limit.
    root = Path(tempfile.mkdtemp(prefix="bs-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        if prefix:
            shutil.chown(root, user="postgres", group=None)
        init = _run(
            prefix,
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER,
             "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=root,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresError(f"initdb failed:\n{init.stdout}{init.stderr}")
        port = _start(bindir, prefix, root, data, log)
        _create_database(port, log)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():  # also a server whose start timed out
            _stop(bindir, prefix, root, data)
        shutil.rmtree(root, ignore_errors=True)


def _start(bindir: Path, prefix: list[str], root: Path, data: Path, log: Path) -> int:
    """Start the server on a free loopback port, trying another when one is taken."""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        options = " ".join(
            [
                f"-h 127.0.0.1 -p {port} -k {shlex.quote(str(root))}",
                f"-c max_connections={MAX_CONNECTIONS}",
                # A throwaway cluster: durability only costs time.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            ]
        )
        log.unlink(missing_ok=True)
        start = _run(
            prefix,
            [str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w",
             "-t", str(START_TIMEOUT), "-o", options],
            cwd=root,
        )  # fmt: skip
        if start.returncode == 0:
            return port
        logged = _tail(log)
        if "already in use" not in logged:  # not a port clash: retrying will not help
            raise PostgresError(f"pg_ctl start failed:\n{start.stdout}{start.stderr}\n{logged}")
        # A server that failed to bind has exited; make sure before reusing the data dir.
        _stop(bindir, prefix, root, data)
    raise PostgresError(f"no free port after {PORT_ATTEMPTS} tries:\n{_tail(log)}")


def _stop(bindir: Path, prefix: list[str], root: Path, data: Path) -> None:
    _run(prefix, [str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"], root)


def _create_database(port: int, log: Path) -> None:
    try:
        import psycopg
    except ImportError:
        raise PostgresError(
            "the PostgreSQL tests need psycopg: pip install 'psycopg[binary]'"
        ) from None
    deadline = time.monotonic() + START_TIMEOUT
    while True:  # pg_ctl -w has waited for "ready"; this only covers a slow first accept
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=USER, dbname="postgres",
                autocommit=True, connect_timeout=5,
            ) as connection:  # fmt: skip
                connection.execute(f'CREATE DATABASE "{DATABASE}"')
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresError(f"the server does not answer: {exc}\n{_tail(log)}") from None
            time.sleep(0.1)


def postgres_url_fixture() -> Iterator[str]:
    """The body of the session fixture: a failure, not a skip, when PostgreSQL is missing
    or will not start. (pytest never throws a test's own failure into a fixture.)"""
    problem = ""
    try:
        with running_postgres() as url:
            yield url
    except PostgresError as exc:
        problem = str(exc)
    if problem:  # outside the except: the report is the message, not a chain of two
        pytest.fail(problem, pytrace=False)
