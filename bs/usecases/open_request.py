"""Opening a release request: `bs open-request APP TAG`.

Resolve what is deployed, refuse anything not strictly newer, stream the
complete patch to a file while hashing it, write the request YAML, then commit
both on a new branch of the requests repo and open a pull request. If anything
fails after the branch is pushed, the branch is deleted again: no branch is
ever left without its pull request.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bs import gitcmd
from bs.core.ids import new_request_id
from bs.core.pulls import PullRequest
from bs.core.request import (
    MAX_REASON_CHARS,
    PatchInfo,
    ReleaseRequest,
    VersionRef,
    patch_file_path,
    request_branch,
    request_file_path,
)
from bs.core.versions import Version, judge_newer, judge_older
from bs.errors import BsError
from bs.patchfile import PatchResult, ProgressFn, write_patch
from bs.policyfiles import Policies, WorkingTree
from bs.ports import Forge
from bs.usecases.releases import read_releases, release_commits
from bs.usecases.request_body import pull_request_body, pull_request_title
from bs.usecases.requesters import check_may_request
from bs.workspace import Workspace
from bs.yamlio import dump_yaml


@dataclass(frozen=True)
class OpenedRequest:
    request: ReleaseRequest
    request_file: str
    patch_file: str
    patch: PatchResult
    pull_request: PullRequest | None
    #: For a dry run: the folder holding the files that would have been committed.
    dry_run_dir: Path | None


def open_request(
    workspace: Workspace,
    forge: Forge,
    app: str,
    tag: str,
    *,
    reason: str | None,
    dry_run: bool,
    emergency: bool = False,
    rollback: bool = False,
    now: Callable[[], datetime],
    random_bytes: Callable[[int], bytes],
    progress: ProgressFn | None = None,
) -> OpenedRequest:
    config = workspace.app(app)
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise BsError(f"--reason is {len(reason)} characters: keep it under {MAX_REASON_CHARS}.")
    if emergency and not (reason or "").strip():
        raise BsError(
            "an emergency request must say why: add --reason TEXT (what is broken, and why it "
            "cannot wait for the usual review)."
        )
    user = forge.current_user()
    policies = Policies(WorkingTree(workspace.root))
    # The checker enforces the policy's requesters; refusing here saves a useless request.
    check_may_request(policies, app, user, forge)
    if emergency:
        _check_emergency_allowed(policies, app, config.policy)
    # Fail before the long work if the requests repository is not there.
    base = forge.default_branch(workspace.config.requests_repo)
    releases = read_releases(forge, app, config)
    wanted = releases.find_tag(tag)
    requested = Version(wanted.commit, wanted.name)
    git_dir = forge.git_dir(config.repo)
    deployed = releases.deployed
    if rollback:
        older = deployed is not None and gitcmd.is_ancestor(
            git_dir, requested.commit, deployed.commit
        )
        judge_older(app, releases.scheme, deployed, requested, deployed_contains_requested=older)
    else:
        contains = deployed is None or gitcmd.is_ancestor(
            git_dir, deployed.commit, requested.commit
        )
        judge_newer(app, releases.scheme, deployed, requested, requested_contains_deployed=contains)
    from_commit = deployed.commit if deployed else None

    when = now()
    request_id = new_request_id(when, random_bytes(16))
    work = Path(tempfile.mkdtemp(prefix=f"bs-request-{request_id}-"))
    try:
        patch = write_patch(
            git_dir,
            from_commit,
            requested.commit,
            work / f"{request_id}.patch",
            compress_above=workspace.config.patch.compress_above,
            max_stored=workspace.config.patch.max_stored,
            progress=progress,
        )
        commits = release_commits(git_dir, from_commit, requested.commit, rollback=rollback)
        patch_path = patch_file_path(app, request_id, compressed=patch.compressed)
        request = ReleaseRequest(
            id=request_id,
            app=app,
            requested_by=user,
            requested_at=when,
            from_=VersionRef(tag=deployed.tag, commit=deployed.commit) if deployed else None,
            to=VersionRef(tag=requested.tag, commit=requested.commit),
            patch=PatchInfo(
                file=patch_path,
                sha256=patch.sha256,
                files_changed=patch.stats.files_changed,
                insertions=patch.stats.insertions,
                deletions=patch.stats.deletions,
                commits=commits,
            ),
            reason=reason or None,
            emergency=emergency,
            rollback=rollback,
            requester_email=forge.user_email(user),
        )
        yaml_path = work / f"{request_id}.yaml"
        yaml_path.write_text(dump_yaml(request.to_document()), encoding="utf-8")
        request_path = request_file_path(app, request_id)
        if dry_run:
            return OpenedRequest(request, request_path, patch_path, patch, None, work)
        pull = _push_and_open(
            workspace, forge, request, git_dir, patch, base,
            files=[(request_path, yaml_path), (patch_path, patch.path)],
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return OpenedRequest(request, request_path, patch_path, patch, pull, None)


def _check_emergency_allowed(policies: Policies, app: str, policy_name: str) -> None:
    policy = policies.policy(policy_name)
    if policy.emergency is None:
        raise BsError(
            f"{app}'s policy {policy_name} has no emergency: section, so it allows no emergency "
            f"requests: ask without --emergency, or add one to policies/{policy_name}.yaml "
            '(see README.md, "Emergencies").'
        )


def _push_and_open(
    workspace: Workspace,
    forge: Forge,
    request: ReleaseRequest,
    git_dir: Path,
    patch: PatchResult,
    base: str,
    files: list[tuple[str, Path]],
) -> PullRequest:
    repo = workspace.config.requests_repo
    branch = request_branch(request.app, request.id)
    title = pull_request_title(request)
    body = pull_request_body(request, git_dir, patch)
    forge.create_branch(repo, branch, base, files, title)
    try:
        return forge.open_pull_request(repo, head=branch, base=base, title=title, body=body)
    except BaseException:
        # No branch without its pull request.
        forge.delete_branch(repo, branch)
        raise
