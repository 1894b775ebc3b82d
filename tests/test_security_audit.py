"""An independent security and correctness review of `bs audit`, `bs status` and the daily
check (.github/workflows/bs-daily.yml).

Each strict xfail is a problem reproduced on the real store, forge and CLI (or, for a pure
judgement, the core), with `reason="BUG: ..."` naming it; the passing tests pin
properties verified here that no other test covers: neither command leaves a trace
anywhere, a SELECT-only PostgreSQL role is all the audit needs (and its password is never
printed), a request retried after a failed attempt keeps the chain, `--since` in any time
zone is one instant, and the daily workflow keeps the audit's exit status with least
permissions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bs.core.audit import AuditFacts, MergedRequest, verify_chain
from bs.core.audit_facts import DeploymentFacts
from bs.core.pulls import PullRequest, Review
from bs.core.request import ReleaseRequest
from bs.store import open_store
from bs.store.deployments import Deployments
from bs.store.tables import deployments, link_redemptions, metadata
from bs.usecases.follow_up import follow_up_id
from tests.audithelpers import (
    Deployed,
    audit,
    audit_json,
    deployed_world,
    insert_deployment,
    kinds,
    mark_follow_up,
    merged_request,
    record_for,
    release_request,
    set_deployment,
    tag_release_3,
)
from tests.checkhelpers import FRONTEND, REQUESTS, forge, head
from tests.conftest import ROOT, World
from tests.hookhelpers import (
    BOT,
    NO_LINK_MARK,
    comments_marked,
    hook,
    open_frontend,
    set_merged_at,
    with_bot,
)
from tests.test_status import section

OTHER_ID = "20261125-aaaaaaaaaaaaaaaa"
THIRD_ID = "20261125-cccccccccccccccc"
WORKFLOW = ROOT / ".github" / "workflows" / "bs-daily.yml"
#: What a spreadsheet reads as a formula at the start of a cell (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def d(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Deployed:
    return deployed_world(tmp_path_factory, tmp_path)


def status(world: World, *args: str, env: dict[str, str] | None = None) -> str:
    result = world.bs("status", *args, user=BOT, env=env)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result.stdout


def merged_release_3(
    d: Deployed, *, approver: str = "bob", to_tag: str = "release_3"
) -> tuple[ReleaseRequest, PullRequest]:
    release_3 = tag_release_3(d)
    request, patch = release_request(
        d, THIRD_ID, from_=("release_2", d.release_2), to=(to_tag, release_3)
    )
    minted = approver in ("bob", "carol")  # a deployer: the standard policy is met
    return request, merged_request(
        d, request, patch, approver=approver, merger="bob", minted=minted
    )


# -- false "chain intact" ---------------------------------------------------------------


def test_a_deployment_of_a_request_merged_without_its_policy_met_breaks_the_chain(
    d: Deployed,
) -> None:
    # dave is a DBA, not a deployer: the standard policy's "deployer approval" is not met.
    request, pull = merged_release_3(d, approver="dave")
    refused = hook(d.world, "closed", str(pull.number))
    assert refused.exit_code == 2, refused.output  # policy not met: no link
    assert comments_marked(d.world, pull.number, NO_LINK_MARK)
    # A row as the gateway would write one, written by someone with the database.
    insert_deployment(d, record_for(pull, request, ["dave"]))
    d.world.deploy(FRONTEND, "release_3")
    code, data = audit_json(d.world)
    assert code == 4, data["findings"]
    assert "not-approved" in kinds(data)


def test_an_app_scoped_audit_sees_a_deployment_of_its_request_filed_under_another_app(
    d: Deployed,
) -> None:
    again = insert_deployment(d, d.record(), key=f"backend/{d.request_id}")
    set_deployment(d, again, app="backend")
    _, everything = audit_json(d.world)
    assert "deployed-twice" in kinds(everything)  # the whole audit sees it
    code, frontend = audit_json(d.world, "frontend")
    assert code == 4 and "deployed-twice" in kinds(frontend), frontend["findings"]


def test_an_unreadable_deployed_source_does_not_hide_the_other_findings(d: Deployed) -> None:
    insert_deployment(d, d.record() | {"request": OTHER_ID})
    assert kinds(audit_json(d.world)[1]) == ["no-request"]
    # frontend's repository renamed (or the token lost access to it): its deployed ref
    # cannot be read.
    bare = d.world.app_bare(FRONTEND)
    bare.rename(bare.with_name("frontend-renamed.git"))
    result = audit(d.world, "--json")
    assert result.exit_code == 4, result.output
    assert "no-request" in kinds(json.loads(result.stdout))


def test_an_emergency_interrupted_days_ago_stays_overdue_once_recovered(d: Deployed) -> None:
    now = datetime.now(UTC)
    release_3 = tag_release_3(d)
    request, patch = release_request(
        d, THIRD_ID, from_=("release_2", d.release_2), to=("release_3", release_3),
        emergency=True,
    )  # fmt: skip
    pull = merged_request(d, request, patch, approver="carol", merger="carol")
    set_merged_at(d.world, pull.number, now - timedelta(days=5))
    pull = forge(d.world).get_pull_request(REQUESTS, pull.number)
    made = insert_deployment(d, record_for(pull, request, ["carol"]), state="running")
    # The gateway died mid-deploy 4 days ago: the row said `running` since then...
    set_deployment(d, made, started_at=now - timedelta(days=4), finished_at=None)
    d.world.deploy(FRONTEND, "release_3")
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["emergency-unreviewed"])
    # ...until a gateway came back an hour ago and marked it interrupted.
    set_deployment(d, made, state="interrupted", finished_at=now - timedelta(hours=1))
    code, data = audit_json(d.world)
    assert (code, kinds(data)) == (4, ["emergency-unreviewed"]), data["notices"]


def test_a_follow_up_of_the_same_id_in_another_app_does_not_review_the_emergency(
    d: Deployed,
) -> None:
    """Request ids are unique per app only: an approved, bs-marked follow-up in `backend`
    naming frontend's emergency (same release, same id) reviews nothing of frontend's."""
    now = datetime.now(UTC)
    release_3 = tag_release_3(d)
    request, patch = release_request(
        d, THIRD_ID, from_=("release_2", d.release_2), to=("release_3", release_3),
        emergency=True,
    )  # fmt: skip
    pull = merged_request(d, request, patch, approver="carol", merger="carol")
    earlier = now - timedelta(days=6)  # release_2's deployment came first
    set_deployment(d, 1, created_at=earlier, started_at=earlier, finished_at=earlier)
    insert_deployment(d, record_for(pull, request, ["carol"]), finished_at=now - timedelta(days=4))
    d.world.deploy(FRONTEND, "release_3")
    assert kinds(audit_json(d.world)[1]) == ["emergency-unreviewed"]
    for app in ("backend", "frontend"):
        follow, follow_patch = release_request(
            d, follow_up_id(request), from_=("release_2", d.release_2),
            to=("release_3", release_3), follow_up_of=THIRD_ID, app=app,
        )  # fmt: skip
        reviewed = merged_request(d, follow, follow_patch, author=BOT)
        shutil.rmtree(d.world.root / f"files-{follow.id}")  # the helper's scratch folder
        mark_follow_up(d, reviewed.number)
        _, data = audit_json(d.world)
        # Only frontend's own follow-up reviews it (late: merged after it was due).
        expected = ["emergency-unreviewed"] if app == "backend" else []
        assert kinds(data) == expected, (app, data["findings"])
    assert "reviewed-late" in kinds(data, "notices")


# -- false alarms -----------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
A, B, C = "a" * 40, "b" * 40, "c" * 40
HEAD = "d" * 40


def _core_request(
    request_id: str, start: str, to: str, *, app: str = "frontend", number: int = 1
) -> MergedRequest:
    """A request merged through pull request `number`, approved at HEAD."""
    request = ReleaseRequest.from_document({
        "version": 1, "id": request_id, "app": app, "requested_by": "alice",
        "requested_at": "2026-11-02T09:00:00Z", "from": {"tag": None, "commit": start},
        "to": {"tag": None, "commit": to},
        "patch": {"file": f"requests/{app}/{request_id}.patch", "sha256": to[:1] * 64,
                  "files_changed": 1, "insertions": 1, "deletions": 0, "commits": 1},
    })  # fmt: skip
    pull = PullRequest(number, "url", "t", "", "alice", "main", f"request/{app}/{request_id}",
                       HEAD, "closed", merged=True, merged_by="bob", merge_commit_sha=HEAD,
                       merged_at=T0)  # fmt: skip
    return MergedRequest(app, request_id, f"requests/{app}/{request_id}.yaml", HEAD, T0,
                         request, pull=pull)  # fmt: skip


def _core_deployment(id_: int, merged: MergedRequest, finished: datetime) -> DeploymentFacts:
    """Its deployment as the gateway records one, succeeded at `finished`."""
    assert merged.request is not None and merged.pull is not None
    record = {
        "pull_request": merged.pull.number, "app": merged.app, "request": merged.id,
        "requester": "alice", "approvers": [{"user": "bob"}], "head": HEAD,
        "to": {"tag": None, "commit": merged.request.to.commit},
        "patch_sha256": merged.request.patch.sha256,
    }  # fmt: skip
    return DeploymentFacts(id_, merged.key, merged.app, merged.pull.number, "alice", record,
                           "succeeded", 1, "alice", finished - timedelta(minutes=2),
                           finished - timedelta(minutes=1), finished)  # fmt: skip


def _approved(*numbers: int) -> dict[int, list[Review]]:
    return {n: [Review(1, "bob", "APPROVED", HEAD, "", T0 - timedelta(hours=1))] for n in numbers}


def test_requests_with_one_id_in_two_apps_are_two_requests() -> None:
    """Request ids are unique per app only: deployed once each, they are not one request
    deployed twice, and each is checked against its own app's request."""
    same = "20261102-aaaaaaaaaaaaaaaa"
    front = _core_request(same, A, B)
    back = _core_request(same, A, C, app="backend", number=2)
    deployed = [_core_deployment(1, front, T0 + timedelta(hours=1)),
                _core_deployment(2, back, T0 + timedelta(hours=2))]  # fmt: skip
    facts = AuditFacts([front, back], deployed, _approved(1, 2), {"frontend": B, "backend": C})
    report = verify_chain(facts, now=T0 + timedelta(days=1))
    assert report.findings == [] and report.deployments_checked == 2
    # backend's deployment recording frontend's commit is checked against backend's request.
    crossed = replace(deployed[1], record={**deployed[1].record, "to": {"commit": B}})
    found = verify_chain(replace(facts, deployments=[deployed[0], crossed],
                                 deployed_now={"frontend": B, "backend": B}),
                         now=T0 + timedelta(days=1))  # fmt: skip
    assert [f.kind for f in found.findings] == ["commit-mismatch"]


