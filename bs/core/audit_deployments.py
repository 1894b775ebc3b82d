"""The checks of one recorded deployment against its request, its pull request and the
merge hook's mark (for `bs.core.audit.verify_chain`): pure, each problem a kind and a
message naming the deployment and what to do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bs.core.audit_facts import DeploymentFacts, MergedRequest, instant, iso, short
from bs.core.pulls import PullRequest, Review, approves_before_merge


def deployment_problems(
    deployment: DeploymentFacts,
    found: MergedRequest | None,
    earlier: DeploymentFacts | None,
    reviews: Mapping[int, Sequence[Review]] | None,
) -> list[tuple[str, str]]:
    d, key = deployment, deployment.key
    name = f"deployment #{d.id} ({key})"
    problems: list[tuple[str, str]] = []
    if d.record_key is None:
        # Nothing in it can be compared: say that, not every comparison that fails.
        return [("record-mismatch", f"{name}: its record does not name its app and request; "
                 "the gateway always writes them. Find out who wrote it.")]  # fmt: skip
    if d.field("app") != d.app:
        problems.append(("record-mismatch", f"deployment #{d.id} is filed under app {d.app} "
                         f"but its record names {d.field('app')}; the gateway writes both from "
                         "one request. Find out who changed the row."))  # fmt: skip
    if d.record_key != d.request_key:
        problems.append(("record-mismatch", f"deployment #{d.id} is stored under "
                         f"{d.request_key} but its record names {d.record_key}; the gateway "
                         "writes both from one request. Find out who changed the row."))  # fmt: skip
    if not d.redeemed:
        problems.append(("no-redemption", f"{name} has no redeemed deploy link in the store; the "
                         "gateway creates a deployment only when a link is redeemed, so this row "
                         "was written outside bs. Find out who wrote it."))  # fmt: skip
    if earlier is not None:
        problems.append(("deployed-twice", f"{name} deploys {key} again: deployment "
                         f"#{earlier.id} deployed it on {iso(earlier.at)}. A request is deployed "
                         "once; to deploy a release again, open a new request."))  # fmt: skip
    request = found.request if found else None
    if found is None or request is None or found.pull is None or not found.pull.merged:
        problems.append(("no-request", f"{name}: {_missing(found, key)}; the gateway deploys only "
                         "requests merged through a pull request. Find out what was deployed "
                         "and who recorded it."))  # fmt: skip
        return problems
    pull = found.pull
    commit, digest = d.text("to", "commit"), d.text("patch_sha256")
    if commit != request.to.commit:
        problems.append(("commit-mismatch", f"{name} deployed {short(commit)}, but the request "
                         f"pins {request.to.tag or '(untagged)'} {request.to.commit[:12]}; check "
                         "what was deployed, and who changed the record."))  # fmt: skip
    if digest != request.patch.sha256:
        problems.append(("digest-mismatch", f"{name} records patch SHA-256 {short(digest)}, but "
                         f"the request pins {request.patch.sha256[:12]}; the reviewed diff is not "
                         "the one recorded. Check who changed the record."))  # fmt: skip
    if d.field("pull_request") != pull.number or d.pull_request != pull.number:
        problems.append(("record-mismatch", f"{name} names pull request #{d.field('pull_request')}"
                         f" (row: #{d.pull_request}), but #{pull.number} merged the request."))  # fmt: skip
    elif d.text("head") != pull.head_sha:
        problems.append(("record-mismatch", f"{name} records the reviewed head "
                         f"{short(d.text('head'))}, but pull request #{pull.number} merged "
                         f"{pull.head_sha[:12]}."))  # fmt: skip
    if request.kind == "follow-up":
        problems.append(("follow-up-deployed", f"{name} deploys a follow-up request, which "
                         f"reviews emergency {request.follow_up_of} after the fact and is never "
                         "deployable. Find out how it was deployed."))  # fmt: skip
    if reviews is not None:
        problems += _approvals(name, d, pull, reviews.get(pull.number, ()))
    return problems


def merge_mark(
    d: DeploymentFacts, found: MergedRequest | None, marks: Mapping[int, str] | None
) -> list[tuple[str, str]]:
    """The merge hook re-evaluates the policy from trusted code and marks the pull request
    it minted a link for: a deployed request without that mark was not approved."""
    pull = found.pull if found else None
    if marks is None or pull is None or not pull.merged:
        return []
    mark = marks.get(pull.number, "")
    if mark == "approval":
        return []
    said = "refused it (its policy was not met)" if mark == "no-link" else "left no approval mark"
    return [("not-approved", f"deployment #{d.id} ({d.key}): the merge hook {said} on pull "
             f"request #{pull.number}: bs minted no link for it, so its policy was not met "
             "when it merged. Find out how it was deployed.")]  # fmt: skip


def _approvals(
    name: str, d: DeploymentFacts, pull: PullRequest, reviews: Sequence[Review]
) -> list[tuple[str, str]]:
    """Each approver the record names must have approved its reviewed head before the merge."""
    if not d.approvers:
        return [("approval-missing", f"{name}: its record names no approver.")]
    head = d.text("head") or pull.head_sha
    merged_at = pull.merged_at or instant(d.text("merged_at"))  # the forge says when
    missing = []
    for user in d.approvers:
        if not any(
            r.user.lower() == user.lower() and approves_before_merge(r, head, merged_at)
            for r in reviews
        ):
            missing.append(user)
    return [
        ("approval-missing", f"{name}: its record names {user} as an approver, but pull request "
         f"#{pull.number} has no approval by {user} of the reviewed head {head[:12]} before the "
         f"merge ({iso(merged_at)}). Check its reviews: one was removed, or the record forged.")
        for user in missing
    ]  # fmt: skip


def _missing(found: MergedRequest | None, key: str) -> str:
    if found is None:
        return f"no request {key} is on the default branch"
    if found.request is None:
        return f"its request file {found.path} cannot be read ({found.problem})"
    if found.pull is None:
        return (f"request {key} reached the default branch in {found.commit[:12]}, not through "
                "a merged pull request")  # fmt: skip
    return f"the pull request of request {key}, #{found.pull.number}, is not merged"
