"""The benchmark's world, built once under ``.bench/`` and reused while complete.

    .bench/forge/users.yaml, teams.yaml            alice, a developer (may request)
    .bench/forge/alphagov/frontend.git             make_repo: release_1 -> release_2
    .bench/forge/alphagov/release-requests.git     bs.yaml, policies/apps.yaml and
                                                   this project's policies/standard.yaml
    .bench/checkout/                               a clone of release-requests
    .bench/stamps/*.json                           what was built, written last

A part is reused only when its stamp (written after it was built) matches the
parameters asked for and its repository still answers; otherwise it is deleted
and built again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.make_repo import make_repo

#: Bump when what is generated changes, so stale caches are rebuilt.
FORMAT = 1
APP = "frontend"
APP_REPO = "alphagov/frontend"
REQUESTS_REPO = "alphagov/release-requests"
USER = "alice"
FROM_TAG = "release_1"
TO_TAG = "release_2"
DEPLOYED_REF = "deployed-to-production"
MIN_FILES_CHANGED = 5000
MIN_PATCH_BYTES = 200_000_000
#: The same, for the requests repository alone (its app repository is costly to rebuild).
REQUESTS_FORMAT = 2
#: The policy frontend uses: this project's own, so the world follows its changes.
POLICY_FILE = Path(__file__).resolve().parent.parent / "policies" / "standard.yaml"
#: Who is in which team: alice must be a developer to request (standard.yaml's requesters).
TEAMS = {
    "alphagov/developers": [USER],
    "alphagov/deployers": ["bob"],
    "alphagov/dba": ["dave"],
    "alphagov/on-call": ["bob"],
}


class BenchError(Exception):
    """Something went wrong: the benchmark stops with a non-zero status."""


@dataclass(frozen=True)
class World:
    root: Path
    forge: Path
    app_git_dir: Path
    requests_git_dir: Path
    checkout: Path
    env: Mapping[str, str] = field(repr=False)
    files_changed: int
    patch_bytes: int
    reused: bool


def bench_env(root: Path) -> dict[str, str]:
    """The environment of every child: no user or system git config, BS_USER set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "BS_"))}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        XDG_STATE_HOME=str(root / "state"),
        BS_USER=USER,
        LC_ALL="C",
    )
    return env


