"""Helpers for the audit tests (tests/test_audit*.py): a world with a real deployment, and
every way to break its chain, on the real store and forge.

`deployed_world` gives each test a copy of one template built once per test process:
frontend's release_2 requested by alice with `bs open-request`, approved by bob, merged
with `bs merge`, its link minted by the merge hook (gatewaytesthelpers' template), then
redeemed by alice through the gateway and deployed with the Deploy button, on the
gateway's real SQLite store (``.bs/gateway.sqlite`` in the checkout, bs.yaml's default).
The deployed ref then points at release_2.

The ways to break the chain are data written where bs keeps it: rows of the store
(`insert_deployment`, `change_record`, `set_deployment`), the local forge's records
(`remove_review`), the app repository's deployed ref (`World.deploy`). Requests that
`bs open-request` cannot make yet (an emergency, a follow-up) are made with the forge's
own calls (`merged_request`): a branch with the request's two files, a pull request,
a review, a merge, as the forge keeps them for a request opened with bs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, patch_file_path, request_branch, request_file_path
from bs.store import open_store
from bs.store.deployments import Deployments
from bs.store.tables import deployments, link_redemptions
from bs.yamlio import dump_yaml
from tests.checkhelpers import FRONTEND, REQUESTS, forge
from tests.conftest import Result, World, git, git_bytes
from tests.gatewayhelpers import gateway, redeem
from tests.gatewaytesthelpers import fresh_minted, press_deploy, signed_in, wait_finished, wait_mail
from tests.hookhelpers import BOT, records_path

STORE = Path(".bs") / "gateway.sqlite"


@dataclass
class Deployed:
    """The world after frontend's release_2 was deployed through bs (deployment #1)."""

    world: World
    number: int
    request_id: str
    release_1: str
    release_2: str

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.world.checkout / STORE}"

    def engine(self) -> Engine:
        return open_store(self.store_url)

    def record(self, deployment_id: int = 1) -> dict[str, Any]:
        found = Deployments(self.engine()).get(deployment_id)
        assert found is not None
        return dict(found.record)


_TEMPLATES: dict[Path, Deployed] = {}