def test_two_gateways_clocks_apart_do_not_make_a_false_deployed_outside_bs() -> None:
    first, second = (
        _core_request("20261102-aaaaaaaaaaaaaaaa", A, B),
        _core_request("20261102-bbbbbbbbbbbbbbbb", B, C, number=2),
    )
    # #1 finished on a gateway 30 s ahead; #2 started after it (the lock) on one that is not.
    facts = AuditFacts(
        [first, second],
        [_core_deployment(1, first, T0 + timedelta(hours=1, seconds=30)),
         _core_deployment(2, second, T0 + timedelta(hours=1, seconds=20))],
        _approved(1, 2), {"frontend": C},
    )  # fmt: skip
    report = verify_chain(facts, now=T0 + timedelta(days=1))
    assert [f.kind for f in report.findings] == []


def test_a_request_retried_after_a_failed_attempt_keeps_the_chain(d: Deployed) -> None:
    """Through the store's own API: attempt 1 fails, attempt 2 succeeds, on one row."""
    request, pull = merged_release_3(d)
    made = insert_deployment(d, record_for(pull, request, ["bob"]), state="ready")
    store = Deployments(d.engine())
    now = datetime.now(UTC)
    assert store.start(made, "frontend", by="alice", holder="gw", now=now) == 1
    store.finish(made, "frontend", "gw", ok=False, summary="boom", url=None, now=now)
    later = now + timedelta(minutes=3)
    assert store.start(made, "frontend", by="alice", holder="gw", now=later) == 2
    store.finish(made, "frontend", "gw", ok=True, summary="ok", url=None, now=later)
    d.world.deploy(FRONTEND, "release_3")
    code, data = audit_json(d.world)
    assert (code, data["findings"]) == (0, [])
    (entry,) = [e for e in data["entries"] if e["request"] == THIRD_ID]
    assert (entry["state"], entry["deployment"]) == ("succeeded", made)


