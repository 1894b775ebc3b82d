"""Approval policy files: the file itself (YAML, size, encoding, shape).

YAML bombs and self-referencing aliases, malformed YAML, tabs and unclosed
brackets, files over a megabyte, non-UTF-8 bytes, keys given twice, a policy
that is not a mapping or is empty, and an app whose policy file does not exist.

A bad policy gets one clear message (the file, the line, the fix), exit status
1 and never a traceback, both from `bs policy validate` (the working tree, as
CI runs it before a policy change merges) and from the commands that load a
policy to decide who may request an app (`bs apps`, `bs open-request`).
Helpers are in tests/policyhelpers.py; the `app_world` fixture in tests/conftest.py.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest

from tests.conftest import STANDARD_POLICY, World
from tests.policyhelpers import (
    DEPLOYER_REQUIRES,
    POLICY_FILE,
    as_json,
    edit,
    line_number,
    no_crash,
    refused_everywhere,
    user_error,
    write_policy,
)

# --- the file itself -----------------------------------------------------------------------------

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 10)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def test_a_yaml_bomb_is_refused_quickly(app_world: World) -> None:
    """Billion laughs: nine lines of anchors and aliases that expand to 10**9 values."""
    assert "i: &i [*h, *h" in BOMB
    for content in (BOMB, STANDARD_POLICY + BOMB):
        started = time.monotonic()
        message = refused_everywhere(app_world, content)
        assert time.monotonic() - started < 10
        assert "holds more than 100,000 values, counting each alias as a copy (at line " in message
        assert "a bs file is far smaller; write the values out, without aliases." in message


def test_a_self_referencing_alias_is_refused_quickly(app_world: World) -> None:
    """Run in a child process with a time and memory limit: today it never returns."""
    write_policy(app_world, "a: &a [*a]\n")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))

    try:
        result = subprocess.run(
            [sys.executable, "-m", "bs", "policy", "validate", "--offline"],
            cwd=app_world.checkout,
            capture_output=True,
            timeout=10,
            preexec_fn=limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("bs policy validate did not return within 10 seconds")
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 1, output
    assert "internal error" not in output and "Traceback" not in output, output
    assert POLICY_FILE in output


def test_malformed_yaml_names_the_line_and_column(app_world: World) -> None:
    bad = "  teams: alphagov/developers: x"
    content = edit("  teams: [alphagov/developers]", bad)
    message = refused_everywhere(app_world, content)
    where = f"line {line_number(content, bad)}, column {bad.index(': x') + 1}"
    assert f"{POLICY_FILE}: not valid YAML at {where}: mapping values are not allowed here." in (
        message
    )
    assert "Fix the file's syntax." in message


def test_a_tab_in_the_indentation_names_the_line(app_world: World) -> None:
    content = edit("  all_of:", "\tall_of:")
    message = refused_everywhere(app_world, content)
    where = line_number(content, "\tall_of:")
    assert f"not valid YAML at line {where}, column 1" in message
    assert "'\\t'" in message


def test_an_unclosed_bracket(app_world: World) -> None:
    message = refused_everywhere(app_world, edit("[alphagov/developers]", "[alphagov/developers"))
    assert "not valid YAML at line " in message
    assert ", column " in message


def test_a_file_over_one_megabyte_is_refused_unread(app_world: World) -> None:
    message = refused_everywhere(app_world, STANDARD_POLICY + "#" * 1_000_000 + "\n")
    size = len(STANDARD_POLICY.encode()) + 1_000_001
    assert message == (f"{POLICY_FILE}: {size} bytes is too large for a YAML file (limit 1000000).")


def test_non_utf8_bytes(app_world: World) -> None:
    message = refused_everywhere(app_world, STANDARD_POLICY.encode() + b"# caf\xe9\n")
    assert message == f"{POLICY_FILE}: not UTF-8 text. Save it as UTF-8."


def test_a_key_given_twice(app_world: World) -> None:
    """PyYAML keeps the last of two keys silently: a second `approval:` would win."""
    content = STANDARD_POLICY + "approval: deployer approval\n"
    message = refused_everywhere(app_world, content)
    where = line_number(content, "approval: deployer approval")
    assert f"at line {where}, column 1: the key 'approval' is given twice (keep one)." in message


def test_a_rule_key_given_twice(app_world: World) -> None:
    content = edit(DEPLOYER_REQUIRES, DEPLOYER_REQUIRES + "      count: 2\n")
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, 'count: 2')}" in message
    assert "the key 'count' is given twice" in message


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ("- version: 1\n- approval: deployer approval\n", "found a list."),
        ("standard\n", "found a single value (str)."),
        ("1\n", "found a single value (int)."),
    ],
)
def test_a_policy_that_is_not_a_mapping(app_world: World, content: str, found: str) -> None:
    message = refused_everywhere(app_world, content)
    assert message == f"{POLICY_FILE}: expected a mapping of keys to values at the top, {found}"


def test_an_empty_policy_names_the_missing_keys(app_world: World) -> None:
    message = refused_everywhere(app_world, "# nothing yet\n")
    assert "approval: required key is missing: add it." in message
    assert "rules: required key is missing: add it." in message


def test_an_app_whose_policy_file_does_not_exist(app_world: World) -> None:
    apps = app_world.checkout / "policies" / "apps.yaml"
    text = edit("policy: standard", "policy: strict", apps.read_text(encoding="utf-8"))
    apps.write_text(text, encoding="utf-8")
    where = line_number(text, "policy: strict")
    message = (
        "app frontend uses policy 'strict', but policies/strict.yaml does not exist: "
        "create it or use an existing policy"
    )

    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 1, result.output
    no_crash(result)
    assert result.stderr == f"policies/apps.yaml:{where}: error: {message}\n"
    data = as_json(app_world.bs("policy", "validate", "--offline", "--json"), exit_code=1)
    assert [f for f in data["findings"] if f["severity"] == "error"] == [
        {"file": "policies/apps.yaml", "line": where, "severity": "error", "message": message}
    ]

    for args in (("apps",), ("open-request", "frontend", "release_1")):
        output = user_error(app_world.bs(*args))
        assert "policies/strict.yaml: no such file." in output
        assert "Create it, or point the apps using it at a policy that exists" in output
