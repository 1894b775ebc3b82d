"""Approval policy files: bad ones, warnings, `bs policy validate` and `bs policy test`.

A bad policy gets one clear message (the file, the line, the fix), exit status
1 and never a traceback, both from `bs policy validate` (the working tree, as
CI runs it before a policy change merges) and from the commands that load a
policy to decide who may request an app (`bs apps`, `bs open-request`).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, STANDARD_POLICY, Result, World, git

POLICY_FILE = "policies/standard.yaml"
SHIPPED_FIXTURES = (ROOT / "policies" / "tests" / "standard.yaml").read_text(encoding="utf-8")

APPROVAL = "approval:\n  all_of:\n    - deployer approval\n    - database migrations\n"
DEPLOYER_REQUIRES = "      count: 1\n      teams: [alphagov/deployers]\n"
MIGRATION_IF = '    if:\n      changed_paths: ["db/migrate/**", "db/schema.rb"]\n'
REQUESTERS = "requesters:\n  teams: [alphagov/developers]\n"


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


@pytest.fixture
def app_world(world: World) -> World:
    """frontend, under the shipped standard policy (alice is one of its requesters)."""
    world.add_app("frontend")
    return world


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
            "version, description, requesters, approval, disapproval, rules",
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


def nested_approval(depth: int) -> str:
    """An approval of `depth` nested groups, block style, one key a line."""
    node: Any = "deployer approval"
    for level in range(depth):
        node = {"any_of" if level % 2 else "all_of": ["database migrations", node]}
    return yaml.safe_dump({"approval": node}, sort_keys=False, default_flow_style=False)


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
        "define it or use one of deployer approval, database migrations." in message
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
        assert "aliases" in message
        assert "100,000 values" in message
        assert "write the values out instead" in message


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


# --- warnings ----------------------------------------------------------------------------------


def test_a_rule_defined_but_unused_is_a_warning(app_world: World) -> None:
    content = edit(APPROVAL, "approval: deployer approval\n")
    write_policy(app_world, content)
    result = app_world.bs("policy", "validate")
    assert result.exit_code == 0, result.output
    no_crash(result)
    where = line_number(content, "name: database migrations")
    assert result.stdout == (
        f"{POLICY_FILE}:{where}: warning: rule 'database migrations' is defined but approval "
        "does not use it: add it to approval or remove it\n"
        "valid: 0 errors, 1 warnings\n"
    )
    assert result.stderr == ""
    # A warning does not stop the policy being used.
    assert app_world.bs("apps").exit_code == 0


def test_a_policy_no_app_uses_is_a_warning(app_world: World) -> None:
    write_policy(app_world, STANDARD_POLICY, name="strict")
    result = app_world.bs("policy", "validate")
    assert result.exit_code == 0, result.output
    no_crash(result)
    assert "policies/strict.yaml: warning: no app in policies/apps.yaml uses this policy" in (
        result.stdout
    )
    assert "valid: 0 errors, 1 warnings" in result.stdout


def test_an_unused_policy_is_still_validated(app_world: World) -> None:
    write_policy(app_world, STANDARD_POLICY.replace("count: 1", "count: two", 1), name="strict")
    result = app_world.bs("policy", "validate", "--offline")
    assert result.exit_code == 1, result.output
    no_crash(result)
    assert result.stderr.startswith("policies/strict.yaml: 1 problem:")


# --- bs policy validate --json -------------------------------------------------------------------


def test_validate_json_shape(app_world: World) -> None:
    data = as_json(app_world.bs("policy", "validate", "--json"))
    assert data == {"valid": True, "findings": []}

    write_policy(app_world, edit(APPROVAL, "approval: deployer approval\n"))
    write_policy(app_world, "- a list\n", name="broken")
    data = as_json(app_world.bs("policy", "validate", "--offline", "--json"), exit_code=1)
    assert set(data) == {"valid", "findings"}
    assert data["valid"] is False
    for finding in data["findings"]:
        assert set(finding) == {"file", "line", "severity", "message"}
        assert isinstance(finding["file"], str)
        assert finding["line"] is None or isinstance(finding["line"], int)
        assert finding["severity"] in ("error", "warning")
        assert isinstance(finding["message"], str)
    by_file = {(f["file"], f["severity"]) for f in data["findings"]}
    assert by_file == {
        ("policies/broken.yaml", "error"),
        (POLICY_FILE, "warning"),
    }


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
    assert lines[-1] == "10 passed, 0 failed"
    assert len(lines) == 11
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
    assert result.stdout.splitlines()[-1] == "10 passed, 0 failed"
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
    assert result.stdout.splitlines()[-1] == "10 passed, 1 failed"


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
    assert len(data["cases"]) == 10
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


# --- requesters: bs apps and bs open-request ---------------------------------------------------------


@pytest.fixture
def two_policies(app_world: World) -> World:
    """frontend under standard (alphagov/developers); signon under ops (bob only),
    with release_1 tagged on the forge."""
    write_policy(app_world, edit(REQUESTERS, "requesters:\n  users: [bob]\n"), name="ops")
    signon = app_world.add_app("signon")
    signon.write("README.md", "signon\n")
    signon.commit("one")
    signon.tag("release_1")
    signon.push_to(app_world.app_bare("alphagov/signon"))
    app_world.apps["signon"]["policy"] = "ops"
    app_world.write_apps()
    return app_world


def app_names(result: Result) -> list[str]:
    return [app["name"] for app in as_json(result)["apps"]]


def test_bs_apps_lists_only_the_apps_the_user_may_request(two_policies: World) -> None:
    world = two_policies
    assert app_names(world.bs("apps", "--json", user="alice")) == ["frontend"]
    assert app_names(world.bs("apps", "--json", user="bob")) == ["frontend", "signon"]
    assert app_names(world.bs("apps", "--all", "--json", user="alice")) == ["frontend", "signon"]
    assert as_json(world.bs("apps", "--json", user="bob"))["user"] == "bob"
    assert as_json(world.bs("apps", "--all", "--json"))["user"] is None

    result = world.bs("apps", user="alice")
    assert result.exit_code == 0, result.output
    assert "frontend" in result.stdout
    assert "signon" not in result.stdout
    result = world.bs("apps", "--all", user="alice")
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["frontend", "alphagov/frontend", "(tags:", "release,", "policy:", "standard)"],
        ["signon", "alphagov/signon", "(tags:", "release,", "policy:", "ops)"],
    ]


def test_bs_apps_when_the_user_may_request_nothing(two_policies: World) -> None:
    write_policy(two_policies, edit(REQUESTERS, "requesters:\n  users: [bob]\n"))
    result = two_policies.bs("apps", user="alice")
    assert result.exit_code == 0, result.output
    assert "alice may request no app" in result.stdout
    assert "--all" in result.stdout


def test_open_request_outside_the_requesters_is_refused(two_policies: World) -> None:
    world = two_policies
    output = user_error(world.bs("open-request", "signon", "release_1", user="alice"))
    assert output == (
        "bs: error: alice may not request releases of signon: policy ops allows bob. "
        "Ask to be added, or ask one of them.\n"
    )
    assert git(world.requests_bare, "for-each-ref", "refs/heads/request") == ""
    # A requester may.
    data = as_json(world.bs("open-request", "signon", "release_1", "--json", user="bob"))
    assert data["request_file"].startswith("requests/signon/")


def test_open_request_refusal_names_teams_and_users(two_policies: World) -> None:
    write_policy(
        two_policies,
        edit(REQUESTERS, "requesters:\n  users: [bob]\n  teams: [alphagov/dba]\n"),
        name="ops",
    )
    output = user_error(two_policies.bs("open-request", "signon", "release_1", user="carol"))
    assert "carol may not request releases of signon: policy ops allows bob, alphagov/dba." in (
        output
    )
    # dave is in alphagov/dba: past the requesters check.
    result = two_policies.bs("open-request", "signon", "release_1", "--dry-run", user="dave")
    assert result.exit_code == 0, result.output


def test_requesters_with_no_value_is_refused(app_world: World) -> None:
    content = edit(REQUESTERS, "requesters:\n#  teams: [alphagov/developers]\n")
    message = refused_everywhere(app_world, content)
    assert f"line {line_number(content, 'requesters:')}:" in message


# --- the JSON Schema -------------------------------------------------------------------------------


def schema_validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_policy_schema_validates_the_shipped_policy() -> None:
    validator = schema_validator("policy.schema.json")
    assert list(validator.iter_errors(yaml.safe_load(STANDARD_POLICY))) == []
    nested = yaml.safe_load(edit(APPROVAL, nested_approval(5)))
    assert list(validator.iter_errors(nested)) == []


@pytest.mark.parametrize(
    ("where", "key"),
    [((), "approvers"), (("rules", 0), "optionz"), (("rules", 1, "if"), "changed_path")],
)
def test_policy_schema_rejects_an_unknown_key(where: tuple[str | int, ...], key: str) -> None:
    validator = schema_validator("policy.schema.json")
    document = yaml.safe_load(STANDARD_POLICY)
    target = document
    for part in where:
        target = target[part]
    target[key] = 1
    errors = list(validator.iter_errors(document))
    assert errors, key
    assert any(key in error.message for error in errors), [e.message for e in errors]


def test_policy_schema_rejects_a_wrong_type_and_a_bad_team() -> None:
    validator = schema_validator("policy.schema.json")
    document = yaml.safe_load(STANDARD_POLICY.replace("count: 1", "count: two", 1))
    assert any(
        "'two' is not of type 'integer'" in e.message for e in validator.iter_errors(document)
    )
    document = yaml.safe_load(edit("teams: [alphagov/dba]", "teams: [dba]"))
    assert list(validator.iter_errors(document))


def test_policy_test_schema_validates_the_shipped_fixtures() -> None:
    validator = schema_validator("policy-test.schema.json")
    assert list(validator.iter_errors(yaml.safe_load(SHIPPED_FIXTURES))) == []
    document = yaml.safe_load(SHIPPED_FIXTURES)
    document["cases"][0]["expect"]["approved"] = ["bob"]
    assert list(validator.iter_errors(document))
