"""The fake GitHub's routes (tests/fakegithub.py): one handler per REST operation.

A handler gets a `Ctx` (the fake, the caller, the query and JSON body) and the path's
parameters, and returns (status, body) or raises `ApiError`. Its body is validated against the
operation's response schema in the subset (or, for the few operations the subset lacks, the
component schema named on the route).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakegithub_git import EMPTY_TREE, Person
from tests.fakegithub_model import (
    Body,
    Pull,
    Repo,
    Token,
    first,
    fit,
    stamp,
    workflow_number,
)
from tests.githubshapes import example, subset

if TYPE_CHECKING:
    from tests.fakegithub import FakeGitHub

DOCS = "https://docs.github.com/rest"
MESSAGES = {
    400: "Bad Request",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Validation Failed",
}


class ApiError(Exception):
    """An error answer, shaped like GitHub's basic-error (or validation-error for 422)."""

    def __init__(
        self, status: int, message: str | None = None, errors: list[Body] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = (
            status,
            message or MESSAGES.get(status, "Error"),
            errors,
        )

    @property
    def schema(self) -> str:
        return "validation-error" if self.errors is not None else "basic-error"

    def body(self) -> Body:
        body: Body = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid(message: str, resource: str = "PullRequest", field_: str | None = None) -> ApiError:
    error: Body = {"resource": resource, "code": "custom", "message": message}
    if field_:
        error.update(field=field_, code="invalid")
    return ApiError(422, "Validation Failed", [error])


@dataclass
class Ctx:
    fake: FakeGitHub
    method: str
    path: str
    query: dict[str, str]
    body: Body
    login: str
    token: Token
    headers: dict[str, str] = field(default_factory=dict)

    def repo(self, owner: str, name: str, need: str = "pull") -> Repo:
        repo = self.fake.repos.get(f"{owner}/{name}")
        if repo is None or not self.fake.permission(repo, self.login)[need]:
            if (
                repo is not None
                and need != "pull"
                and self.fake.permission(repo, self.login)["pull"]
            ):
                raise ApiError(403, f"Must have {need} access to repository.")
            raise ApiError(404)
        return repo

    def pull(self, owner: str, name: str, number: str, need: str = "pull") -> Pull:
        repo = self.repo(owner, name, need)
        pull = repo.pulls.get(int(number)) if number.isdigit() else None
        if pull is None:
            raise ApiError(404)
        return pull

    def page(self, items: list[Any]) -> list[Any]:
        return self.fake.page(self, items)

    def need_scope(self, *accepted: str) -> None:
        scopes = self.token.scopes
        if scopes is not None and not {s.strip() for s in scopes.split(",")} & set(accepted):
            status = self.fake.missing_scope_status
            raise ApiError(
                status,
                "Resource not accessible by personal access token" if status == 403 else None,
            )

    def person(self, given: Body | None) -> Person:
        me = self.fake.person(self.login, noreply=True)
        if not given:
            return me
        return Person(given.get("name", me.name), given.get("email", me.email), self.fake.now)


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Callable[..., tuple[int, Any]]
    override: Any = None
    same_as: str | None = None

    def schema(self, status: int) -> Any:
        operation = (
            subset()["paths"].get(self.same_as or self.template, {}).get(self.method.lower())
        )
        if operation is None:
            return self.override
        response = operation["responses"].get(str(status), {})
        return response.get("content", {}).get("application/json", {}).get("schema")


ROUTES: list[Route] = []


def route(
    method: str, template: str, schema: Any = None, same_as: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler for `template` (an OpenAPI path); its 2xx bodies are validated
    against the subset's schema for that operation (or `same_as`'s), else `schema`."""

    def pattern(match: re.Match[str]) -> str:
        name = match.group(1)
        return {"ref": f"(?P<{name}>.+)", "path": f"(?P<{name}>.*)"}.get(name, f"(?P<{name}>[^/]+)")

    regex = re.compile(re.sub(r"\{(\w+)\}", pattern, template))

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(Route(method, template, regex, handler, schema, same_as))
        return handler

    return register


def array_of(name: str) -> Body:
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}


R = "/repos/{owner}/{repo}"


# --- users and teams -------------------------------------------------------------------


@route("GET", "/user")
def get_user(ctx: Ctx) -> tuple[int, Body]:
    account = ctx.fake.accounts.get(ctx.login)
    if account is None or account.type == "Bot":  # an App's installation token
        raise ApiError(403, "Resource not accessible by integration")
    return 200, ctx.fake.profile_body(ctx.login, private=True)


@route("GET", "/users/{username}")
def get_a_user(ctx: Ctx, username: str) -> tuple[int, Body]:
    if username not in ctx.fake.accounts:
        raise ApiError(404)
    return 200, ctx.fake.profile_body(username, private=False)


@route("GET", "/user/emails")
def get_emails(ctx: Ctx) -> tuple[int, list[Body]]:
    ctx.need_scope("user", "user:email")
    account = ctx.fake.accounts[ctx.login]
    return 200, ctx.page(
        [
            {
                "email": e,
                "verified": True,
                "primary": i == 0,
                "visibility": "public" if e == account.email else "private",
            }
            for i, e in enumerate(account.emails)
        ]
    )


def _team(ctx: Ctx, org: str, slug: str) -> Any:
    """The team by org login and slug, or (PyGithub follows a team's own `url`) by the
    ids in ``/organizations/{org_id}/team/{team_id}``."""
    ctx.need_scope("read:org", "write:org", "admin:org")
    team = ctx.fake.teams.get((org, slug))
    if team is None and org.isdigit():
        team = next((t for t in ctx.fake.teams.values() if str(t.id) == slug), None)
        if team is not None and str(ctx.fake.accounts[team.org].id) != org:
            team = None
    if team is None:
        raise ApiError(404)
    return team


TEAM = "/orgs/{org}/teams/{team_slug}"
TEAM_BY_ID = "/organizations/{org}/team/{team_slug}"


@route("GET", TEAM, schema="team-full")
@route("GET", TEAM_BY_ID, schema="team-full")
def get_team(ctx: Ctx, org: str, team_slug: str) -> tuple[int, Body]:
    team = _team(ctx, org, team_slug)
    fake = ctx.fake
    body: Body = fake._ex("team-full-items", item=True)
    base = fake.team_body(team.org, team.slug)
    body.update({k: v for k, v in base.items() if k in body})
    body.update(
        type="organization",
        members_count=len(team.members),
        repos_count=0,
        created_at="2020-01-01T00:00:00Z",
        updated_at="2020-01-01T00:00:00Z",
        organization=_org_body(ctx, team.org),
    )
    return 200, body


def _org_body(ctx: Ctx, org: str) -> Body:
    """team-organization (the shape of GET /orgs/{org} too)."""
    fake, account = ctx.fake, ctx.fake.accounts[org]
    body: Body = fake._ex("team-full-items", ("orgs/github", f"orgs/{org}"), item=True)[
        "organization"
    ]
    body.update(
        login=org,
        id=account.id,
        node_id=f"O_{account.id}",
        name=org,
        description=None,
        is_verified=False,
        archived_at=None,
        public_repos=sum(r.owner == org and not r.private for r in fake.repos.values()),
        public_gists=0,
        followers=0,
        html_url=f"{fake.web_url}/{org}",
        avatar_url=f"https://avatars.githubusercontent.com/u/{account.id}?v=4",
        created_at="2020-01-01T00:00:00Z",
        updated_at="2020-01-01T00:00:00Z",
    )
    for key in ("company", "blog", "location", "email"):  # null on GitHub; the schema says string
        body.pop(key, None)
    return body


@route("GET", "/orgs/{org}", schema="team-organization")
def get_org(ctx: Ctx, org: str) -> tuple[int, Body]:
    account = ctx.fake.accounts.get(org)
    if account is None or account.type != "Organization":
        raise ApiError(404)
    return 200, _org_body(ctx, org)


@route("GET", TEAM + "/members")
@route("GET", TEAM_BY_ID + "/members", same_as=TEAM + "/members")
def team_members(ctx: Ctx, org: str, team_slug: str) -> tuple[int, list[Body]]:
    team = _team(ctx, org, team_slug)
    role = ctx.query.get("role", "all")
    template = first("team-member-items")
    members = []
    for login, their_role in team.members.items():
        if role in ("all", their_role):
            members.append(
                fit({**ctx.fake.user_body(login), "role": their_role, "inherited": False}, template)
            )
    return 200, ctx.page(members)


@route("GET", TEAM + "/memberships/{username}")
@route("GET", TEAM_BY_ID + "/memberships/{username}", same_as=TEAM + "/memberships/{username}")
def team_membership(ctx: Ctx, org: str, team_slug: str, username: str) -> tuple[int, Body]:
    team = _team(ctx, org, team_slug)
    if username not in team.members:
        raise ApiError(404)
    url = f"{ctx.fake.api_url}/organizations/{ctx.fake.accounts[team.org].id}/team/{team.id}/memberships/{username}"
    return 200, {"url": url, "role": team.members[username], "state": "active"}


@route("GET", "/rate_limit")
def rate_limit(ctx: Ctx) -> tuple[int, Body]:
    body: Body = example("rate-limit-overview")
    fake = ctx.fake
    used = fake._rate_used[ctx.token.token]
    core = {
        "limit": fake.rate_limit,
        "used": used,
        "remaining": fake.rate_limit - used,
        "reset": fake.rate_reset,
    }
    body["resources"]["core"] = core
    body["rate"] = dict(core)
    return 200, body


# --- repositories, refs and git objects --------------------------------------------------


@route("GET", R)
def get_repo(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    return 200, ctx.fake.repo_body(ctx.repo(owner, repo), ctx.login)


@route("GET", R + "/collaborators/{username}/permission")
def collaborator_permission(ctx: Ctx, owner: str, repo: str, username: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    if username not in ctx.fake.accounts:
        raise ApiError(404)
    perms = ctx.fake.permission(r, username)
    levels = [("admin", "admin"), ("push", "write"), ("pull", "read")]
    name = next((level for key, level in levels if perms[key]), "none")
    body: Body = example(
        "repository-collaborator-permission-response-if-user-has-admin-permissions"
    )
    user = ctx.fake.user_body(username)
    user.update(permissions=perms, role_name=name)
    body.update(permission=name, role_name=name, user=user)
    return 200, body


@route("GET", R + "/tags")
def list_tags(ctx: Ctx, owner: str, repo: str) -> tuple[int, list[Body]]:
    r = ctx.repo(owner, repo)
    api = f"{ctx.fake.api_url}/repos/{r.full_name}"
    tags = sorted(
        r.git.refs("refs/tags/").items(), key=lambda item: _version_key(item[0]), reverse=True
    )
    bodies = [
        {
            "name": (name := ref.removeprefix("refs/tags/")),
            "commit": {"sha": peeled, "url": f"{api}/commits/{peeled}"},
            "zipball_url": f"{api}/zipball/refs/tags/{name}",
            "tarball_url": f"{api}/tarball/refs/tags/{name}",
            "node_id": f"MDM6UmVm{r.id}{name}",
        }
        for ref, (_sha, _kind, peeled) in tags
    ]
    return 200, ctx.page(bodies)


def _version_key(ref: str) -> list[Any]:
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", ref)
    ]


def _ref(r: Repo, ref: str) -> tuple[str, str]:
    found = r.git.refs(f"refs/{ref}").get(f"refs/{ref}")
    if found is None:
        raise ApiError(404)
    return found[0], found[1]


@route("GET", R + "/git/ref/{ref}")
def get_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    sha, kind = _ref(r, ref)
    return 200, ctx.fake.ref_body(r, f"refs/{ref}", sha, kind)


@route("POST", R + "/git/refs")
def create_ref(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    ref, sha = ctx.body.get("ref", ""), ctx.body.get("sha", "")
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise invalid(
            "Reference name must start with 'refs/' and have at least two slashes.", "Reference"
        )
    if ref in r.git.refs(ref):
        raise invalid("Reference already exists", "Reference")
    kind = r.git.object_type(sha) if re.fullmatch(r"[0-9a-f]{40}", sha or "") else None
    if kind is None:
        raise invalid("Object does not exist", "Reference")
    r.git.update_ref(ref, sha)
    ctx.fake.sync(ctx.login)
    return 201, ctx.fake.ref_body(r, ref, sha, kind)


@route("PATCH", R + "/git/refs/{ref}")
def update_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    sha = ctx.body.get("sha", "")
    found = r.git.refs(f"refs/{ref}").get(f"refs/{ref}")
    if found is None:
        raise invalid("Reference does not exist", "Reference")
    kind = r.git.object_type(sha) if re.fullmatch(r"[0-9a-f]{40}", sha) else None
    if kind is None:
        raise invalid("Object does not exist", "Reference")
    if not ctx.body.get("force") and not r.git.is_ancestor(found[0], sha):
        raise invalid("Update is not a fast forward", "Reference")
    r.git.update_ref(f"refs/{ref}", sha)
    ctx.fake.sync(ctx.login)
    return 200, ctx.fake.ref_body(r, f"refs/{ref}", sha, kind)


@route("DELETE", R + "/git/refs/{ref}")
def delete_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> tuple[int, None]:
    r = ctx.repo(owner, repo, "push")
    if f"refs/{ref}" not in r.git.refs(f"refs/{ref}"):
        raise invalid("Reference does not exist", "Reference")
    r.git.delete_ref(f"refs/{ref}")
    ctx.fake.sync(ctx.login)
    return 204, None


@route("GET", R + "/branches/{branch}")
def get_branch(ctx: Ctx, owner: str, repo: str, branch: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    sha = r.git.resolve(f"refs/heads/{branch}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    body: Body = ctx.fake._ex("branch-get", ("octocat/Hello-World", r.full_name))
    commit = ctx.fake.commit_body(r, r.git.commit_info(sha), files=None)
    body.update(
        name=branch,
        commit=fit(commit, body["commit"]),
        _links={
            "self": f"{ctx.fake.api_url}/repos/{r.full_name}/branches/{branch}",
            "html": f"{ctx.fake.web_url}/{r.full_name}/tree/{branch}",
        },
        protected=False,
        protection={
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        protection_url=f"{ctx.fake.api_url}/repos/{r.full_name}/branches/{branch}/protection",
    )
    return 200, body


def _commit_sha(r: Repo, ref: str) -> str:
    sha = r.git.resolve(ref) if re.fullmatch(r"[0-9a-f]{40}", ref) else None
    sha = sha or r.git.resolve(f"refs/heads/{ref}") or r.git.resolve(f"refs/tags/{ref}")
    sha = sha or (r.git.resolve(ref) if re.fullmatch(r"[0-9a-f]{4,40}", ref) else None)
    if sha is None:
        raise invalid(f"No commit found for SHA: {ref}", "Commit")
    return sha


@route("GET", R + "/git/commits/{commit_sha}")
def get_git_commit(ctx: Ctx, owner: str, repo: str, commit_sha: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    if r.git.object_type(commit_sha) != "commit":
        raise ApiError(404)
    return 200, ctx.fake.git_commit_body(r, r.git.commit_info(commit_sha))


@route("POST", R + "/git/blobs")
def create_blob(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    if "content" not in ctx.body:
        raise invalid("content is missing", "Blob", "content")
    sha = r.git.write_blob(
        ctx.fake.decode_blob(ctx.body["content"], ctx.body.get("encoding", "utf-8"))
    )
    return 201, {"url": f"{ctx.fake.api_url}/repos/{r.full_name}/git/blobs/{sha}", "sha": sha}


@route("POST", R + "/git/trees")
def create_tree(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    base = ctx.body.get("base_tree")
    if base and r.git.resolve(base, "tree") is None:
        raise invalid("base_tree is not a valid tree", "Tree", "base_tree")
    entries: list[tuple[str, str, str | None]] = []
    for item in ctx.body.get("tree", []):
        if "content" in item:
            sha = r.git.write_blob(item["content"].encode())
        else:
            sha = item.get("sha")
            if sha is not None and r.git.object_type(sha) is None:
                raise invalid(
                    f"tree.sha {sha} is not a valid {item.get('type', 'blob')}", "Tree", "tree.sha"
                )
        entries.append((item["path"], item.get("mode", "100644"), sha))
    tree = r.git.write_tree(r.git.resolve(base, "tree") if base else None, entries)
    return 201, _tree_body(ctx, r, tree)


def _tree_body(ctx: Ctx, r: Repo, tree: str) -> Body:
    api = f"{ctx.fake.api_url}/repos/{r.full_name}/git"
    items = [] if tree == EMPTY_TREE else r.git.tree_entries(tree)
    entries = []
    for e in items:
        entry: Body = {
            "path": e.path,
            "mode": e.mode,
            "type": e.type,
            "sha": e.sha,
            "url": f"{api}/{e.type}s/{e.sha}",
        }
        if e.size is not None:
            entry["size"] = e.size
        entries.append(entry)
    return {"sha": tree, "url": f"{api}/trees/{tree}", "tree": entries, "truncated": False}


@route("POST", R + "/git/commits")
def create_git_commit(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    tree, parents = ctx.body.get("tree", ""), ctx.body.get("parents", [])
    if r.git.object_type(tree) != "tree":
        raise invalid("Tree SHA does not exist", "Commit", "tree")
    for parent in parents:
        if r.git.object_type(parent) != "commit":
            raise invalid(
                "Parent SHA does not exist or is not a commit object", "Commit", "parents"
            )
    author = ctx.person(ctx.body.get("author"))
    committer = ctx.person(ctx.body.get("committer") or ctx.body.get("author"))
    sha = r.git.commit_tree(tree, parents, ctx.body.get("message", ""), author, committer)
    return 201, ctx.fake.git_commit_body(r, r.git.commit_info(sha))


@route("GET", R + "/contents/{path}")
def get_contents(ctx: Ctx, owner: str, repo: str, path: str) -> tuple[int, Any]:
    r = ctx.repo(owner, repo)
    ref = ctx.query.get("ref", r.default_branch)
    sha = (
        r.git.resolve(ref)
        or r.git.resolve(f"refs/heads/{ref}")
        or r.git.resolve(f"refs/tags/{ref}")
    )
    path = path.strip("/")
    entry = r.git.entry(sha, path) if sha and path else None
    if sha is None or (entry is None and path):
        raise ApiError(404)
    if entry is None or entry.type == "tree":
        items = r.git.tree_entries(sha, path)
        prefix = f"{path}/" if path else ""
        return 200, [ctx.fake.content_body(r, prefix + e.path, e, ref, None) for e in items]
    return 200, ctx.fake.content_body(r, path, entry, ref, r.git.read_blob(entry.sha))


def _change_file(ctx: Ctx, owner: str, repo: str, path: str, delete: bool) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    branch = ctx.body.get("branch") or r.default_branch
    tip = r.git.resolve(f"refs/heads/{branch}")
    if tip is None and branch != r.default_branch:
        raise ApiError(404, f"Branch {branch} not found")
    path = path.strip("/")
    entry = r.git.entry(tip, path) if tip else None
    given = ctx.body.get("sha")
    if entry is not None and given is None:
        raise invalid('"sha" wasn\'t supplied.', "File", "sha")
    if (entry is None and delete) or (entry is not None and given != entry.sha):
        if delete and entry is None:
            raise ApiError(404)
        raise ApiError(409, f"{path} does not match {given}")
    blob = (
        None
        if delete
        else r.git.write_blob(ctx.fake.decode_blob(ctx.body.get("content", ""), "base64"))
    )
    tree = r.git.write_tree(r.git.resolve(tip, "tree") if tip else None, [(path, "100644", blob)])
    who = ctx.person(ctx.body.get("author"))
    committer = ctx.person(ctx.body.get("committer") or ctx.body.get("author"))
    sha = r.git.commit_tree(
        tree, [tip] if tip else [], ctx.body.get("message", "") + "\n", who, committer
    )
    r.git.update_ref(f"refs/heads/{branch}", sha)
    ctx.fake.sync(ctx.login)
    body: Body = example("file-commit")
    commit = ctx.fake.git_commit_body(r, r.git.commit_info(sha))
    body["commit"] = fit(commit, body["commit"])
    body["commit"]["parents"] = commit["parents"]
    if blob is None:
        body["content"] = None
    else:
        new_entry = r.git.entry(sha, path)
        assert new_entry is not None
        content = ctx.fake.content_body(r, path, new_entry, branch, None)
        body["content"] = fit(
            content, example("file-commit-example-for-creating-a-file")["content"]
        )
    return (201 if entry is None else 200), body


@route("PUT", R + "/contents/{path}")
def put_contents(ctx: Ctx, owner: str, repo: str, path: str) -> tuple[int, Body]:
    return _change_file(ctx, owner, repo, path, delete=False)


@route("DELETE", R + "/contents/{path}")
def delete_contents(ctx: Ctx, owner: str, repo: str, path: str) -> tuple[int, Body]:
    return _change_file(ctx, owner, repo, path, delete=True)


@route("POST", R + "/forks")
def create_fork(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    fake = ctx.fake
    fork_owner = ctx.body.get("organization") or ctx.login
    name = ctx.body.get("name") or r.name
    existing = next(
        (x for x in fake.repos.values() if x.parent is r and x.owner == fork_owner), None
    )
    if existing is None:
        existing = fake.add_repo(f"{fork_owner}/{name}", default_branch=r.default_branch, private=r.private,
                                 writers={ctx.login}, git_dir=r.git.path)  # fmt: skip
        for ref in existing.git.refs("refs/pull/"):
            existing.git.delete_ref(ref)
        existing.parent = r
    return 202, fake.repo_body(existing, ctx.login)


@route("GET", R + "/commits/{ref}/statuses", schema=array_of("status"))
@route("GET", R + "/statuses/{ref}", schema=array_of("status"))
def list_statuses(ctx: Ctx, owner: str, repo: str, ref: str) -> tuple[int, list[Body]]:
    r = ctx.repo(owner, repo)
    sha = _commit_sha(r, ref)
    return 200, ctx.page([_status_body(ctx, r, s) for s in reversed(r.statuses.get(sha, []))])


@route("GET", R + "/commits/{ref}")
def get_commit(ctx: Ctx, owner: str, repo: str, ref: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    try:
        sha = _commit_sha(r, ref)
    except ApiError:
        raise ApiError(404, f"No commit found for SHA: {ref}") from None
    info = r.git.commit_info(sha)
    old = info.parents[0] if info.parents else EMPTY_TREE
    files = [ctx.fake.diff_entry(r, e, sha) for e in r.git.diff_entries(old, sha)]
    return 200, ctx.fake.commit_body(r, info, files=files)


@route("GET", R + "/compare/{basehead}")
def compare(ctx: Ctx, owner: str, repo: str, basehead: str) -> tuple[int, Body]:
    """base...head (each a sha, branch or tag; ``owner:ref`` for a fork); commits paginated,
    at most 300 files as GitHub does."""
    r = ctx.repo(owner, repo)
    base_name, sep, head_name = basehead.partition("...")
    if not sep:
        raise ApiError(404)
    shas = []
    for name in (base_name, head_name):
        owner_part, _, ref = name.rpartition(":")
        source = r
        if owner_part and owner_part != r.owner:
            source = next(
                (
                    x
                    for x in ctx.fake.repos.values()
                    if x.owner == owner_part and x.source is r.source
                ),
                r,
            )
        try:
            sha = _commit_sha(source, ref)
        except ApiError:
            raise ApiError(404) from None
        r.git.fetch(source.git, sha)
        shas.append(sha)
    base, head = shas
    try:
        merge_base = r.git.merge_base(base, head)
    except Exception:
        raise ApiError(404, f"No common ancestor between {base_name} and {head_name}.") from None
    ahead, behind = r.git.rev_list(merge_base, head), r.git.rev_list(merge_base, base)
    status = (
        "identical"
        if base == head
        else "diverged"
        if ahead and behind
        else "ahead"
        if ahead
        else "behind"
    )
    fake = ctx.fake
    body: Body = fake._ex(
        "commit-comparison", ("octocat/Hello-World", r.full_name), ("master...topic", basehead)
    )
    files = [fake.diff_entry(r, e, head) for e in r.git.diff_entries(merge_base, head)][:300]
    body.update(
        permalink_url=f"{fake.web_url}/{r.full_name}/compare/{r.owner}:{base}...{r.owner}:{head}",
        base_commit=fake.commit_body(r, r.git.commit_info(base), files=None),
        merge_base_commit=fake.commit_body(r, r.git.commit_info(merge_base), files=None),
        status=status,
        ahead_by=len(ahead),
        behind_by=len(behind),
        total_commits=len(ahead),
        commits=[
            fake.commit_body(r, r.git.commit_info(sha), files=None) for sha in ctx.page(ahead)
        ],
        files=files,
    )
    return 200, body


@route("POST", R + "/statuses/{sha}")
def create_status(ctx: Ctx, owner: str, repo: str, sha: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    if r.git.object_type(sha) != "commit":
        raise invalid(f"No commit found for SHA: {sha}", "Status", "sha")
    state = ctx.body.get("state")
    if state not in ("error", "failure", "pending", "success"):
        raise invalid("State is not included in the list", "Status", "state")
    status = {
        "id": ctx.fake.next_id(),
        "sha": sha,
        "state": state,
        "context": ctx.body.get("context") or "default",
        "description": ctx.body.get("description"),
        "target_url": ctx.body.get("target_url"),
        "creator": ctx.login,
        "created_at": ctx.fake.now,
    }
    r.statuses.setdefault(sha, []).append(status)
    return 201, _status_body(ctx, r, status)


def _status_body(ctx: Ctx, r: Repo, status: Body) -> Body:
    body: Body = ctx.fake._ex("status", ("octocat/Hello-World", r.full_name))
    creator = ctx.fake.user_body(status["creator"])
    body.update(
        url=f"{ctx.fake.api_url}/repos/{r.full_name}/statuses/{status['sha']}",
        avatar_url=creator["avatar_url"],
        id=status["id"],
        node_id=f"SC_{status['id']}",
        state=status["state"],
        description=status["description"],
        target_url=status["target_url"],
        context=status["context"],
        created_at=stamp(status["created_at"]),
        updated_at=stamp(status["created_at"]),
        creator=creator,
    )
    return body


# --- workflow runs and deployments --------------------------------------------------------


@route("GET", R + "/actions/workflows/{workflow_id}/runs")
def workflow_runs(ctx: Ctx, owner: str, repo: str, workflow_id: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    q = ctx.query
    runs = [
        run
        for run in reversed(r.runs)
        if workflow_id in (run.workflow, str(workflow_number(run.workflow)))
        and q.get("event", run.event) == run.event
        and q.get("branch", run.head_branch) == run.head_branch
        and q.get("head_sha", run.head_sha) == run.head_sha
        and q.get("actor", run.actor) == run.actor
        and q.get("status", run.status) in (run.status, run.conclusion)
    ]
    return 200, {
        "total_count": len(runs),
        "workflow_runs": [ctx.fake.run_body(x, ctx.login) for x in ctx.page(runs)],
    }


#: GitHub's ``workflow`` schema, which the subset lacks (its required fields, as GitHub has them).
WORKFLOW_SCHEMA = {
    "type": "object",
    "required": [
        "id",
        "node_id",
        "name",
        "path",
        "state",
        "created_at",
        "updated_at",
        "url",
        "html_url",
        "badge_url",
    ],
    "properties": {
        "id": {"type": "integer"},
        "node_id": {"type": "string"},
        "name": {"type": "string"},
        "path": {"type": "string"},
        "state": {
            "type": "string",
            "enum": [
                "active",
                "deleted",
                "disabled_fork",
                "disabled_inactivity",
                "disabled_manually",
            ],
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
        "html_url": {"type": "string"},
        "badge_url": {"type": "string"},
    },
}


@route("GET", R + "/actions/workflows/{workflow_id}", schema=WORKFLOW_SCHEMA)
def get_workflow(ctx: Ctx, owner: str, repo: str, workflow_id: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    return 200, ctx.fake.workflow_body(r, workflow_id)


@route("GET", R + "/actions/runs/{run_id}")
def get_run(ctx: Ctx, owner: str, repo: str, run_id: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo)
    run = next((x for x in r.runs if str(x.id) == run_id), None)
    if run is None:
        raise ApiError(404)
    return 200, ctx.fake.run_body(run, ctx.login)


def _deployment_body(ctx: Ctx, r: Repo, d: Body) -> Body:
    body: Body = ctx.fake._ex("deployment-simple-example", ("octocat/example", r.full_name))
    url = f"{ctx.fake.api_url}/repos/{r.full_name}/deployments/{d['id']}"
    body.update({k: v for k, v in d.items() if k not in ("creator", "created_at")})
    body.update(
        url=url,
        node_id=f"DE_{d['id']}",
        original_environment=d["environment"],
        creator=ctx.fake.user_body(d["creator"]),
        created_at=stamp(d["created_at"]),
        updated_at=stamp(d["created_at"]),
        statuses_url=f"{url}/statuses",
        repository_url=f"{ctx.fake.api_url}/repos/{r.full_name}",
    )
    return body


@route("GET", R + "/deployments")
def list_deployments(ctx: Ctx, owner: str, repo: str) -> tuple[int, list[Body]]:
    r = ctx.repo(owner, repo)
    keys = ("sha", "ref", "task", "environment")
    found = [
        d for d in reversed(r.deployments) if all(ctx.query.get(k, d[k]) == d[k] for k in keys)
    ]
    return 200, ctx.page([_deployment_body(ctx, r, d) for d in found])


@route("POST", R + "/deployments")
def create_deployment(ctx: Ctx, owner: str, repo: str) -> tuple[int, Body]:
    r = ctx.repo(owner, repo, "push")
    ref = ctx.body.get("ref", "")
    try:
        sha = _commit_sha(r, ref)
    except ApiError:
        raise invalid(f"No ref found for: {ref}", "Deployment", "ref") from None
    environment = ctx.body.get("environment", "production")
    d: Body = {
        "id": ctx.fake.next_id(),
        "sha": sha,
        "ref": ref,
        "task": ctx.body.get("task", "deploy"),
        "payload": ctx.body.get("payload", {}),
        "environment": environment,
        "description": ctx.body.get("description"),
        "transient_environment": bool(ctx.body.get("transient_environment", False)),
        "production_environment": bool(
            ctx.body.get("production_environment", environment == "production")
        ),
        "creator": ctx.login,
        "created_at": ctx.fake.now,
    }
    r.deployments.append(d)
    return 201, _deployment_body(ctx, r, d)


def _deployment(
    ctx: Ctx, owner: str, repo: str, deployment_id: str, need: str = "pull"
) -> tuple[Repo, Body]:
    r = ctx.repo(owner, repo, need)
    d = next((d for d in r.deployments if str(d["id"]) == deployment_id), None)
    if d is None:
        raise ApiError(404)
    return r, d


def _deployment_status_body(ctx: Ctx, r: Repo, d: Body, s: Body) -> Body:
    body: Body = ctx.fake._ex("deployment-status", ("octocat/example", r.full_name))
    deployment_url = f"{ctx.fake.api_url}/repos/{r.full_name}/deployments/{d['id']}"
    body.update({k: v for k, v in s.items() if k not in ("creator", "created_at")})
    body.update(
        url=f"{deployment_url}/statuses/{s['id']}",
        node_id=f"DES_{s['id']}",
        creator=ctx.fake.user_body(s["creator"]),
        created_at=stamp(s["created_at"]),
        updated_at=stamp(s["created_at"]),
        deployment_url=deployment_url,
        repository_url=f"{ctx.fake.api_url}/repos/{r.full_name}",
    )
    return body


@route("GET", R + "/deployments/{deployment_id}/statuses")
def list_deployment_statuses(
    ctx: Ctx, owner: str, repo: str, deployment_id: str
) -> tuple[int, list[Body]]:
    r, d = _deployment(ctx, owner, repo, deployment_id)
    statuses = reversed(r.deployment_statuses.get(d["id"], []))
    return 200, ctx.page([_deployment_status_body(ctx, r, d, s) for s in statuses])


@route("POST", R + "/deployments/{deployment_id}/statuses")
def create_deployment_status(
    ctx: Ctx, owner: str, repo: str, deployment_id: str
) -> tuple[int, Body]:
    r, d = _deployment(ctx, owner, repo, deployment_id, "push")
    state = ctx.body.get("state")
    if state not in ("error", "failure", "inactive", "in_progress", "queued", "pending", "success"):
        raise invalid("state is not included in the list", "DeploymentStatus", "state")
    s: Body = {
        "id": ctx.fake.next_id(),
        "state": state,
        "description": ctx.body.get("description", ""),
        "environment": ctx.body.get("environment", d["environment"]),
        "target_url": ctx.body.get("target_url", ""),
        "log_url": ctx.body.get("log_url", ctx.body.get("target_url", "")),
        "environment_url": ctx.body.get("environment_url", ""),
        "creator": ctx.login,
        "created_at": ctx.fake.now,
    }
    r.deployment_statuses.setdefault(d["id"], []).append(s)
    return 201, _deployment_status_body(ctx, r, d, s)


__all__ = ["ROUTES", "ApiError", "Ctx", "Route", "route"]
