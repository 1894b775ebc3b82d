"""`bs audit` on the fake GitHub, as tests/test_audit_chain.py and
tests/test_audit_emergencies.py run it on the local forge: after whole flows (an
emergency deployed through the gateway, its follow-up approved, a rollback) the chain is
intact; then each way of breaking it is flagged with its kind and exit status 4. The
store is the gateway's real SQLite store, tampered with tests/audithelpers.py's helpers;
GitHub's side is changed through its API (a review dismissed, a mark commented) or, where
the API cannot, in the fake (a review gone, the deployed ref moved by a push).

The audit runs as the App (BS_GITHUB_TOKEN and BS_GITHUB_APP_SLUG), as bs-daily.yml runs
it, unless a test says otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from bs.store.tables import link_redemptions
from tests.audithelpers import Deployed, change_record, insert_deployment, set_deployment
from tests.conftest import Result
from tests.githubflowhelpers import (
    BOT_LOGIN,
    FOLLOW_UP_MARK,
    Emergency,
    add_closed_requests,
    approve_and_merge,
    approve_follow_up,
    as_deployed,
    comment,
    deployed_emergency,
    deployed_rollback,
    dismiss_approvals,
    gateway_app,
    hook_closed,
    require_policy_status,
    set_deployed,
)
from tests.githubworld import BOT, REQUESTS, GitHubWorld, gh_world

__all__ = ["gh_world"]

OTHER_ID = "20261125-aaaaaaaaaaaaaaaa"
PULLS = f"/repos/{REQUESTS}/pulls"


def audit(world: GitHubWorld, *args: str, user: str = BOT) -> Result:
    result = world.bs("audit", *args, user=user)
    assert result.exit_code in (0, 4), result.output
    return result


def audit_json(world: GitHubWorld, *args: str, user: str = BOT) -> tuple[int, dict[str, Any]]:
    result = audit(world, "--json", *args, user=user)
    return result.exit_code, json.loads(result.stdout)


def kinds(data: dict[str, Any], section: str = "findings") -> list[str]:
    return [f["kind"] for f in data[section]]


def flows(world: GitHubWorld, *, reviewed: bool = True) -> tuple[Emergency, Deployed]:
    """An emergency deployed through the gateway (deployment #1) and, when `reviewed`, its
    follow-up approved and marked by the App; the emergency and the store's helpers."""
    require_policy_status(world)
    emergency = deployed_emergency(world, gateway_app(world))
    if reviewed:
        approve_follow_up(world, emergency)
    return emergency, as_deployed(world, emergency.number, emergency.request_id)


@pytest.fixture
def reviewed(gh_world: GitHubWorld) -> tuple[GitHubWorld, Emergency, Deployed]:
    """The emergency deployed and its follow-up approved: the chain intact."""
    emergency, d = flows(gh_world)
    code, data = audit_json(gh_world)
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], []), data
    return gh_world, emergency, d


# -- intact, and what it costs -----------------------------------------------------------


