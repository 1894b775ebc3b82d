"""The fake GitHub's pull request routes (tests/fakegithub.py): pulls, reviews, review
requests, merges and issue comments."""

from __future__ import annotations

from typing import Any

from tests.fakegithub_git import Person
from tests.fakegithub_model import Body, Pull, Repo, Review
from tests.fakegithub_routes import ApiError, Ctx, array_of, invalid, route

R = "/repos/{owner}/{repo}"
P = R + "/pulls/{pull_number}"


def _head(ctx: Ctx, base: Repo, head: str) -> tuple[Repo, str]:
    """The repository and branch `head` ("branch" or "owner:branch") names."""
    owner, _, branch = head.rpartition(":")
    if not owner or owner == base.owner:
        return base, branch
    fork = next(
        (r for r in ctx.fake.repos.values() if r.owner == owner and r.source is base.source), None
    )
    if fork is None:
        raise invalid("head is invalid", field_="head")
    return fork, branch


def pull_extra(pull: Pull) -> Body:
    """The pull-request fields a listing lacks: mergeability and size."""
    git = pull.repo.git
    base_tip = git.resolve(f"refs/heads/{pull.base_ref}") or pull.base_sha
    merged = pull.merged_at is not None
    mergeable: bool | None
    if pull.state == "open":
        clean = git.merge_tree(base_tip, pull.head_sha) is not None
        mergeable, state = clean, "clean" if clean else "dirty"
    else:
        mergeable, state = (None if not merged else False), "unknown"
    start = pull.base_sha if merged else git.merge_base(base_tip, pull.head_sha)
    commits = git.rev_list(start, pull.head_sha)
    files = git.diff_entries(start, pull.head_sha)
    return {
        "mergeable": mergeable,
        "mergeable_state": state,
        "commits": len(commits),
        "additions": sum(f["additions"] for f in files),
        "deletions": sum(f["deletions"] for f in files),
        "changed_files": len(files),
    }


def full(ctx: Ctx, pull: Pull) -> Body:
    return ctx.fake.pull_body(pull, ctx.login, extra=pull_extra(pull))


@route("POST", R + "/pulls")
def create_pull(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    fake, body = ctx.fake, ctx.body
    if not body.get("title"):
        raise invalid("title is missing", field_="title")
    head_repo, head_ref = _head(ctx, r, body.get("head", ""))
    base_ref = body.get("base", "")
    head_sha = head_repo.git.resolve(f"refs/heads/{head_ref}")
    base_sha = r.git.resolve(f"refs/heads/{base_ref}")
    if head_sha is None:
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        )
    if base_sha is None:
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
        )
    label = f"{head_repo.owner}:{head_ref}"
    if any(
        p.state == "open" and p.label == label and p.base_ref == base_ref for p in r.pulls.values()
    ):
        raise invalid(f"A pull request already exists for {label}.")
    r.git.fetch(head_repo.git, head_sha)
    if r.git.is_ancestor(head_sha, base_sha):
        raise invalid(f"No commits between {base_ref} and {head_ref}")
    number = r.next_number
    r.next_number += 1
    pull = Pull(
        number=number, id=fake.next_id(), repo=r, head_repo=head_repo, head_ref=head_ref,
        base_ref=base_ref, head_sha=head_sha, base_sha=base_sha, user=ctx.login,
        title=body["title"], body=body.get("body"), created_at=fake.now, updated_at=fake.now,
        draft=bool(body.get("draft", False)),
    )  # fmt: skip
    r.pulls[number] = pull
    r.git.update_ref(f"refs/pull/{number}/head", head_sha)
    fake.record_run(pull, "pull_request", "opened", ctx.login)
    return 201, full(ctx, pull)


@route("GET", R + "/pulls")
def list_pulls(ctx: Ctx, owner: str, repo: str) -> tuple[int, list[Body]]:
    r = ctx.repo(owner, repo)
    q = ctx.query
    state = q.get("state", "open")
    pulls = [
        p
        for p in r.pulls.values()
        if state in ("all", p.state)
        and q.get("head", p.label) == p.label
        and q.get("base", p.base_ref) == p.base_ref
    ]
    pulls.sort(key=lambda p: (p.created_at, p.number), reverse=q.get("direction", "desc") == "desc")
    return 200, [ctx.fake.pull_body(p, ctx.login) for p in ctx.page(pulls)]


@route("GET", P)
def get_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, Body]:
    return 200, full(ctx, ctx.pull(owner, repo, pull_number))


