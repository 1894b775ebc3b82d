"""The fake GitHub's state (tests/fakegithub.py) and how it is rendered as GitHub's bodies.

Every body starts from one of the subset's own examples (tests/githubshapes.py), its
``octocat/Hello-World`` URLs retargeted at the fake's API and web roots and the repository or
user in question, and the fields that matter overridden from the state. Webhook payloads start
from ../shared/github/webhooks/ the same way.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing

from tests.fakegithub_git import BareRepo, CommitInfo, TreeEntry
from tests.githubshapes import example, subset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "github"
Body = dict[str, Any]


@dataclass
class Account:
    """A user, bot or organisation."""

    login: str
    id: int
    type: str = "User"
    name: str | None = None
    email: str | None = None  # the public email
    emails: list[str] = field(default_factory=list)  # all verified ones, primary first

    @property
    def noreply(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass
class Token:
    token: str
    login: str
    scopes: str | None  # None: no x-oauth-scopes header (e.g. a fine-grained token)


@dataclass
class Team:
    org: str
    slug: str
    id: int
    members: dict[str, str]  # login -> "member" | "maintainer"


@dataclass
class Review:
    id: int
    user: str
    body: str
    state: str
    commit_id: str
    submitted_at: datetime


@dataclass
class Pull:
    number: int
    id: int
    repo: Repo
    head_repo: Repo
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    user: str
    title: str
    body: str | None
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    draft: bool = False
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    previous_head_sha: str | None = None  # before its last synchronize

    @property
    def label(self) -> str:
        return f"{self.head_repo.owner}:{self.head_ref}"


@dataclass
class Run:
    """A workflow run the fake recorded (a PR opened or moved, a review submitted)."""

    id: int
    run_number: int
    workflow: str
    event: str
    action: str
    repo: Repo
    head_repo: Repo
    head_branch: str
    head_sha: str
    actor: str
    pull_numbers: list[int]
    display_title: str
    created_at: datetime
    status: str = "completed"
    conclusion: str | None = "success"


@dataclass
class Repo:
    full_name: str
    id: int
    git: BareRepo
    default_branch: str
    private: bool
    created_at: datetime
    writers: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)
    readers: set[str] = field(default_factory=set)
    parent: Repo | None = None
    required_contexts: list[str] = field(default_factory=list)
    delete_branch_on_merge: bool = False
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, list[Body]] = field(default_factory=dict)  # issue number -> comments
    statuses: dict[str, list[Body]] = field(default_factory=dict)  # sha -> statuses, oldest first
    deployments: list[Body] = field(default_factory=list)
    deployment_statuses: dict[int, list[Body]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    next_number: int = 1

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]

    @property
    def source(self) -> Repo:
        return self.parent.source if self.parent else self


def first(name: str) -> Body:
    """The first item of the subset's list example `name`."""
    items: list[Body] = subset()["components"]["examples"][name]["value"]
    return copy.deepcopy(items[0])


