"""The pull request a reviewer reads: its title and body."""

from __future__ import annotations

import json
from pathlib import Path

from bs.forges.local import LocalForge
from tests.conftest import World


def _open(world: World, *args: str) -> tuple[str, str]:
    result = world.bs("open-request", *args, "--json")
    assert result.exit_code == 0, result.output
    number = json.loads(result.stdout)["pull_request"]["number"]
    pull = LocalForge(world.forge, user="bob").get_pull_request(world.requests_repo, number)
    return pull.title, pull.body


def test_body_lists_commits_files_and_stats(world: World) -> None:
    app = world.add_app("frontend")
    app.write("Gemfile", "gem 'rails'\n" * 20).write("a.txt", "one\n").commit("first")
    app.tag("release_1")
    app.move("Gemfile", "Gemfile.rails")
    app.write("a.txt", "two\n").write("new.bin", b"\0\1\2").commit(
        "Second: <b>bold</b> for @alphagov/everyone"
    )
    app.tag("release_2")
    app.push_to(world.app_bare("alphagov/frontend"))
    world.deploy("alphagov/frontend", "release_1")

    title, body = _open(
        world, "frontend", "release_2", "--reason", "Ping @alphagov/everyone <script>x</script>"
    )

    assert title == "Release frontend release_2 (from release_1)"
    assert "1 commit, 3 files changed, +1 −1." in body
    assert "- renamed `Gemfile` → `Gemfile.rails`" in body
    assert "- modified `a.txt`" in body
    assert "- added `new.bin`" in body
    # User input (commit subjects, the reason) cannot open HTML or mention a team.
    assert "<script>" not in body and "<b>" not in body
    assert "@alphagov" not in body
    assert "&lt;script&gt;" in body
    assert "**alice** asks to release **frontend** to production." in body


def test_first_deploy_title(world: World) -> None:
    app = world.add_app("frontend")
    app.write("a.txt", "one\n").commit("first")
    app.tag("release_1")
    app.push_to(world.app_bare("alphagov/frontend"))

    title, body = _open(world, "frontend", "release_1")

    assert title == "Release frontend release_1 (first deploy)"
    assert "| deployed | (nothing yet) |" in body


def test_a_missing_requests_repository_fails_before_the_patch(world: World, tmp_path: Path) -> None:
    app = world.add_app("frontend")
    app.write("a.txt", "one\n").commit("first")
    app.tag("release_1")
    app.push_to(world.app_bare("alphagov/frontend"))
    (world.checkout / "bs.yaml").write_text(
        "version: 1\nforge: {kind: local, path: ../forge}\nrequests_repo: alphagov/nowhere\n"
    )
    result = world.bs("open-request", "frontend", "release_1", "--dry-run")
    assert result.exit_code == 1
    assert "repository alphagov/nowhere does not exist on the local forge" in result.stderr
    assert "Traceback" not in result.output
