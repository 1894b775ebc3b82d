"""The GitHub forge's repositories, tags, branches, files, people and teams.

Pull requests, reviews, statuses and comments are in ``bs.forges.github``. Every call is a
plain REST call through PyGithub's requester, so each one is counted and
shaped as GitHub documents it; PyGithub's own retry (urllib3) backs off on
5xx and secondary rate limits. Diffs come from blobless clones kept in a
cache (``bs.repocache``), never from the compare API, which truncates.

A requester who cannot push to the requests repository gets a fork: their
branch is made there and the pull request opened from it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from github import Github
from requests.utils import parse_header_links

from bs import gitcmd
from bs.core.pulls import PullRequest
from bs.core.tags import TagRef
from bs.errors import BsError
from bs.forges.github_errors import NotFound, translate
from bs.repocache import RepoCache

__all__ = ["GitHubRepos", "Json"]

Json = Any


def _path(repo: str, *parts: str) -> str:
    """An API path; every segment quoted (a branch named ``feature#1`` is not ``feature``)."""
    return "/repos/" + "/".join(quote(p, safe="") for p in [*repo.split("/"), *parts])


class GitHubRepos:
    """GitHub's repositories, people and teams; `token_source` says where the token came from."""

    def __init__(
        self,
        github: Github,
        *,
        requests_repo: str,
        cache: RepoCache,
        token_source: str = "the environment",  # noqa: S107 (where it came from, not a token)
        sleep: Callable[[float], None] = time.sleep,
        app_slug: str | None = None,
        acting_as_app: bool = False,
    ) -> None:
        self.gh = github
        #: The organisation's GitHub App: its bs/pushed records are trusted.
        self.app_slug = app_slug
        #: Set when acting as the App (its installation token cannot ask who it is).
        self.acting_as = f"{app_slug}[bot]" if app_slug and acting_as_app else None
        self.requests_repo = requests_repo
        self.cache = cache
        self.token_source = token_source
        self.sleep = sleep
        self._me: Json = None
        self._repos: dict[str, Json] = {}
        self._teams: dict[str, list[str] | None] = {}
        self._users: dict[str, Json] = {}
        #: (repo, branch) -> the fork a branch was made in, when not `repo` itself.
        self._homes: dict[tuple[str, str], str] = {}
        #: (repo, pull request number) -> who closed it, from a trusted event payload.
        self._closed_by: dict[tuple[str, int], str] = {}
        #: (repo, number) -> (when read, the pull request), see GitHubForge.get_pull_request.
        self._pull_memo: dict[tuple[str, int], tuple[float, PullRequest]] = {}

    # -- plumbing ------------------------------------------------------------

    def _call(
        self,
        verb: str,
        url: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        needs_scope: str | None = None,
    ) -> tuple[dict[str, Any], Json]:
        with translate(what, token_source=self.token_source, needs_scope=needs_scope):
            return self.gh.requester.requestJsonAndCheck(
                verb, url, parameters=dict(params) if params else None, input=body
            )

    def _pages(
        self,
        url: str,
        what: str,
        params: Mapping[str, Any] | None = None,
        *,
        item: str = "",
        needs_scope: str | None = None,
    ) -> Iterator[Json]:
        """Every item of a paginated listing, following GitHub's Link headers."""
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while next_url:
            headers, data = self._call("GET", next_url, what, params=query, needs_scope=needs_scope)
            yield from (data[item] if item else data)
            link = str(headers.get("link", ""))
            next_url = next(
                (found["url"] for found in parse_header_links(link) if found.get("rel") == "next"),
                None,
            )
            query = None  # the next link carries the query

    # -- people and teams ----------------------------------------------------

    def _user(self) -> Json:
        if self._me is None:
            self._me = self._call("GET", "/user", "reading who the token belongs to")[1]
        return self._me

    def current_user(self) -> str:
        return self.acting_as or str(self._user()["login"])

    def _public_user(self, login: str) -> Json:
        if login.lower() not in self._users:
            try:
                data = self._call(
                    "GET", f"/users/{quote(login, safe='')}", f"reading user {login}"
                )[1]
            except NotFound:
                data = None
            self._users[login.lower()] = data
        return self._users[login.lower()]

    def user_exists(self, login: str) -> bool:
        return self._public_user(login) is not None

    def user_email(self, login: str) -> str | None:
        if self.acting_as is None and login.lower() == self.current_user().lower():
            if self._user().get("email"):
                return str(self._user()["email"])
            try:
                emails = self._call("GET", "/user/emails", "reading your email addresses")[1]
            except BsError:
                return None  # no user:email scope: the address is asked for elsewhere
            primary = [e["email"] for e in emails if e.get("primary") and e.get("verified")]
            return primary[0] if primary else None
        user = self._public_user(login)
        return str(user["email"]) if user and user.get("email") else None

    def team_members(self, team: str) -> list[str]:
        members = self._team(team)
        if members is None:
            raise BsError(f"team {team} does not exist on GitHub, or the token cannot see it.")
        return members

    def team_exists(self, team: str) -> bool:
        return self._team(team) is not None

    def _team(self, team: str) -> list[str] | None:
        if team not in self._teams:
            org, _, slug = team.partition("/")
            url = f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}/members"
            try:
                # Without read:org GitHub answers 404, as for a team that does not exist.
                pages = self._pages(url, f"reading team {team}'s members", needs_scope="read:org")
                found = [m["login"] for m in pages]
            except NotFound as exc:
                if "needs 'read:org'" in exc.message:
                    raise
                found = None
            self._teams[team] = found
        return self._teams[team]

    # -- repositories --------------------------------------------------------

    def _repo(self, repo: str) -> Json:
        if repo not in self._repos:
            self._repos[repo] = self._call("GET", _path(repo), f"reading repository {repo}")[1]
        return self._repos[repo]

    def _clone_url(self, repo: str) -> str:
        """Where git fetches `repo`. GitHub's clone URLs are ``WEB/OWNER/NAME.git``: another
        repository's is derived from the requests repository's (read anyway), which saves a
        call per repository; an unknown name then fails in git with a clear message."""
        if repo not in self._repos and repo != self.requests_repo:
            known = str(self._repo(self.requests_repo)["clone_url"])
            suffix = f"/{self.requests_repo}.git"
            if known.lower().endswith(suffix.lower()):
                return known[: -len(suffix)] + f"/{repo}.git"
        return str(self._repo(repo)["clone_url"])

    def git_dir(self, repo: str) -> Path:
        clone_url = self._clone_url(repo)
        try:
            return self.cache.ensure(repo, clone_url, pulls=repo == self.requests_repo)
        except BsError:
            # git's words are vague ("Could not read from remote repository"): when the
            # repository is missing or hidden, the API's 404 says so clearly.
            if repo not in self._repos:
                self._repo(repo)
            raise

    def ensure_commit(self, repo: str, sha: str) -> Path:
        """The cached copy of `repo`, holding commit `sha` (fetched by id if refs lack it)."""
        path = self.git_dir(repo)
        if not self.cache.has_commit(path, sha):
            path = self.cache.ensure(
                repo, self._clone_url(repo), pulls=repo == self.requests_repo, force=True
            )
        if not self.cache.has_commit(path, sha):
            self.cache.fetch_commit(repo, self._clone_url(repo), sha)
        if not self.cache.has_commit(path, sha):
            raise BsError(f"{repo} has no commit {sha[:12]}.")
        return path

    def default_branch(self, repo: str) -> str:
        return str(self._repo(repo)["default_branch"])

    def list_tags(self, repo: str) -> list[TagRef]:
        # From the fetched copy, which the diffs need anyway: thousands of tags in one
        # incremental fetch rather than pages of the API, annotated ones peeled by git.
        return [TagRef(name, sha) for name, sha in gitcmd.list_tags(self.git_dir(repo))]

    def resolve_branch(self, repo: str, branch: str) -> str | None:
        # Also from the fetched copy (fetched at most every few seconds, and again after
        # bs itself changed the repository): no API call.
        return gitcmd.resolve_commit(self.git_dir(repo), f"refs/heads/{branch}")

    def _branch_via_api(self, repo: str, branch: str) -> str | None:
        """The branch's commit asked of the API: for a fork bs keeps no copy of."""
        try:
            data = self._call(
                "GET", _path(repo, "git", "ref", "heads", *branch.split("/")),
                f"reading branch {branch} of {repo}",
            )[1]  # fmt: skip
        except NotFound:
            return None
        return None if isinstance(data, list) else str(data["object"]["sha"])

    def read_file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        params = {"ref": ref} if ref else None
        try:
            data = self._call(
                "GET", _path(repo, "contents", *path.split("/")), f"reading {path} of {repo}",
                params=params,
            )[1]  # fmt: skip
        except NotFound:
            self._repo(repo)
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            raise BsError(f"{path} in {repo} is not a file.")
        if data.get("encoding") != "base64":
            raise BsError(f"{path} in {repo} is too large to read through the API (over 1 MB).")
        return base64.b64decode(str(data["content"]))

    # -- branches ------------------------------------------------------------

    def _home_for_new_branch(self, repo: str) -> str:
        """`repo` when the user may push to it, else their fork of it (made if needed)."""
        if (self._repo(repo).get("permissions") or {}).get("push"):
            return repo
        fork = self._call(
            "POST", _path(repo, "forks"), f"forking {repo} (you cannot push to it)", body={}
        )[1]
        name = str(fork["full_name"])
        self._repos[name] = fork
        return name

    def create_branch(
        self, repo: str, branch: str, base: str, files: Sequence[tuple[str, Path]], message: str
    ) -> str:
        home = self._home_for_new_branch(repo)
        found = self._call(
            "GET", _path(repo, "branches", base), f"reading branch {base} of {repo}"
        )[1]
        base_sha, base_tree = found["commit"]["sha"], found["commit"]["commit"]["tree"]["sha"]
        entries = [self._tree_entry(home, path, local) for path, local in files]
        tree = self._git_write(home, "trees", {"base_tree": base_tree, "tree": entries})
        commit = self._git_write(
            home, "commits", {"message": message, "tree": tree["sha"], "parents": [base_sha]}
        )
        try:
            self._call(
                "POST", _path(home, "git", "refs"), f"creating branch {branch} in {home}",
                body={"ref": f"refs/heads/{branch}", "sha": commit["sha"]},
            )  # fmt: skip
        except BsError as exc:
            if "already exists" in exc.message:
                raise BsError(f"branch {branch} already exists in {home}.") from None
            raise
        if home != repo:
            self._homes[(repo, branch)] = home
        self.cache.invalidate(home)
        return str(commit["sha"])

    def _tree_entry(self, home: str, path: str, local: Path) -> dict[str, str]:
        data = local.read_bytes()
        entry = {"path": path, "mode": "100644", "type": "blob"}
        try:
            return entry | {"content": data.decode("utf-8")}  # text travels inline: one call less
        except UnicodeDecodeError:
            blob = self._git_write(
                home, "blobs", {"content": base64.b64encode(data).decode(), "encoding": "base64"}
            )
            return entry | {"sha": str(blob["sha"])}

    def _git_write(self, home: str, kind: str, body: Json) -> Json:
        """POST a git object; a new fork's objects may take a few seconds to be ready."""
        for attempt in range(6):
            try:
                return self._call(
                    "POST", _path(home, "git", kind), f"writing to {home}", body=body
                )[1]
            except NotFound:
                if home == self.requests_repo or attempt == 5:
                    raise
                self.sleep(2.0)  # GitHub forks asynchronously
        raise AssertionError("unreachable")

    def delete_branch(self, repo: str, branch: str, *, sha: str | None = None) -> None:
        home = self._homes.get((repo, branch), repo)
        if sha is not None and self._branch_via_api(home, branch) != sha:
            return
        self.cache.invalidate(home)
        try:
            self._call(
                "DELETE", _path(home, "git", "refs", "heads", *branch.split("/")),
                f"deleting branch {branch} of {home}",
            )  # fmt: skip
        except BsError as exc:
            if "does not exist" not in exc.message and not isinstance(exc, NotFound):
                raise

    def set_branch(self, repo: str, branch: str, sha: str) -> None:
        url = _path(repo, "git", "refs", "heads", *branch.split("/"))
        what = f"moving branch {branch} of {repo} to {sha[:12]}"
        self.cache.invalidate(repo)
        try:
            self._call("PATCH", url, what, body={"sha": sha, "force": True})
        except BsError as exc:
            if "does not exist" not in exc.message and not isinstance(exc, NotFound):
                raise
            self._call(
                "POST", _path(repo, "git", "refs"), what,
                body={"ref": f"refs/heads/{branch}", "sha": sha},
            )  # fmt: skip
