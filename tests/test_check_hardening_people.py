"""`bs check` end to end: the security review's findings about people, names and paths.

Logins compare without case (a disapprover, an approver, the requester);
Enterprise Managed Users' logins (alice_acme) are logins; a team the policy
names but the forge lacks stops the check (exit 3) rather than being an empty
team; a dismissed latest review leaves nothing of that reviewer standing; a
path that is not UTF-8, or holds a bidi override, is shown escaped; and
apps.yaml may use YAML merge keys. The other findings are in
tests/test_check_hardening.py; helpers in tests/checkhelpers.py.
"""

from __future__ import annotations

import json
import os

import yaml

from tests.checkhelpers import (
    FRONTEND,
    NEEDS_DEPLOYER,
    REQUESTS,
    check_named,
    commit_entries,
    could_not_evaluate,
    edit_request,
    expect,
    failed_checks,
    forge,
    head,
    ignored,
    latest_status,
    open_release,
    publish_policy,
    replace_once,
    review,
)
from tests.conftest import TEAMS, USERS, World
from tests.policyhelpers import DEPLOYER_REQUIRES, edit, write_fixture

DISAPPROVAL = "disapproval:\n  teams: [alphagov/deployers, alphagov/dba]\n"

# -- logins compare without case ---------------------------------------------------------


def test_a_disapprover_named_in_other_letters_still_rejects(world: World) -> None:
    opened = open_release(world)
    publish_policy(world, edit(DISAPPROVAL, "disapproval:\n  users: [Dave]\n"))
    review(world, opened.number, "dave", "CHANGES_REQUESTED", "no way")
    review(world, opened.number, "bob")
    data = expect(world, opened.number, "rejected", 2, "Rejected by dave: no way")
    assert data["policy"]["ignored_rejections"] == []


def test_an_approver_named_in_other_letters_counts(world: World) -> None:
    opened = open_release(world)
    publish_policy(world, edit(DEPLOYER_REQUIRES, "      count: 1\n      users: [Bob]\n"))
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")


def test_requested_by_in_other_letters_is_the_pull_requests_author(world: World) -> None:
    opened = open_release(world)
    edit_request(world, opened, replace_once("requested_by: alice\n", "requested_by: ALICE\n"))
    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert check_named(data, "request")["message"] == (
        f"request {opened.request_id} by ALICE is valid"
    )


def test_enterprise_managed_users_logins_hold_an_underscore(world: World) -> None:
    (world.forge / "users.yaml").write_text(
        yaml.safe_dump({**USERS, "erin_acme": "erin@example.gov.uk"})
    )
    teams = {**TEAMS, "alphagov/developers": [*TEAMS["alphagov/developers"], "erin_acme"]}
    (world.forge / "teams.yaml").write_text(yaml.safe_dump(teams))
    opened = open_release(world, requester="erin_acme")
    review(world, opened.number, "bob")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert check_named(data, "request")["message"] == (
        f"request {opened.request_id} by erin_acme is valid"
    )


def test_policy_fixtures_may_name_enterprise_managed_users(world: World) -> None:
    world.add_app("frontend")
    write_fixture(
        world,
        "emu",
        "version: 1\npolicy: standard\n"
        "teams: {alphagov/developers: [alice_acme], alphagov/deployers: [bob_acme], alphagov/dba: [dave_acme]}\n"
        "cases:\n"
        "  - name: an EMU deployer approves an EMU developer's release\n"
        "    facts:\n"
        "      requester: alice_acme\n"
        "      reviews: [{user: bob_acme, state: APPROVED}]\n"
        "      contributors: {carol_acme: pushed to the request's branch}\n"
        "      release: {paths: [app/x.rb], insertions: 1, commits: 1}\n"
        "    expect: {outcome: met, approved_by: [bob_acme]}\n",
    )  # fmt: skip
    result = world.bs("policy", "test", "policies/tests/emu.yaml")
    assert (result.exit_code, result.stdout) == (
        0,
        "✓ policies/tests/emu.yaml: an EMU deployer approves an EMU developer's release (met)\n"
        "1 passed, 0 failed\n",
    ), result.output


# -- teams and dismissals ---------------------------------------------------------------


def test_a_team_the_forge_lacks_stops_the_check(world: World) -> None:
    """A typo in disapproval would otherwise be an empty team: a rejection unheard."""
    opened = open_release(world)
    publish_policy(world, edit(DISAPPROVAL, DISAPPROVAL.replace("deployers,", "deployer,")))
    review(world, opened.number, "carol", "CHANGES_REQUESTED", "this breaks checkout")
    review(world, opened.number, "bob")
    stderr = could_not_evaluate(world.bs("check", str(opened.number), "--json", user="carol"))
    assert stderr == (
        f"bs: error: could not evaluate #{opened.number}: policy standard names team "
        "alphagov/deployer, which does not exist on the forge: fix policies/standard.yaml "
        "(`bs policy validate` finds these).\n"
    )
    posted = latest_status(world, head(world, opened.number))
    assert posted is not None and posted.state == "error"
    assert posted.description.startswith("Could not evaluate: policy standard names team")


