"""The home page (read-only: nothing on it deploys) and ``/healthz``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, jsonify, redirect, render_template, session, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from bs.core.verdict import STATUS_CONTEXT
from bs.errors import BsError
from bs.gateway.state import gateway, signed_in
from bs.usecases.check import trusted_policies
from bs.usecases.releases import list_tags

home = Blueprint("home", __name__)


@dataclass(frozen=True)
class AppRow:
    name: str
    deployed: str
    behind: str
    newest: str


@dataclass(frozen=True)
class RequestRow:
    number: int
    url: str
    title: str
    author: str
    needs: str


def _apps() -> list[AppRow]:
    settings = gateway().settings
    forge, repo = settings.forge, settings.config.requests_repo
    rows = []
    for name, app in trusted_policies(forge, repo, forge.default_branch(repo)).apps.apps.items():
        try:
            listing = list_tags(forge, name, app)
        except BsError as exc:
            rows.append(AppRow(name, f"unknown: {exc.message}", "", ""))
            continue
        newer = sum(1 for _, is_newer in listing.tags if is_newer)
        deployed = listing.deployed
        rows.append(
            AppRow(
                name, deployed.label() if deployed else "nothing yet",
                "up to date" if not newer else f"{newer} tag{'s' if newer != 1 else ''} behind",
                listing.tags[0][0].name if listing.tags else "no tags",
            )
        )  # fmt: skip
    return rows


def _requests() -> list[RequestRow]:
    """Open requests and what each still needs: the ``bs/policy`` status the check posted
    on its head (one forge call each; the page is read-only, so nothing re-evaluates)."""
    settings = gateway().settings
    forge, repo = settings.forge, settings.config.requests_repo
    rows = []
    for pull in forge.list_pull_requests(repo, "open"):
        try:
            posted = [s for s in forge.list_statuses(repo, pull.head_sha)
                      if s.context == STATUS_CONTEXT]  # fmt: skip
        except BsError as exc:
            needs = f"cannot be read: {exc.message}"
        else:
            latest = max(posted, key=lambda s: s.created_at) if posted else None
            needs = (
                f"{latest.state}: {latest.description}" if latest
                else "not checked yet (bs check has not run on its head)"
            )  # fmt: skip
        rows.append(RequestRow(pull.number, pull.url, pull.title, pull.author, needs))
    return rows


@home.get("/")
def home_() -> Response | str:
    if signed_in() is None:
        return redirect(url_for("signin.page"), code=303)
    found = gateway()
    now = found.settings.now()
    found.deployments.recover_stale(now)
    live = [
        d for d in found.deployments.with_state("ready", "running", "failed")
        if d.state == "running" or d.in_slot(now)
    ]  # fmt: skip
    return render_template(
        "home.html", title="Releases", apps=_apps(), requests=_requests(), live=live,
        recent=found.deployments.recent(20), notice=session.pop("notice", ""),
    )  # fmt: skip


home.add_url_rule("/", "home", home_)


@home.get("/favicon.ico")
def favicon() -> tuple[str, int]:
    return "", 204


@home.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with gateway().settings.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # the store is down: say so, never how
        return jsonify({"ok": False, "store": "unreachable"}), 503
    return jsonify({"ok": True}), 200
