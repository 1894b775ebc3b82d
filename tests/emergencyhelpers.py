"""World-building for the emergency, follow-up and rollback tests (tests/test_emergency.py,
tests/test_rollback.py).

`build_frontend` makes frontend with release_1 < release_2 < release_3 on main and
release_4 on a maintenance branch off release_1 (in the scheme after release_3, but in
no history with it), one of them deployed. `open_as` runs `bs open-request ... --json`
and returns what checkhelpers' `Opened` holds (its release_1/release_2 being the
request's FROM and TO commits). `merge_approved` reviews, checks and merges;
`mint` runs the merge hook and returns the requester's link; `deploy_via_gateway`
signs the requester in, redeems the link and presses Deploy.

What does not depend on the local forge (policy texts, the freeze, reading and
writing request files through the `Forge` port, minting a link by hand) takes a
forge or plain data, so the fake GitHub tests can use it too.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from flask import Flask

from bs.core.links import DEPLOY_LINK, NONCE_BYTES, LinkClaims, mint_link_token, parse_keys
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, patch_file_path, request_branch, request_file_path
from bs.ports import Forge
from bs.usecases.request_body import pull_request_title
from tests.checkhelpers import FRONTEND, REQUESTS, Opened, forge, opened_from
from tests.conftest import STANDARD_POLICY, WorkRepo, World, git
from tests.gatewayhelpers import Minted, command_deploy, gateway, redeem, sign_in
from tests.gatewaytesthelpers import press_deploy, wait_finished
from tests.hookhelpers import LINK, hook, key_line, outbox, recipients, text_of, with_bot

LONDON = ZoneInfo("Europe/London")
ALICE = "alice@example.gov.uk"
REASON = "Checkout is down: every payment fails"
_DEPLOY = "deploy:\n  slot: 2h\n  timezone: Europe/London\n"
_EMERGENCY = "emergency:\n  approval: on-call approval\n  slot: 30m\n  review_within: 2d\n"


# -- policies (plain text: any forge) -------------------------------------------------


def frozen_days(today: date) -> tuple[date, date]:
    """A freeze around `today` (London's): from the day before to the day after."""
    return today - timedelta(days=1), today + timedelta(days=1)


def policy_frozen_now(now: datetime) -> str:
    """The standard policy with a freeze covering `now`: a normal release waits for it."""
    first, last = frozen_days(now.astimezone(LONDON).date())
    assert STANDARD_POLICY.count(_DEPLOY) == 1
    return STANDARD_POLICY.replace(
        _DEPLOY,
        _DEPLOY + f"  freezes:\n    - {{from: {first}, to: {last}, reason: Incident freeze}}\n",
    )


def freeze_ends(now: datetime) -> datetime:
    """When `policy_frozen_now(now)`'s freeze ends: the London midnight after its last day."""
    _, last = frozen_days(now.astimezone(LONDON).date())
    return datetime.combine(last + timedelta(days=1), time(0), LONDON).astimezone(UTC)


def policy_without_emergency() -> str:
    assert STANDARD_POLICY.count(_EMERGENCY) == 1
    return STANDARD_POLICY.replace(_EMERGENCY, "")


# -- the local forge world ------------------------------------------------------------


@dataclass(frozen=True)
class Releases:
    """frontend's release commits, and its work repository."""

    work: WorkRepo
    release_1: str
    release_2: str
    release_3: str
    #: release_4, on a maintenance branch off release_1.
    forked: str


def set_teams(world: World, **members: list[str]) -> None:
    """Set the members of alphagov teams (on_call= for alphagov/on-call)."""
    path = world.forge / "teams.yaml"
    teams = yaml.safe_load(path.read_text())
    for name, logins in members.items():
        teams[f"alphagov/{name.replace('_', '-')}"] = logins
    path.write_text(yaml.safe_dump(teams))


def build_frontend(
    world: World,
    *,
    deployed: str | None = "release_2",
    policy: str | None = None,
    runs: Path | None = None,
) -> Releases:
    """frontend under the standard policy (or `policy`), deployed at `deployed` (None:
    nothing deployed), the hooks' bot a user; with `runs`, a deploy command counting runs
    there (tests/gatewayhelpers.py)."""
    world = with_bot(world)
    app = world.add_app("frontend")
    if runs is not None:
        world.apps["frontend"]["deploy"] = command_deploy(runs)
    if policy is not None:
        (world.checkout / "policies" / "standard.yaml").write_text(policy)
    world.write_apps()
    app.write("README.md", "frontend\n")
    app.write("app/main.py", "print(1)\n")
    release_1 = app.commit("one")
    app.tag("release_1")
    app.write("app/main.py", "print(2)\n")
    app.write("app/search.py", "def search(): ...\n")
    release_2 = app.commit("two")
    app.tag("release_2", annotated=True)
    app.write("app/main.py", "print(3)\n")
    app.write("static/logo.bin", bytes(range(256)) * 4)
    release_3 = app.commit("three")
    app.tag("release_3", annotated=True)
    app.checkout("release_1", new_branch="maintenance")
    app.write("app/main.py", "print('patched 1')\n")
    forked = app.commit("maintenance fix")
    app.tag("release_4")
    app.checkout("main")
    app.push_to(world.app_bare(FRONTEND))
    if deployed is not None:
        world.deploy(FRONTEND, deployed)
    return Releases(app, release_1, release_2, release_3, forked)


def deployed_commit(world: World) -> str:
    return git(world.app_bare(FRONTEND), "rev-parse", "refs/heads/deployed-to-production")


def request_branches(world: World) -> list[str]:
    """The requests repository's request branches: none is left by a refusal."""
    refs = git(world.requests_bare, "for-each-ref", "--format=%(refname)", "refs/heads/request/")
    return refs.splitlines()


def open_as(world: World, tag: str, *flags: str, user: str = "alice") -> tuple[Opened, Any]:
    """`bs open-request frontend TAG FLAGS --json` as `user`: the request and the JSON."""
    result = world.bs("open-request", "frontend", tag, *flags, "--json", user=user)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    document = request_document(
        forge(world), f"request/frontend/{data['id']}", data["request_file"]
    )
    start = document["from"]["commit"] if document["from"] else ""
    return opened_from(result, start, document["to"]["commit"]), data


def merge_approved(world: World, number: int, *approvers: str) -> None:
    """Approvals by `approvers`, `bs check` met, and `bs merge` as bob."""
    for approver in approvers:
        forge(world, approver).submit_review(REQUESTS, number, "APPROVED", "Go")
    checked = world.bs("check", str(number), user="carol")
    assert checked.exit_code == 0, checked.output
    merged = world.bs("merge", str(number), user="bob")
    assert merged.exit_code == 0, merged.output


def mint(world: World, number: int, keys: str, requester: str = ALICE) -> tuple[str, Any]:
    """The merge hook (--json) with `keys`: the link mailed to `requester`, and the JSON."""
    result = hook(world, "closed", str(number), "--json", env={"BS_LINK_KEYS": keys})
    assert result.exit_code == 0, result.output
    mails = [m for m in outbox(world) if recipients(m) == [requester]]
    found = LINK.search(text_of(mails[-1]))
    assert found, text_of(mails[-1])
    return found.group(1), json.loads(result.stdout)


def new_keys() -> str:
    return key_line("emergency")


def as_minted(world: World, number: int, token: str, keys: str, runs: Path, to: str) -> Minted:
    """gatewayhelpers' Minted for this link (its `release_2` is the release's commit)."""
    return Minted(world, number, token, keys, runs, to)


def deploy_via_gateway(app: Flask, made: Minted, user: str = "alice") -> tuple[str, Any]:
    """`user` signs in, opens the link (its confirmation page), redeems it and presses
    Deploy: the confirmation page's HTML and the deployment's final progress."""
    client = app.test_client()
    sign_in(client, user)
    confirm = client.get(made.path)
    assert confirm.status_code == 200, confirm.text
    response = redeem(client, made)
    assert response.status_code == 303, response.text
    started = press_deploy(client)
    assert started.status_code == 303, started.text
    return confirm.text, wait_finished(client)


def gateway_as(made: Minted, user: str | None) -> Flask:
    """The gateway on `made`'s world, acting on the forge as `user` (None: as nobody)."""
    return gateway(made, env={"BS_USER": user} if user else {})


# -- request files and links through the Forge port (any forge) ------------------------


def request_document(repo_forge: Forge, ref: str, path: str) -> dict[str, Any]:
    data = repo_forge.read_file(REQUESTS, path, ref)
    assert data is not None, (ref, path)
    loaded: dict[str, Any] = yaml.safe_load(data)
    return loaded


def merged_request(repo_forge: Forge, app: str, request_id: str) -> ReleaseRequest:
    """A request as merged on the requests repository's default branch."""
    branch = repo_forge.default_branch(REQUESTS)
    document = request_document(repo_forge, branch, request_file_path(app, request_id))
    return ReleaseRequest.from_document(document)


def open_hand_made(
    repo_forge: Forge, request: ReleaseRequest, patch: bytes, *, title: str | None = None
) -> PullRequest:
    """Push `request` and `patch` as its two files on its own branch and open its pull
    request, as the forge's acting user (a follow-up made by hand, not by bs)."""
    base = repo_forge.default_branch(REQUESTS)
    request_path = request_file_path(request.app, request.id)
    patch_path = patch_file_path(request.app, request.id, compressed=False)
    assert request.patch.file == patch_path, request.patch.file
    branch = request_branch(request.app, request.id)
    with tempfile.TemporaryDirectory() as folder:
        yaml_file, patch_file = Path(folder) / "request.yaml", Path(folder) / "request.patch"
        yaml_file.write_text(yaml.safe_dump(request.to_document(), sort_keys=False))
        patch_file.write_bytes(patch)
        files = [(request_path, yaml_file), (patch_path, patch_file)]
        repo_forge.create_branch(REQUESTS, branch, base, files, "A hand-made request")
    return repo_forge.open_pull_request(
        REQUESTS, head=branch, base=base, title=title or pull_request_title(request),
        body="Made by hand.",
    )  # fmt: skip


def mint_by_hand(
    keys: str, request: ReleaseRequest, pull: PullRequest, requester: str, now: datetime
) -> str:
    """A deploy link for `pull`, signed with `keys`, valid for the next hour: what a merge
    hook would mint if it were fooled."""
    claims = LinkClaims(
        purpose=DEPLOY_LINK, app=request.app, request_id=request.id,
        pull_request=pull.number, requester=requester,
        not_before=now - timedelta(minutes=1), expires=now + timedelta(hours=1),
    )  # fmt: skip
    return mint_link_token(
        claims, parse_keys(keys, "the test keys"), secrets.token_bytes(NONCE_BYTES)
    )


def subject(message: EmailMessage) -> str:
    """A message's subject as a mail client shows it: Python's folding of a long subject
    puts it all on a continuation line, which its parser then reads back with a leading
    space."""
    return " ".join(str(message["Subject"]).split())