def test_since_in_any_time_zone_is_one_instant(d: Deployed) -> None:
    """--since with a zone keeps what happened at or after that instant, whatever the zone
    (the SQLite store gives its times back naive: they are read as UTC)."""
    (entry,) = audit_json(d.world)[1]["entries"]
    when = datetime.fromisoformat(entry["when"].replace("Z", "+00:00"))
    for zone in ("+05:30", "-08:00"):
        offset = datetime.fromisoformat(f"2026-01-01T00:00:00{zone}").utcoffset()
        assert offset is not None
        before = (when - timedelta(seconds=1) + offset).replace(tzinfo=None).isoformat() + zone
        after = (when + timedelta(seconds=1) + offset).replace(tzinfo=None).isoformat() + zone
        kept = audit_json(d.world, "--since", before)[1]["entries"]
        assert [e["deployment"] for e in kept] == [1]
        code, data = audit_json(d.world, "--since", after)
        assert (code, data["entries"], data["findings"]) == (0, [], [])


# -- secrets ----------------------------------------------------------------------------


def test_a_password_with_an_at_sign_is_never_printed(d: Deployed) -> None:
    tail = "xyzzy42tail"
    env = {"BS_GATEWAY_STORE": f"postgresql+psycopg://bs:hunter2@{tail}@127.0.0.1:1/bs"}
    said = [
        d.world.bs("status", user=BOT, env=env).output,
        d.world.bs("status", "--json", user=BOT, env=env).output,
        d.world.bs("audit", user=BOT, env=env).output,
        d.world.bs("audit", "--json", user=BOT, env=env).output,
    ]
    assert all("hunter2" not in out for out in said)  # the part before the '@' is hidden
    assert [tail in out for out in said] == [False] * 4, said


