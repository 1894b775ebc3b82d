"""``bs check``: gather the facts about a request's pull request, then judge them.

Everything the verdict depends on is read here, from trusted places: the
policy and the app registry from the requests repo's default branch, the
request and patch from the pull request's head commit as data, the release's
diff and digest recomputed from the app's own repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bs import gitcmd
from bs.config import AppConfig
from bs.core.checks import IntegrityFacts, locate_request_files, run_checks
from bs.core.evaluate import evaluate_policy
from bs.core.facts import ApprovalFacts, ReleaseFacts, ReviewFact
from bs.core.policy import Policy
from bs.core.pulls import PullRequest, Push
from bs.core.request import ReleaseRequest
from bs.core.verdict import STATUS_CONTEXT, Verdict, judge
from bs.core.words import count_noun
from bs.deployed import source_for
from bs.errors import BsError
from bs.patchcheck import digest_committed_patch
from bs.patchfile import hash_patch
from bs.policyfiles import CommitTree, Policies
from bs.ports import Forge
from bs.validation import validate_document
from bs.yamlio import MAX_YAML_BYTES, parse_yaml_with_lines


@dataclass
class CheckReport:
    verdict: Verdict
    pull: PullRequest
    request: ReleaseRequest | None
    app: AppConfig | None
    approval_facts: ApprovalFacts | None
    #: Lines describing the request, shown above the explanation.
    heading: list[str] = field(default_factory=list)
    status_posted: bool = False


def trusted_policies(forge: Forge, requests_repo: str) -> Policies:
    """``policies/`` as on the requests repo's default branch, as the forge has it now."""
    branch = forge.default_branch(requests_repo)
    commit = forge.resolve_branch(requests_repo, branch)
    if commit is None:
        raise BsError(f"{requests_repo} has no default branch {branch}: push it first.")
    return Policies(CommitTree(forge.git_dir(requests_repo), commit, branch))


def _read_request(
    forge: Forge, repo: str, pull: PullRequest, path: str
) -> tuple[ReleaseRequest | None, str | None]:
    git_dir = forge.git_dir(repo)
    size = gitcmd.blob_size(git_dir, pull.head_sha, path)
    if size is None:
        return None, f"{path} is not in the pull request's head commit"
    if size > MAX_YAML_BYTES:
        return None, f"{path} is {size} bytes: too large for a request file"
    try:
        text = gitcmd.read_blob(git_dir, pull.head_sha, path).decode("utf-8")
        data, lines = parse_yaml_with_lines(text, path)
        return validate_document(ReleaseRequest, data, path, lines), None
    except UnicodeDecodeError:
        return None, f"{path} is not UTF-8 text"
    except BsError as exc:
        return None, " ".join(exc.message.split())


def check_pull_request(
    forge: Forge, requests_repo: str, number: int, *, post_status: bool
) -> CheckReport:
    """Evaluate pull request `number`; post ``bs/policy`` on its head when asked."""
    pull = forge.get_pull_request(requests_repo, number)
    policies = trusted_policies(forge, requests_repo)
    default_branch = forge.default_branch(requests_repo)
    files = tuple(forge.list_pull_files(requests_repo, number))
    located = locate_request_files(files)
    pushes = forge.list_pushes(requests_repo, number)
    head_pusher = next((p.pusher for p in reversed(pushes) if p.head_sha == pull.head_sha), None)
    state: Literal["open", "closed", "merged"] = "merged" if pull.merged else pull.state
    integrity = IntegrityFacts(
        pull_state=state, base=pull.base, default_branch=default_branch, files=files,
        author=pull.author, head_pushed_by=head_pusher,
        known_apps=tuple(policies.apps.apps),
    )  # fmt: skip
    request: ReleaseRequest | None = None
    app: AppConfig | None = None
    approval: ApprovalFacts | None = None
    policy: Policy | None = None
    policy_name: str | None = None
    if located.request_path is not None and located.patch_path is not None:
        request, error = _read_request(forge, requests_repo, pull, located.request_path)
        integrity = _replace(integrity, request_path=located.request_path, patch_path=located.patch_path,
                             request=request, request_error=error)  # fmt: skip
    if request is not None and request.app in policies.apps.apps:
        app = policies.apps.apps[request.app]
        policy_name = app.policy
        policy = policies.policy(app.policy)
        release, integrity = _release_facts(forge, requests_repo, pull, request, app, integrity)
        approval = _approval_facts(forge, requests_repo, pull, policy, release, pushes)
    checks = run_checks(integrity)
    result = (
        evaluate_policy(policy, approval) if policy is not None and approval is not None else None
    )
    if result is None and not any(c.ok is False for c in checks):
        raise BsError("the request could not be read, so its policy could not be evaluated")
    verdict = judge(checks, policy_name, result)
    report = CheckReport(verdict, pull, request, app, approval, _heading(pull, request))
    if post_status and pull.state == "open":
        forge.set_status(
            requests_repo,
            pull.head_sha,
            STATUS_CONTEXT,
            verdict.status_state,
            verdict.status_description,
        )
        report.status_posted = True
    return report


