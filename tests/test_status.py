"""`bs status`: open requests and what they need, deployed versions, freezes and deploy
windows, and the command's errors and help (the gateway's store: test_status_store.py).

End to end on the local forge: requests opened with `bs open-request` and checked with
`bs check`, policies published to the default branch.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import yaml

from tests.checkhelpers import FRONTEND, NEEDS_DEPLOYER, REQUESTS, forge
from tests.conftest import STANDARD_POLICY, World
from tests.hookhelpers import open_frontend, with_bot


def status(world: World, *args: str, env: dict[str, str] | None = None) -> str:
    result = world.bs("status", *args, env=env)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def status_json(world: World, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(status(world, *args, "--json", env=env))


def section(text: str, heading: str) -> list[str]:
    """The lines under `heading`, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    found = []
    for line in lines[start:]:
        if not line.strip():
            break
        found.append(line)
    return found


# -- open requests --------------------------------------------------------------------


def test_an_open_request_shows_what_it_still_needs_as_the_check_posted_it(world: World) -> None:
    opened = open_frontend(with_bot(world), reason="Cookie banner")
    # A pull request that is no release request is no open request.
    other = forge(world, "alice")
    readme = world.root / "README.md"
    readme.write_text("docs\n")
    other.create_branch(REQUESTS, "docs/readme", "main", [("README.md", readme)], "Docs")
    other.open_pull_request(REQUESTS, head="docs/readme", base="main", title="Docs", body="")

    (line,) = section(status(world), "Open requests")
    assert line.startswith(f"  #{opened.number} frontend release_2 (Release) by alice, opened ")
    assert "not checked yet (bs check has not run on its head)" in line

    assert world.bs("check", str(opened.number), user="carol").exit_code == 1
    (line,) = section(status(world), "Open requests")
    assert f"waiting: {NEEDS_DEPLOYER}" in line
    (request,) = status_json(world)["open_requests"]
    assert request["number"] == opened.number and request["request"] == opened.request_id
    assert (request["app"], request["tag"], request["kind"], request["requester"]) == (
        "frontend", "release_2", "release", "alice",
    )  # fmt: skip
    assert request["status"] == {
        "context": "bs/policy", "state": "pending", "description": NEEDS_DEPLOYER,
    }  # fmt: skip

    forge(world, "bob").submit_review(REQUESTS, opened.number, "APPROVED", "Looks right")
    # Not re-evaluated: the status on the head still says what the last check posted.
    assert f"waiting: {NEEDS_DEPLOYER}" in section(status(world), "Open requests")[0]
    assert world.bs("check", str(opened.number), user="carol").exit_code == 0
    (line,) = section(status(world), "Open requests")
    assert "policy met: Approved by bob (ready to merge)" in line
    (request,) = status_json(world, "frontend")["open_requests"]
    assert request["status"]["state"] == "success"

    # Another app's status lists no request of frontend's.
    world.add_app("search")
    assert section(status(world, "search"), "Open requests") == ["  none"]


# -- deployed versions ----------------------------------------------------------------


def test_each_app_shows_its_deployed_version_and_a_broken_source_only_its_own_error(
    world: World,
) -> None:
    app_world = world
    frontend = app_world.add_app("frontend")
    frontend.write("app.py", "1\n")
    first = frontend.commit("one")
    frontend.tag("release_1")
    frontend.commit("two")
    frontend.tag("release_2")
    frontend.push_to(app_world.app_bare(FRONTEND))
    app_world.deploy(FRONTEND, "release_1")
    publisher = app_world.add_app("publisher")
    publisher.write("app.py", "1\n")
    publisher.commit("one")
    publisher.tag("release_7")
    publisher.push_to(app_world.app_bare("alphagov/publisher"))
    app_world.add_app("search")  # its repository does not exist

    lines = section(status(app_world), "Deployed versions")
    assert lines[0] == f"  frontend   release_1 ({first[:12]})"
    assert lines[1] == "  publisher  nothing deployed yet"
    assert lines[2].startswith("  search     cannot be read: repository alphagov/search")
    assert len(lines) == 3
    deployed = status_json(app_world)["deployed"]
    assert deployed == [
        {"app": "frontend", "tag": "release_1", "commit": first, "error": None},
        {"app": "publisher", "tag": None, "commit": None, "error": None},
        {"app": "search", "tag": None, "commit": None, "error": deployed[2]["error"]},
    ]
    assert "alphagov/search" in deployed[2]["error"]
    only = status_json(app_world, "publisher")
    assert only["apps"] == ["publisher"]
    assert [d["app"] for d in only["deployed"]] == ["publisher"]