@route("PATCH", P)
def update_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, Body]:
    pull = ctx.pull(owner, repo, pull_number)
    fake = ctx.fake
    if ctx.login != pull.user and not fake.permission(pull.repo, ctx.login)["push"]:
        raise ApiError(403, "Must have push access to repository.")
    for key in ("title", "body"):
        if key in ctx.body:
            setattr(pull, key, ctx.body[key])
    state = ctx.body.get("state")
    if state == "closed" and pull.state == "open":
        pull.state, pull.closed_at = "closed", fake.now
        pull.base_sha = pull.repo.git.resolve(f"refs/heads/{pull.base_ref}") or pull.base_sha
    elif state == "open" and pull.state == "closed":
        if pull.merged_at is not None:
            raise invalid("Cannot reopen a merged pull request", field_="state")
        sha = pull.head_repo.git.resolve(f"refs/heads/{pull.head_ref}")
        if sha is None:
            raise invalid("state cannot be changed. The head branch was deleted.", field_="state")
        pull.state, pull.closed_at = "open", None
        fake.move_head(pull, sha, ctx.login, "reopened")
    pull.updated_at = fake.now
    return 200, full(ctx, pull)


@route("GET", P + "/commits")
def pull_commits(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, list[Body]]:
    pull = ctx.pull(owner, repo, pull_number)
    git = pull.repo.git
    start = pull.base_sha if pull.merged_at else git.merge_base(pull.base_sha, pull.head_sha)
    shas = git.rev_list(start, pull.head_sha)
    infos = [git.commit_info(sha) for sha in ctx.page(shas)]
    return 200, [ctx.fake.commit_body(pull.repo, info, files=None) for info in infos]


@route("GET", P + "/files")
def pull_files(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, list[Body]]:
    pull = ctx.pull(owner, repo, pull_number)
    git = pull.repo.git
    start = git.merge_base(pull.base_sha, pull.head_sha)
    entries = git.diff_entries(start, pull.head_sha)
    return 200, [ctx.fake.diff_entry(pull.repo, e, pull.head_sha) for e in ctx.page(entries)]


# --- reviews ----------------------------------------------------------------------------


@route("GET", P + "/reviews")
def list_reviews(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, list[Body]]:
    pull = ctx.pull(owner, repo, pull_number)
    reviews = [rv for rv in pull.reviews if rv.state != "PENDING" or rv.user == ctx.login]
    return 200, [ctx.fake.review_body(pull, rv) for rv in ctx.page(reviews)]


@route("POST", P + "/reviews", schema="pull-request-review")
def create_review(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, Body]:
    pull = ctx.pull(owner, repo, pull_number)
    fake, body = ctx.fake, ctx.body
    event = body.get("event")
    states = {
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
        "COMMENT": "COMMENTED",
        None: "PENDING",
    }
    if event not in states:
        raise invalid(
            f"event {event!r} is not one of APPROVE, REQUEST_CHANGES, COMMENT",
            "PullRequestReview",
            "event",
        )
    if pull.state != "open" and event is not None:
        raise ApiError(
            422, "Unprocessable Entity", [{"code": "custom", "message": "Pull request is closed"}]
        )
    if ctx.login == pull.user and event in ("APPROVE", "REQUEST_CHANGES"):
        what = "approve" if event == "APPROVE" else "request changes on"
        raise ApiError(
            422,
            "Unprocessable Entity",
            [{"code": "custom", "message": f"Can not {what} your own pull request"}],
        )
    if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body"):
        raise ApiError(
            422,
            "Unprocessable Entity",
            [{"code": "custom", "message": f"Body is required for {event}"}],
        )
    commit_id = body.get("commit_id") or pull.head_sha
    if pull.repo.git.object_type(commit_id) != "commit":
        raise invalid("commit_id is not part of the pull request", "PullRequestReview", "commit_id")
    pending = any(rv.user == ctx.login and rv.state == "PENDING" for rv in pull.reviews)
    if pending:
        raise ApiError(
            422,
            "Unprocessable Entity",
            [
                {
                    "code": "custom",
                    "message": "User can only have one pending review per pull request",
                }
            ],
        )
    review = Review(
        fake.next_id(), ctx.login, body.get("body") or "", states[event], commit_id, fake.now
    )
    pull.reviews.append(review)
    if event is not None:
        if ctx.login in pull.requested_reviewers:
            pull.requested_reviewers.remove(ctx.login)
        fake.record_run(pull, "pull_request_review", "submitted", ctx.login)
    return 200, fake.review_body(pull, review)


@route("PUT", P + "/reviews/{review_id}/dismissals", schema="pull-request-review")
def dismiss_review(
    ctx: Ctx, owner: str, repo: str, pull_number: str, review_id: str
) -> tuple[int, Body]:
    pull = ctx.pull(owner, repo, pull_number, "push")
    review = next((rv for rv in pull.reviews if str(rv.id) == review_id), None)
    if review is None:
        raise ApiError(404)
    if not ctx.body.get("message"):
        raise invalid("message is missing", "PullRequestReview", "message")
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        raise ApiError(
            422,
            "Unprocessable Entity",
            [{"code": "custom", "message": "Can not dismiss a commented pull request review"}],
        )
    review.state = "DISMISSED"
    return 200, ctx.fake.review_body(pull, review)


