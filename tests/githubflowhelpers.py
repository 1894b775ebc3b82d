"""Whole emergency, follow-up and rollback flows on the fake GitHub (tests/githubworld.py),
for tests/test_github_emergency.py and tests/test_github_audit.py.

Each step is what runs on GitHub: `bs open-request` by a person, the workflows' `bs hook
pushed`, `bs hook opened`, `bs check` (from GitHub's event payloads) and `bs hook closed`
as the App, reviews and the merge by people through the API (the requests repository's
ruleset requires `bs/policy`), and the gateway acting as the App on its real SQLite store
(``.bs/gateway.sqlite`` in the checkout, bs.yaml's default, where `bs audit` reads it).

`as_deployed` gives tests/audithelpers.py's store-tampering helpers (`insert_deployment`,
`change_record`, `set_deployment`) that store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from flask import Flask

from bs.core.verdict import STATUS_CONTEXT
from bs.forges import open_forge
from bs.gateway import create_app
from bs.gateway.state import GatewaySettings
from bs.linkkeys import load_keyring
from bs.mail import open_mailer
from bs.store import open_store
from bs.workspace import Workspace
from tests.audithelpers import STORE, Deployed
from tests.conftest import Result, World
from tests.fakegithub_model import Pull
from tests.gatewayhelpers import GatewayClient, csrf_of, sign_in
from tests.gatewaytesthelpers import press_deploy, wait_finished
from tests.githubworld import APP_REPO, BOT, KEY, REQUESTS, GitHubWorld
from tests.hookhelpers import LINK, outbox, recipients, text_of

BOT_LOGIN = f"{BOT}[bot]"
ALICE = "alice@example.gov.uk"
REASON = "Checkout is down: every payment fails"
FOLLOW_UP_MARK = "<!-- bs:follow-up-approved -->"
DEPLOYED_REF = "refs/heads/deployed-to-production"


def mails(world: GitHubWorld) -> list[EmailMessage]:
    return outbox(world)  # type: ignore[arg-type]  # the same checkout layout


def link_tokens(world: GitHubWorld) -> list[str]:
    return [token for message in mails(world) for token in LINK.findall(text_of(message))]


def deployed_commit(world: GitHubWorld) -> str | None:
    return world.fake.repo(APP_REPO).git.resolve(DEPLOYED_REF)


def set_deployed(world: GitHubWorld, tag: str) -> None:
    """Point the app's deployed ref at `tag`'s commit, as a deploy outside bs would."""
    world.fake.repo(APP_REPO).git.update_ref(DEPLOYED_REF, world.tags[tag])


def require_policy_status(world: GitHubWorld) -> None:
    """The requests repository's ruleset: a merge needs bs/policy to be success."""
    world.fake.repo(REQUESTS).required_contexts = [STATUS_CONTEXT]


# -- people on GitHub -------------------------------------------------------------------


def tick(world: GitHubWorld) -> None:
    """The fake's clock to now: reviews, merges and their commits are stamped with it."""
    world.fake.now = max(world.fake.now, datetime.now(UTC).replace(microsecond=0))


def review(world: GitHubWorld, number: int, login: str, event: str = "APPROVE") -> None:
    tick(world)
    client = world.fake.client(world.tokens[login])
    client.get_repo(REQUESTS).get_pull(number).create_review(body="Go", event=event)


def merge(world: GitHubWorld, number: int, login: str = "bob") -> None:
    tick(world)
    client = world.fake.client(world.tokens[login])
    client.get_repo(REQUESTS).get_pull(number).merge(merge_method="merge")


def comment(world: GitHubWorld, number: int, login: str, body: str) -> None:
    client = world.fake.client(world.tokens[login])
    client.get_repo(REQUESTS).get_pull(number).create_issue_comment(body)


# -- bs, as the workflows run it -------------------------------------------------------


def open_request(world: GitHubWorld, tag: str, *flags: str, user: str = "alice") -> Any:
    """`bs open-request frontend TAG FLAGS --json` as `user`, then `bs hook pushed` on the
    opened event; the JSON."""
    result = world.bs("open-request", "frontend", tag, *flags, "--json", user=user)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    world.record_push("opened", data["pull_request"]["number"])
    return data