def test_dismissing_the_latest_of_two_approvals_leaves_none(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "bob")
    second = review(world, opened.number, "bob")
    forge(world, "carol").dismiss_review(REQUESTS, opened.number, second, "approved by accident")
    data = expect(world, opened.number, "pending", 1, NEEDS_DEPLOYER)
    assert ignored(data) == [("bob", "their review was dismissed")]


def test_dismissing_the_earlier_of_two_approvals_leaves_the_latest(world: World) -> None:
    opened = open_release(world)
    first = review(world, opened.number, "bob")
    review(world, opened.number, "bob")
    forge(world, "carol").dismiss_review(REQUESTS, opened.number, first, "superseded")
    expect(world, opened.number, "met", 0, "Approved by bob")


def test_dismissing_the_latest_of_two_change_requests_lifts_the_rejection(world: World) -> None:
    opened = open_release(world)
    review(world, opened.number, "dave", "CHANGES_REQUESTED", "no")
    second = review(world, opened.number, "dave", "CHANGES_REQUESTED", "still no")
    review(world, opened.number, "bob")
    expect(world, opened.number, "rejected", 2, "Rejected by dave: still no")
    forge(world, "carol").dismiss_review(REQUESTS, opened.number, second, "resolved")
    data = expect(world, opened.number, "met", 0, "Approved by bob")
    assert data["policy"]["rejections"] == []


# -- paths shown as text anyone can read --------------------------------------------------


def test_a_path_that_is_not_utf8_is_shown_escaped(world: World) -> None:
    app = world.add_app("frontend")
    app.write("README.md", "frontend\n")
    app.commit("one")
    app.tag("release_1")
    (app.path / "db" / "migrate").mkdir(parents=True)
    (app.path / os.fsdecode(b"db/migrate/\xff\xfe.rb")).write_text("drop_table :users\n")
    app.commit("two")
    app.tag("release_2")
    app.push_to(world.app_bare(FRONTEND))
    world.deploy(FRONTEND, "release_1")
    opened = world.bs("open-request", "frontend", "release_2", "--json", user="alice")
    assert opened.exit_code == 0, opened.output
    number = json.loads(opened.stdout)["pull_request"]["number"]
    review(world, number, "bob")

    summary = "Needs 1 more approval from alphagov/dba: db/migrate/\\xff\\xfe.rb changed"
    data = expect(world, number, "pending", 1, summary)
    assert failed_checks(data) == []
    text = world.bs("check", str(number), "--no-status", user="carol")
    assert text.exit_code == 1, text.output
    assert "db/migrate/\\xff\\xfe.rb changed" in text.stdout
    facts = world.root / "facts.yaml"
    saved = world.bs("check", str(number), "--no-status", "--save-facts", str(facts), user="carol")
    assert saved.exit_code == 1, saved.output
    assert yaml.safe_load(facts.read_text())["cases"][0]["facts"]["release"]["paths"] == [
        "db/migrate/\\xff\\xfe.rb"
    ]


def test_a_bidi_override_in_a_path_is_shown_as_its_code_point(world: World) -> None:
    opened = open_release(world)
    path = "requests/frontend/\u202egnp.exe"
    commit_entries(world, opened, [("100644", path.encode(), b"x")])
    summary_file = world.root / "summary.md"
    result = world.bs("check", str(opened.number), "--summary", str(summary_file), user="carol")
    assert result.exit_code == 2, result.output
    posted = latest_status(world, head(world, opened.number))
    assert posted is not None and posted.state == "failure"
    assert posted.description.startswith(
        "Invalid request: it also changes requests/frontend/<U+202E>gnp.exe: "
    )
    for shown in (posted.description, result.stdout, summary_file.read_text()):
        assert "\u202e" not in shown
    assert "requests/frontend/<U+202E>gnp.exe" in result.stdout
    assert "requests/frontend/\\<U+202E\\>gnp.exe" in summary_file.read_text()


# -- apps.yaml may use YAML merge keys ----------------------------------------------------


def test_apps_yaml_merge_keys_with_overrides(world: World) -> None:
    opened = open_release(world)
    (world.checkout / "policies" / "apps.yaml").write_text(
        "version: 1\n"
        "apps:\n"
        "  backend: &defaults\n"
        "    repo: alphagov/backend\n"
        "    tags: {scheme: release}\n"
        "    deployed: {source: ref, ref: deployed-to-production}\n"
        "    policy: standard\n"
        "    review_list: [backend-reviewers@example.gov.uk]\n"
        "  frontend:\n"
        "    <<: *defaults\n"
        "    repo: alphagov/frontend\n"
        "    review_list: [frontend-reviewers@example.gov.uk]\n"
    )
    world.publish()
    review(world, opened.number, "bob")
    expect(world, opened.number, "met", 0, "Approved by bob")
    listed = world.bs("apps", "--json")
    assert listed.exit_code == 0, listed.output
    apps = {a["name"]: a["repo"] for a in json.loads(listed.stdout)["apps"]}
    assert apps == {"backend": "alphagov/backend", "frontend": "alphagov/frontend"}
