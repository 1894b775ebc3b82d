"""Running an approved release: from the Deploy button to the recorded result.

`start_deploy` decides, in the request, whether the deploy may start: the
person is the requester, the slot is open, the deployment is not finished or
interrupted, the release still holds on the forge, the app has a deployer
and its credentials are present, and nobody else is deploying the app (the
store's lock). Then `run_deploy` runs in the background: the deployer's
output goes to the store line by line, the lock is renewed while it runs,
and at the end the deployed version moves and the requester and approvers
are emailed the result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bs.config import AppConfig, BsConfig
from bs.core.links import DEPLOY_LINK, LinkClaims
from bs.core.request import kind_words
from bs.core.slots import describe_instant
from bs.deployconfig import CommandDeploy, JenkinsDeploy, WorkflowDeploy
from bs.deployed import source_for
from bs.deployers import Deployer, DeployJob, DeployOutcome, deployer_for
from bs.errors import BsError
from bs.mail.compose import Outgoing
from bs.ports import Forge, Mailer
from bs.redaction import redact, secret_values
from bs.store.deployments import Busy, Deployment, Deployments, NotStartable
from bs.usecases.notify import address_of, deliver, prepare
from bs.usecases.reverify import NotVerified, Verified, reverify

log = logging.getLogger("bs.gateway.deploy")

#: A line longer than this is cut; a deploy that writes more lines than this is cut short.
MAX_LINE = 4000
MAX_LINES = 20000


@dataclass
class DeployContext:
    """What a deploy needs from the gateway: its ports, its clock, its identity."""

    forge: Forge
    config: BsConfig
    store: Deployments
    mailer: Mailer
    env: Mapping[str, str]
    now: Callable[[], datetime]
    #: This gateway process's id in the lock table.
    holder: str
    #: Set when the gateway shuts down: running deployers are asked to stop.
    stopping: threading.Event = field(default_factory=threading.Event)
    #: The requests repository's checkout: deploy commands run there.
    root: Path = field(default_factory=Path.cwd)
    make_deployer: Callable[[AppConfig, Mapping[str, str], Path], Deployer] = field(
        default=lambda app, env, root: app_deployer(app, env, root)
    )


def app_deployer(app: AppConfig, env: Mapping[str, str], root: Path) -> Deployer:
    assert app.deploy is not None  # start_deploy checks first
    return deployer_for(app.deploy, env, root)


@dataclass(frozen=True)
class Started:
    attempt: int
    thread: threading.Thread


@dataclass(frozen=True)
class NotStarted:
    why: str


def claims_of(deployment: Deployment) -> LinkClaims:
    """The link's claims as far as the record keeps them (for re-verification)."""
    app, _, request_id = deployment.request_key.partition("/")
    return LinkClaims(
        purpose=DEPLOY_LINK, app=app, request_id=request_id,
        pull_request=deployment.pull_request, requester=deployment.requester,
        not_before=deployment.slot_start, expires=deployment.slot_end, nonce="", key_id="",
    )  # fmt: skip


def start_deploy(ctx: DeployContext, deployment: Deployment, by: str) -> Started | NotStarted:
    now = ctx.now()
    if by.lower() != deployment.requester.lower():
        return NotStarted(f"only {deployment.requester}, who asked for this release, may deploy it")
    if now < deployment.slot_start:
        return NotStarted("the deploy slot has not started yet")
    if now >= deployment.slot_end:
        return NotStarted("the deploy slot has ended: open a new request to deploy this release")
    if deployment.state == "succeeded":
        return NotStarted("this release is already deployed")
    if deployment.state == "interrupted":
        return NotStarted(deployment.summary)
    if deployment.state == "running":
        return NotStarted("this deployment is already running")
    found = reverify(ctx.forge, ctx.config, claims_of(deployment))
    if isinstance(found, NotVerified):
        return NotStarted(f"it cannot be deployed now: {found.why}")
    if not found.slot_start <= now < found.slot_end:
        # The policy as it is now (a freeze declared since the link was opened).
        return NotStarted(
            "the policy on the default branch no longer allows a deploy now (a freeze, or a "
            "changed window): the slot is "
            f"{describe_instant(found.slot_start, zone_of(found.record))} to "
            f"{describe_instant(found.slot_end, zone_of(found.record))}"
        )
    if found.app.deploy is None:
        return NotStarted(
            f"{deployment.app} has no deployer: add a deploy: block for it to "
            "policies/apps.yaml on the default branch (a command, jenkins or github-workflow)"
        )
    try:
        deployer = ctx.make_deployer(found.app, ctx.env, ctx.root)
    except BsError as exc:
        return NotStarted(exc.message)
    taken = ctx.store.start(deployment.id, deployment.app, by=by, holder=ctx.holder, now=now)
    if isinstance(taken, Busy):
        if taken.deployment_id == deployment.id:
            return NotStarted("this deployment is already running")
        return NotStarted(
            f"another deployment of {deployment.app} (#{taken.deployment_id}) is running: "
            "try again when it has finished"
        )
    if isinstance(taken, NotStartable):
        return NotStarted(f"this deployment is {taken.state}")
    thread = threading.Thread(
        target=run_deploy, args=(ctx, deployment, found, deployer, taken),
        name=f"deploy-{deployment.id}", daemon=True,
    )  # fmt: skip
    thread.start()
    return Started(taken, thread)