@pytest.fixture
def read_only_pg(d: Deployed, postgres_url: str) -> Iterator[tuple[str, str]]:
    """The deployed world's store copied to PostgreSQL, and a URL of a role that may only
    SELECT, with a password."""
    admin = create_engine(postgres_url)
    metadata.drop_all(admin)
    open_store(postgres_url).dispose()  # the gateway's tables
    source = d.engine()
    with source.connect() as src, admin.begin() as dst:
        for table in (link_redemptions, deployments):
            rows = [dict(r) for r in src.execute(select(table)).mappings()]
            dst.execute(insert(table), rows)
    role, secret = f"auditor_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    with admin.begin() as c:
        c.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'"))
        c.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        c.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    url = make_url(postgres_url).set(username=role, password=secret)
    yield url.render_as_string(hide_password=False), secret
    metadata.drop_all(admin)
    with admin.begin() as c:
        c.execute(text(f"DROP OWNED BY {role}"))
        c.execute(text(f"DROP ROLE {role}"))
    admin.dispose()


def test_a_select_only_postgresql_role_is_all_the_audit_needs_and_its_password_never_shows(
    d: Deployed, read_only_pg: tuple[str, str]
) -> None:
    url, secret = read_only_pg
    env = {"BS_GATEWAY_STORE": url}
    on_sqlite = audit_json(d.world)[1]
    result = audit(d.world, "--json", env=env)
    assert result.exit_code == 0, result.output
    on_pg = json.loads(result.stdout)
    assert on_pg["entries"] == on_sqlite["entries"] and on_pg["intact"] is True
    assert secret not in result.output and on_pg["store"].startswith("postgresql+psycopg://")
    for args in (("audit",), ("audit", "--csv"), ("status",), ("status", "--json")):
        out = d.world.bs(*args, user=BOT, env=env)
        assert out.exit_code == 0 and secret not in out.output, (args, out.output)
    store = json.loads(status(d.world, "--json", env=env))["store"]
    assert (store["reachable"], store["exists"], store["error"]) == (True, True, None)
    # The role could not have written: what the audit read is what it may only read.
    role = create_engine(url)
    with pytest.raises(DBAPIError, match="permission denied"), role.begin() as c:
        c.execute(text("UPDATE deployments SET state = 'failed'"))
    role.dispose()


# -- what reaches a terminal or a spreadsheet -------------------------------------------


