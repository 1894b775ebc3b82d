"""Helpers for the approval policy file tests (tests/test_policy_*.py).

`edit` breaks one thing of the shipped standard policy, `line_number` finds the
line a message must name, `refused_everywhere` writes a bad policy and asserts
that `bs policy validate` (text and JSON), `bs apps` and `bs open-request` all
refuse it with the same one message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, STANDARD_POLICY, Result, World

POLICY_FILE = "policies/standard.yaml"
SHIPPED_FIXTURES = (ROOT / "policies" / "tests" / "standard.yaml").read_text(encoding="utf-8")

APPROVAL = "approval:\n  all_of:\n    - deployer approval\n    - database migrations\n"
DEPLOYER_REQUIRES = "      count: 1\n      teams: [alphagov/deployers]\n"
MIGRATION_IF = '    if:\n      changed_paths: ["db/migrate/**", "db/schema.rb"]\n'
REQUESTERS = "requesters:\n  teams: [alphagov/developers]\n"
ROLLBACK = (
    "rollback:\n"
    "  approval: {all_of: [{any_of: [deployer approval, on-call approval]}, database migrations]}\n"
)


def edit(old: str, new: str, text: str = STANDARD_POLICY) -> str:
    """`text` with `old` (which must be there, once) replaced by `new`."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_number(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line of `text` containing `needle`."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(found) >= occurrence, (needle, found)
    return found[occurrence - 1]


def no_crash(result: Result) -> str:
    output = result.output
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    return output


def user_error(result: Result) -> str:
    """The output of a run that must fail as a user error: exit 1, no traceback."""
    output = no_crash(result)
    assert result.exit_code == 1, output
    assert output.startswith("bs: error: "), output
    return output


def as_json(result: Result, exit_code: int = 0) -> Any:
    assert result.exit_code == exit_code, result.output
    no_crash(result)
    return json.loads(result.stdout)


def write_policy(world: World, content: str | bytes, name: str = "standard") -> Path:
    path = world.checkout / "policies" / f"{name}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_fixture(world: World, name: str, content: str) -> str:
    """policies/tests/<name>.yaml in the checkout; returns its path as bs names it."""
    folder = world.checkout / "policies" / "tests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(content, encoding="utf-8")
    return f"policies/tests/{name}.yaml"


def refused_everywhere(world: World, content: str | bytes) -> str:
    """Write a bad policies/standard.yaml; every command refuses it with the same one
    message, naming the file. Returns that message."""
    write_policy(world, content)

    data = as_json(world.bs("policy", "validate", "--offline", "--json"), exit_code=1)
    assert data["valid"] is False
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert len(errors) == 1, data
    assert errors[0]["file"] == POLICY_FILE
    message: str = errors[0]["message"]
    assert message.startswith(f"{POLICY_FILE}: "), message

    result = world.bs("policy", "validate", "--offline")
    assert result.exit_code == 1, result.output
    no_crash(result)
    assert result.stderr == message + "\n"
    assert "invalid: 1 errors" in result.stdout

    for args in (("apps",), ("open-request", "frontend", "release_1")):
        result = world.bs(*args)
        user_error(result)
        assert result.stderr == f"bs: error: {message}\n", args
    return message


def nested_approval(depth: int) -> str:
    """An approval of `depth` nested groups, block style, one key a line."""
    node: Any = "deployer approval"
    for level in range(depth):
        node = {"any_of" if level % 2 else "all_of": ["database migrations", node]}
    return yaml.safe_dump({"approval": node}, sort_keys=False, default_flow_style=False)