def test_after_an_emergency_its_follow_up_and_a_rollback_the_chain_is_intact(
    gh_world: GitHubWorld,
) -> None:
    w, fake = gh_world, gh_world.fake
    emergency, _ = flows(w)
    rollback = deployed_rollback(w, gateway_app(w), 2, "release_2")

    mark = len(fake.calls)
    result = audit(w)
    calls = fake.calls_since(mark)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "chain intact: 3 requests, 2 deployments checked"
    lines = result.stdout.splitlines()
    (line,) = [x for x in lines if f"(#{emergency.number})" in x]
    for part in ("frontend  emergency", "release_3", "requested by alice", "approved by carol",
                 "merged by bob", "deployed by alice (succeeded, #1)"):  # fmt: skip
        assert part in line, (part, line)
    (line,) = [x for x in lines if f"(#{rollback})" in x]
    assert "rollback" in line and "deployed by alice (succeeded, #2)" in line

    code, data = audit_json(w)
    assert (code, data["intact"], data["findings"], data["notices"]) == (0, True, [], [])
    found = [(e["kind"], e["pull_request"], e["deployment"]) for e in data["entries"]]
    assert sorted(found) == [
        ("emergency", emergency.number, 1), ("follow-up", emergency.follow_up, None),
        ("rollback", rollback, 2),
    ]  # fmt: skip
    whens = [e["when"] for e in data["entries"]]
    assert whens == sorted(whens, reverse=True)  # newest first

    # One listing of the pull requests (one page here), one of the reviews per deployment
    # checked and per merged follow-up, one of the comments per merged follow-up and per
    # deployed request, and one
    # read of each merged pull request no deployment names (the listing does not say who
    # merged it).
    assert Counter(calls) == Counter({
        ("GET", f"/repos/{REQUESTS}"): 1, ("GET", PULLS): 1,
        ("GET", f"{PULLS}/{emergency.number}/reviews"): 1, ("GET", f"{PULLS}/{rollback}/reviews"): 1,
        ("GET", f"/repos/{REQUESTS}/issues/{emergency.follow_up}/comments"): 1,
        ("GET", f"{PULLS}/{emergency.follow_up}"): 1,
        ("GET", f"{PULLS}/{emergency.follow_up}/reviews"): 1,
        # The merge hook's mark on each deployed pull request: its policy was met.
        ("GET", f"/repos/{REQUESTS}/issues/{emergency.number}/comments"): 1,
        ("GET", f"/repos/{REQUESTS}/issues/{rollback}/comments"): 1,
    }), calls  # fmt: skip
    # The follow-up's entry names who reviewed the emergency after the fact.
    (follow,) = [e for e in data["entries"] if e["pull_request"] == emergency.follow_up]
    assert follow["approvers"] == ["bob"]

    # 120 more requests, closed unmerged: the listing takes two pages of 100, no more.
    add_closed_requests(w, 120)
    mark = len(fake.calls)
    again = audit(w)
    more = fake.calls_since(mark)
    assert again.exit_code == 0, again.output
    assert more.count(("GET", PULLS)) == 2
    assert len(more) == len(calls) + 1, more


# -- breaks in the store -----------------------------------------------------------------


def test_a_deployment_of_a_request_that_is_not_on_the_default_branch(
    reviewed: tuple[GitHubWorld, Emergency, Deployed],
) -> None:
    w, _, d = reviewed
    insert_deployment(d, d.record() | {"request": OTHER_ID})
    result = audit(w)
    assert result.exit_code == 4, result.output
    assert f"no-request: deployment #2 (frontend/{OTHER_ID})" in result.stdout
    assert result.stdout.splitlines()[-1] == "chain BROKEN: 1 finding"
    _, data = audit_json(w)
    assert kinds(data) == ["no-request"]
    assert (data["findings"][0]["deployment"], data["findings"][0]["request"]) == (2, OTHER_ID)


@pytest.mark.parametrize(
    ("field", "found"),
    [
        # What the record says it deployed is not what runs now, either.
        ("commit", ["commit-mismatch", "deployed-outside-bs"]),
        ("digest", ["digest-mismatch"]),
    ],
)
def test_a_tampered_record(
    reviewed: tuple[GitHubWorld, Emergency, Deployed], field: str, found: list[str]
) -> None:
    w, _, d = reviewed
    if field == "commit":
        change_record(d, 1, to={"tag": "release_3", "commit": w.tags["release_1"]})
    else:
        change_record(d, 1, patch_sha256="0" * 64)
    result = audit(w)
    assert result.exit_code == 4, result.output
    assert f"{found[0]}: deployment #1" in result.stdout
    code, data = audit_json(w)
    assert (code, sorted(kinds(data))) == (4, found)
    if field == "commit":
        message = data["findings"][kinds(data).index("commit-mismatch")]["message"]
        assert w.tags["release_3"][:12] in message and w.tags["release_1"][:12] in message


