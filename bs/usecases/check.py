"""``bs check``: gather the facts about a request's pull request, then judge them.

Everything the verdict depends on is read here, from trusted places: the
policy and the app registry from the requests repo's default branch, the
request and patch from the pull request's head commit as data, the release's
diff and digest recomputed from the app's own repository.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import Literal

from bs.config import AppConfig
from bs.core.checks import CheckResult, IntegrityFacts, locate_request_files, run_checks
from bs.core.evaluate import evaluate_policy
from bs.core.facts import ApprovalFacts
from bs.core.policy import Policy
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, request_file_path
from bs.core.verdict import STATUS_CONTEXT, Verdict, error_verdict, judge
from bs.core.words import count_noun
from bs.errors import BsError
from bs.policyfiles import CommitTree, Policies
from bs.ports import Forge
from bs.usecases.check_facts import approval_facts, read_request, release_facts


@dataclass
class CheckReport:
    verdict: Verdict
    pull: PullRequest
    request: ReleaseRequest | None
    app: AppConfig | None
    approval_facts: ApprovalFacts | None
    #: The policy judged, as read from the default branch.
    policy: Policy | None = None
    #: Lines describing the request, shown above the explanation.
    heading: list[str] = field(default_factory=list)
    status_posted: bool = False


def trusted_policies(forge: Forge, requests_repo: str, branch: str) -> Policies:
    """``policies/`` as on the requests repo's default branch, as the forge has it now."""
    commit = default_commit(forge, requests_repo, branch)
    return Policies(CommitTree(forge.git_dir(requests_repo), commit, branch))


def default_commit(forge: Forge, requests_repo: str, branch: str) -> str:
    commit = forge.resolve_branch(requests_repo, branch)
    if commit is None:
        raise BsError(f"{requests_repo} has no default branch {branch}: push it first.")
    return commit


def followed_emergency(
    forge: Forge, requests_repo: str, branch: str, request: ReleaseRequest
) -> tuple[ReleaseRequest | None, str | None]:
    """The emergency request a follow-up reviews, as merged on the default branch."""
    assert request.follow_up_of is not None
    path = request_file_path(request.app, request.follow_up_of)
    commit = default_commit(forge, requests_repo, branch)
    found, error = read_request(forge.git_dir(requests_repo), commit, path)
    if found is None and error is not None and "is not in the pull request's head" in error:
        error = f"{path} is not on {branch}: a follow-up reviews a merged emergency request"
    return found, error


def check_pull_request(
    forge: Forge, requests_repo: str, number: int, *, post_status: bool
) -> CheckReport:
    """Evaluate pull request `number`; post ``bs/policy`` on its head when asked.

    When the facts cannot be gathered (a broken policy on the default branch, an
    unknown team), the status says so as `error`, so the pull request shows why
    it cannot merge; the BsError is raised on to the caller.
    """
    pull = forge.get_pull_request(requests_repo, number)
    try:
        return _check(forge, requests_repo, pull, post_status=post_status)
    except BsError as exc:
        if post_status and pull.state == "open":
            verdict = error_verdict(exc.message)
            with contextlib.suppress(BsError):  # the forge itself may be what failed
                forge.set_status(
                    requests_repo, pull.head_sha, STATUS_CONTEXT,
                    verdict.status_state, verdict.status_description,
                )  # fmt: skip
        raise


def _check(
    forge: Forge, requests_repo: str, pull: PullRequest, *, post_status: bool
) -> CheckReport:
    number = pull.number
    default_branch = forge.default_branch(requests_repo)
    policies = trusted_policies(forge, requests_repo, default_branch)
    # Every fact below is about this one head commit, whatever is pushed meanwhile.
    files = tuple(forge.list_pull_files(requests_repo, number, pull.head_sha))
    if pull.base == default_branch and not any(f.path.startswith("requests/") for f in files):
        return _posted(forge, requests_repo, _not_a_request(pull), post_status=post_status)
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
        git_dir = forge.git_dir(requests_repo)
        request, error = read_request(git_dir, pull.head_sha, located.request_path)
        integrity = replace(integrity, request_path=located.request_path, patch_path=located.patch_path,
                            request=request, request_error=error)  # fmt: skip
    if request is not None and request.app in policies.apps.apps:
        app = policies.apps.apps[request.app]
        policy_name = app.policy
        policy = policies.policy(app.policy)
        release, integrity = release_facts(
            forge, requests_repo, pull.head_sha, request, app, integrity
        )
        if request.follow_up_of is not None:
            followed, followed_error = followed_emergency(
                forge, requests_repo, default_branch, request
            )
            integrity = replace(integrity, followed=followed, followed_error=followed_error)
        approval = approval_facts(
            forge, requests_repo, pull, request, app.policy, policy, release, pushes
        )
    checks = run_checks(integrity)
    result = (
        evaluate_policy(policy, approval) if policy is not None and approval is not None else None
    )
    if result is None and not any(c.ok is False for c in checks):
        raise BsError("the request could not be read, so its policy could not be evaluated")
    verdict = judge(checks, policy_name, result)
    report = CheckReport(verdict, pull, request, app, approval, policy, _heading(pull, request))
    return _posted(forge, requests_repo, report, post_status=post_status)


def _posted(
    forge: Forge, requests_repo: str, report: CheckReport, *, post_status: bool
) -> CheckReport:
    """`report`, its verdict posted as bs/policy on the head when asked (open pull requests)."""
    pull, verdict = report.pull, report.verdict
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


#: The verdict on a pull request that touches nothing under requests/ (a policy or code
#: change): not bs's to judge. The ruleset's code-owner review and approvals govern it,
#: and a required bs/policy must not block it forever. The hooks leave it alone.
NOT_A_REQUEST = "Not a release request (nothing under requests/): code owners review it"


def _not_a_request(pull: PullRequest) -> CheckReport:
    check = CheckResult("files", True, "it changes nothing under requests/: not a release request")
    verdict = Verdict("met", NOT_A_REQUEST, (check,), None, None)
    return CheckReport(verdict, pull, None, None, None, None, _heading(pull, None))


def _heading(pull: PullRequest, request: ReleaseRequest | None) -> list[str]:
    # Only what was checked: the YAML's own counts are compared with git's by the stats check.
    lines = [
        f"Pull request #{pull.number} by {pull.author}, head {pull.head_sha[:12]}: {pull.title}"
    ]
    if request is not None:
        start = (
            (request.from_.tag or request.from_.commit[:12]) if request.from_ else "first deploy"
        )
        end = request.to.tag or request.to.commit[:12]
        lines.append(
            f"{request.noun} {request.id}: {request.app} {start} -> {end}, "
            f"{count_noun(request.patch.files_changed, 'file')}, "
            f"+{request.patch.insertions} -{request.patch.deletions}, {count_noun(request.patch.commits, 'commit')}"
        )
    return lines