def run_deploy(
    ctx: DeployContext, deployment: Deployment, verified: Verified, deployer: Deployer, attempt: int
) -> DeployOutcome:
    store, app = ctx.store, deployment.app
    lost = threading.Event()
    done = threading.Event()
    written = 0

    def write(line: str) -> None:
        nonlocal written
        written += 1
        if written > MAX_LINES:
            if written == MAX_LINES + 1:
                store.append_log(
                    deployment.id, attempt, ["[output cut: too many lines]"], ctx.now()
                )
            return
        store.append_log(deployment.id, attempt, [redact(line, hidden)[:MAX_LINE]], ctx.now())

    def keep_lock() -> None:
        ttl = store.lock_ttl.total_seconds()
        last_renewed = time.monotonic()
        while not done.wait(max(ttl / 4, 0.05)):
            try:
                held = store.renew(deployment.id, app, ctx.holder, ctx.now())
            except Exception:  # a store hiccup: try again until the lock would expire
                log.warning("could not renew the lock of deployment %s", deployment.id)
                held = time.monotonic() - last_renewed < ttl * 0.75
            else:
                last_renewed = time.monotonic() if held else last_renewed
            if not held:
                lost.set()
                return

    deploy = verified.app.deploy
    pairs = [(deploy.username_env, deploy.token_env)] if isinstance(deploy, JenkinsDeploy) else []
    hidden = secret_values(ctx.env, credential_names(verified.app), pairs)
    renewer = threading.Thread(target=keep_lock, name=f"lock-{deployment.id}", daemon=True)
    renewer.start()
    request = verified.request
    job = DeployJob(app, verified.app.repo, request.to.tag, request.to.commit, deployment.id)
    try:
        outcome = deployer.deploy(job, write, lambda: ctx.stopping.is_set() or lost.is_set())
    except BsError as exc:
        outcome = DeployOutcome(False, exc.message)
    except Exception:  # a bug in a deployer: the record says so, the log has the rest
        log.exception("deployer crashed on deployment %s", deployment.id)
        outcome = DeployOutcome(False, "the deployer failed unexpectedly: see the gateway's log")
    summary = redact(outcome.summary, hidden)
    ok = outcome.ok
    if ok and lost.is_set():
        ok, summary = False, summary + "; but the app's deploy lock was lost while it ran"
    if ok and (moved_to := tag_moved(ctx.forge, verified)) is not None:
        ok = False
        summary += (
            f"; but the tag {request.to.tag} moved to {moved_to[:44]} while it ran, so what "
            f"was deployed may not be the approved {request.to.commit[:12]}: check what is "
            "live. The deployed version was not recorded."
        )
        write(summary)
    if ok:
        try:
            moved = source_for(verified.app, ctx.forge, ctx.env).record_deployed(
                app, verified.app, request.to.commit
            )
            write(f"deployed version recorded: {moved}")
        except BsError as exc:
            summary += f"; but the deployed version could not be recorded: {exc.message}"
            write(summary)
    follow_up = ""
    if request.emergency:
        # Whatever the outcome (failed, the tag moved, the lock lost), the deployer ran and
        # the release may be out: it is reviewed under the normal rules after the fact.
        follow_up = emergency_follow_up(ctx, verified, deployment.pull_request)
        write(follow_up)
    done.set()
    renewer.join()
    store.finish(
        deployment.id, app, ctx.holder, ok=ok, summary=summary, url=outcome.url,
        now=ctx.now(),
    )  # fmt: skip
    final = store.get(deployment.id)
    if final is not None:
        try:
            # An emergency's outcome goes to the app's review list too: it went out on
            # the word of one engineer on call, and they review it after the fact.
            also = verified.app.review_list if request.emergency else ()
            mail = outcome_mail(ctx, final, follow_up, also=also)
            deliver(ctx.mailer, prepare(ctx.config.mail, [mail], ctx.now))
        except BsError as exc:
            log.warning("could not email the outcome of deployment %s: %s", deployment.id, exc)
    return outcome