def _replace(facts: IntegrityFacts, **changes: object) -> IntegrityFacts:
    from dataclasses import replace

    return replace(facts, **changes)  # type: ignore[arg-type]


def _release_facts(
    forge: Forge,
    repo: str,
    pull: PullRequest,
    request: ReleaseRequest,
    app: AppConfig,
    integrity: IntegrityFacts,
) -> tuple[ReleaseFacts, IntegrityFacts]:
    git_dir = forge.git_dir(app.repo)
    to = request.to.commit
    pinned_from = request.from_.commit if request.from_ else None
    tag_now = None
    if request.to.tag is not None:
        tag_now = next(
            (t.commit for t in forge.list_tags(app.repo) if t.name == request.to.tag), None
        )
    deployed_now = source_for(app, forge).deployed_commit(request.app, app)
    changes: dict[str, object] = {"tag_commit_now": tag_now, "deployed_now": deployed_now}
    release = ReleaseFacts(first_deploy=pinned_from is None)
    present = gitcmd.resolve_commit(git_dir, to) == to and (
        pinned_from is None or gitcmd.resolve_commit(git_dir, pinned_from) == pinned_from
    )
    if not present:
        changes["patch_error"] = (
            f"the request's commits are not in {app.repo}: it does not describe a release of {request.app}"
        )
        changes["digest_from_git"] = None
        changes["to_descends"] = False
        return release, _replace(integrity, **changes)
    changes["to_descends"] = pinned_from is not None and gitcmd.is_ancestor(
        git_dir, pinned_from, to
    )
    digest, stats = hash_patch(git_dir, pinned_from, to)
    changes["digest_from_git"] = digest
    if integrity.patch_path is None:
        changes["patch_error"] = "the pull request adds no patch file to compare"
    else:
        # The patch the pull request adds, never a path the (untrusted) YAML names.
        try:
            changes["digest_of_patch_file"] = digest_committed_patch(
                forge.git_dir(repo), pull.head_sha, integrity.patch_path
            )
        except BsError as exc:
            changes["patch_error"] = exc.message
    release = ReleaseFacts(
        paths=gitcmd.changed_paths(git_dir, pinned_from, to),
        insertions=stats.insertions,
        deletions=stats.deletions,
        commits=gitcmd.count_commits(git_dir, pinned_from, to),
        first_deploy=pinned_from is None,
    )
    return release, _replace(integrity, **changes)


def _approval_facts(
    forge: Forge,
    repo: str,
    pull: PullRequest,
    policy: Policy,
    release: ReleaseFacts,
    pushes: list[Push],
) -> ApprovalFacts:
    reviews = sorted(forge.list_reviews(repo, pull.number), key=lambda r: (r.submitted_at, r.id))
    # Everyone else who contributed to the branch; the requester is ruled by allow_author.
    contributors: dict[str, str] = {}
    for push in pushes:
        contributors.setdefault(push.pusher, "pushed to the request's branch")
    for commit in forge.list_pull_commits(repo, pull.number):
        if commit.author:
            contributors.setdefault(commit.author, "authored a commit on the request's branch")
        if commit.committer:
            contributors.setdefault(commit.committer, "committed on the request's branch")
    contributors.pop(pull.author, None)
    teams = {team: sorted(forge.team_members(team)) for team in sorted(policy.teams())}
    return ApprovalFacts(
        requester=pull.author,
        head=pull.head_sha,
        reviews=[
            ReviewFact(user=r.user, state=r.state, commit=r.commit_id, body=r.body) for r in reviews
        ],
        contributors=contributors,
        teams=teams,
        release=release,
    )


def _heading(pull: PullRequest, request: ReleaseRequest | None) -> list[str]:
    lines = [
        f"Pull request #{pull.number} by {pull.author}, head {pull.head_sha[:12]}: {pull.title}"
    ]
    if request is not None:
        start = (
            (request.from_.tag or request.from_.commit[:12]) if request.from_ else "first deploy"
        )
        end = request.to.tag or request.to.commit[:12]
        lines.append(
            f"Request {request.id}: {request.app} {start} -> {end}, "
            f"{count_noun(request.patch.files_changed, 'file')}, "
            f"+{request.patch.insertions} -{request.patch.deletions}, {count_noun(request.patch.commits, 'commit')}"
        )
    return lines