def test_a_second_deployment_of_one_request(
    reviewed: tuple[GitHubWorld, Emergency, Deployed],
) -> None:
    w, _, d = reviewed
    insert_deployment(d, d.record(), key=f"frontend/{OTHER_ID}")
    code, data = audit_json(w)
    assert code == 4
    (twice,) = [f for f in data["findings"] if f["kind"] == "deployed-twice"]
    assert twice["deployment"] == 2 and "#1 deployed it" in twice["message"]
    assert sorted(kinds(data)) == ["deployed-twice", "record-mismatch"]


def test_a_deployment_with_no_redeemed_link(
    reviewed: tuple[GitHubWorld, Emergency, Deployed],
) -> None:
    w, _, d = reviewed
    with d.engine().begin() as connection:
        connection.execute(delete(link_redemptions))
    code, data = audit_json(w)
    assert (code, kinds(data)) == (4, ["no-redemption"])


def test_a_deployed_follow_up(reviewed: tuple[GitHubWorld, Emergency, Deployed]) -> None:
    w, emergency, d = reviewed
    follow_id = w.fake.pull(REQUESTS, emergency.follow_up).head_ref.rpartition("/")[2]
    record = d.record() | {
        "request": follow_id, "pull_request": emergency.follow_up, "kind": "follow-up",
        "emergency": False,
    }  # fmt: skip
    deployed = insert_deployment(d, record)
    code, data = audit_json(w)
    assert code == 4
    (finding,) = [f for f in data["findings"] if f["kind"] == "follow-up-deployed"]
    assert finding["deployment"] == deployed and "never deployable" in finding["message"]


def test_the_deployed_ref_moved_outside_bs(
    reviewed: tuple[GitHubWorld, Emergency, Deployed],
) -> None:
    w, _, _ = reviewed
    set_deployed(w, "release_2")
    result = audit(w)
    assert result.exit_code == 4, result.output
    assert (
        f"deployed-outside-bs: frontend runs {w.tags['release_2'][:12]} now, but the last "
        f"deployment bs recorded (#1, release_3) deployed {w.tags['release_3'][:12]}"
    ) in result.stdout
    assert audit_json(w)[1]["findings"][0]["kind"] == "deployed-outside-bs"


# -- breaks on GitHub ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["dismissed", "gone"])
def test_an_approval_missing_on_github(
    reviewed: tuple[GitHubWorld, Emergency, Deployed], how: str
) -> None:
    w, emergency, _ = reviewed
    if how == "dismissed":
        assert dismiss_approvals(w, emergency.number, "carol") == 1
    else:  # not on GitHub any more, whatever removed it
        pull = w.fake.pull(REQUESTS, emergency.number)
        pull.reviews = [r for r in pull.reviews if r.user != "carol"]
    result = audit(w)
    assert result.exit_code == 4, result.output
    assert "approval-missing: deployment #1" in result.stdout
    assert "names carol as an approver" in result.stdout
    _, data = audit_json(w)
    assert kinds(data) == ["approval-missing"]
    # --no-reviews skips the cross-check (and its listings), and says so.
    mark = len(w.fake.calls)
    code, data = audit_json(w, "--no-reviews")
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["reviews-not-checked"])
    assert not [c for c in w.fake.calls_since(mark) if c[1].endswith("/reviews")]


# -- an emergency's follow-up ------------------------------------------------------------


def deployed_days_ago(d: Deployed, days: float) -> None:
    """Deployment #1 ran `days` ago (its follow-up was due after review_within, 2 days)."""
    finished = datetime.now(UTC) - timedelta(days=days)
    set_deployment(d, 1, started_at=finished - timedelta(minutes=2), finished_at=finished)


