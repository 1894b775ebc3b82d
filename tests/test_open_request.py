"""`bs open-request`, `bs review` and `bs tags` through the CLI, on a local forge world."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bs.core.request import ReleaseRequest
from bs.errors import BsError
from bs.forges.local import LocalForge
from tests.conftest import WorkRepo, World, git, git_bytes

REQUESTS = "alphagov/release-requests"
FRONTEND = "alphagov/frontend"


@pytest.fixture(autouse=True)
def _private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """bs's temporary folders go under this test's tmp_path, so leftovers can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "tmp").iterdir())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_frontend(world: World) -> dict[str, str]:
    """release_1 < release_2 < release_3 with binaries, renames, modes, deletions, unicode."""
    rng = random.Random(99)
    app = world.add_app("frontend")
    app.write("README.md", "frontend\n")
    app.write("app/main.py", "".join(f"print({i})\n" for i in range(30)))
    app.write("bin/run", "#!/bin/sh\n", mode=0o644)
    app.write("logo.png", bytes(rng.randrange(256) for _ in range(1500)) + b"\0\0")
    app.write("old_name.txt", "".join(f"stable {i}\n" for i in range(30)))
    app.write("gone.txt", "bye\n")
    commits = {"release_1": app.commit("one")}
    app.tag("release_1")

    app.write("app/main.py", "".join(f"print({i * 2})\n" for i in range(30)))
    app.write("bin/run", "#!/bin/sh\n", mode=0o755)
    app.write("logo.png", bytes(rng.randrange(256) for _ in range(1500)))
    app.move("old_name.txt", "new_name.txt")
    app.remove("gone.txt")
    app.write("docs/naïve 文件.txt", "unicode\n")
    app.write("empty", "")
    commits["middle"] = app.commit("two")
    app.write("CHANGELOG", "two\n")
    commits["release_2"] = app.commit("two, tagged")
    app.tag("release_2", annotated=True)

    app.write("CHANGELOG", "two\nthree\n")
    commits["release_3"] = app.commit("three")
    app.tag("release_3")
    app.tag("v5")  # outside the release scheme
    app.push_to(world.app_bare(FRONTEND))
    return commits


def work_repo(world: World, name: str) -> WorkRepo:
    """The work repository `world.add_app(name)` created, to add more history."""
    repo = WorkRepo.__new__(WorkRepo)
    repo.path = world.root / "work" / name
    assert (repo.path / ".git").is_dir()
    return repo


def add_fork_release_4(world: World) -> str:
    """Tag release_4 on a hotfix branch off release_1, deploy release_2; return the fork."""
    app = work_repo(world, "frontend")
    app.checkout("release_1", new_branch="hotfix")
    app.write("hotfix.txt", "fix\n")
    fork = app.commit("hotfix")
    app.tag("release_4")
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_2")
    return fork


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def request_branches(world: World) -> list[str]:
    out = git(world.requests_bare, "for-each-ref", "--format=%(refname)", "refs/heads/request")
    return out.splitlines()


def pull_records(world: World) -> list[Path]:
    pulls = world.forge / f"{REQUESTS}.forge" / "pulls"
    return sorted(pulls.glob("*.json")) if pulls.is_dir() else []


def numstat(git_dir: Path, from_commit: str, to_commit: str) -> tuple[int, int, int]:
    lines = git(git_dir, "diff", "--numstat", from_commit, to_commit).splitlines()
    ins = sum(int(line.split("\t")[0]) for line in lines if not line.startswith("-"))
    dels = sum(int(line.split("\t")[1]) for line in lines if not line.startswith("-"))
    return len(lines), ins, dels