def credential_names(app: AppConfig) -> list[str]:
    """The gateway variables an app's deployer is given: hidden in its log, whatever their names."""
    deploy = app.deploy
    if isinstance(deploy, CommandDeploy):
        return list(deploy.env)
    if isinstance(deploy, JenkinsDeploy):
        return [deploy.username_env, deploy.token_env]
    if isinstance(deploy, WorkflowDeploy):
        return [deploy.token_env]
    return []


def tag_moved(forge: Forge, verified: Verified) -> str | None:
    """Where the release's tag points now, when that is no longer the approved commit (or
    cannot be told)."""
    to = verified.request.to
    if to.tag is None:
        return None
    try:
        tags = forge.list_tags(verified.app.repo)
    except BsError:
        return "(unknown: the forge could not list the tags)"  # fail closed
    now = next((t.commit for t in tags if t.name == to.tag), "(deleted)")
    return None if now == to.commit else now


def emergency_follow_up(ctx: DeployContext, verified: Verified, pull_request: int) -> str:
    """Open the follow-up review of an emergency just deployed; what happened, as a line."""
    from bs.usecases.follow_up import open_follow_up

    request = verified.request
    try:
        opened = open_follow_up(
            ctx.forge, ctx.config, request, now=ctx.now, emergency_pull=pull_request
        )
    except BsError as exc:
        return (
            f"EMERGENCY: the follow-up review could not be opened ({exc.message}); open it "
            f"with `bs follow-up {request.app} {request.id}`"
        )
    except Exception:  # a bug must not leave the deployment running: it is logged
        log.exception("could not open the follow-up of deployment %s", pull_request)
        return (
            "EMERGENCY: the follow-up review could not be opened (see the gateway's log); "
            f"open it with `bs follow-up {request.app} {request.id}`"
        )
    if opened.pull is None:
        return f"EMERGENCY: its follow-up {opened.request_id} was reviewed already"
    return (
        f"EMERGENCY: follow-up review opened, under the normal rules: pull request "
        f"#{opened.pull.number} {opened.pull.url}"
    )


def outcome_mail(
    ctx: DeployContext, deployment: Deployment, follow_up: str = "", *, also: Sequence[str] = ()
) -> Outgoing:
    record = deployment.record
    people = [deployment.requester] + [a["user"] for a in record.get("approvers", [])]
    addresses = []
    for person in people:
        address = address_of(person, ctx.forge, ctx.config.mail)
        if address and address not in addresses:
            addresses.append(address)
    addresses += [a for a in also if a not in addresses]
    to = record["to"]
    to_label = to["tag"] or to["commit"][:12]
    word = {"succeeded": "Deployed", "failed": "Deploy failed"}.get(deployment.state, "Deploy")
    start = record.get("from")
    marks = kind_words(
        emergency=bool(record.get("emergency")), rollback=bool(record.get("rollback"))
    )
    notice = " ".join(
        [
            *(["A rollback to an older release."] if record.get("rollback") else []),
            *([follow_up] if follow_up else []),
        ]
    )
    return Outgoing(
        template="deployed",
        subject=f"{' '.join([f'[{deployment.app}]', *marks])} {word}: {to_label}",
        to=tuple(addresses),
        context={
            "title": f"{word}: {deployment.app} {to_label}",
            "app": deployment.app, "request_id": record["request"], "state": deployment.state,
            "ok": deployment.state == "succeeded", "summary": deployment.summary,
            "to_label": to_label, "to_commit": to["commit"],
            "from_label": (start["tag"] or start["commit"][:12]) if start else "nothing",
            "requester": deployment.requester, "deployed_by": deployment.deployed_by or "",
            "approvers": [a["user"] for a in record.get("approvers", [])],
            "finished": describe_instant(deployment.finished_at, zone_of(record))
            if deployment.finished_at else "",
            "page": f"{ctx.config.gateway.url.rstrip('/')}/deployments/{deployment.id}",
            "url": deployment.url or "", "pull_number": deployment.pull_request,
            "notice": notice,
        },
        thread=f"{deployment.app}/{record['request']}",
    )  # fmt: skip


def zone_of(record: dict[str, Any]) -> ZoneInfo:
    """The policy's time zone, as the approval record names it."""
    return ZoneInfo(record.get("slot", {}).get("timezone") or "UTC")