def _build(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    made = fresh_minted(tmp_path_factory, tmp_path_factory.mktemp("audit-template"))
    app = gateway(made)
    client = signed_in(app, "alice")
    assert redeem(client, made).status_code in (302, 303)
    assert press_deploy(client, 1).status_code in (200, 202, 302, 303)
    assert wait_finished(client, 1)["state"] == "succeeded"
    wait_mail(made, "[frontend] Deployed: release_2")  # the deploy thread's last step
    app.extensions["bs"].settings.engine.dispose()
    release_1 = git(made.world.app_bare(FRONTEND), "rev-parse", "release_1^{commit}")
    deployed = Deployed(made.world, made.number, "", release_1, made.release_2)
    deployed.request_id = deployed.record()["request"]
    return deployed


def deployed_world(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Deployed:
    """A copy of the deployed template in `tmp_path`, independent of it."""
    base = tmp_path_factory.getbasetemp()
    template = _TEMPLATES.get(base)
    if template is None:
        template = _TEMPLATES[base] = _build(tmp_path_factory)
    root = tmp_path / "world"
    shutil.copytree(template.world.root, root, symlinks=True)
    world = World(root=root, forge=root / "forge", checkout=root / "checkout",
                  apps=copy.deepcopy(template.world.apps))  # fmt: skip
    git(world.checkout, "remote", "set-url", "origin", str(world.requests_bare))
    return Deployed(world, template.number, template.request_id, template.release_1,
                    template.release_2)  # fmt: skip


# -- running the audit ------------------------------------------------------------------


def audit(
    world: World, *args: str, user: str = BOT, env: Mapping[str, str] | None = None
) -> Result:
    """`bs audit ARGS` (as the hooks' user by default), with no traceback."""
    result = world.bs("audit", *args, user=user, env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code != 70, result.output
    return result


def audit_json(world: World, *args: str, user: str = BOT) -> tuple[int, dict[str, Any]]:
    result = audit(world, "--json", *args, user=user)
    assert result.exit_code in (0, 4), result.output
    return result.exit_code, json.loads(result.stdout)


def kinds(data: dict[str, Any], section: str = "findings") -> list[str]:
    return [f["kind"] for f in data[section]]


# -- the store ---------------------------------------------------------------------------


def insert_deployment(
    d: Deployed,
    record: dict[str, Any],
    *,
    key: str | None = None,
    state: str = "succeeded",
    finished_at: datetime | None = None,
    redeemed: bool = True,
    deployed_by: str | None = None,
) -> int:
    """A row as the gateway writes one (with its link redemption unless `redeemed` is false),
    then run to `state`; returns its id."""
    key = key or f"{record['app']}/{record['request']}"
    now = datetime.now(UTC)
    finished = finished_at or now
    engine = d.engine()
    with engine.begin() as connection:
        if redeemed:
            connection.execute(insert(link_redemptions).values(
                request_key=key, link_digest="0" * 64, pull_request=record["pull_request"],
                requester=record["requester"], redeemed_by=record["requester"],
                redeemed_at=finished - timedelta(minutes=5),
            ))  # fmt: skip
        made = Deployments(engine).create(
            connection, request_key=key, app=record["app"], pull_request=record["pull_request"],
            requester=record["requester"], record=record, slot_start=finished - timedelta(hours=1),
            slot_end=finished + timedelta(hours=1), now=finished - timedelta(minutes=5),
        )  # fmt: skip
    set_deployment(d, made, state=state, attempts=1 if state != "ready" else 0,
                   started_at=finished - timedelta(minutes=2), finished_at=finished,
                   deployed_by=deployed_by or record["requester"])  # fmt: skip
    return made


def set_deployment(d: Deployed, deployment_id: int, **values: Any) -> None:
    with d.engine().begin() as connection:
        connection.execute(
            update(deployments).where(deployments.c.id == deployment_id).values(**values)
        )


def change_record(d: Deployed, deployment_id: int, **changes: Any) -> dict[str, Any]:
    """Rewrite a deployment's record in the store (as someone with the database could)."""
    record = d.record(deployment_id) | changes
    set_deployment(d, deployment_id, record=json.dumps(record, sort_keys=True))
    return record


# -- the forge ---------------------------------------------------------------------------


def remove_review(d: Deployed, number: int, user: str) -> None:
    """Delete `user`'s reviews from the local forge's records of pull request `number`."""
    path = records_path(d.world, number)
    kept = [
        line for line in path.read_text().splitlines()
        if not (json.loads(line)["type"] == "review" and json.loads(line)["user"] == user)
    ]  # fmt: skip
    assert len(kept) < len(path.read_text().splitlines()), f"no review by {user} on #{number}"
    path.write_text("\n".join(kept) + "\n")


def tag_release_3(d: Deployed) -> str:
    """frontend's release_3, one commit after release_2; its commit."""
    work = d.world.root / "work" / "frontend"
    (work / "app" / "main.py").write_text("print(3)\n")
    git(work, "commit", "-q", "-am", "three")
    git(work, "tag", "release_3")
    git(work, "push", "-q", str(d.world.app_bare(FRONTEND)), "HEAD:main", "refs/tags/release_3")
    return git(work, "rev-parse", "HEAD")


def release_request(
    d: Deployed,
    request_id: str,
    *,
    from_: tuple[str, str],
    to: tuple[str, str],
    **fields: Any,
) -> tuple[ReleaseRequest, bytes]:
    """A request for frontend from `from_` to `to` (tag, commit), and its patch."""
    patch = git_bytes(d.world.app_bare(FRONTEND), "diff", "--binary", "--full-index",
                      from_[1], to[1])  # fmt: skip
    document = {
        "version": 1, "id": request_id, "app": "frontend", "environment": "production",
        "requested_by": "alice", "requested_at": "2026-11-25T09:40:52Z",
        "from": {"tag": from_[0], "commit": from_[1]}, "to": {"tag": to[0], "commit": to[1]},
        "patch": {"file": patch_file_path("frontend", request_id, compressed=False),
                  "sha256": hashlib.sha256(patch).hexdigest(), "files_changed": 1,
                  "insertions": 1, "deletions": 1, "commits": 1},
        "reason": "The outage",
    } | fields  # fmt: skip
    return ReleaseRequest.from_document(document), patch


def merged_request(
    d: Deployed,
    request: ReleaseRequest,
    patch: bytes,
    *,
    author: str = "alice",
    approver: str | None = "bob",
    merger: str | None = "bob",
    minted: bool = True,
) -> PullRequest:
    """The request's branch, pull request, approval and merge (none when `merger` is None),
    made with the forge's calls; and, when `minted`, the merge hook's approval mark (as
    when it found the policy met and minted a link)."""
    files = d.world.root / f"files-{request.id}"
    files.mkdir()
    (files / "request.yaml").write_text(dump_yaml(request.to_document()))
    (files / "patch").write_bytes(patch)
    branch = request_branch(request.app, request.id)
    forge(d.world, author).create_branch(
        REQUESTS, branch, "main",
        [(request_file_path(request.app, request.id), files / "request.yaml"),
         (request.patch.file, files / "patch")],
        f"{request.label} {request.app} {request.to.tag}",
    )  # fmt: skip
    pull = forge(d.world, author).open_pull_request(
        REQUESTS, head=branch, base="main", title=f"{request.label} {request.to.tag}", body=""
    )
    if approver is not None:
        forge(d.world, approver).submit_review(REQUESTS, pull.number, "APPROVED", "Fine")
    if merger is None:
        return pull
    merged = forge(d.world, merger).merge_pull_request(REQUESTS, pull.number)
    if minted and approver is not None and request.follow_up_of is None:
        # The merge hook's mark, as bs (its bot) leaves it on a request it minted a link for.
        forge(d.world, BOT).add_comment(REQUESTS, pull.number, "<!-- bs:approval -->\nApproved.\n")
    return merged


def record_for(pull: PullRequest, request: ReleaseRequest, approvers: list[str]) -> dict[str, Any]:
    """An approval record as the merge hook builds it (bs.usecases.hook_merged)."""
    stamp = (pull.merged_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = request.from_
    return {
        "pull_request": pull.number, "app": request.app, "request": request.id,
        "requester": pull.author, "approvers": [{"user": u, "approved_at": stamp} for u in approvers],
        "merged_by": pull.merged_by, "merged_at": stamp,
        "from": {"tag": start.tag, "commit": start.commit} if start else None,
        "to": {"tag": request.to.tag, "commit": request.to.commit}, "head": pull.head_sha,
        "merge_commit": pull.merge_commit_sha, "patch_sha256": request.patch.sha256,
        "patch_file": request.patch.file, "policy": "standard", "kind": request.kind,
        "emergency": request.emergency, "rollback": request.rollback,
        "slot": {"start": stamp, "end": stamp, "timezone": "Europe/London"},
    }  # fmt: skip


def mark_follow_up(d: Deployed, number: int, user: str = BOT) -> None:
    """The merge hook's mark on a follow-up it found approved, posted as `user`."""
    forge(d.world, user).add_comment(
        REQUESTS, number, "<!-- bs:follow-up-approved -->\n**Follow-up approved.**\n"
    )