def git(env: Mapping[str, str], *args: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        ["git", *map(str, args)], cwd=cwd, env=env, capture_output=True, check=False
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise BenchError(f"git {' '.join(map(str, args))} failed: {detail}")
    return proc.stdout.decode().strip()


def prepare(
    root: Path, *, files: int, file_size: int, seed: int = 1, rebuild: bool = False
) -> World:
    root = root.resolve()
    forge = root / "forge"
    stamps = root / "stamps"
    env = bench_env(root)
    for folder in (forge, stamps, root / "state"):
        folder.mkdir(parents=True, exist_ok=True)
    if rebuild:
        for stamp in stamps.glob("*.json"):
            stamp.unlink()
    users = [USER, *sorted({m for members in TEAMS.values() for m in members} - {USER})]
    _write_if_changed(forge / "users.yaml", "".join(f"{u}: {u}@example.com\n" for u in users))
    _write_if_changed(forge / "teams.yaml", yaml.safe_dump(TEAMS, default_flow_style=None))

    app_git_dir = forge / f"{APP_REPO}.git"
    app_params = {
        "format": FORMAT,
        "files": files,
        "file_size": file_size,
        "seed": seed,
        "path": str(app_git_dir),
    }
    app_info = _reuse(stamps / "app.json", app_params, env, app_git_dir, FROM_TAG, TO_TAG)
    reused = app_info is not None
    if app_info is None:
        (stamps / "app.json").unlink(missing_ok=True)
        app_info = _build_app(app_git_dir, env, files=files, file_size=file_size, seed=seed)
        _write_stamp(stamps / "app.json", app_params, app_info)
    if app_info["files_changed"] < MIN_FILES_CHANGED or app_info["patch_bytes"] < MIN_PATCH_BYTES:
        raise BenchError(
            f"the generated diff is too small: {app_info['files_changed']} files, "
            f"{app_info['patch_bytes']:,} bytes (want >= {MIN_FILES_CHANGED} files "
            f"and >= {MIN_PATCH_BYTES:,} bytes): raise --files or --file-size"
        )

    requests_git_dir = forge / f"{REQUESTS_REPO}.git"
    checkout = root / "checkout"
    requests_params = {
        "format": FORMAT,
        "requests_format": REQUESTS_FORMAT,
        "policy_sha256": hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest(),
        "forge": str(forge),
        "checkout": str(checkout),
    }
    if _reuse(stamps / "requests.json", requests_params, env, requests_git_dir, "main") is None:
        (stamps / "requests.json").unlink(missing_ok=True)
        _build_requests(forge, requests_git_dir, checkout, env)
        _write_stamp(stamps / "requests.json", requests_params, {})
        reused = False

    return World(
        root=root,
        forge=forge,
        app_git_dir=app_git_dir,
        requests_git_dir=requests_git_dir,
        checkout=checkout,
        env=env,
        files_changed=int(app_info["files_changed"]),
        patch_bytes=int(app_info["patch_bytes"]),
        reused=reused,
    )


def _reuse(
    stamp: Path, params: dict[str, Any], env: Mapping[str, str], git_dir: Path, *revs: str
) -> dict[str, Any] | None:
    """The stamp's recorded facts, if the part it describes is complete and current."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("params") != params:
        return None
    try:
        for rev in revs:
            git(env, "-C", git_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except BenchError:
        return None
    info = recorded.get("info")
    return info if isinstance(info, dict) else None


def _write_stamp(stamp: Path, params: dict[str, Any], info: dict[str, Any]) -> None:
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({"params": params, "info": info}, indent=2) + "\n")
    tmp.replace(stamp)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _build_app(
    git_dir: Path, env: Mapping[str, str], *, files: int, file_size: int, seed: int
) -> dict[str, Any]:
    shutil.rmtree(git_dir, ignore_errors=True)
    progress = _Progress(f"generating {APP_REPO}")
    start = time.perf_counter()
    try:
        make_repo(git_dir, files, file_size, seed=seed, progress=progress, env=env)
    except BaseException:
        shutil.rmtree(git_dir, ignore_errors=True)
        raise
    progress.done(f"in {time.perf_counter() - start:.1f} s")

    print(f"  measuring the {FROM_TAG}..{TO_TAG} patch...", file=sys.stderr, flush=True)
    names = git(env, "-C", git_dir, "diff", "--name-only", FROM_TAG, TO_TAG)
    files_changed = len(names.splitlines())
    patch_bytes = _patch_size(git_dir, env)
    print(
        f"  {files_changed} files changed, patch {patch_bytes / 1e6:.1f} MB",
        file=sys.stderr,
        flush=True,
    )
    return {"files_changed": files_changed, "patch_bytes": patch_bytes}


def _patch_size(git_dir: Path, env: Mapping[str, str]) -> int:
    proc = subprocess.Popen(
        ["git", "-C", str(git_dir), "diff", "--binary", "--full-index", FROM_TAG, TO_TAG],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    size = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
    if proc.wait() != 0:
        raise BenchError(f"git diff failed in {git_dir} (exit {proc.returncode})")
    return size


def _build_requests(forge: Path, git_dir: Path, checkout: Path, env: Mapping[str, str]) -> None:
    print(f"  creating {REQUESTS_REPO} and its checkout", file=sys.stderr, flush=True)
    shutil.rmtree(git_dir, ignore_errors=True)
    shutil.rmtree(checkout, ignore_errors=True)
    git(env, "init", "-q", "-b", "main", checkout)
    (checkout / "bs.yaml").write_text(
        "# battlestations benchmark: the local forge under .bench/\n"
        + yaml.safe_dump(
            {
                "version": 1,
                "forge": {"kind": "local", "path": str(forge)},
                "requests_repo": REQUESTS_REPO,
            },
            sort_keys=False,
        )
    )
    (checkout / "policies").mkdir()
    shutil.copyfile(POLICY_FILE, checkout / "policies" / "standard.yaml")
    (checkout / "policies" / "apps.yaml").write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "apps": {
                    APP: {
                        "repo": APP_REPO,
                        "tags": {"scheme": "release"},
                        "deployed": {"source": "ref", "ref": DEPLOYED_REF},
                        "policy": "standard",
                    }
                },
            },
            sort_keys=False,
        )
    )
    git(env, "-C", checkout, "add", "-A")
    git(
        env,
        "-C",
        checkout,
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.com",
        "commit",
        "-q",
        "-m",
        "Requests repository for the benchmark",
    )
    git(env, "init", "-q", "--bare", "-b", "main", git_dir)
    git(env, "-C", checkout, "remote", "add", "origin", git_dir)
    git(env, "-C", checkout, "push", "-q", "-u", "origin", "main")


class _Progress:
    """One refreshed line on a terminal; a line per tenth otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1
        self.last_shown = 0.0

    def __call__(self, done: int, total: int, size: int) -> None:
        tenth = done * 10 // total
        now = time.monotonic()
        text = (
            f"  {self.label}: {done * 100 // total:3d}% ({done}/{total} blobs, {size / 1e6:.0f} MB)"
        )
        if self.tty:
            if now - self.last_shown >= 0.1 or done == total:
                self.last_shown = now
                print(f"\r{text}", end="", file=sys.stderr, flush=True)
        elif tenth != self.last_tenth:
            self.last_tenth = tenth
            print(text, file=sys.stderr, flush=True)

    def done(self, note: str) -> None:
        if self.tty:
            print(file=sys.stderr)
        print(f"  {self.label}: done {note}", file=sys.stderr, flush=True)
