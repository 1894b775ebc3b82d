"""Shared fixtures: real git repositories in temp dirs and a local forge world."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import settings

from bs.cli.main import main
from tests.fakegithub import fake_github  # noqa: F401  (the fake GitHub fixture)
from tests.pgserver import postgres_url_fixture

# The helper modules shared by several test files assert too: rewrite their asserts
# as pytest does the test files', for the same detailed failure messages.
pytest.register_assert_rewrite("tests.checkhelpers", "tests.evalhelpers", "tests.policyhelpers")

# No per-example deadline: a loaded 2-core CI machine must not turn slowness into failures.
settings.register_profile("bs", deadline=None)
settings.load_profile("bs")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster's database URL (tests/pgserver.py), one per session
    (per xdist worker); fails, never skips, when PostgreSQL is not installed."""
    yield from postgres_url_fixture()


@pytest.fixture(autouse=True)
def _isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No user or system git config leaks into tests; a fixed identity for commits."""
    home = tmp_path_factory.mktemp("home")
    config = home / "gitconfig"
    config.write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("BS_USER", raising=False)


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    """Run git; return stdout (text, stripped)."""
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, input=input)
    return out.stdout.decode().strip()


def git_bytes(cwd: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True).stdout


class WorkRepo:
    """A non-bare repository to build history in: write files, commit, tag, push."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")

    def write(self, name: str, content: bytes | str, mode: int | None = None) -> WorkRepo:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        if mode is not None:
            target.chmod(mode)
        return self

    def remove(self, name: str) -> WorkRepo:
        git(self.path, "rm", "-q", name)
        return self

    def move(self, old: str, new: str) -> WorkRepo:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        git(self.path, "mv", old, new)
        return self

    def commit(self, message: str = "change") -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def tag(
        self, name: str, *, annotated: bool = False, rev: str = "HEAD", force: bool = False
    ) -> None:
        args = ["tag"]
        if annotated:
            args += ["-a", "-m", f"Release {name}"]
        if force:
            args.append("-f")
        git(self.path, *args, name, rev)

    def checkout(self, rev: str, *, new_branch: str | None = None) -> None:
        if new_branch:
            git(self.path, "checkout", "-q", "-b", new_branch, rev)
        else:
            git(self.path, "checkout", "-q", rev)

    def push_to(self, bare: Path) -> None:
        """Mirror all branches and tags to a bare repository (created if needed)."""
        if not (bare / "HEAD").exists():
            bare.parent.mkdir(parents=True, exist_ok=True)
            git(bare.parent, "init", "-q", "--bare", "-b", "main", str(bare))
        git(
            self.path,
            "push",
            "-q",
            "--force",
            str(bare),
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        )


USERS = {
    "alice": "alice@example.gov.uk",
    "bob": "bob@example.gov.uk",
    "carol": "carol@example.gov.uk",
    "dave": "dave@example.gov.uk",
}
TEAMS = {
    "alphagov/deployers": ["bob", "carol"],
    "alphagov/dba": ["dave"],
    "alphagov/on-call": ["carol"],
    "alphagov/developers": ["alice", "bob", "carol", "dave"],
}
ROOT = Path(__file__).resolve().parent.parent
#: The example policy shipped in policies/: one deployer, and a DBA for migrations.
STANDARD_POLICY = (ROOT / "policies" / "standard.yaml").read_text()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class World:
    """A local forge with users, teams, a requests repo and a checkout of it."""

    root: Path
    forge: Path
    checkout: Path
    apps: dict[str, dict[str, object]] = field(default_factory=dict)
    requests_repo: str = "alphagov/release-requests"

    @property
    def requests_bare(self) -> Path:
        return self.forge / f"{self.requests_repo}.git"

    def app_bare(self, repo: str) -> Path:
        return self.forge / f"{repo}.git"

    def add_app(
        self,
        name: str,
        repo: str | None = None,
        *,
        scheme: str = "release",
        pattern: str | None = None,
        ref: str = "deployed-to-production",
    ) -> WorkRepo:
        """Register an app in policies/apps.yaml and return a work repo for its history."""
        repo = repo or f"alphagov/{name}"
        tags: dict[str, object] = {"scheme": scheme}
        if pattern is not None:
            tags["pattern"] = pattern
        self.apps[name] = {
            "repo": repo,
            "tags": tags,
            "deployed": {"source": "ref", "ref": ref},
            "policy": "standard",
            "review_list": [f"{name}-reviewers@example.gov.uk"],
        }
        self.write_apps()
        return WorkRepo(self.root / "work" / name)

    def write_apps(self) -> None:
        """Write policies/apps.yaml (and the standard policy) and publish them to the forge."""
        (self.checkout / "policies").mkdir(exist_ok=True)
        (self.checkout / "policies" / "apps.yaml").write_text(
            yaml.safe_dump({"version": 1, "apps": self.apps}, sort_keys=False)
        )
        standard = self.checkout / "policies" / "standard.yaml"
        if not standard.exists():
            standard.write_text(STANDARD_POLICY)
        self.publish()

    def publish(self, message: str = "Update policies") -> None:
        """Commit the checkout and push it to the forge's default branch (as an admin would)."""
        git(self.checkout, "add", "-A")
        if git(self.checkout, "status", "--porcelain"):
            git(self.checkout, "commit", "-q", "-m", message)
        git(self.checkout, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
        git(self.checkout, "push", "-q", "origin", "HEAD:main")

    def deploy(self, repo: str, rev: str, ref: str = "deployed-to-production") -> None:
        """Point the deployed ref of an app repository at `rev`."""
        bare = self.app_bare(repo)
        sha = git(bare, "rev-parse", f"{rev}^{{commit}}")
        git(bare, "update-ref", f"refs/heads/{ref}", sha)

    def bs(
        self, *args: str, user: str | None = "alice", env: Mapping[str, str] | None = None
    ) -> Result:
        """Run the `bs` CLI in-process from the checkout, as `user`."""
        full_env = {"BS_USER": user} if user else {}
        full_env.update(env or {})
        return run_bs(self.checkout, *args, env=full_env)


def run_bs(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run the `bs` CLI in-process from `cwd`, returning its exit status and output."""
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with runner.isolation(env=dict(env or {})) as (out, err, *_):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    finally:
        os.chdir(old)
    return Result(code, stdout, stderr)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    forge = tmp_path / "forge"
    forge.mkdir()
    (forge / "users.yaml").write_text(yaml.safe_dump(USERS))
    (forge / "teams.yaml").write_text(yaml.safe_dump(TEAMS))
    seed = WorkRepo(tmp_path / "work" / "release-requests")
    seed.write(
        "bs.yaml",
        "version: 1\nforge: {kind: local, path: ../forge}\nrequests_repo: alphagov/release-requests\n",
    )
    seed.write("requests/.keep", "")
    seed.write(".gitignore", ".bs/\n")  # the default outbox, as in this repository
    seed.commit("Requests repository")
    seed.push_to(forge / "alphagov" / "release-requests.git")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(forge / "alphagov" / "release-requests.git"), str(checkout))
    yield World(root=tmp_path, forge=forge, checkout=checkout)


@pytest.fixture
def app_world(world: World) -> World:
    """frontend, under the shipped standard policy (alice is one of its requesters)."""
    world.add_app("frontend")
    return world
