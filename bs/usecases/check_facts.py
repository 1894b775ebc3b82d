"""Gathering the facts `bs check` judges: the request files, the release, the approvals.

The request and its patch are read from the pull request's head commit as
data (the safe YAML loader; regular files only). The release is recomputed
from the app's repository: its tag, what is deployed, its diff, digest and
counts. Everything is pinned to the one head commit being judged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bs import gitcmd
from bs.config import AppConfig
from bs.core.checks import IntegrityFacts
from bs.core.facts import ApprovalFacts, ReleaseFacts, ReviewFact
from bs.core.policy import Policy
from bs.core.pulls import PullRequest, Push
from bs.core.request import ReleaseRequest
from bs.core.versions import tag_for_commit
from bs.deployed import source_for
from bs.errors import BsError
from bs.patchcheck import digest_committed_patch
from bs.patchfile import hash_patch
from bs.ports import Forge
from bs.requestfile import load_request
from bs.usecases.releases import release_commits
from bs.yamlio import MAX_YAML_BYTES

REGULAR_FILE = "100644"


def read_request(
    git_dir: Path, head_sha: str, path: str
) -> tuple[ReleaseRequest | None, str | None]:
    """The request file at `path` in the head commit, or why it cannot be read."""
    mode = gitcmd.blob_mode(git_dir, head_sha, path)
    if mode is None:
        return None, f"{path} is not in the pull request's head commit"
    if mode != REGULAR_FILE:
        return None, f"{path} is not a regular file (mode {mode}): a request file is plain YAML"
    size = gitcmd.blob_size(git_dir, head_sha, path)
    if size is None or size > MAX_YAML_BYTES:  # never read a huge blob to find out
        return None, f"{path} is {size} bytes: too large for a request file"
    try:
        return load_request(gitcmd.read_blob(git_dir, head_sha, path), path), None
    except BsError as exc:
        return None, " ".join(exc.message.split())


def release_facts(
    forge: Forge,
    requests_repo: str,
    head_sha: str,
    request: ReleaseRequest,
    app: AppConfig,
    integrity: IntegrityFacts,
) -> tuple[ReleaseFacts, IntegrityFacts]:
    """What the release is now, in the app's repository, for the checks and the policy."""
    git_dir = forge.git_dir(app.repo)
    scheme = app.tags.to_scheme()
    to = request.to.commit
    pinned = request.from_
    pinned_from = pinned.commit if pinned else None
    tag_refs = forge.list_tags(app.repo)
    tags = {t.name: t.commit for t in tag_refs}
    changes: dict[str, Any] = {
        "scheme": scheme,
        "tag_commit_now": tags.get(request.to.tag) if request.to.tag else None,
        "deployed_tag_now": tag_for_commit(scheme, tag_refs, pinned_from) if pinned_from else None,
        "deployed_now": source_for(app, forge).deployed_commit(request.app, app),
    }
    changes.update(_committed_patch(forge, requests_repo, head_sha, integrity))
    release = ReleaseFacts(first_deploy=pinned_from is None)
    present = gitcmd.resolve_commit(git_dir, to) == to and (
        pinned_from is None or gitcmd.resolve_commit(git_dir, pinned_from) == pinned_from
    )
    if not present:
        changes["patch_error"] = (
            f"the request's commits are not in {app.repo}: it does not describe a release of {request.app}"
        )
        changes["digest_of_patch_file"] = None
        changes["to_descends"] = False
        return release, replace(integrity, **changes)
    changes["to_descends"] = pinned_from is not None and gitcmd.is_ancestor(
        git_dir, pinned_from, to
    )
    if request.rollback:
        changes["from_descends"] = pinned_from is not None and gitcmd.is_ancestor(
            git_dir, to, pinned_from
        )
    digest, stats = hash_patch(git_dir, pinned_from, to)
    commits = release_commits(git_dir, pinned_from, to, rollback=request.rollback)
    changes["digest_from_git"] = digest
    changes["stats_from_git"] = (stats.files_changed, stats.insertions, stats.deletions, commits)
    release = ReleaseFacts(
        paths=gitcmd.changed_paths(git_dir, pinned_from, to),
        insertions=stats.insertions,
        deletions=stats.deletions,
        commits=commits,
        first_deploy=pinned_from is None,
    )
    return release, replace(integrity, **changes)


def _committed_patch(
    forge: Forge, requests_repo: str, head_sha: str, integrity: IntegrityFacts
) -> dict[str, Any]:
    """The digest of the patch the pull request adds (never a path the YAML names)."""
    path = integrity.patch_path
    if path is None:
        return {"patch_error": "the pull request adds no patch file to compare"}
    git_dir = forge.git_dir(requests_repo)
    mode = gitcmd.blob_mode(git_dir, head_sha, path)
    if mode is not None and mode != REGULAR_FILE:
        return {
            "patch_error": f"{path} is not a regular file (mode {mode}): a patch is a plain file"
        }
    try:
        return {"digest_of_patch_file": digest_committed_patch(git_dir, head_sha, path)}
    except BsError as exc:
        return {"patch_error": exc.message}


def approval_facts(
    forge: Forge,
    repo: str,
    pull: PullRequest,
    request: ReleaseRequest,
    policy_name: str,
    policy: Policy,
    release: ReleaseFacts,
    pushes: list[Push],
) -> ApprovalFacts:
    """Who asked, who reviewed which commit, who contributed to the branch, who is in which team."""
    reviews = sorted(forge.list_reviews(repo, pull.number), key=lambda r: (r.submitted_at, r.id))
    if pull.merged and pull.merged_at is not None:
        # What was merged is judged on the reviews it had then: an approval given after
        # an admin merge (GitHub takes reviews on merged pull requests) cannot mint a link.
        reviews = [r for r in reviews if r.submitted_at <= pull.merged_at]
    # Everyone else who contributed to the branch; the requester is ruled by allow_author.
    contributors: dict[str, str] = {}
    for push in pushes:
        contributors.setdefault(push.pusher, "pushed to the request's branch")
    for commit in forge.list_pull_commits(repo, pull.number, pull.head_sha):
        if commit.author:
            contributors.setdefault(commit.author, "authored a commit on the request's branch")
        if commit.committer:
            contributors.setdefault(commit.committer, "committed on the request's branch")
    # A follow-up's pull request is opened by bs (or anyone): its requester is the
    # emergency's, and whoever opened it is one more contributor.
    requester = request.requested_by if request.follow_up_of is not None else pull.author
    if requester.lower() != pull.author.lower():
        contributors.setdefault(pull.author, "opened the follow-up pull request")
    for login in [c for c in contributors if c.lower() == requester.lower()]:
        del contributors[login]
    teams: dict[str, list[str]] = {}
    for team in sorted(policy.teams(request.kind)):
        if not forge.team_exists(team):
            # An unknown team would silently be an empty one: a typo in disapproval
            # would then let a rejection go unheard.
            raise BsError(
                f"policy {policy_name} names team {team}, which does not exist on the forge: "
                f"fix policies/{policy_name}.yaml (`bs policy validate` finds these)."
            )
        teams[team] = sorted(forge.team_members(team))
    return ApprovalFacts(
        kind=request.kind,
        requester=requester,
        head=pull.head_sha,
        reviews=[
            ReviewFact(user=r.user, state=r.state, commit=r.commit_id, body=r.body) for r in reviews
        ],
        contributors=contributors,
        teams=teams,
        release=release,
    )