def test_csv_cells_never_start_a_formula(d: Deployed) -> None:
    merged_release_3(d, to_tag="=2+5")
    result = audit(d.world, "--csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert any("=2+5" in cell for row in rows for cell in row)  # it is listed
    starts = [cell for row in rows[1:] for cell in row if cell.startswith(FORMULA_STARTS)]
    assert starts == []


def test_audit_text_is_inert(d: Deployed) -> None:
    merged_release_3(d, to_tag="release_3\u202e\x9b8m")
    # A terminal hyperlink (click strips only CSI sequences, and only off a terminal), then
    # a line the Actions runner would take for a workflow command (`cat audit.txt`).
    row = "mallory\x1b]8;;https://evil.example/\x07\n::error::chain intact"
    insert_deployment(d, d.record() | {"request": OTHER_ID}, deployed_by=row)
    result = audit(d.world)
    assert result.exit_code == 4
    shown = result.stdout
    assert "release_3" in shown and "mallory" in shown
    bad = sorted({hex(ord(ch)) for ch in shown if ch in "\x07\x1b\x9b\u202e"})
    assert bad == [] and "\n::error::" not in shown, bad


def test_status_text_is_inert(d: Deployed) -> None:
    ready = insert_deployment(d, d.record() | {"request": OTHER_ID}, state="ready")
    set_deployment(d, ready, app="frontend\x1b]0;owned\x07")
    shown = status(d.world)
    assert "frontend" in section(shown, "Live slots")[0]
    assert "\x1b" not in shown and "\x07" not in shown


def test_a_policy_status_posted_by_the_requester_is_not_shown_as_met(world: World) -> None:
    """On GitHub `bs status` counts only the bs/policy its App posted (`status_poster`, as
    cmd_status passes it there); the local forge, whose checks anyone runs, counts any."""
    from bs.forges import open_forge
    from bs.usecases.status import read_status
    from bs.usecases.status_store import StoreView
    from bs.workspace import Workspace

    opened = open_frontend(with_bot(world), reason="Cookie banner")
    assert world.bs("check", str(opened.number), user=BOT).exit_code == 1  # needs a deployer
    forge(world, "alice").set_status(
        REQUESTS, head(world, opened.number), "bs/policy", "success", "Approved by bob"
    )
    workspace = Workspace.discover(world.checkout)
    report = read_status(
        open_forge(workspace, {"BS_USER": "alice"}), REQUESTS, app=None,
        read_store=lambda apps: StoreView("store", True, False), now=datetime.now(UTC),
        status_poster=BOT,
    )  # fmt: skip
    (found,) = report.open_requests
    assert (found.state, found.needs) == (
        "pending", "Needs 1 more approval from alphagov/deployers"
    ), found  # fmt: skip


# -- read-only --------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root`: its content's digest, or "dir"."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_status_and_audit_leave_no_trace_anywhere(d: Deployed) -> None:
    """Not the store (no -wal, -shm or journal beside it), not the forge, not the
    checkout: every byte and every file of the world is as it was."""
    before = snapshot(d.world.root)
    assert any(name.endswith("gateway.sqlite") for name in before)
    for args in (("status",), ("status", "--json"), ("audit",), ("audit", "--json"),
                 ("audit", "--csv"), ("audit", "frontend", "--since", "2020-01-01")):  # fmt: skip
        result = d.world.bs(*args, user=BOT)
        assert result.exit_code == 0, (args, result.output)
    assert snapshot(d.world.root) == before


# -- the daily workflow -----------------------------------------------------------------


def _daily() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def test_the_daily_workflow_asks_for_the_least_and_keeps_secrets_out_of_run() -> None:
    workflow = _daily()
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert job["environment"] == "bs"
    for step in job["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        if "run" in step:
            assert "${{" not in step["run"], step["run"]
        for name, value in (step.get("env") or {}).items():
            assert str(value).startswith("${{") and name.startswith("BS_"), (name, value)
        token = {k: v for k, v in (step.get("with") or {}).items() if k.startswith("permission-")}
        assert set(token.values()) <= {"read"}, token
    raw = WORKFLOW.read_text()
    assert raw.count("secrets.") == 2  # the App's key (with:) and the store's URL (env:)


def run_daily_step(tmp_path: Path, status_exit: int, audit_exit: int) -> tuple[int, str, str]:
    """The run step itself, under `bash -e` as GitHub runs a step with no `shell:`, with a
    stand-in `bs`; its exit status, stdout and job summary."""
    (step,) = [s for s in next(iter(_daily()["jobs"].values()))["steps"] if "run" in s
               and "bs audit" in s["run"]]  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bs"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = status ]; then echo "status says"; exit {status_exit}; fi\n'
        f'echo "audit says $*"; exit {audit_exit}\n'
    )
    fake.chmod(0o755)
    summary = tmp_path / "summary.md"
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
           "HOME": str(tmp_path)}  # fmt: skip
    done = subprocess.run(["bash", "-e", str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode, done.stdout, summary.read_text()


@pytest.mark.parametrize("audit_exit", [0, 1, 4])
def test_the_daily_run_step_keeps_the_audits_exit_status_and_summary(
    tmp_path: Path, audit_exit: int
) -> None:
    code, out, written = run_daily_step(tmp_path, 0, audit_exit)
    assert code == audit_exit
    assert re.search(r"audit says audit --since \d{4}-\d{2}-\d{2}$", out.strip())
    assert "### bs status" in written and "status says" in written
    assert "### bs audit" in written and "audit says audit --since" in written


def test_a_failing_status_does_not_skip_the_daily_audit(tmp_path: Path) -> None:
    code, _, written = run_daily_step(tmp_path, 1, 4)
    assert code != 0
    assert "audit says audit --since" in written, written