def hook_opened(world: GitHubWorld, number: int) -> Result:
    payload = world.fake.webhook("pull_request", "opened", repo=REQUESTS, number=number)
    result = world.bs("hook", "opened", user=BOT, env=world.actions(payload, f"opened-{number}"))
    assert result.exit_code == 0, result.output
    return result


def check_on_review(world: GitHubWorld, name: str) -> tuple[Result, Any]:
    """The privileged workflow_run check after the latest review: the result and its JSON."""
    run = world.fake.webhook("workflow_run", "completed", repo=REQUESTS)
    result = world.bs("check", "--json", user=BOT, env=world.actions(run, name))
    assert result.exit_code in (0, 1, 2), result.output
    return result, json.loads(result.stdout)


def check_on_open(world: GitHubWorld, number: int, name: str) -> tuple[Result, Any]:
    """The pull_request_target check of a request just opened."""
    payload = world.fake.webhook("pull_request", "opened", repo=REQUESTS, number=number)
    result = world.bs("check", "--json", user=BOT, env=world.actions(payload, name))
    assert result.exit_code in (0, 1, 2), result.output
    return result, json.loads(result.stdout)


def hook_closed(world: GitHubWorld, number: int) -> tuple[Result, Any]:
    """`bs hook closed --json` as the App on the merged event of `number`."""
    merged = world.fake.webhook("pull_request", "merged", repo=REQUESTS, number=number)
    result = world.bs(
        "hook", "closed", "--json", user=BOT, env=world.actions(merged, f"closed-{number}")
    )
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def minted_link(world: GitHubWorld, requester: str = ALICE) -> str:
    """The deploy link in the newest mail to `requester`."""
    to_them = [m for m in mails(world) if recipients(m) == [requester]]
    assert to_them, [m["Subject"] for m in mails(world)]
    found = LINK.search(text_of(to_them[-1]))
    assert found, text_of(to_them[-1])
    return found.group(1)


def approve_and_merge(world: GitHubWorld, number: int, approver: str, name: str) -> Any:
    """`approver` approves; the check on their review is met; bob merges. The check's JSON."""
    review(world, number, approver)
    result, data = check_on_review(world, name)
    assert (result.exit_code, data["outcome"]) == (0, "met"), data
    merge(world, number)
    return data


# -- the gateway, acting as the App ---------------------------------------------------


def store_url(world: GitHubWorld) -> str:
    return f"sqlite:///{world.checkout / STORE}"


def gateway_app(world: GitHubWorld, store: str | None = None) -> Flask:
    """The gateway on the GitHub forge as the App (its installation token), with local
    sign-in for the test; on `store`, by default the one `bs audit` reads."""
    if store is None:
        (world.checkout / STORE).parent.mkdir(exist_ok=True)
        store = store_url(world)
    env = world.env(BOT) | {"BS_LINK_KEYS": KEY, "BS_GATEWAY_STORE": store}
    workspace = Workspace(world.checkout)
    settings = GatewaySettings(
        config=workspace.config, forge=open_forge(workspace, env),
        engine=open_store(env["BS_GATEWAY_STORE"]), keyring=load_keyring(env, workspace.root),
        mailer=open_mailer(workspace, env), env=env, now=lambda: datetime.now(UTC),
        secure=False, local_users=lambda: ["alice", "bob"], root=workspace.root,
    )  # fmt: skip
    app = create_app(settings)
    app.testing = True
    app.test_client_class = GatewayClient
    app.config["BS_TEST_BASE_URL"] = settings.config.gateway.url
    return app


def deploy(app: Flask, token: str, deployment_id: int, user: str = "alice") -> tuple[str, Any]:
    """`user` signs in, opens the link, redeems it and presses Deploy: the confirmation
    page's HTML and the deployment's final progress."""
    client = app.test_client()
    sign_in(client, user)
    page = client.get(f"/link/{token}")
    assert page.status_code == 200, page.text
    redeemed = client.post(f"/link/{token}", data={"csrf": csrf_of(page.text)})
    assert redeemed.status_code == 303, redeemed.text
    pressed = press_deploy(client, deployment_id)
    assert pressed.status_code == 303, pressed.text
    progress = wait_finished(client, deployment_id)
    app.extensions["bs"].settings.engine.dispose()  # the audit opens it read-only next
    return page.text, progress


