"""Where `bs audit` reads from: the gateway's store (read-only, never created) and the
requests repository's history (what reached the default branch, and how)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from bs.usecases import audit_store
from bs.usecases.audit_sources import added_request_files, prefetch_missing, read_blobs
from tests.audithelpers import (
    Deployed,
    audit,
    audit_json,
    deployed_world,
    insert_deployment,
    kinds,
    set_deployment,
)
from tests.conftest import git
from tests.hookhelpers import BOT

OTHER_ID = "20261125-aaaaaaaaaaaaaaaa"


@pytest.fixture
def d(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Deployed:
    return deployed_world(tmp_path_factory, tmp_path)


# -- the store --------------------------------------------------------------------------


def test_no_store_means_no_deployments_and_none_is_created(d: Deployed) -> None:
    store = d.world.checkout / ".bs"
    for path in store.glob("gateway.sqlite*"):
        path.unlink()
    code, data = audit_json(d.world)
    assert (code, data["deployments_checked"], data["requests_checked"]) == (0, 0, 1)
    assert data["entries"][0]["state"] is None
    assert not list(store.glob("gateway.sqlite*"))


def test_a_store_elsewhere_is_found_through_the_environment(d: Deployed, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere.sqlite"
    (d.world.checkout / ".bs" / "gateway.sqlite").rename(moved)
    _, data = audit_json(d.world)
    assert data["deployments_checked"] == 0
    result = audit(d.world, "--json", env={"BS_GATEWAY_STORE": f"sqlite:///{moved}"})
    assert json.loads(result.stdout)["deployments_checked"] == 1
    assert json.loads(result.stdout)["store"] == f"sqlite:///{moved}"


def test_an_unreachable_store_stops_the_audit_naming_it_without_its_password(
    d: Deployed,
) -> None:
    url = "postgresql+psycopg://auditor:s3cret-pass@127.0.0.1:1/releases"
    result = audit(d.world, env={"BS_GATEWAY_STORE": url})
    assert result.exit_code == 1, result.output
    assert "cannot read the gateway store postgresql+psycopg://127.0.0.1/releases" in result.stderr
    assert "s3cret-pass" not in result.output and result.stdout == ""


def test_a_store_that_is_not_a_database_stops_the_audit(d: Deployed) -> None:
    (d.world.checkout / ".bs" / "gateway.sqlite").write_bytes(b"not a database" * 100)
    for extra in ("gateway.sqlite-wal", "gateway.sqlite-shm"):
        (d.world.checkout / ".bs" / extra).unlink(missing_ok=True)
    result = audit(d.world)
    assert result.exit_code == 1, result.output
    assert "cannot read the gateway store sqlite:///" in result.stderr


def test_an_unreadable_record_is_flagged_not_a_crash(d: Deployed) -> None:
    set_deployment(d, 1, record="{not json")
    code, data = audit_json(d.world)
    assert code == 4
    assert "record-mismatch" in kinds(data)
    assert "does not name its app and request" in data["findings"][0]["message"]


# -- the history ------------------------------------------------------------------------


def test_a_request_pushed_to_the_default_branch_without_a_pull_request(d: Deployed) -> None:
    record = d.record()
    requests = d.world.checkout / "requests" / "frontend"
    git(d.world.checkout, "pull", "-q", "origin", "main")
    original = (requests / f"{d.request_id}.yaml").read_text()
    (requests / f"{OTHER_ID}.yaml").write_text(original.replace(d.request_id, OTHER_ID))
    d.world.publish("A request pushed by hand")
    code, data = audit_json(d.world)
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["no-pull-request"])
    insert_deployment(d, record | {"request": OTHER_ID})
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["no-request"])
    assert "not through a merged pull request" in data["findings"][0]["message"]


def test_a_request_changed_after_its_merge_is_read_as_merged(d: Deployed) -> None:
    path = d.world.checkout / "requests" / "frontend" / f"{d.request_id}.yaml"
    git(d.world.checkout, "pull", "-q", "origin", "main")
    path.write_text(path.read_text().replace(d.release_2, d.release_1))
    d.world.publish("Rewrite history")
    code, data = audit_json(d.world)
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["request-changed"])


def test_an_unreadable_request_file_is_a_notice_and_deploying_it_a_break(d: Deployed) -> None:
    git(d.world.checkout, "pull", "-q", "origin", "main")
    (d.world.checkout / "requests" / "frontend" / f"{OTHER_ID}.yaml").write_text(
        "version: 1\nid: x\nid: y\n"
    )
    d.world.publish("A broken request")
    code, data = audit_json(d.world)
    assert (code, kinds(data, "notices")) == (0, ["unreadable-request"])
    assert "given twice" in data["notices"][0]["message"]
    insert_deployment(d, d.record() | {"request": OTHER_ID})
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["no-request"])
    assert "cannot be read" in data["findings"][0]["message"]


def test_a_blobless_clone_fetches_the_missing_request_files_in_one_go(
    d: Deployed, tmp_path: Path
) -> None:
    """On GitHub the requests repository is a blobless clone: git would fetch each missing
    file by itself as it is read; the audit fetches them all first, in one fetch."""
    bare = d.world.requests_bare
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    clone = tmp_path / "clone.git"
    git(tmp_path, "clone", "-q", "--bare", "--filter=blob:none", bare.as_uri(), str(clone))
    tip = git(clone, "rev-parse", "main")
    added = added_request_files(clone, tip)
    assert [a.path for a in added] == [f"requests/frontend/{d.request_id}.yaml"]
    assert added == added_request_files(bare, tip)
    blobs = [a.blob for a in added]
    assert blobs[0] not in present(clone)
    assert prefetch_missing(clone, blobs) == 1
    assert prefetch_missing(clone, blobs) == 0  # present now
    assert prefetch_missing(bare, blobs) == 0  # a full repository: nothing to do
    assert blobs[0] in present(clone)
    assert read_blobs(clone, blobs) == read_blobs(bare, blobs)
    assert f"id: {d.request_id}" in read_blobs(clone, blobs)[blobs[0]].decode()


def test_the_audit_reads_only_the_store_never_writes_it(d: Deployed) -> None:
    path = d.world.checkout / ".bs" / "gateway.sqlite"
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        code, _ = audit_json(d.world, user=BOT)
    finally:
        path.chmod(0o644)
    assert code == 0 and path.read_bytes() == before


def test_the_store_is_read_with_one_query_per_table(
    d: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for letter in "abcde":
        insert_deployment(d, d.record() | {"request": f"20261125-{letter * 16}"})
    statements: list[str] = []
    from bs.store import readonly

    engine_for = readonly._read_only_sqlite

    def counting(path: Path) -> Engine:
        engine = engine_for(path)
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        return engine

    monkeypatch.setattr(readonly, "_read_only_sqlite", counting)
    records = audit_store.read_gateway_records(d.store_url)
    assert len(records.deployments) == 6
    reads = [s for s in statements if re.search(r"FROM (deployments|link_redemptions)\b", s)]
    assert len(reads) == 2, statements


def present(git_dir: Path) -> set[str]:
    """The objects a repository holds (never fetching one, as asking about it would)."""
    listing = git(git_dir, "cat-file", "--batch-check=%(objectname)", "--batch-all-objects")
    return set(listing.split())


def test_the_stores_own_reading_of_a_deployment_gives_the_same_facts(d: Deployed) -> None:
    from bs.store.deployments import Deployments

    (read,) = audit_store.read_gateway_records(d.store_url).deployments
    stored = Deployments(d.engine()).get(1)
    assert stored is not None and audit_store.facts_of(stored) == read