def stamp(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def fit(ours: Any, template: Any) -> Any:
    """`ours` cut down to `template`'s keys (recursively), `template`'s values where ours lack one."""
    if isinstance(template, dict) and isinstance(ours, dict):
        return {k: fit(ours[k], v) if k in ours else copy.deepcopy(v) for k, v in template.items()}
    if isinstance(template, list) and template and isinstance(ours, list):
        return [fit(item, template[0]) for item in ours]
    return ours


def workflow_number(file_name: str) -> int:
    """A stable id for a workflow file."""
    return int.from_bytes(file_name.encode()[:6].ljust(6, b"\0"), "big") % 10**8 + len(file_name)


def wrap64(content: bytes) -> str:
    """Base64 the way the contents API sends it: lines of 60 characters."""
    text = base64.b64encode(content).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


class Render:
    """Bodies shaped like GitHub's, for the state of a FakeGitHub (see tests/fakegithub.py)."""

    api_url: str
    web_url: str
    now: datetime
    events_workflow: str
    accounts: dict[str, Account]
    teams: dict[tuple[str, str], Team]

    def permission(self, repo: Repo, login: str | None) -> dict[str, bool]:
        raise NotImplementedError

    def _retarget(self, value: Any, *swaps: tuple[str, str]) -> Any:
        text = json.dumps(value)
        for old, new in (
            ("https://api.github.com", self.api_url),
            ("https://github.com", self.web_url),
            *swaps,
        ):
            text = text.replace(old, new)
        return json.loads(text)

    def _ex(self, name: str, *swaps: tuple[str, str], item: bool = False) -> Any:
        value = subset()["components"]["examples"][name]["value"]
        return self._retarget(value[0] if item else value, *swaps)

    # --- users -------------------------------------------------------------------------

    def user_body(self, login: str) -> Body:
        """simple-user."""
        account = self.accounts[login]
        body: Body = self._ex("pull-request", ("octocat", login))["user"]
        body.update(
            id=account.id,
            node_id=node_id("User", account.id),
            avatar_url=f"https://avatars.githubusercontent.com/u/{account.id}?v=4",
            type=account.type,
        )
        return body

    def profile_body(self, login: str, *, private: bool) -> Body:
        """private-user (the caller's own) or public-user."""
        name = (
            "private-user-response-with-public-and-private-profile-information"
            if private
            else "public-user-default-response"
        )
        account = self.accounts[login]
        body: Body = self._ex(name, ("octocat", login))
        body.update(self.user_body(login))
        body.update(
            name=account.name,
            email=account.email,
            company=None,
            blog="",
            location=None,
            bio=None,
            twitter_username=None,
            hireable=None,
            created_at="2020-01-01T00:00:00Z",
        )
        return body

    # --- repositories --------------------------------------------------------------------

    def repo_body(self, repo: Repo, viewer: str | None) -> Body:
        """full-repository (also used, fitted, where a repository or minimal one goes)."""
        body: Body = self._ex(
            "full-repository",
            ("octocat/Hello-World", repo.full_name),
            ("Hello-World", repo.name),
            ("octocat", repo.owner),
        )
        for key in ("template_repository", "parent", "source", "organization"):
            body.pop(key, None)
        owner = self.accounts[repo.owner]
        when = stamp(repo.created_at)
        body.update(
            id=repo.id,
            node_id=node_id("Repository", repo.id),
            owner=self.user_body(repo.owner),
            private=repo.private,
            visibility="private" if repo.private else "public",
            description=None,
            homepage=None,
            fork=repo.parent is not None,
            clone_url=repo.git.url,
            git_url=repo.git.url,
            ssh_url=repo.git.url,
            mirror_url=None,
            license=None,
            topics=[],
            default_branch=repo.default_branch,
            forks=0,
            forks_count=0,
            stargazers_count=0,
            watchers_count=0,
            watchers=0,
            subscribers_count=0,
            network_count=0,
            open_issues_count=sum(p.state == "open" for p in repo.pulls.values()),
            open_issues=sum(p.state == "open" for p in repo.pulls.values()),
            has_discussions=False,
            created_at=when,
            updated_at=when,
            pushed_at=when,
            delete_branch_on_merge=repo.delete_branch_on_merge,
            allow_rebase_merge=False,
            permissions=self.permission(repo, viewer),
        )
        if owner.type == "Organization":
            body["organization"] = self.user_body(repo.owner)
        if repo.parent is not None:
            body["parent"] = fit(
                self.repo_body(repo.parent, viewer), first("repository-items-default-response")
            )
            body["source"] = fit(
                self.repo_body(repo.source, viewer), first("repository-items-default-response")
            )
        return body

    def minimal_repo(self, repo: Repo, viewer: str | None) -> Body:
        template = example("workflow-run")["head_repository"]
        return fit(self.repo_body(repo, viewer), template)  # type: ignore[no-any-return]

    # --- git objects ---------------------------------------------------------------------

    def git_commit_body(self, repo: Repo, info: CommitInfo) -> Body:
        """git-commit."""
        body: Body = self._ex("git-commit", ("octocat/Hello-World", repo.full_name))
        base = f"{self.api_url}/repos/{repo.full_name}"
        html = f"{self.web_url}/{repo.full_name}/commit"
        body.update(
            sha=info.sha,
            node_id=node_id("Commit", int(info.sha[:7], 16)),
            url=f"{base}/git/commits/{info.sha}",
            html_url=f"{html}/{info.sha}",
            author=self._person(info.author),
            committer=self._person(info.committer),
            message=info.message.removesuffix("\n"),
            tree={"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
            parents=[
                {"sha": p, "url": f"{base}/git/commits/{p}", "html_url": f"{html}/{p}"}
                for p in info.parents
            ],
        )
        return body

    def _person(self, person: Any) -> Body:
        return {"name": person.name, "email": person.email, "date": stamp(person.date)}

    def login_for_email(self, email: str) -> str | None:
        for account in self.accounts.values():
            known = {account.noreply, f"{account.login}@users.noreply.github.com"}
            if email == account.email or email in account.emails or email in known:
                return account.login
        return None

    def commit_body(self, repo: Repo, info: CommitInfo, *, files: list[Body] | None) -> Body:
        """commit (with stats and files when `files` is given, as GET commits/{ref} has)."""
        body: Body = self._ex("commit", ("octocat/Hello-World", repo.full_name))
        base = f"{self.api_url}/repos/{repo.full_name}"
        git_body = self.git_commit_body(repo, info)
        inner = body["commit"]
        inner.update(
            url=git_body["url"],
            author=git_body["author"],
            committer=git_body["committer"],
            message=git_body["message"],
            tree=git_body["tree"],
            comment_count=0,
        )
        author = self.login_for_email(info.author.email)
        committer = self.login_for_email(info.committer.email)
        body.update(
            sha=info.sha,
            node_id=git_body["node_id"],
            url=f"{base}/commits/{info.sha}",
            html_url=git_body["html_url"],
            comments_url=f"{base}/commits/{info.sha}/comments",
            author=self.user_body(author) if author else None,
            committer=self.user_body(committer) if committer else None,
            parents=[
                {
                    "sha": p,
                    "url": f"{base}/commits/{p}",
                    "html_url": f"{self.web_url}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
        )
        if files is None:
            del body["stats"], body["files"]
        else:
            adds = sum(f["additions"] for f in files)
            dels = sum(f["deletions"] for f in files)
            body["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
            body["files"] = files
        return body

    def diff_entry(self, repo: Repo, entry: dict[str, Any], ref: str) -> Body:
        body: Body = self._ex("diff-entry-items", item=True)
        path = entry["filename"]
        body.update(entry)
        body.update(
            changes=entry["additions"] + entry["deletions"],
            blob_url=f"{self.web_url}/{repo.full_name}/blob/{ref}/{path}",
            raw_url=f"{self.web_url}/{repo.full_name}/raw/{ref}/{path}",
            contents_url=f"{self.api_url}/repos/{repo.full_name}/contents/{path}?ref={ref}",
        )
        return body

    def ref_body(self, repo: Repo, ref: str, sha: str, kind: str) -> Body:
        """git-ref."""
        base = f"{self.api_url}/repos/{repo.full_name}"
        return {
            "ref": ref,
            "node_id": node_id("Ref", repo.id) + base64.b64encode(ref.encode()).decode(),
            "url": f"{base}/git/{ref}",
            "object": {"type": kind, "sha": sha, "url": f"{base}/git/{kind}s/{sha}"},
        }

    def content_body(
        self, repo: Repo, path: str, entry: TreeEntry, ref: str, blob: bytes | None
    ) -> Body:
        """content-file (with `blob`) or a content-directory item (without)."""
        if blob is not None:
            body: Body = self._ex(
                "content-file-response-if-content-is-a-file", ("octokit/octokit.rb", repo.full_name)
            )
            body.update(encoding="base64", content=wrap64(blob), size=len(blob))
        else:
            body = self._ex(
                "content-file-response-if-content-is-a-directory",
                ("octokit/octokit.rb", repo.full_name),
                item=True,
            )
            body.update(size=entry.size or 0)
            body["type"] = "dir" if entry.type == "tree" else "file"
        base = f"{self.api_url}/repos/{repo.full_name}"
        kind = "trees" if entry.type == "tree" else "blobs"
        view = "tree" if entry.type == "tree" else "blob"
        links = {
            "self": f"{base}/contents/{path}?ref={ref}",
            "git": f"{base}/git/{kind}/{entry.sha}",
            "html": f"{self.web_url}/{repo.full_name}/{view}/{ref}/{path}",
        }
        body.update(
            name=path.rsplit("/", 1)[-1],
            path=path,
            sha=entry.sha,
            url=links["self"],
            git_url=links["git"],
            html_url=links["html"],
            download_url=None
            if entry.type == "tree"
            else f"{self.web_url}/{repo.full_name}/raw/{ref}/{path}",
            _links=links,
        )
        return body

    # --- pull requests -------------------------------------------------------------------

    def pull_body(self, pull: Pull, viewer: str | None, extra: Body | None = None) -> Body:
        """pull-request; `extra` holds the full-only fields (mergeable, commits...)."""
        repo = pull.repo
        body: Body = self._ex(
            "pull-request",
            ("octocat/Hello-World", repo.full_name),
            ("/1347", f"/{pull.number}"),
            ("6dcb09b5b57875f334f61aebed695e2e4193db5e", pull.head_sha),
        )
        body.update(
            id=pull.id,
            node_id=node_id("PullRequest", pull.id),
            number=pull.number,
            state=pull.state,
            locked=False,
            title=pull.title,
            user=self.user_body(pull.user),
            body=pull.body,
            labels=[],
            milestone=None,
            active_lock_reason=None,
            created_at=stamp(pull.created_at),
            updated_at=stamp(pull.updated_at),
            closed_at=stamp(pull.closed_at),
            merged_at=stamp(pull.merged_at),
            merge_commit_sha=pull.merge_commit_sha,
            assignee=None,
            assignees=[],
            requested_reviewers=[self.user_body(login) for login in pull.requested_reviewers],
            requested_teams=[
                self.team_body(pull.repo.owner, slug) for slug in pull.requested_teams
            ],
            head=self._pull_end(pull.head_repo, pull.head_ref, pull.head_sha, viewer),
            base=self._pull_end(pull.repo, pull.base_ref, pull.base_sha, viewer),
            author_association=self.association(repo, pull.user),
            auto_merge=None,
            draft=pull.draft,
        )
        if extra is None:
            simple: Body = fit(body, first("pull-request-simple-items"))
            for team in simple.get("requested_teams") or []:
                team["type"] = "organization"  # required by the schema, absent from its example
            return simple
        body.update(
            merged=pull.merged_at is not None,
            merged_by=self.user_body(pull.merged_by) if pull.merged_by else None,
            comments=len(repo.comments.get(pull.number, [])),
            review_comments=0,
            maintainer_can_modify=False,
            rebaseable=False,
            **extra,
        )
        return body

    def _pull_end(self, repo: Repo, ref: str, sha: str, viewer: str | None) -> Body:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user_body(repo.owner),
            "repo": self.repo_body(repo, viewer),
        }

    def team_body(self, org: str, slug: str) -> Body:
        team = self.teams[(org, slug)]
        body: Body = self._ex(
            "pull-request", ("justice-league", slug), ("orgs/github", f"orgs/{org}")
        )
        body = body["requested_teams"][0]
        url = f"{self.api_url}/organizations/{self.accounts[org].id}/team/{team.id}"
        body.update(
            id=team.id,
            node_id=node_id("Team", team.id),
            url=url,
            members_url=f"{url}/members{{/member}}",
            repositories_url=f"{url}/repos",
            html_url=f"{self.web_url}/orgs/{org}/teams/{slug}",
            name=slug,
            description=None,
            permission="pull",
            type="organization",
        )
        return body

    def association(self, repo: Repo, login: str) -> str:
        if login == repo.owner:
            return "OWNER"
        if login in repo.writers | repo.admins:
            return "COLLABORATOR"
        if any(p.user == login and p.merged_at for p in repo.pulls.values()):
            return "CONTRIBUTOR"
        return "NONE"

    def review_body(self, pull: Pull, review: Review) -> Body:
        body: Body = self._ex(
            "pull-request-review-items",
            ("octocat/Hello-World", pull.repo.full_name),
            ("pull/12", f"pull/{pull.number}"),
            ("pulls/12", f"pulls/{pull.number}"),
            ("-80", f"-{review.id}"),
            item=True,
        )
        body.update(
            id=review.id,
            node_id=node_id("PullRequestReview", review.id),
            user=self.user_body(review.user),
            body=review.body,
            state=review.state,
            commit_id=review.commit_id,
            submitted_at=None if review.state == "PENDING" else stamp(review.submitted_at),
            author_association=self.association(pull.repo, review.user),
        )
        if review.state == "PENDING":
            del body["submitted_at"]
        return body

    def run_body(self, run: Run, viewer: str | None) -> Body:
        """workflow-run."""
        repo = run.repo
        body: Body = self._ex(
            "workflow-run", ("octo-org/octo-repo", repo.full_name), ("30433642", str(run.id))
        )
        info = repo.git.commit_info(run.head_sha) if repo.git.object_type(run.head_sha) else None
        pulls = [repo.pulls[n] for n in run.pull_numbers]
        body.update(
            id=run.id,
            name=run.workflow.removesuffix(".yml").removesuffix(".yaml"),
            node_id=node_id("WorkflowRun", run.id),
            head_branch=run.head_branch,
            head_sha=run.head_sha,
            path=f".github/workflows/{run.workflow}",
            run_number=run.run_number,
            event=run.event,
            display_title=run.display_title,
            status=run.status,
            conclusion=run.conclusion,
            workflow_id=workflow_number(run.workflow),
            pull_requests=[self._minimal_pull(p) for p in pulls],
            created_at=stamp(run.created_at),
            updated_at=stamp(run.created_at),
            run_started_at=stamp(run.created_at),
            actor=self.user_body(run.actor),
            triggering_actor=self.user_body(run.actor),
            referenced_workflows=[],
            repository=self.minimal_repo(repo, viewer),
            head_repository=self.minimal_repo(run.head_repo, viewer),
        )
        if info is not None:
            body["head_commit"] = {
                "id": info.sha,
                "tree_id": info.tree,
                "message": info.message.removesuffix("\n"),
                "timestamp": stamp(info.committer.date),
                "author": {"name": info.author.name, "email": info.author.email},
                "committer": {"name": info.committer.name, "email": info.committer.email},
            }
        return body

    def workflow_body(self, repo: Repo, workflow: str) -> Body:
        """A workflow (by file name or id) of `repo`: any name is a workflow on this GitHub."""
        if workflow.isdigit():
            workflow = next(
                (r.workflow for r in repo.runs if str(workflow_number(r.workflow)) == workflow),
                self.events_workflow,
            )
        number = workflow_number(workflow)
        path = f".github/workflows/{workflow}"
        return {
            "id": number,
            "node_id": node_id("Workflow", number),
            "name": workflow.rsplit(".", 1)[0],
            "path": path,
            "state": "active",
            "created_at": stamp(repo.created_at),
            "updated_at": stamp(repo.created_at),
            "url": f"{self.api_url}/repos/{repo.full_name}/actions/workflows/{number}",
            "html_url": f"{self.web_url}/{repo.full_name}/blob/{repo.default_branch}/{path}",
            "badge_url": f"{self.web_url}/{repo.full_name}/workflows/{workflow.rsplit('.', 1)[0]}/badge.svg",
        }

    def _minimal_pull(self, pull: Pull) -> Body:
        def end(repo: Repo, ref: str, sha: str) -> Body:
            url = f"{self.api_url}/repos/{repo.full_name}"
            return {"ref": ref, "sha": sha, "repo": {"id": repo.id, "url": url, "name": repo.name}}

        return {
            "id": pull.id,
            "number": pull.number,
            "url": f"{self.api_url}/repos/{pull.repo.full_name}/pulls/{pull.number}",
            "head": end(pull.head_repo, pull.head_ref, pull.head_sha),
            "base": end(pull.repo, pull.base_ref, pull.base_sha),
        }

    # --- webhooks ------------------------------------------------------------------------

    def webhook_payload(
        self, kind: str, action: str, pull: Pull, sender: str, review: Review | None, extra: Body
    ) -> Body:
        """An event payload from ../shared/github/webhooks/, filled from the state (`extra`:
        the pull request's mergeability and size, as GET pulls/{n} has them)."""
        source = "closed" if action == "merged" else action
        payload: Body = json.loads(
            (SHARED / "webhooks" / kind / f"{source}.payload.json").read_text()
        )
        viewer = None
        full = self.pull_body(pull, viewer, extra=extra)
        payload["pull_request"] = fit(full, payload["pull_request"])
        payload["repository"] = fit(self.repo_body(pull.repo, viewer), payload["repository"])
        payload["sender"] = fit(self.user_body(sender), payload["sender"])
        payload.pop("installation", None)
        payload.pop("organization", None)
        owner = self.accounts[pull.repo.owner]
        if owner.type == "Organization":
            sample = SHARED / "webhooks" / "pull_request" / "opened.with-organization.payload.json"
            template = json.loads(sample.read_text())["organization"]
            organization: Body = self._retarget(template, ("Octocoders", owner.login))
            organization.update(
                id=owner.id,
                node_id=node_id("Organization", owner.id),
                avatar_url=f"https://avatars.githubusercontent.com/u/{owner.id}?v=4",
            )
            payload["organization"] = organization
        if kind == "pull_request":
            payload["action"] = source
            payload["number"] = pull.number
            if action == "synchronize":
                payload["before"] = pull.previous_head_sha or pull.head_sha
                payload["after"] = pull.head_sha
        if review is not None:
            payload["review"] = fit(self.review_body(pull, review), payload["review"])
            payload["review"]["state"] = review.state.lower()
        for end in ("head", "base"):
            for key in ("repo", "user"):
                template = payload["pull_request"][end][key]
                payload["pull_request"][end][key] = fit(full[end][key], template)
        return payload


@cache
def _webhook_registry() -> referencing.Registry[Any]:
    resources = []
    for path in (SHARED / "webhook-schemas").rglob("*.schema.json"):
        schema = json.loads(path.read_text())
        uri = path.relative_to(SHARED / "webhook-schemas").as_posix()
        if schema.get("$id", uri) != uri:
            resources.append(
                (
                    schema["$id"],
                    referencing.Resource.from_contents(schema, referencing.jsonschema.DRAFT7),
                )
            )
        resources.append(
            (uri, referencing.Resource.from_contents(schema, referencing.jsonschema.DRAFT7))
        )
    return referencing.Registry().with_resources(resources)


def validate_webhook(kind: str, action: str, payload: Body) -> None:
    """`payload` against ../shared/github/webhook-schemas/<kind>/<action>.schema.json."""
    path = SHARED / "webhook-schemas" / kind / f"{action}.schema.json"
    schema = json.loads(path.read_text())
    jsonschema.Draft7Validator(schema, registry=_webhook_registry()).validate(payload)
