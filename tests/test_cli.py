"""The CLI as a whole: help, --json, -C, start-up imports, and how errors are reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bs.cli.main import COMMANDS, LazyGroup, cli
from tests.conftest import Result, World, run_bs

HEAVY_MODULES = ("git", "pydantic", "github", "yaml", "jinja2", "isal")


def simple_app(world: World) -> str:
    app = world.add_app("frontend")
    app.write("a.txt", "one\n")
    app.commit()
    app.tag("release_1")
    app.write("a.txt", "two\n")
    head = app.commit()
    app.tag("release_2")
    app.push_to(world.app_bare("alphagov/frontend"))
    world.deploy("alphagov/frontend", "release_1")
    return head


def command(name: str) -> click.Command:
    group = cli
    assert isinstance(group, LazyGroup)
    found = group.get_command(click.Context(group), name)
    assert found is not None, name
    return found


# -- help and options -----------------------------------------------------------------


def test_the_commands_are_the_ones_built() -> None:
    assert set(COMMANDS) >= {"apps", "tags", "open-request", "review"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name: str, tmp_path: Path) -> None:
    for flag in ("-h", "--help"):
        # Help works anywhere, even outside a checkout.
        result = run_bs(tmp_path, name, flag)
        assert result.exit_code == 0, result.output
        assert f"Usage: bs {name}" in result.stdout
        assert "Example:" in result.stdout
        example = result.stdout.split("Example:", 1)[1]
        assert f"bs {name}" in example
        cmd = command(name)
        if isinstance(cmd, click.Group):
            # A group's own help lists its commands; each of them has the full help.
            for sub in cmd.commands:
                sub_result = run_bs(tmp_path, name, sub, flag)
                assert sub_result.exit_code == 0, sub_result.output
                assert f"Usage: bs {name} {sub}" in sub_result.stdout
                assert f"bs {name} {sub}" in sub_result.stdout.split("Example:", 1)[1]
                assert "--json" in sub_result.stdout
        elif name not in NO_JSON:
            assert "--json" in result.stdout
    help_text = command(name).help or ""
    assert "Example:" in help_text


#: A transcript for people to read: nothing in it is for a program.
NO_JSON = {"demo"}


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_JSON))
def test_every_command_has_a_json_option(name: str) -> None:
    cmd = command(name)
    leaves = list(cmd.commands.values()) if isinstance(cmd, click.Group) else [cmd]
    for leaf in leaves:
        options = [p for p in leaf.params if isinstance(p, click.Option)]
        json_options = [p for p in options if "--json" in p.opts]
        assert len(json_options) == 1, leaf.name
        assert json_options[0].is_flag


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_group_lists_every_command_with_its_summary(name: str, tmp_path: Path) -> None:
    result = run_bs(tmp_path, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith(name))
    assert COMMANDS[name][2] in line


def test_short_help_is_the_group_help(tmp_path: Path) -> None:
    assert run_bs(tmp_path, "-h").stdout == run_bs(tmp_path, "--help").stdout


def test_version(tmp_path: Path) -> None:
    import bs

    result = run_bs(tmp_path, "--version")
    assert result.exit_code == 0
    assert bs.__version__ in result.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_bs(tmp_path, "deploy-everything")
    assert result.exit_code == 2
    assert "deploy-everything" in result.stderr
    assert "Traceback" not in result.output


def test_bad_option_is_a_usage_error(world: World) -> None:
    result = world.bs("tags", "frontend", "--limit", "0")
    assert result.exit_code == 2
    assert "--limit" in result.stderr


# -- start-up ---------------------------------------------------------------------------


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from bs.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "sys.stderr.write('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "Commands:" in proc.stdout
    modules = json.loads(proc.stderr.split("MODULES=", 1)[1])
    heavy = sorted(
        m for m in modules if m.split(".")[0] in HEAVY_MODULES or m.startswith("bs.forges")
    )
    assert heavy == []
    # The commands' modules are not imported to list them either.
    assert not [m for m in modules if m.startswith("bs.cli.cmd_")]


def test_help_from_the_installed_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "bs"
    args = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "bs", "--help"]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in COMMANDS:
        assert name in proc.stdout
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bs", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert importtime.returncode == 0, importtime.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in importtime.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert imported  # -X importtime did report
    assert not {m for m in imported if m.split(".")[0] in HEAVY_MODULES}


# -- where bs runs ------------------------------------------------------------------------


def test_dash_c_runs_in_another_folder(world: World, tmp_path: Path) -> None:
    head = simple_app(world)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_bs(elsewhere, "-C", str(world.checkout), "tags", "frontend", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tags"][0] == {"tag": "release_2", "commit": head, "newer": True}

    # A folder inside the checkout works too, as with git.
    inside = world.checkout / "policies"
    result = run_bs(elsewhere, "-C", str(inside), "apps", "--json", env={"BS_USER": "alice"})
    assert result.exit_code == 0, result.output
    assert [a["name"] for a in json.loads(result.stdout)["apps"]] == ["frontend"]

    # And so does a relative -C.
    relative = os.path.relpath(world.checkout, elsewhere)
    result = run_bs(elsewhere, "-C", relative, "apps", "--json", env={"BS_USER": "alice"})
    assert result.exit_code == 0, result.output


def test_dash_c_can_open_a_request(world: World, tmp_path: Path) -> None:
    simple_app(world)
    result = run_bs(
        tmp_path,
        "-C",
        str(world.checkout),
        "open-request",
        "frontend",
        "release_2",
        "--json",
        env={"BS_USER": "alice"},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pull_request"]["number"] == 1


@pytest.mark.parametrize("args", [("apps",), ("tags", "frontend"), ("open-request", "a", "b")])
def test_outside_a_checkout_is_a_clear_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    outside = tmp_path / "nowhere"
    outside.mkdir()
    result = run_bs(outside, *args, env={"BS_USER": "alice"})
    assert result.exit_code == 1, result.output
    assert "bs.yaml" in result.stderr
    assert "-C" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_dash_c_to_a_missing_folder(tmp_path: Path) -> None:
    result = run_bs(tmp_path, "-C", str(tmp_path / "missing"), "apps")
    assert result.exit_code == 1
    assert "missing" in result.stderr
    assert "Traceback" not in result.output


# -- output -----------------------------------------------------------------------------


def test_apps_json_and_text(world: World) -> None:
    simple_app(world)
    result = world.bs("apps", "--json")
    assert result.exit_code == 0, result.output
    apps = json.loads(result.stdout)["apps"]
    assert [(a["name"], a["repo"], a["tags"]) for a in apps] == [
        ("frontend", "alphagov/frontend", "release")
    ]
    text = world.bs("apps")
    assert text.exit_code == 0
    assert "frontend" in text.stdout and "alphagov/frontend" in text.stdout


def test_bad_apps_yaml_names_the_file_and_key(world: World) -> None:
    simple_app(world)
    path = world.checkout / "policies" / "apps.yaml"
    path.write_text(path.read_text().replace("review_list:", "reveiw_list:"))
    result = world.bs("apps")
    assert result.exit_code == 1
    assert "policies/apps.yaml" in result.stderr
    assert "reveiw_list" in result.stderr
    assert "review_list" in result.stderr
    assert "Traceback" not in result.output


# -- internal errors ----------------------------------------------------------------------


def assert_internal_error(result: Result, crash_log: Path) -> None:
    assert result.exit_code == 70, result.output
    assert "internal error" in result.stderr
    assert "Traceback" not in result.stderr
    assert str(crash_log) in result.stderr
    log = crash_log.read_text()
    assert "Traceback" in log
    assert "RuntimeError: boom" in log


def test_internal_error_in_tags(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    simple_app(world)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("bs.usecases.releases.list_tags", boom)
    crash_log = Path(os.environ["XDG_STATE_HOME"]) / "bs" / "crash.log"
    assert_internal_error(world.bs("tags", "frontend"), crash_log)


def test_internal_error_in_open_request(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    simple_app(world)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("bs.usecases.open_request.open_request", boom)
    state = tmp_path / "state"
    result = world.bs("open-request", "frontend", "release_2", env={"XDG_STATE_HOME": str(state)})
    assert_internal_error(result, state / "bs" / "crash.log")
    assert result.stdout == ""
