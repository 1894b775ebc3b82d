"""Approval policy files: `bs policy test`, which runs the fixtures in policies/tests/.

The shipped fixtures pass; a wrong expectation fails saying what differs; bad
fixture files (an unknown policy, an unknown key, bad YAML, a missing file) are
user errors naming the file and line; file arguments restrict which fixtures
run; and the shape of `bs policy test --json`.
"""

from __future__ import annotations

import pytest

from tests.conftest import World
from tests.policyhelpers import (
    SHIPPED_FIXTURES,
    as_json,
    edit,
    line_number,
    no_crash,
    user_error,
    write_fixture,
)

# --- bs policy test ------------------------------------------------------------------------------

FAILING_FIXTURE = """\
version: 1
policy: standard
teams: {alphagov/deployers: [bob], alphagov/dba: [dave], alphagov/developers: [alice]}
cases:
  - name: a deployer alone approves a migration
    facts:
      requester: alice
      reviews: [{user: bob, state: APPROVED}]
      release: {paths: [db/migrate/001_add_index.rb], insertions: 5, commits: 1}
    expect:
      outcome: met
      approved_by: [bob, dave]
      rules: {deployer approval: satisfied, database migrations: satisfied}
"""


def test_the_shipped_fixtures_pass(app_world: World) -> None:
    write_fixture(app_world, "standard", SHIPPED_FIXTURES)
    result = app_world.bs("policy", "test")
    assert result.exit_code == 0, result.output
    no_crash(result)
    lines = result.stdout.splitlines()
    assert lines[-1] == "16 passed, 0 failed"
    assert len(lines) == 17
    assert all(line.startswith("✓ policies/tests/standard.yaml: ") for line in lines[:-1])
    assert "✓ policies/tests/standard.yaml: a migration also needs a DBA (pending)" in lines


def test_a_fixture_whose_expectation_is_wrong_fails_saying_what_differs(app_world: World) -> None:
    name = write_fixture(app_world, "wrong", FAILING_FIXTURE)
    result = app_world.bs("policy", "test")
    assert result.exit_code == 1, result.output
    no_crash(result)
    assert result.stdout.splitlines() == [
        f"✗ {name}: a deployer alone approves a migration (pending)",
        "    outcome is pending (Needs 1 more approval from alphagov/dba: "
        "db/migrate/001_add_index.rb changed), expected met",
        "    approved by ['bob'], expected ['bob', 'dave']",
        "    rule 'database migrations' is pending, expected satisfied",
        "0 passed, 1 failed",
    ]


def test_a_fixture_expecting_a_rule_the_policy_lacks(app_world: World) -> None:
    content = edit(
        "rules: {deployer approval: satisfied, database migrations: satisfied}",
        "rules: {deployer approval: satisfied, dba approval: satisfied}",
        FAILING_FIXTURE,
    )
    write_fixture(app_world, "wrong", content)
    result = app_world.bs("policy", "test")
    assert result.exit_code == 1, result.output
    assert "    rule 'dba approval' is not in the policy's approval" in result.stdout


def test_a_fixture_for_a_policy_that_does_not_exist(app_world: World) -> None:
    write_fixture(
        app_world, "standard", edit("policy: standard", "policy: strict", SHIPPED_FIXTURES)
    )
    output = user_error(app_world.bs("policy", "test"))
    assert "policy 'strict' does not exist (policies/strict.yaml)" in output
    assert "fix the fixture's policy: key" in output


def test_a_fixture_for_a_policy_that_does_not_exist_names_the_fixture(app_world: World) -> None:
    content = edit("policy: standard", "policy: strict", SHIPPED_FIXTURES)
    name = write_fixture(app_world, "standard", content)
    output = user_error(app_world.bs("policy", "test"))
    assert name in output
    assert f"line {line_number(content, 'policy: strict')}" in output