# -- whole flows ----------------------------------------------------------------------


@dataclass
class Emergency:
    """An emergency deployed through the gateway, and the follow-up the gateway opened."""

    number: int
    request_id: str
    deployment: int
    follow_up: int
    progress: Any


def deployed_emergency(world: GitHubWorld, app: Flask, deployment_id: int = 1) -> Emergency:
    """alice's emergency release_3: carol (on call) approves, bob merges, the merged hook
    mints, alice deploys through `app`, which opens the follow-up as the App."""
    data = open_request(world, "release_3", "--emergency", "--reason", REASON)
    number = data["pull_request"]["number"]
    hook_opened(world, number)
    approve_and_merge(world, number, "carol", f"emergency-{number}")
    hook_closed(world, number)
    _, progress = deploy(app, minted_link(world), deployment_id)
    assert progress["state"] == "succeeded", progress
    follow_up = max(world.fake.repo(REQUESTS).pulls)
    assert world.fake.pull(REQUESTS, follow_up).user == BOT_LOGIN
    return Emergency(number, data["id"], deployment_id, follow_up, progress)


def approve_follow_up(world: GitHubWorld, emergency: Emergency) -> tuple[Result, Any]:
    """The follow-up's push recorded, bob (a deployer) approves, bob merges, the merged hook
    runs: its result and JSON."""
    world.record_push("opened", emergency.follow_up)
    approve_and_merge(world, emergency.follow_up, "bob", f"follow-up-{emergency.follow_up}")
    return hook_closed(world, emergency.follow_up)


def deployed_rollback(world: GitHubWorld, app: Flask, deployment_id: int, tag: str) -> int:
    """alice's rollback to `tag`: bob approves and merges, the hook mints, alice deploys it.
    Its pull request."""
    data = open_request(world, tag, "--rollback", "--reason", "release_3 breaks search")
    number: int = data["pull_request"]["number"]
    approve_and_merge(world, number, "bob", f"rollback-{number}")
    hook_closed(world, number)
    _, progress = deploy(app, minted_link(world), deployment_id)
    assert progress["state"] == "succeeded", progress
    return number


# -- the store, for tests/audithelpers.py ---------------------------------------------


def as_deployed(world: GitHubWorld, number: int, request_id: str) -> Deployed:
    """audithelpers' `Deployed` on this world's store (its helpers read only the checkout,
    where the store is): `number`/`request_id` a request deployed as deployment #1."""
    local = World(root=world.root, forge=world.root / "github", checkout=world.checkout)
    return Deployed(local, number, request_id, world.tags["release_1"], world.tags["release_3"])


def dismiss_approvals(world: GitHubWorld, number: int, reviewer: str, by: str = "bob") -> int:
    """`by` dismisses `reviewer`'s approvals of pull request `number` on GitHub; how many."""
    pull = world.fake.client(world.tokens[by]).get_repo(REQUESTS).get_pull(number)
    dismissed = 0
    for found in pull.get_reviews():
        if found.user.login == reviewer and found.state == "APPROVED":
            found.dismiss("Approved the wrong pull request")
            dismissed += 1
    return dismissed


def add_closed_requests(world: GitHubWorld, count: int) -> None:
    """`count` request pull requests closed unmerged (refused, abandoned), as GitHub keeps
    them: they are listed with the rest, and audit nothing."""
    repo = world.fake.repo(REQUESTS)
    main = repo.git.resolve("refs/heads/main")
    assert main is not None
    when = world.fake.now
    for n in range(count):
        number = repo.next_number
        repo.next_number += 1
        repo.pulls[number] = Pull(
            number=number, id=world.fake.next_id(), repo=repo, head_repo=repo,
            head_ref=f"request/frontend/20261101-{n:016d}", base_ref="main", head_sha=main,
            base_sha=main, user="alice", title=f"Release frontend release_{n}", body=None,
            created_at=when, updated_at=when, state="closed", closed_at=when,
        )  # fmt: skip