@route("POST", P + "/requested_reviewers")
def request_reviewers(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, Body]:
    pull = ctx.pull(owner, repo, pull_number, "push")
    fake = ctx.fake
    reviewers, teams = ctx.body.get("reviewers", []), ctx.body.get("team_reviewers", [])
    for login in reviewers:
        if login == pull.user:
            raise invalid("Review cannot be requested from pull request author.")
        if login not in fake.accounts or not fake.permission(pull.repo, login)["push"]:
            raise invalid(
                "Reviews may only be requested from collaborators. One or more of the users or teams"
                f" you specified is not a collaborator of the {pull.repo.full_name} repository."
            )
    for slug in teams:
        if (pull.repo.owner, slug) not in fake.teams:
            raise invalid(
                "Reviews may only be requested from collaborators. One or more of the users or teams"
                f" you specified is not a collaborator of the {pull.repo.full_name} repository."
            )
    pull.requested_reviewers += [x for x in reviewers if x not in pull.requested_reviewers]
    pull.requested_teams += [x for x in teams if x not in pull.requested_teams]
    return 201, fake.pull_body(pull, ctx.login)


@route("PUT", P + "/merge")
def merge_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> tuple[int, Body]:
    pull = ctx.pull(owner, repo, pull_number, "push")
    fake, body, git = ctx.fake, ctx.body, pull.repo.git
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise invalid("merge_method is invalid", field_="merge_method")
    if method not in fake.allowed_merge_methods:
        raise ApiError(405, f"{method.capitalize()} merges are not allowed on this repository.")
    if pull.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    statuses = pull.repo.statuses.get(pull.head_sha, [])
    for context in pull.repo.required_contexts:
        latest = [s for s in statuses if s["context"] == context]
        if not latest or latest[-1]["state"] != "success":
            raise ApiError(405, f'Required status check "{context}" is expected.')
    base_tip = git.resolve(f"refs/heads/{pull.base_ref}")
    assert base_tip is not None
    tree = git.merge_tree(base_tip, pull.head_sha)
    if tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    merger = fake.person(ctx.login)
    github = Person("GitHub", "noreply@github.com", fake.now)
    if method == "squash":
        title = body.get("commit_title") or f"{pull.title} (#{pull.number})"
        parents = [base_tip]
    else:
        title = (
            body.get("commit_title")
            or f"Merge pull request #{pull.number} from {pull.label.replace(':', '/')}"
        )
        parents = [base_tip, pull.head_sha]
    message = body.get("commit_message", pull.title if method == "merge" else "")
    text = f"{title}\n\n{message}\n" if message else f"{title}\n"
    sha = git.commit_tree(tree, parents, text, merger, github)
    git.update_ref(f"refs/heads/{pull.base_ref}", sha)
    pull.base_sha = base_tip
    pull.state, pull.closed_at, pull.merged_at = "closed", fake.now, fake.now
    pull.merged_by, pull.merge_commit_sha, pull.updated_at = ctx.login, sha, fake.now
    if pull.repo.delete_branch_on_merge and pull.head_repo is pull.repo:
        git.delete_ref(f"refs/heads/{pull.head_ref}")
    fake.sync(ctx.login)
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


# --- issue comments ---------------------------------------------------------------------


def _comment_body(ctx: Ctx, r: Repo, number: int, c: Body) -> Body:
    body: Body = ctx.fake._ex(
        "issue-comment", ("octocat/Hello-World", r.full_name), ("/1347", f"/{number}")
    )
    api = f"{ctx.fake.api_url}/repos/{r.full_name}/issues"
    body.update(
        id=c["id"],
        node_id=f"IC_{c['id']}",
        url=f"{api}/comments/{c['id']}",
        html_url=f"{ctx.fake.web_url}/{r.full_name}/pull/{number}#issuecomment-{c['id']}",
        body=c["body"],
        user=ctx.fake.user_body(c["user"]),
        created_at=c["created_at"],
        updated_at=c["created_at"],
        issue_url=f"{api}/{number}",
        author_association=ctx.fake.association(r, c["user"]),
    )
    return body


def _issue(ctx: Ctx, owner: str, repo: str, issue_number: str) -> tuple[Repo, int]:
    pull = ctx.pull(owner, repo, issue_number)
    return pull.repo, pull.number


@route("POST", R + "/issues/{issue_number}/comments")
def create_comment(ctx: Ctx, owner: str, repo: str, issue_number: str) -> tuple[int, Body]:
    r, number = _issue(ctx, owner, repo, issue_number)
    if not ctx.body.get("body"):
        raise invalid("body is missing", "IssueComment", "body")
    from tests.fakegithub_model import stamp

    comment: dict[str, Any] = {
        "id": ctx.fake.next_id(),
        "body": ctx.body["body"],
        "user": ctx.login,
        "created_at": stamp(ctx.fake.now),
    }
    r.comments.setdefault(number, []).append(comment)
    return 201, _comment_body(ctx, r, number, comment)


@route("GET", R + "/issues/{issue_number}/comments", schema=array_of("issue-comment"))
def list_comments(ctx: Ctx, owner: str, repo: str, issue_number: str) -> tuple[int, list[Body]]:
    r, number = _issue(ctx, owner, repo, issue_number)
    comments = r.comments.get(number, [])
    return 200, [_comment_body(ctx, r, number, c) for c in ctx.page(comments)]