@pytest.mark.parametrize(
    ("old", "new", "key", "allowed"),
    [
        (
            "      approved_by: [bob]\n      rules:",
            "      approved: [bob]\n      rules:",
            "unknown key 'approved' in cases[0].expect:",
            "outcome, approved_by, rejected_by, rules, summary_contains",
        ),
        (
            "insertions: 3, deletions: 1, commits: 1}",
            "insertions: 3, deletions: 1, commits: 1, lines: 4}",
            "unknown key 'lines' in cases[0].facts.release:",
            "paths, insertions, deletions, commits, first_deploy",
        ),
        (
            "policy: standard\n",
            "policy: standard\nmembers: {}\n",
            "unknown key 'members':",
            "version, policy, teams, cases",
        ),
    ],
)
def test_a_fixture_with_an_unknown_key_names_the_file_and_line(
    app_world: World, old: str, new: str, key: str, allowed: str
) -> None:
    content = edit(old, new, SHIPPED_FIXTURES)
    name = write_fixture(app_world, "standard", content)
    output = user_error(app_world.bs("policy", "test"))
    bad_key = key.split("'")[1]
    assert output.startswith(f"bs: error: {name}: 1 problem:")
    assert f"line {line_number(content, bad_key + ':')}: {key} allowed keys here: {allowed}." in (
        output
    )


def test_a_fixture_that_is_bad_yaml_names_the_file_and_line(app_world: World) -> None:
    name = write_fixture(app_world, "standard", SHIPPED_FIXTURES + "  - name: [unclosed\n")
    output = user_error(app_world.bs("policy", "test"))
    assert f"{name}: not valid YAML at line " in output


def test_files_arguments_restrict_which_fixtures_run(app_world: World) -> None:
    standard = write_fixture(app_world, "standard", SHIPPED_FIXTURES)
    wrong = write_fixture(app_world, "wrong", FAILING_FIXTURE)

    result = app_world.bs("policy", "test", standard)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "16 passed, 0 failed"
    assert wrong not in result.stdout

    result = app_world.bs("policy", "test", wrong)
    assert result.exit_code == 1, result.output
    assert standard not in result.stdout
    assert result.stdout.splitlines()[-1] == "0 passed, 1 failed"

    # An absolute path is shown relative to the checkout.
    result = app_world.bs("policy", "test", str(app_world.checkout / wrong))
    assert result.exit_code == 1, result.output
    assert f"✗ {wrong}: " in result.stdout

    # No arguments: every fixture in policies/tests/.
    result = app_world.bs("policy", "test")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == "16 passed, 1 failed"


def test_a_fixture_file_that_does_not_exist(app_world: World) -> None:
    output = user_error(app_world.bs("policy", "test", "policies/tests/nope.yaml"))
    assert "policies/tests/nope.yaml: no such file." in output


def test_no_fixtures_at_all(app_world: World) -> None:
    output = user_error(app_world.bs("policy", "test"))
    assert "no fixtures in policies/tests/" in output


def test_policy_test_json_shape(app_world: World) -> None:
    standard = write_fixture(app_world, "standard", SHIPPED_FIXTURES)
    data = as_json(app_world.bs("policy", "test", standard, "--json"))
    assert set(data) == {"passed", "cases"}
    assert data["passed"] is True
    assert len(data["cases"]) == 16
    first = data["cases"][0]
    assert first == {
        "file": standard,
        "name": "a deployer approves a routine release",
        "outcome": "met",
        "summary": "Approved by bob",
        "passed": True,
        "problems": [],
    }

    wrong = write_fixture(app_world, "wrong", FAILING_FIXTURE)
    data = as_json(app_world.bs("policy", "test", wrong, "--json"), exit_code=1)
    assert data["passed"] is False
    [case] = data["cases"]
    assert set(case) == {"file", "name", "outcome", "summary", "passed", "problems"}
    assert case["file"] == wrong
    assert case["passed"] is False
    assert case["outcome"] == "pending"
    assert len(case["problems"]) == 3
    assert all(isinstance(p, str) for p in case["problems"])
