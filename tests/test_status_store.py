"""`bs status` and the gateway's store: none yet, unreachable, and what a real one holds
(live slots, running deployments, locks, interruptions), read without changing it.

The deployment row is made by redeeming a real link through the gateway; locks are
taken through the store's own API; PostgreSQL is a real throwaway server.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import create_engine, inspect

from bs.core.slots import describe_instant
from bs.store import open_store
from bs.store.deployments import Deployments
from bs.store.tables import metadata
from tests.conftest import World
from tests.gatewayhelpers import Minted, redeem
from tests.gatewaytesthelpers import (
    app_fixture,  # noqa: F401 (a fixture)
    deployment_state,
    engine_of,
    minted_fixture,  # noqa: F401 (a fixture)
    signed_in,
)
from tests.test_status import section, status, status_json

LONDON = ZoneInfo("Europe/London")
HOLDER = "gw-status-test"


def test_no_store_yet_is_said_and_none_is_created(app_world: World) -> None:
    store = app_world.checkout / ".bs" / "gateway.sqlite"
    assert not store.parent.exists()
    text = status(app_world)
    assert section(text, "Gateway store") == ["  no deployments recorded yet"]
    assert "Live slots" not in text
    assert not store.parent.exists()
    data = status_json(app_world)
    assert data["store"] == {
        "reachable": True, "error": None, "exists": False, "location": f"sqlite:///{store}",
    }  # fmt: skip
    assert (data["slots"], data["running"], data["locks"]) == ([], [], [])
    # A file with no tables in it: nothing recorded, and still no table made.
    store.parent.mkdir()
    sqlite3.connect(store).close()
    assert section(status(app_world), "Gateway store") == ["  no deployments recorded yet"]
    assert not inspect(create_engine(f"sqlite:///{store}")).get_table_names()


def test_an_unreachable_store_is_one_line_naming_no_password(app_world: World) -> None:
    secret = "hunter2-not-shown"
    env = {"BS_GATEWAY_STORE": f"postgresql+psycopg://nobody:{secret}@127.0.0.1:1/releases"}
    result = app_world.bs("status", env=env)
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    (line,) = section(result.stdout, "Gateway store: postgresql+psycopg://127.0.0.1/releases")
    assert line.startswith("  cannot be read: OperationalError: ")
    assert line.endswith("Live slots, running deployments and locks are not shown.")
    # The rest is still shown.
    (deployed,) = section(result.stdout, "Deployed versions")
    assert deployed.startswith("  frontend  cannot be read: repository alphagov/frontend ")
    assert "Freezes and deploy windows" in result.stdout
    as_json = app_world.bs("status", "--json", env=env)
    assert as_json.exit_code == 0 and secret not in as_json.output
    store = json.loads(as_json.stdout)["store"]
    assert store["reachable"] is False and store["error"].startswith("OperationalError: ")
    # A URL that is no URL at all is said so, without quoting it.
    garbled = app_world.bs("status", env={"BS_GATEWAY_STORE": f"nobody:{secret}@nowhere"})
    assert garbled.exit_code == 0 and secret not in garbled.output
    assert section(garbled.stdout, "Gateway store: (the gateway store's URL)") == [
        "  cannot be read: it is not a database URL: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB. Live slots, running deployments and locks "
        "are not shown."
    ]


def test_a_live_slot_shows_when_it_ends(app: Flask, m: Minted) -> None:
    assert redeem(signed_in(app, "alice"), m).status_code == 303
    found = Deployments(engine_of(app)).get(1)
    assert found is not None and found.state == "ready"
    (line,) = section(status(m.world), "Live slots")
    assert line.startswith(f"  frontend release_2 (#{m.number}, deployment 1) requested by alice: ")
    assert f"slot ends {describe_instant(found.slot_end, LONDON)}, " in line
    assert line.endswith(" left")
    data = status_json(m.world)
    assert data["store"]["exists"] is True
    assert data["slots"] == [
        {
            "deployment": 1, "app": "frontend", "pull_request": m.number,
            "request": found.request_key.split("/")[1], "tag": "release_2", "requester": "alice",
            "state": "ready", "slot_start": found.slot_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "slot_end": found.slot_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ]  # fmt: skip
    assert section(status(m.world), "Running deployments") == ["  none"]


def test_a_running_deployment_and_its_lock(app: Flask, m: Minted) -> None:
    assert redeem(signed_in(app, "alice"), m).status_code == 303
    # A lock renewed well ahead, so "held" does not depend on how fast the test runs.
    store = Deployments(engine_of(app), lock_ttl=timedelta(hours=1))
    started = datetime.now(UTC)
    assert store.start(1, "frontend", by="alice", holder=HOLDER, now=started) == 1
    text = status(m.world)
    (running,) = section(text, "Running deployments")
    assert running.startswith(f"  frontend release_2 (#{m.number}, deployment 1) by alice, since ")
    assert running.endswith(", attempt 1")
    (lock,) = section(text, "Deploy locks")
    expires = describe_instant(started + timedelta(hours=1), LONDON)
    assert (
        lock
        == f"  frontend: deployment 1, gateway {HOLDER}, held until {expires} (renewed while it runs)"
    )
    assert section(text, "Live slots") == ["  none"]  # running, so no longer waiting
    data = status_json(m.world)
    assert data["locks"] == [
        {"app": "frontend", "deployment": 1, "holder": HOLDER,
         "expires_at": (started + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "lapsed": False}
    ]  # fmt: skip
    (row,) = data["running"]
    assert (row["deployment"], row["state"], row["attempt"], row["deployed_by"]) == (
        1, "running", 1, "alice",
    )  # fmt: skip


def test_a_lapsed_lock_is_said_lapsed_and_status_changes_nothing(app: Flask, m: Minted) -> None:
    assert redeem(signed_in(app, "alice"), m).status_code == 303
    # Taken an hour ago by a gateway that never renewed it: its 1-minute lock has lapsed.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store = Deployments(engine_of(app), lock_ttl=timedelta(minutes=1))
    assert store.start(1, "frontend", by="alice", holder=HOLDER, now=an_hour_ago) == 1
    text = status(m.world)
    (lock,) = section(text, "Deploy locks")
    assert re.match(
        rf"  frontend: deployment 1, gateway {HOLDER}, lapsed (59m|1h( 0m)?) ago: ", lock
    )
    # Freed a whole ttl after it lapsed: that is past too.
    assert lock.endswith("its gateway stopped renewing it; the next deploy of frontend frees it")
    (running,) = section(text, "Running deployments")
    assert running.endswith("; its lock has lapsed: the gateway running it may have stopped")
    assert [lock["lapsed"] for lock in status_json(m.world)["locks"]] == [True]
    # Read-only: unlike the gateway's own pages, status marks nothing interrupted.
    assert deployment_state(app) == "running"
    assert section(status(m.world), "Interrupted in the last 7 days") == ["  none"]

    # Once a gateway recovers it, it is interrupted, and the lock is gone.
    assert store.recover_stale(datetime.now(UTC)) == [1]
    text = status(m.world)
    (interrupted,) = section(text, "Interrupted in the last 7 days")
    assert interrupted.startswith(
        f"  frontend release_2 (#{m.number}, deployment 1) by alice, stopped "
    )
    assert section(text, "Deploy locks") == ["  none"]
    assert section(text, "Running deployments") == ["  none"]
    (row,) = status_json(m.world)["interrupted"]
    assert row["state"] == "interrupted" and row["deployment"] == 1


def test_a_store_no_gateway_has_open_is_read_leaving_no_file_beside_it(
    app_world: World, tmp_path: Path
) -> None:
    path = tmp_path / "stores" / "gateway.sqlite"
    path.parent.mkdir()
    engine = open_store(f"sqlite:///{path}")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        Deployments(engine).create(
            connection, request_key="frontend/20260101-aaaaaaaaaaaaaaaa", app="frontend",
            pull_request=9, requester="alice", record={"to": {"tag": "release_9"}},
            slot_start=now, slot_end=now + timedelta(hours=2), now=now,
        )  # fmt: skip
    engine.dispose()  # the last connection folds the log into the file and removes it
    before = sorted(p.name for p in path.parent.iterdir())
    assert before == ["gateway.sqlite", "gateway.sqlite.create-lock"]
    (line,) = section(
        status(app_world, env={"BS_GATEWAY_STORE": f"sqlite:///{path}"}), "Live slots"
    )
    assert line.startswith("  frontend release_9 (#9, deployment 1) requested by alice: slot ends ")
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_a_postgresql_store_is_read_without_creating_its_tables(
    app_world: World, postgres_url: str
) -> None:
    engine = create_engine(postgres_url)
    metadata.drop_all(engine)
    env = {"BS_GATEWAY_STORE": postgres_url}
    assert section(status(app_world, env=env), "Gateway store") == ["  no deployments recorded yet"]
    assert not inspect(engine).get_table_names()
    store = Deployments(open_store(postgres_url), lock_ttl=timedelta(hours=1))
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        store.create(
            connection, request_key="frontend/20260101-aaaaaaaaaaaaaaaa", app="frontend",
            pull_request=9, requester="alice", record={"to": {"tag": "release_9"}},
            slot_start=now, slot_end=now + timedelta(hours=2), now=now,
        )  # fmt: skip
    assert store.start(1, "frontend", by="alice", holder=HOLDER, now=now) == 1
    text = status(app_world, env=env)
    (running,) = section(text, "Running deployments")
    assert running.startswith("  frontend release_9 (#9, deployment 1) by alice, since ")
    (lock,) = section(text, "Deploy locks")
    assert lock.startswith(f"  frontend: deployment 1, gateway {HOLDER}, held until ")
    metadata.drop_all(engine)
    engine.dispose()
