"""`bs audit` on a real world: an intact chain, then each way of breaking it, on the real
store and forge, each flagged with its kind and exit status 4."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from bs.store.tables import link_redemptions
from tests.audithelpers import (
    Deployed,
    audit,
    audit_json,
    change_record,
    deployed_world,
    insert_deployment,
    kinds,
    remove_review,
)
from tests.checkhelpers import FRONTEND

OTHER_ID = "20261125-aaaaaaaaaaaaaaaa"


@pytest.fixture
def d(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Deployed:
    return deployed_world(tmp_path_factory, tmp_path)


def test_an_intact_chain_says_who_requested_approved_merged_and_deployed_what(
    d: Deployed,
) -> None:
    result = audit(d.world)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if d.request_id in x]
    for part in (
        "frontend", "release", f"release_2 {d.release_2[:12]}", "requested by alice",
        "approved by bob", "merged by bob", "deployed by alice (succeeded, #1)",
        f"sha256 {d.record()['patch_sha256'][:12]}", f"(#{d.number})",
    ):  # fmt: skip
        assert part in line, (part, line)
    assert result.stdout.splitlines()[-1] == "chain intact: 1 request, 1 deployment checked"

    code, data = audit_json(d.world)
    assert code == 0 and data["intact"] is True and data["findings"] == []
    (entry,) = data["entries"]
    assert entry["to"] == {"tag": "release_2", "commit": d.release_2}
    assert entry["from"] == {"tag": "release_1", "commit": d.release_1}
    assert (entry["requester"], entry["approvers"], entry["merged_by"]) == ("alice", ["bob"], "bob")
    assert (entry["deployed_by"], entry["state"], entry["deployment"]) == ("alice", "succeeded", 1)
    assert entry["patch_sha256"] == d.record()["patch_sha256"]


def test_a_deployment_of_a_request_that_is_not_on_the_default_branch(d: Deployed) -> None:
    insert_deployment(d, d.record() | {"request": OTHER_ID})
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert f"no-request: deployment #2 (frontend/{OTHER_ID})" in result.stdout
    assert result.stdout.splitlines()[-1] == "chain BROKEN: 1 finding"
    _, data = audit_json(d.world)
    assert kinds(data) == ["no-request"]
    assert data["findings"][0]["deployment"] == 2 and data["findings"][0]["request"] == OTHER_ID


def test_a_record_whose_commit_was_changed(d: Deployed) -> None:
    change_record(d, 1, to={"tag": "release_2", "commit": d.release_1})
    code, data = audit_json(d.world)
    assert code == 4
    assert "commit-mismatch" in kinds(data)
    (finding,) = [f for f in data["findings"] if f["kind"] == "commit-mismatch"]
    assert d.release_2[:12] in finding["message"] and d.release_1[:12] in finding["message"]


def test_a_record_whose_digest_was_changed(d: Deployed) -> None:
    change_record(d, 1, patch_sha256="0" * 64)
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["digest-mismatch"])


def test_a_second_deployment_of_one_request_under_another_key(d: Deployed) -> None:
    insert_deployment(d, d.record(), key=f"frontend/{OTHER_ID}")
    code, data = audit_json(d.world)
    assert code == 4
    assert "deployed-twice" in kinds(data)
    (twice,) = [f for f in data["findings"] if f["kind"] == "deployed-twice"]
    assert twice["deployment"] == 2 and "#1 deployed it" in twice["message"]
    # The gateway writes a row's key and its record from one request: a row that differs is not its.
    assert "record-mismatch" in kinds(data)


def test_a_second_deployment_that_never_ran_is_listed_not_flagged(d: Deployed) -> None:
    insert_deployment(d, d.record(), key=f"frontend/{OTHER_ID}", state="ready")
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (0, [])
    assert [e["state"] for e in data["entries"]] == ["ready", "succeeded"]


def test_an_approval_removed_from_the_forge(d: Deployed) -> None:
    remove_review(d, d.number, "bob")
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert "approval-missing: deployment #1" in result.stdout
    assert "names bob as an approver" in result.stdout
    # --no-reviews skips the cross-check, and says so.
    code, data = audit_json(d.world, "--no-reviews")
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["reviews-not-checked"])


def test_a_deployment_with_no_redeemed_link(d: Deployed) -> None:
    with d.engine().begin() as connection:
        connection.execute(delete(link_redemptions))
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["no-redemption"])


def test_the_deployed_version_moved_outside_bs(d: Deployed) -> None:
    d.world.deploy(FRONTEND, "release_1")
    result = audit(d.world)
    assert result.exit_code == 4, result.output
    assert (
        f"deployed-outside-bs: frontend runs {d.release_1[:12]} now, but the last deployment "
        f"bs recorded (#1, release_2) deployed {d.release_2[:12]}"
    ) in result.stdout


def test_a_request_merged_and_not_deployed_is_listed(d: Deployed) -> None:
    # The deployment never happened: the request is listed as not deployed, nothing breaks.
    with d.engine().begin() as connection:
        from bs.store.tables import deployments

        connection.execute(delete(deployments))
    result = audit(d.world)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if d.request_id in x]
    assert "not deployed" in line and "merged by bob" in line
    assert result.stdout.splitlines()[-1] == "chain intact: 1 request, 0 deployments checked"


def test_since_limits_entries_and_findings_but_not_what_a_deployment_is_checked_against(
    d: Deployed,
) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    insert_deployment(d, d.record() | {"request": OTHER_ID}, finished_at=old)
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["no-request"])
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    code, data = audit_json(d.world, "--since", since)
    assert (code, kinds(data)) == (0, [])
    assert data["since"] == f"{since}T00:00:00Z"
    assert [e["deployment"] for e in data["entries"]] == [1]
    # A deployment since then whose request is older is still checked against it.
    later = datetime.now(UTC) + timedelta(days=2)
    code, data = audit_json(d.world, "--since", later.strftime("%Y-%m-%d"))
    assert (code, data["entries"], data["deployments_checked"]) == (0, [], 0)


def test_csv_has_one_header_row_and_a_findings_column(d: Deployed) -> None:
    insert_deployment(d, d.record() | {"request": OTHER_ID})
    result = audit(d.world, "--csv")
    assert result.exit_code == 4, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["deployment"] for r in rows] == ["2", "1"]
    assert rows[0]["findings"] == "no-request" and rows[1]["findings"] == ""
    assert rows[1]["approvers"] == "bob" and rows[1]["to_commit"] == d.release_2


def test_an_app_limits_the_audit_and_an_unknown_one_is_refused(d: Deployed) -> None:
    code, data = audit_json(d.world, "frontend")
    assert (code, data["app"], len(data["entries"])) == (0, "frontend", 1)
    result = audit(d.world, "backend")
    assert result.exit_code == 1
    assert "unknown app 'backend': policies/apps.yaml on main defines frontend" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "--csv"], "--json and --csv are two formats"),
        (["--since", "2026-13-01"], "--since '2026-13-01' is not a date or an instant"),
        (["--since", "2026-11-25T09:00:00"], "with its zone"),
        (["--since", "yesterday"], "give YYYY-MM-DD"),
    ],
)
def test_bad_input_gets_one_clear_message_and_exit_1(
    d: Deployed, args: list[str], message: str
) -> None:
    result = audit(d.world, *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and result.stdout == ""
