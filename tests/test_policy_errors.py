"""Approval policy files: bad values, keys, teams, people and references.

Wrong types, unknown keys, teams that are not ORG/TEAM, teams and users the
forge does not know, approval nesting, undefined and duplicate rule names, and
bad `if:` predicates and globs.

A bad policy gets one clear message (the file, the line, the fix), exit status
1 and never a traceback, both from `bs policy validate` (the working tree, as
CI runs it before a policy change merges) and from the commands that load a
policy to decide who may request an app (`bs apps`, `bs open-request`).
Helpers are in tests/policyhelpers.py; the `app_world` fixture in tests/conftest.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import STANDARD_POLICY, World
from tests.policyhelpers import (
    APPROVAL,
    DEPLOYER_REQUIRES,
    MIGRATION_IF,
    POLICY_FILE,
    REQUESTERS,
    as_json,
    edit,
    line_number,
    nested_approval,
    no_crash,
    refused_everywhere,
    write_policy,
)

# --- the baseline ----------------------------------------------------------------------


def test_the_shipped_policy_is_valid(app_world: World) -> None:
    """The baseline the other tests break one thing of: online, every team exists."""
    result = app_world.bs("policy", "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == "valid: 0 errors, 0 warnings\n"
    assert result.stderr == ""
    result = app_world.bs("apps")
    assert result.exit_code == 0, result.output
    assert "frontend" in result.stdout


# --- wrong types and unknown keys ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where", "hint"),
    [
        ("count: 1", "count: two", "rules[0].requires.count", "valid integer"),
        ("count: 1", "count: 1.5", "rules[0].requires.count", "valid integer"),
        ("count: 1", "count: 0", "rules[0].requires.count", "greater than or equal to 1"),
        ("teams: [alphagov/dba]", "teams: alphagov/dba", "rules[1].requires.teams", "valid list"),
        ("name: database migrations", "name: 42", "rules[1].name", "valid string"),
        ("allow_author: false", "allow_author: maybe", "rules[1].options.allow_author", "bool"),
        ("version: 1", "version: 2", "version", "1"),
    ],
)
def test_a_wrong_type_names_the_line_and_the_key(
    app_world: World, old: str, new: str, where: str, hint: str
) -> None:
    content = STANDARD_POLICY.replace(old, new, 1)
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, new)}: {where}: " in message
    assert hint in message
    assert "1 problem:" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "allowed"),
    [
        (
            "disapproval:",
            "approvers: [bob]\ndisapproval:",
            "unknown key 'approvers':",
            "version, description, requesters, approval, disapproval, rules, emergency, rollback, deploy",
        ),
        (
            "    options:",
            "    optionz:",
            "unknown key 'optionz' in rules[1]:",
            "name, description, if, requires, options",
        ),
        (
            DEPLOYER_REQUIRES,
            "      count: 1\n      team: [alphagov/deployers]\n",
            "unknown key 'team' in rules[0].requires:",
            "users, teams, count",
        ),
        (
            "changed_paths:",
            "changed_path:",
            "unknown key 'changed_path' in rules[1].if:",
            "changed_paths, modified_lines, commits, first_deploy",
        ),
        (
            "allow_pushers: false",
            "allow_pusher: false",
            "unknown key 'allow_pusher' in rules[1].options:",
            "allow_author, allow_pushers",
        ),
        (
            "  teams: [alphagov/developers]",
            "  groups: [alphagov/developers]",
            "unknown key 'groups' in requesters:",
            "users, teams",
        ),
        ("  all_of:", "  one_of:", "unknown key 'one_of' in approval:", "all_of, any_of"),
        (
            "    - database migrations\n",
            "    - any_of: [database migrations]\n      none_of: [deployer approval]\n",
            "unknown key 'none_of' in approval.all_of[1]:",
            "all_of, any_of",
        ),
    ],
)
def test_an_unknown_key_lists_the_allowed_keys(
    app_world: World, old: str, new: str, key: str, allowed: str
) -> None:
    content = STANDARD_POLICY.replace(old, new, 1)
    message = refused_everywhere(app_world, content)
    bad_key = key.split("'")[1]
    assert f"line {line_number(content, bad_key + ':')}: {key}" in message
    assert f"allowed keys here: {allowed}." in message


@pytest.mark.parametrize("team", ["dba", "alphagov", "alphagov/dba/leads", "/dba", "alphagov/"])
def test_a_team_that_is_not_org_slash_team(app_world: World, team: str) -> None:
    content = edit("teams: [alphagov/dba]\n", f"teams: ['{team}']\n")
    message = refused_everywhere(app_world, content)
    where = line_number(content, f"teams: ['{team}']")
    assert f"line {where}: rules[1].requires.teams[0]: '{team}' is not a team: ORG/TEAM" in message
    assert "e.g. alphagov/deployers" in message


# --- people the forge does not know ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("teams: [alphagov/dba]\n", "teams: [alphagov/dbas]\n", "alphagov/dbas"),
        (REQUESTERS, "requesters:\n  teams: [alphagov/devs]\n", "alphagov/devs"),
        (
            "teams: [alphagov/deployers, alphagov/dba]",
            "teams:\n    - alphagov/deployers\n    - alphagov/dbas",
            "alphagov/dbas",
        ),
    ],
    ids=["in a rule", "in requesters", "in disapproval"],
)
def test_a_team_that_does_not_exist_on_the_forge(
    app_world: World, old: str, new: str, needle: str
) -> None:
    content = edit(old, new)
    write_policy(app_world, content)
    result = app_world.bs("policy", "validate")
    assert result.exit_code == 1, result.output
    no_crash(result)
    where = line_number(content, needle)
    assert result.stderr == (
        f"{POLICY_FILE}:{where}: error: team {needle} does not exist on the forge: "
        "fix the name or create the team\n"
    )
    assert "invalid: 1 errors, 0 warnings" in result.stdout
    data = as_json(app_world.bs("policy", "validate", "--json"), exit_code=1)
    assert data["findings"] == [
        {
            "file": POLICY_FILE,
            "line": where,
            "severity": "error",
            "message": f"team {needle} does not exist on the forge: fix the name or create the team",
        }
    ]
    # --offline does not ask the forge.
    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 0, result.output
    assert "valid: 0 errors, 0 warnings" in result.stdout


def test_a_user_that_does_not_exist_on_the_forge(app_world: World) -> None:
    content = edit(DEPLOYER_REQUIRES, DEPLOYER_REQUIRES + "      users: [carol, zed]\n")
    write_policy(app_world, content)
    result = app_world.bs("policy", "validate")
    assert result.exit_code == 1, result.output
    no_crash(result)
    assert result.stderr == (
        f"{POLICY_FILE}:{line_number(content, 'zed')}: error: "
        "user zed does not exist on the forge: fix the login\n"
    )
    assert "carol" not in result.output
    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 0, result.output


def test_every_unknown_person_is_listed(app_world: World) -> None:
    content = edit("teams: [alphagov/dba]\n", "teams: [alphagov/dbas]\n      users: [zed]\n")
    write_policy(app_world, content)
    data = as_json(app_world.bs("policy", "validate", "--json"), exit_code=1)
    assert [(f["line"], f["message"].split(" does")[0]) for f in data["findings"]] == [
        (line_number(content, "alphagov/dbas"), "team alphagov/dbas"),
        (line_number(content, "zed"), "user zed"),
    ]


# --- approval: nesting, references, rule names -------------------------------------------------


def test_approval_nested_five_deep_is_allowed(app_world: World) -> None:
    write_policy(app_world, edit(APPROVAL, nested_approval(5)))
    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 0, result.output
    assert app_world.bs("apps").exit_code == 0


def test_approval_nested_six_deep_is_refused(app_world: World) -> None:
    message = refused_everywhere(app_world, edit(APPROVAL, nested_approval(6)))
    assert "approval nests all_of/any_of 6 deep: at most 5; flatten it." in message
    assert "line " in message


def test_approval_nested_too_deep_names_the_line_of_the_approval(app_world: World) -> None:
    content = edit(APPROVAL, nested_approval(6))
    message = refused_everywhere(app_world, content)
    approval = line_number(content, "approval:")
    too_deep = [n for n, line in enumerate(content.splitlines(), 1) if "_of:" in line][5]
    assert f"line {approval}:" in message or f"line {too_deep}:" in message


def test_approval_nested_hundreds_deep_is_refused_not_a_crash(app_world: World) -> None:
    node: Any = "deployer approval"
    for _ in range(300):
        node = {"all_of": [node]}
    message = refused_everywhere(app_world, edit(APPROVAL, "approval: " + json.dumps(node) + "\n"))
    assert "too deep" in message or "at most 5" in message


def test_a_rule_referenced_but_not_defined(app_world: World) -> None:
    content = edit("    - database migrations\n", "    - database migration\n")
    message = refused_everywhere(app_world, content)
    assert (
        "approval refers to rule 'database migration', which rules does not define: "
        "define it or use one of deployer approval, database migrations, on-call approval."
        in message
    )


def test_a_rule_referenced_but_not_defined_names_the_line_of_the_reference(
    app_world: World,
) -> None:
    content = edit("    - database migrations\n", "    - database migration\n")
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, '- database migration')}:" in message


def test_two_rules_with_one_name(app_world: World) -> None:
    content = edit("name: database migrations", "name: deployer approval")
    message = refused_everywhere(app_world, content)
    assert "two rules are named 'deployer approval': give each rule its own name." in message


def test_two_rules_with_one_name_names_the_line_of_the_second(app_world: World) -> None:
    content = edit("name: database migrations", "name: deployer approval")
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, 'name: deployer approval', occurrence=2)}:" in message


# --- if: and globs -------------------------------------------------------------------------


def test_an_empty_if_mapping(app_world: World) -> None:
    content = edit(MIGRATION_IF, "    if: {}\n")
    message = refused_everywhere(app_world, content)
    assert (
        f"line {line_number(content, 'if: {}')}: rules[1].if: "
        "if: is empty: give a predicate or remove if:." in message
    )


def test_an_empty_if_with_no_value(app_world: World) -> None:
    content = edit(MIGRATION_IF, '    if:\n      # changed_paths: ["db/migrate/**"]\n')
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, 'if:')}:" in message
    assert "given but empty: fill in if: or remove it" in message


@pytest.mark.parametrize(
    ("glob", "problem"),
    [
        ("db/mig**rate/x", "'**' must be a whole path segment in 'db/mig**rate/x' (e.g. a/**/b)"),
        ("db/**.rb", "'**' must be a whole path segment in 'db/**.rb'"),
        ("**x", "'**' must be a whole path segment in '**x'"),
        ("db/[abc.rb", "'[' without a closing ']' in 'db/[abc.rb'"),
        ("/db/migrate/**", "write it relative to the repository"),
    ],
)
def test_a_bad_glob(app_world: World, glob: str, problem: str) -> None:
    content = edit('"db/migrate/**", "db/schema.rb"', f'"db/schema.rb", "{glob}"')
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, 'changed_paths:')}: rules[1].if.changed_paths: " in message
    assert problem in message
