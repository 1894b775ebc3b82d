"""`bs status` lists every emergency deploy whose follow-up review is not approved yet,
from the gateway's records and the requests repo, and stops listing it once the follow-up
is approved; past `review_within` it says OVERDUE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bs.forges import open_forge
from bs.usecases.status_emergencies import pending_reviews
from bs.workspace import Workspace
from tests.conftest import World
from tests.emergencyhelpers import (
    REASON,
    as_minted,
    build_frontend,
    deploy_via_gateway,
    gateway_as,
    merge_approved,
    mint,
    new_keys,
    open_as,
)
from tests.hookhelpers import BOT, hook

HEADING = "Emergency deploys whose follow-up review is not approved yet"


def _deployed_emergency(world: World, tmp_path: Path) -> tuple[str, int]:
    runs = tmp_path / "runs.txt"
    releases = build_frontend(world, runs=runs)
    opened, _ = open_as(world, "release_3", "--emergency", "--reason", REASON)
    merge_approved(world, opened.number, "carol")
    keys = new_keys()
    token, _ = mint(world, opened.number, keys)
    made = as_minted(world, opened.number, token, keys, runs, releases.release_3)
    _, progress = deploy_via_gateway(gateway_as(made, BOT), made)
    assert progress["state"] == "succeeded", progress
    return opened.request_id, opened.number + 1  # the gateway opened the follow-up next


def _status(world: World) -> dict[str, Any]:
    result = world.bs("status", "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_an_emergency_awaits_review_until_its_follow_up_is_approved(
    world: World, tmp_path: Path
) -> None:
    emergency_id, follow_up = _deployed_emergency(world, tmp_path)

    data = _status(world)
    (listed,) = data["emergencies"]
    assert (listed["app"], listed["request_id"]) == ("frontend", emergency_id)
    assert "requested by alice, deployed " in listed["what"]
    assert "review due by " in listed["what"] and f"follow-up #{follow_up}" in listed["what"]
    assert "OVERDUE" not in listed["what"]
    assert listed["url"].endswith(f"/pulls/{follow_up}.json")
    assert data["emergencies_error"] is None
    text = world.bs("status").stdout
    assert HEADING in text and f"frontend {emergency_id}: requested by alice" in text

    # Two days later (the standard policy's review_within), it is overdue.
    workspace = Workspace.discover(world.checkout)
    forge = open_forge(workspace, {"BS_USER": "alice"})
    later = datetime.now(UTC) + timedelta(days=2, minutes=5)
    (overdue,), error = pending_reviews(forge, workspace, {}, app="frontend", now=later)
    assert error is None and "OVERDUE since" in overdue.what
    assert pending_reviews(forge, workspace, {}, app="publishing-api", now=later) == ([], None)

    # Reviewed under the normal rules: no longer listed.
    merge_approved(world, follow_up, "bob")
    assert hook(world, "closed", str(follow_up)).exit_code == 0
    data = _status(world)
    assert data["emergencies"] == []
    assert HEADING not in world.bs("status").stdout


def test_a_store_without_emergencies_reads_no_history(world: World, tmp_path: Path) -> None:
    build_frontend(world)
    workspace = Workspace.discover(world.checkout)

    class NoForge:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the forge was asked for {name}")

    assert pending_reviews(NoForge(), workspace, {}, app=None, now=datetime.now(UTC)) == (  # type: ignore[arg-type]
        [],
        None,
    )