def test_an_emergency_whose_follow_up_is_still_open_breaks_the_chain_once_overdue(
    gh_world: GitHubWorld,
) -> None:
    w = gh_world
    emergency, d = flows(w, reviewed=False)
    code, data = audit_json(w)
    assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["awaiting-review"])
    deployed_days_ago(d, 3)
    result = audit(w)
    assert result.exit_code == 4, result.output
    assert (
        f"emergency-unreviewed: emergency frontend/{emergency.request_id} (deployment #1"
    ) in result.stdout
    assert f"its follow-up #{emergency.follow_up} is not approved yet" in result.stdout
    _, data = audit_json(w)
    assert kinds(data) == ["emergency-unreviewed"]
    (entry,) = [e for e in data["entries"] if e["request"] == emergency.request_id]
    assert entry["findings"] == ["emergency-unreviewed"]


@pytest.mark.parametrize("marker", ["carol", "alice", "lookalike[bot]"])
def test_only_the_apps_mark_approves_a_follow_up(gh_world: GitHubWorld, marker: str) -> None:
    """The follow-up merged with the rules met, but the merge hook never ran: a mark posted
    by a person (or another App's bot) counts for nothing; the App's own does, whoever
    runs the audit (bs.yaml's forge.app names it)."""
    w = gh_world
    emergency, d = flows(w, reviewed=False)
    deployed_days_ago(d, 3)
    if marker not in w.tokens:
        w.tokens[marker] = w.fake.add_user(marker, bot=True)
    w.record_push("opened", emergency.follow_up)
    approve_and_merge(w, emergency.follow_up, "bob", "follow-up-check")
    comment(w, emergency.follow_up, marker, f"{FOLLOW_UP_MARK}\n**Follow-up approved.**\n")
    for user in (BOT, "alice"):
        result = audit(w, user=user)
        assert result.exit_code == 4, result.output
        assert (
            f"its follow-up #{emergency.follow_up} was merged without bs finding"
        ) in result.stdout

    _, closed = hook_closed(w, emergency.follow_up)  # late, but by the App
    assert closed["outcome"] == "follow-up-approved"
    marks = w.fake.repo(REQUESTS).comments[emergency.follow_up]
    assert [c["user"] for c in marks] == [marker, BOT_LOGIN]
    for user in (BOT, "alice"):
        code, data = audit_json(w, user=user)
        assert (code, kinds(data), kinds(data, "notices")) == (0, [], ["reviewed-late"])


# -- what GitHub's listing lacks ---------------------------------------------------------


def test_a_request_merged_and_not_deployed_says_who_merged_it(
    reviewed: tuple[GitHubWorld, Emergency, Deployed],
) -> None:
    """As on the local forge (tests/test_audit_chain.py): the follow-up, merged by bob and
    never deployed (never deployable), is listed with who merged it."""
    w, emergency, _ = reviewed
    code, data = audit_json(w)
    (entry,) = [e for e in data["entries"] if e["pull_request"] == emergency.follow_up]
    assert (code, entry["kind"], entry["state"]) == (0, "follow-up", None)
    assert entry["merged_by"] == "bob"
    (line,) = [x for x in audit(w).stdout.splitlines() if f"(#{emergency.follow_up})" in x]
    assert "not deployed" in line and "merged by bob" in line


def test_without_forge_app_a_persons_audit_does_not_trust_their_own_mark(
    gh_world: GitHubWorld,
) -> None:
    """bs.yaml need not name the App (the workflows give BS_GITHUB_APP_SLUG): then alice,
    auditing with her own token, must not count the mark she posted herself."""
    w = gh_world
    emergency, d = flows(w, reviewed=False)
    deployed_days_ago(d, 3)
    w.record_push("opened", emergency.follow_up)
    approve_and_merge(w, emergency.follow_up, "bob", "follow-up-check")
    comment(w, emergency.follow_up, "alice", f"{FOLLOW_UP_MARK}\n**Follow-up approved.**\n")
    settings = w.checkout / "bs.yaml"
    settings.write_text(settings.read_text().replace(f", app: {BOT}", ""))
    assert "app:" not in settings.read_text()
    assert audit(w, user=BOT).exit_code == 4  # the App's own run is not fooled
    result = w.bs("audit", user="alice")
    assert result.exit_code != 0, result.output
    assert "chain intact" not in result.stdout
