"""Approval policy files: `bs policy validate` warnings and JSON, requesters, schemas.

Warnings (a rule defined but unused, a policy no app uses), the shape of
`bs policy validate --json`, the policy's requesters as `bs apps` and
`bs open-request` apply them, and the JSON Schemas of policies and of policy
test fixtures.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, STANDARD_POLICY, Result, World, git
from tests.policyhelpers import (
    APPROVAL,
    POLICY_FILE,
    REQUESTERS,
    ROLLBACK,
    SHIPPED_FIXTURES,
    as_json,
    edit,
    line_number,
    nested_approval,
    no_crash,
    refused_everywhere,
    user_error,
    write_policy,
)

# --- warnings ----------------------------------------------------------------------------------


def test_a_rule_defined_but_unused_is_a_warning(app_world: World) -> None:
    # The rollback rule also uses the migrations rule: without it, nothing does.
    content = edit(APPROVAL, "approval: deployer approval\n", edit(ROLLBACK, ""))
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

    write_policy(app_world, edit(APPROVAL, "approval: deployer approval\n", edit(ROLLBACK, "")))
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