def expect_refused(result: Any, *names: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    return str(result.stderr)


# -- the happy path ----------------------------------------------------------------


def test_open_request_json_branch_yaml_and_pull_request(world: World, tmp_path: Path) -> None:
    commits = build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    app_bare = world.app_bare(FRONTEND)
    started = datetime.now(UTC).replace(microsecond=0)

    data = as_json(world.bs("open-request", "frontend", "release_3", "--json", "-r", "Fix it"))

    assert set(data) == {
        "id", "kind", "emergency", "rollback", "request_file", "patch_file", "patch_sha256",
        "pull_request",
    }  # fmt: skip
    assert (data["kind"], data["emergency"], data["rollback"]) == ("release", False, False)
    request_id = data["id"]
    assert data["request_file"] == f"requests/frontend/{request_id}.yaml"
    assert data["patch_file"] == f"requests/frontend/{request_id}.patch"
    expected_patch = git_bytes(
        app_bare, "diff", "--binary", "--full-index", commits["release_1"], commits["release_3"]
    )
    assert data["patch_sha256"] == sha(expected_patch)
    assert set(data["pull_request"]) == {"number", "url"}
    assert data["pull_request"]["number"] == 1

    # The branch: exactly the two files, on top of main.
    bare = world.requests_bare
    branch = f"refs/heads/request/frontend/{request_id}"
    assert request_branches(world) == [branch]
    main = git(bare, "rev-parse", "refs/heads/main")
    assert git(bare, "rev-list", "--parents", "-n", "1", branch).split()[1:] == [main]
    assert git(bare, "diff", "--name-status", main, branch).splitlines() == [
        f"A\trequests/frontend/{request_id}.patch",
        f"A\trequests/frontend/{request_id}.yaml",
    ]
    assert git_bytes(bare, "show", f"{branch}:{data['patch_file']}") == expected_patch

    # The request file round-trips through the schema.
    raw = yaml.safe_load(git_bytes(bare, "show", f"{branch}:{data['request_file']}"))
    request = ReleaseRequest.model_validate(raw)
    assert request.version == 1
    assert request.id == request_id
    assert request.app == "frontend"
    assert request.environment == "production"
    assert request.requested_by == "alice"
    assert started - timedelta(seconds=1) <= request.requested_at
    assert request.requested_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert request.from_ is not None
    assert (request.from_.tag, request.from_.commit) == ("release_1", commits["release_1"])
    assert (request.to.tag, request.to.commit) == ("release_3", commits["release_3"])
    assert request.patch.file == data["patch_file"]
    assert request.patch.sha256 == data["patch_sha256"]
    files, ins, dels = numstat(app_bare, commits["release_1"], commits["release_3"])
    assert (request.patch.files_changed, request.patch.insertions, request.patch.deletions) == (
        files,
        ins,
        dels,
    )
    assert request.patch.commits == int(
        git(app_bare, "rev-list", "--count", commits["release_3"], f"^{commits['release_1']}")
    )
    assert request.patch.commits == 3
    assert request.reason == "Fix it"
    assert raw["from"]["tag"] == "release_1"  # the file uses `from`, not `from_`
    assert ReleaseRequest.model_validate(request.to_document()) == request

    # The pull request.
    pull = LocalForge(world.forge, user="alice").get_pull_request(REQUESTS, 1)
    assert pull.title == "Release frontend release_3 (from release_1)"
    assert pull.author == "alice"
    assert pull.head_ref == f"request/frontend/{request_id}"
    assert pull.base == "main"
    assert pull.head_sha == git(bare, "rev-parse", branch)
    assert pull.url == data["pull_request"]["url"]
    assert data["patch_sha256"] in pull.body
    assert "Fix it" in pull.body
    assert "gzip" not in pull.body
    # Nothing is left in the temporary folder.
    assert leftovers(tmp_path) == []


def test_open_request_text_output(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_2")
    result = world.bs("open-request", "frontend", "release_3")
    assert result.exit_code == 0, result.output
    assert "release_2 -> release_3" in result.stdout
    assert "Opened pull request #1" in result.stdout


def test_open_request_from_an_annotated_deployed_tag(world: World) -> None:
    commits = build_frontend(world)
    world.deploy(FRONTEND, "release_2")
    data = as_json(world.bs("open-request", "frontend", "release_3", "--json"))
    raw = yaml.safe_load(
        git_bytes(
            world.requests_bare,
            "show",
            f"refs/heads/request/frontend/{data['id']}:{data['request_file']}",
        )
    )
    assert raw["from"] == {"tag": "release_2", "commit": commits["release_2"]}
    assert raw["to"] == {"tag": "release_3", "commit": commits["release_3"]}
    pull = LocalForge(world.forge, user="bob").get_pull_request(REQUESTS, 1)
    assert pull.title == "Release frontend release_3 (from release_2)"


def test_two_requests_get_distinct_ids_and_numbers(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    one = as_json(world.bs("open-request", "frontend", "release_2", "--json"))
    two = as_json(world.bs("open-request", "frontend", "release_3", "--json"))
    assert one["id"] != two["id"]
    assert (one["pull_request"]["number"], two["pull_request"]["number"]) == (1, 2)
    assert len(request_branches(world)) == 2


def test_first_deploy_has_no_from(world: World) -> None:
    commits = build_frontend(world)
    data = as_json(world.bs("open-request", "frontend", "release_1", "--json"))
    raw = yaml.safe_load(
        git_bytes(
            world.requests_bare,
            "show",
            f"refs/heads/request/frontend/{data['id']}:{data['request_file']}",
        )
    )
    assert raw["from"] is None
    assert raw["to"] == {"tag": "release_1", "commit": commits["release_1"]}
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    expected = git_bytes(
        world.app_bare(FRONTEND), "diff", "--binary", "--full-index", empty_tree, "release_1"
    )
    assert data["patch_sha256"] == sha(expected)
    assert raw["patch"]["commits"] == 1
    pull = LocalForge(world.forge, user="bob").get_pull_request(REQUESTS, 1)
    assert pull.title.startswith("Release frontend release_1 (")


def test_release_scheme_change_is_accepted(world: World) -> None:
    app = world.add_app("router", scheme="v")
    app.write("a", "old\n")
    old = app.commit()
    app.tag("release_4572", annotated=True)
    app.write("a", "new\n")
    new = app.commit()
    app.tag("v1796")
    app.push_to(world.app_bare("alphagov/router"))
    world.deploy("alphagov/router", "release_4572")

    listing = as_json(world.bs("tags", "router", "--json"))
    assert listing["deployed"] == {"tag": None, "commit": old}
    assert listing["tags"] == [{"tag": "v1796", "commit": new, "newer": True}]

    data = as_json(world.bs("open-request", "router", "v1796", "--json"))
    raw = yaml.safe_load(
        git_bytes(
            world.requests_bare,
            "show",
            f"refs/heads/request/router/{data['id']}:{data['request_file']}",
        )
    )
    assert raw["from"] == {"tag": None, "commit": old}
    assert raw["to"] == {"tag": "v1796", "commit": new}
    pull = LocalForge(world.forge, user="bob").get_pull_request(REQUESTS, 1)
    assert pull.title == f"Release router v1796 (from {old[:12]})"


# -- refusals -------------------------------------------------------------------------


def test_older_tag_is_refused_as_a_rollback(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_2")
    message = expect_refused(
        world.bs("open-request", "frontend", "release_1"), "release_1", "release_2"
    )
    assert "rollback" in message
    assert request_branches(world) == []
    assert pull_records(world) == []


def test_the_deployed_tag_is_refused(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_2")
    message = expect_refused(world.bs("open-request", "frontend", "release_2"), "release_2")
    assert "deployed" in message
    assert request_branches(world) == []


def test_another_tag_on_the_deployed_commit_is_refused_naming_both(world: World) -> None:
    build_frontend(world)
    app = work_repo(world, "frontend")
    app.tag("release_20", rev="release_2")
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_2")
    for tag in ("release_2", "release_20"):
        message = expect_refused(world.bs("open-request", "frontend", tag), tag)
        assert "deployed" in message
    assert request_branches(world) == []


def test_unknown_tag_is_refused(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    message = expect_refused(world.bs("open-request", "frontend", "release_9"), "release_9")
    assert "does not exist" in message
    assert "release_3" in message  # the newest, as a hint
    assert request_branches(world) == []


def test_off_scheme_tags_are_refused(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    for tag in ["v5", "release-3", "release_", "Release_3"]:  # v5 exists in the repository
        message = expect_refused(world.bs("open-request", "frontend", tag), tag)
        assert "release_NNN" in message
    assert request_branches(world) == []


def test_unknown_app_is_refused(world: World) -> None:
    build_frontend(world)
    message = expect_refused(world.bs("open-request", "nope", "release_1"), "nope")
    assert "frontend" in message  # the apps that exist


def test_a_fork_is_refused_naming_both(world: World) -> None:
    build_frontend(world)
    add_fork_release_4(world)
    message = expect_refused(
        world.bs("open-request", "frontend", "release_4"), "release_4", "release_2"
    )
    assert "fork" in message
    assert request_branches(world) == []


def test_a_fork_grafted_onto_the_deployed_commit_is_still_refused(world: World) -> None:
    """`git replace --graft` in the app repository must not fake ancestry."""
    commits = build_frontend(world)
    fork = add_fork_release_4(world)
    bare = world.app_bare(FRONTEND)
    git(bare, "replace", "--graft", fork, commits["release_2"])
    expect_refused(world.bs("open-request", "frontend", "release_4"), "release_4", "release_2")
    assert request_branches(world) == []


def test_scheme_order_disagreeing_with_ancestry_is_refused(world: World) -> None:
    app = world.add_app("frontend")
    app.write("a", "1\n")
    app.commit()
    app.tag("release_5")
    app.write("a", "2\n")
    app.commit()
    app.tag("release_4")
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_5")
    expect_refused(world.bs("open-request", "frontend", "release_4"), "release_4", "release_5")
    assert request_branches(world) == []


def test_reason_too_long_is_refused(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    expect_refused(world.bs("open-request", "frontend", "release_3", "--reason", "x" * 2001))
    assert request_branches(world) == []


def test_without_bs_user(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    expect_refused(world.bs("open-request", "frontend", "release_3", user=None), "BS_USER")
    expect_refused(world.bs("open-request", "frontend", "release_3", user="mallory"), "mallory")
    assert request_branches(world) == []


def test_git_variables_from_a_hook_do_not_redirect_bs(world: World) -> None:
    """Run from a git hook (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE set), bs still works on
    the forge's repositories, not on the repository the variables name."""
    commits = build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    checkout_git = world.checkout / ".git"
    env = {
        "GIT_DIR": str(checkout_git),
        "GIT_WORK_TREE": str(world.checkout),
        "GIT_INDEX_FILE": str(checkout_git / "index"),
    }
    result = world.bs("open-request", "frontend", "release_3", "--json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = git_bytes(
        world.app_bare(FRONTEND),
        "diff",
        "--binary",
        "--full-index",
        commits["release_1"],
        commits["release_3"],
    )
    assert data["patch_sha256"] == sha(expected)
    assert request_branches(world) == [f"refs/heads/request/frontend/{data['id']}"]
    assert git(world.checkout, "for-each-ref", "refs/heads/request") == ""


# -- dry run and failures ------------------------------------------------------------


def test_dry_run_pushes_nothing(world: World, tmp_path: Path) -> None:
    commits = build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    main_before = git(world.requests_bare, "rev-parse", "refs/heads/main")
    data = as_json(world.bs("open-request", "frontend", "release_3", "--dry-run", "--json"))
    assert data["pull_request"] is None
    assert {"id", "request_file", "patch_file", "patch_sha256", "pull_request"} <= set(data)
    assert set(data) - {"id", "request_file", "patch_file", "patch_sha256", "pull_request"} <= {
        "dry_run_dir",
        "kind",
        "emergency",
        "rollback",
    }
    assert request_branches(world) == []
    assert pull_records(world) == []
    assert git(world.requests_bare, "rev-parse", "refs/heads/main") == main_before

    folder = Path(data["dry_run_dir"])
    patch = folder / f"{data['id']}.patch"
    request_yaml = folder / f"{data['id']}.yaml"
    assert patch.is_file() and request_yaml.is_file()
    expected = git_bytes(
        world.app_bare(FRONTEND),
        "diff",
        "--binary",
        "--full-index",
        commits["release_1"],
        commits["release_3"],
    )
    assert patch.read_bytes() == expected
    assert data["patch_sha256"] == sha(expected)
    request = ReleaseRequest.model_validate(yaml.safe_load(request_yaml.read_text()))
    assert request.patch.sha256 == data["patch_sha256"]
    assert request.to.commit == commits["release_3"]


def test_dry_run_text_output(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    result = world.bs("open-request", "frontend", "release_3", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.stdout
    assert request_branches(world) == []


def test_failure_after_the_branch_is_pushed_leaves_no_branch(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    pushed: list[str] = []
    original = LocalForge.create_branch

    def create_branch(self: LocalForge, *args: Any, **kwargs: Any) -> str:
        commit = original(self, *args, **kwargs)
        pushed.append(commit)
        return commit

    def fail(self: LocalForge, *args: Any, **kwargs: Any) -> Any:
        assert request_branches(world), "the branch should exist when the pull request is opened"
        raise BsError("the forge is down")

    monkeypatch.setattr(LocalForge, "create_branch", create_branch)
    monkeypatch.setattr(LocalForge, "open_pull_request", fail)
    result = world.bs("open-request", "frontend", "release_3", "--json")
    expect_refused(result, "the forge is down")
    assert pushed, "the branch was pushed before the failure"
    assert request_branches(world) == []
    assert pull_records(world) == []
    assert leftovers(tmp_path) == []


def test_internal_error_after_the_branch_is_pushed_leaves_no_branch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")

    def fail(self: LocalForge, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(LocalForge, "open_pull_request", fail)
    result = world.bs("open-request", "frontend", "release_3")
    assert result.exit_code == 70, result.output
    assert request_branches(world) == []


def write_bs_yaml(world: World, patch: str) -> None:
    (world.checkout / "bs.yaml").write_text(
        "version: 1\nforge: {kind: local, path: ../forge}\n"
        f"requests_repo: {REQUESTS}\npatch: {patch}\n"
    )


def test_large_patch_is_stored_compressed(world: World) -> None:
    commits = build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    write_bs_yaml(world, "{compress_above: 1000}")
    expected = git_bytes(
        world.app_bare(FRONTEND),
        "diff",
        "--binary",
        "--full-index",
        commits["release_1"],
        commits["release_3"],
    )
    assert len(expected) > 1000

    data = as_json(world.bs("open-request", "frontend", "release_3", "--json"))
    request_id = data["id"]
    assert data["patch_file"] == f"requests/frontend/{request_id}.patch.gz"
    assert data["patch_sha256"] == sha(expected)
    bare = world.requests_bare
    branch = f"refs/heads/request/frontend/{request_id}"
    assert git(bare, "diff", "--name-only", "refs/heads/main", branch).splitlines() == [
        f"requests/frontend/{request_id}.patch.gz",
        f"requests/frontend/{request_id}.yaml",
    ]
    stored = git_bytes(bare, "show", f"{branch}:{data['patch_file']}")
    assert gzip.decompress(stored) == expected
    raw = yaml.safe_load(git_bytes(bare, "show", f"{branch}:{data['request_file']}"))
    assert raw["patch"]["file"] == data["patch_file"]
    assert raw["patch"]["sha256"] == sha(expected)
    pull = LocalForge(world.forge, user="bob").get_pull_request(REQUESTS, 1)
    assert "gzip-compressed" in pull.body


def test_patch_over_max_stored_is_refused(world: World, tmp_path: Path) -> None:
    app = world.add_app("frontend")
    app.write("a.txt", "a\n")
    app.commit()
    app.tag("release_1")
    rng = random.Random(3)
    app.write(
        "big.txt",
        "".join(f"{rng.random()} {rng.random()} {rng.random()}\n" for _ in range(22_000)),
    )
    app.commit()
    app.tag("release_2")
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_1")
    size = len(
        git_bytes(
            world.app_bare(FRONTEND), "diff", "--binary", "--full-index", "release_1", "release_2"
        )
    )
    assert size > 1_100_000
    write_bs_yaml(world, "{max_stored: 1000000}")

    message = expect_refused(world.bs("open-request", "frontend", "release_2"))
    assert f"{size / 1e6:.1f} MB" in message
    assert "1.0 MB" in message
    assert "too large" in message
    assert request_branches(world) == []
    assert pull_records(world) == []
    assert leftovers(tmp_path) == []


def test_bad_bs_yaml_key_is_named(world: World) -> None:
    build_frontend(world)
    write_bs_yaml(world, "{compress_abov: 1000}")
    message = expect_refused(world.bs("open-request", "frontend", "release_3"), "bs.yaml")
    assert "compress_abov" in message
    assert "compress_above" in message  # the keys allowed there


# -- review -------------------------------------------------------------------------


def opened(world: World) -> int:
    build_frontend(world)
    world.deploy(FRONTEND, "release_1")
    return int(
        as_json(world.bs("open-request", "frontend", "release_3", "--json"))["pull_request"][
            "number"
        ]
    )


def test_review_approve_as_bob(world: World) -> None:
    number = opened(world)
    head = LocalForge(world.forge, user="bob").get_pull_request(REQUESTS, number).head_sha
    data = as_json(world.bs("review", str(number), "--approve", "--json", user="bob"))
    assert data["pull_request"] == number
    assert data["review"]["user"] == "bob"
    assert data["review"]["state"] == "APPROVED"
    assert data["review"]["commit_id"] == head
    reviews = LocalForge(world.forge, user="bob").list_reviews(REQUESTS, number)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [("bob", "APPROVED", head)]


def test_review_text_output_and_request_changes(world: World) -> None:
    number = opened(world)
    result = world.bs("review", str(number), "--request-changes", "-m", "Not now", user="dave")
    assert result.exit_code == 0, result.output
    assert "dave requested changes on #1" in result.stdout
    reviews = LocalForge(world.forge, user="bob").list_reviews(REQUESTS, number)
    assert [(r.user, r.state, r.body) for r in reviews] == [
        ("dave", "CHANGES_REQUESTED", "Not now")
    ]


def test_review_by_the_author_is_refused(world: World) -> None:
    number = opened(world)
    expect_refused(world.bs("review", str(number), "--approve", user="alice"), "own")
    assert LocalForge(world.forge, user="bob").list_reviews(REQUESTS, number) == []


def test_review_without_a_verdict_is_refused(world: World) -> None:
    number = opened(world)
    expect_refused(world.bs("review", str(number), user="bob"), "--approve")
    assert LocalForge(world.forge, user="bob").list_reviews(REQUESTS, number) == []


def test_request_changes_without_a_message_is_refused(world: World) -> None:
    number = opened(world)
    expect_refused(world.bs("review", str(number), "--request-changes", user="bob"), "-m")


def test_review_of_a_missing_pull_request(world: World) -> None:
    opened(world)
    expect_refused(world.bs("review", "42", "--approve", user="bob"), "#42")


# -- tags -----------------------------------------------------------------------------


def test_tags_json_marks_newer_and_skips_forks(world: World) -> None:
    commits = build_frontend(world)
    fork = add_fork_release_4(world)

    data = as_json(world.bs("tags", "frontend", "--json"))
    assert data == {
        "app": "frontend",
        "deployed": {"tag": "release_2", "commit": commits["release_2"]},
        "tags": [
            {"tag": "release_4", "commit": fork, "newer": False},
            {"tag": "release_3", "commit": commits["release_3"], "newer": True},
            {"tag": "release_2", "commit": commits["release_2"], "newer": False},
            {"tag": "release_1", "commit": commits["release_1"], "newer": False},
        ],
    }
    limited = as_json(world.bs("tags", "frontend", "--json", "--limit", "2"))
    assert [t["tag"] for t in limited["tags"]] == ["release_4", "release_3"]


def test_tags_when_nothing_is_deployed(world: World) -> None:
    commits = build_frontend(world)
    data = as_json(world.bs("tags", "frontend", "--json"))
    assert data["deployed"] is None
    assert data["tags"] == [
        {"tag": t, "commit": commits[t], "newer": True}
        for t in ("release_3", "release_2", "release_1")
    ]


def test_tags_when_deployed_is_an_untagged_commit(world: World) -> None:
    commits = build_frontend(world)
    world.deploy(FRONTEND, commits["middle"])
    data = as_json(world.bs("tags", "frontend", "--json"))
    assert data["deployed"] == {"tag": None, "commit": commits["middle"]}
    assert [(t["tag"], t["newer"]) for t in data["tags"]] == [
        ("release_3", True),
        ("release_2", True),
        ("release_1", False),
    ]


def test_tags_text_output(world: World) -> None:
    build_frontend(world)
    world.deploy(FRONTEND, "release_2")
    result = world.bs("tags", "frontend")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("frontend: deployed release_2")
    assert lines[1].split()[0] == "release_3" and lines[1].endswith("newer")
    assert lines[2].split()[0] == "release_2" and lines[2].endswith("deployed")
    assert "v5" not in result.stdout


def test_tags_of_unknown_app(world: World) -> None:
    build_frontend(world)
    expect_refused(world.bs("tags", "nope", "--json"), "nope")