def test_an_unknown_app_is_one_clear_error(app_world: World) -> None:
    result = app_world.bs("status", "nosuchapp")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "bs: error: unknown app 'nosuchapp': policies/apps.yaml on main defines frontend. "
        "See `bs apps --all`, or run `bs status` for every app."
    )


def test_help_and_listing(app_world: World) -> None:
    helped = app_world.bs("status", "--help")
    assert helped.exit_code == 0 and "bs status frontend --json" in helped.stdout
    listed = app_world.bs("--help")
    assert any(line.split()[:1] == ["status"] for line in listed.stdout.splitlines())


# -- freezes and windows ----------------------------------------------------------------


def publish_deploy(world: World, deploy: dict[str, object]) -> None:
    policy = yaml.safe_load(STANDARD_POLICY)
    policy["deploy"] = deploy
    (world.checkout / "policies" / "standard.yaml").write_text(yaml.safe_dump(policy))
    world.publish()


def midnight(day: date) -> str:
    """How status writes the start of `day` in UTC."""
    return f"{datetime.combine(day, time(0), UTC):%a %d %b %Y} 00:00 UTC"


def test_a_freeze_is_current_while_now_is_in_it_and_coming_before(app_world: World) -> None:
    today = datetime.now(UTC).date()
    day = timedelta(days=1)
    publish_deploy(app_world, {
        "timezone": "UTC",
        "freezes": [
            {"from": str(today - 30 * day), "to": str(today - 20 * day), "reason": "Old freeze"},
            {"from": str(today - day), "to": str(today + day), "reason": "Incident freeze"},
            {"from": str(today + 20 * day), "to": str(today + 22 * day), "reason": "Budget freeze"},
        ],
    })  # fmt: skip
    lines = section(status(app_world), "Freezes and deploy windows")
    assert lines[0] == "  standard (for frontend), times in UTC"
    assert lines[1] == "    deploy windows: none, deploys may happen any time"
    assert lines[2].startswith(
        f"    frozen now: 'Incident freeze' from {midnight(today - day)} "
        f"until {midnight(today + 2 * day)}, ends in "
    )
    assert lines[3].startswith(
        f"    coming freeze: 'Budget freeze' from {midnight(today + 20 * day)} "
        f"until {midnight(today + 23 * day)}, begins in "
    )
    assert lines[4].startswith(
        "    closed now (the freeze 'Incident freeze'): a request approved now could deploy "
        f"from {midnight(today + 2 * day)}, in "
    )
    assert lines[4].endswith(
        f", to {datetime.combine(today + 2 * day, time(2, 0)):%a %d %b %Y %H:%M} UTC"
    )
    assert "Old freeze" not in "\n".join(lines)
    (policy,) = status_json(app_world)["freezes"]
    assert [f["reason"] for f in policy["current"]] == ["Incident freeze"]
    assert [f["reason"] for f in policy["coming"]] == ["Budget freeze"]
    assert policy["open_now"] is False
    assert policy["next_slot"]["start"] == f"{today + 2 * day}T00:00:00Z"


def test_deploy_windows_say_when_the_next_opens(app_world: World) -> None:
    # One window, on the day after tomorrow only: closed now whatever the time.
    later = datetime.now(UTC).date() + timedelta(days=2)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[later.weekday()]
    publish_deploy(app_world, {
        "timezone": "UTC", "windows": [{"days": [weekday], "from": "10:00", "to": "12:00"}],
    })  # fmt: skip
    lines = section(status(app_world), "Freezes and deploy windows")
    assert lines[1] == f"    deploy windows: {weekday} 10:00-12:00"
    assert lines[2] == "    no freeze now or coming"
    assert lines[3].startswith(
        "    closed now (outside the deploy windows): a request approved now could deploy from "
        f"{later:%a %d %b %Y} 10:00 UTC, in "
    )
    assert lines[3].endswith(f", to {later:%a %d %b %Y} 12:00 UTC")
