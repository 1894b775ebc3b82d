"""A stateful fake GitHub for tests, mocked at the HTTP layer with ``responses``.

The `fake_github` fixture (tests/conftest.py imports it, so every test module has it)::

    def test_x(fake_github: FakeGitHub) -> None:
        token = fake_github.add_user("alice")
        fake_github.add_repo("acme/app", writers={"alice"})
        gh = Github(auth=Auth.Token(token), base_url=fake_github.api_url,
                    seconds_between_requests=0, seconds_between_writes=0)  # or fake_github.client(token)

(PyGithub otherwise sleeps between requests: a second between writes.) Or, with another API
root, or inside another fixture, as a context manager that verifies on a clean exit::

    with FakeGitHub(tmp_path / "gh", api_url="https://ghe.example.com/api/v3") as fake: ...

Users, teams, repositories, pull requests, reviews, statuses, comments, workflow runs and
deployments are kept in memory; each repository is also a real bare git repository on disk
(tests/fakegithub_git.py) whose ``file://`` URL is its ``clone_url``. Every body is built from
the subset's examples (tests/fakegithub_model.py) and validated against the operation's
response schema in ../shared/github/github-rest-subset.json; a body that does not validate,
or a request that matches no route, fails the test when the fake is closed (`verify`).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import jsonschema
import pytest
import responses

from tests.fakegithub_app import installation_token  # noqa: F401 (registers the App's route)
from tests.fakegithub_git import BareRepo, Person
from tests.fakegithub_model import (
    Account,
    Body,
    Pull,
    Render,
    Repo,
    Run,
    Team,
    Token,
    validate_webhook,
)
from tests.fakegithub_pulls import pull_extra  # (importing it registers the pull routes)
from tests.fakegithub_routes import ROUTES, ApiError, Ctx, Route
from tests.githubshapes import validate

RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
DEFAULT_SCOPES = "repo, read:org, user:email, workflow"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    kind: str = ""


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeGitHub(Render):
    """GitHub's REST API for the calls bs makes, backed by memory and bare git repositories."""

    def __init__(
        self,
        root: Path,
        api_url: str = "https://api.github.com",
        *,
        events_workflow: str = "bs-events.yml",
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.api_url = api_url.rstrip("/")
        parts = urlsplit(self.api_url)
        self._host, self._prefix = parts.hostname, parts.path.rstrip("/")
        default_port = 443 if parts.scheme == "https" else 80
        self._ports = {parts.port} if parts.port else {None, default_port}
        self.web_url = (
            "https://github.com"
            if parts.hostname == "api.github.com"
            else f"{parts.scheme}://{parts.netloc}"
        )
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self.events_workflow = events_workflow
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.apps: dict[str, Any] = {}  # slug -> tests.fakegithub_app.App
        self.teams: dict[tuple[str, str], Team] = {}
        self.repos: dict[str, Repo] = {}
        #: (method, path below the API root, without the query) of every request, in order.
        self.calls: list[tuple[str, str]] = []
        #: Requests no route answered: "METHOD url".
        self.unregistered: list[str] = []
        #: Bodies that did not match their schema: one message each.
        self.failures: list[str] = []
        #: Status (403 or 404) of team endpoints for a token without read:org.
        self.missing_scope_status = 404
        #: Who moved a pull request's head when it moved by a plain git push (default: its author).
        self.git_pusher: str | None = None
        self.allowed_merge_methods = {"merge", "squash"}
        self.rate_limit = 5000
        self.rate_reset = int(time.time()) + 3600
        self._rate_used: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1001)
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._catch_all: list[Any] = []
        self._others: list[str] = []
        self._api_pattern = ""
        self._active = False

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self.stop()
        if kind is None:
            self.verify()

    def start(self) -> None:
        host = re.escape(self._host or "")
        ports = "|".join(f":{p}" for p in self._ports if p)
        optional = "?" if None in self._ports else ""
        self._api_pattern = rf"https?://{host}({ports}){optional}{re.escape(self._prefix)}/"
        api = re.compile(self._api_pattern + ".*")
        for method in METHODS:
            self.mock.add_callback(method, api, callback=self._callback)
        self._add_catch_all()
        self.mock.start()
        self._active = True

    def stop(self) -> None:
        if self._active:
            self.mock.stop()
            self.mock.reset()
            self._active = False

    def verify(self) -> None:
        """Fail when a request matched no route or a body did not match its schema."""
        problems = []
        if self.unregistered:
            seen = list(dict.fromkeys(self.unregistered))
            problems.append("requests the fake GitHub has no route for:\n  " + "\n  ".join(seen))
        if self.failures:
            problems.append("bodies that do not match the subset:\n  " + "\n  ".join(self.failures))
        assert not problems, "\n".join(problems)

    def mock_other(self, method: str, url: str | re.Pattern[str], **kwargs: Any) -> None:
        """Mock another host's endpoint on the same RequestsMock (``responses.add``'s
        arguments); the catch-all then leaves that URL alone."""
        self._others.append(url.pattern if isinstance(url, re.Pattern) else re.escape(url))
        self.mock.add(method, url, **kwargs)
        self._add_catch_all()

    def passthru(self, prefix: str) -> None:
        """Let requests to `prefix` (e.g. a local test server) through to the network."""
        self._others.append(re.escape(prefix))
        self.mock.add_passthru(prefix)
        self._add_catch_all()

    def _add_catch_all(self) -> None:
        """Anything else is recorded as unregistered and answered 599. (responses pops the
        first of several matching responses, so the catch-all must not match the others.)"""
        for response in self._catch_all:
            self.mock.remove(response)
        excluded = "|".join(f"(?:{p})" for p in [self._api_pattern, *self._others])
        pattern = re.compile(rf"(?!{excluded}).*")
        self._catch_all = [
            self.mock.add_callback(method, pattern, callback=self._unrouted) for method in METHODS
        ]

    def _unrouted(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.unregistered.append(f"{request.method} {request.url}")
        return (
            599,
            {"Content-Type": "text/plain"},
            f"fake GitHub: no route for {request.method} {request.url}",
        )

    # --- state helpers for tests ---------------------------------------------------------

    def client(self, token: str, **kwargs: Any) -> Any:
        """A PyGithub client for `token` on this fake, without PyGithub's write throttling
        (it sleeps 1 s between writes by default: pass the same two zeros to your own)."""
        from github import Auth, Github

        kwargs.setdefault("seconds_between_requests", 0)
        kwargs.setdefault("seconds_between_writes", 0)
        return Github(auth=Auth.Token(token), base_url=self.api_url, **kwargs)

    def next_id(self) -> int:
        return next(self._ids)

    def advance(self, **delta: float) -> datetime:
        """Move the clock (``fake.advance(minutes=5)``); `now` is also settable."""
        self.now += timedelta(**delta)
        return self.now

    def add_user(
        self,
        login: str,
        email: str | None = None,
        token: str | None = None,
        *,
        name: str | None = None,
        bot: bool = False,
        scopes: str | None = DEFAULT_SCOPES,
        private_emails: tuple[str, ...] = (),
    ) -> str:
        """A user (or bot) and a token for it (returned); `email` is the public one."""
        account = self.accounts.get(login)
        if account is None:
            account = Account(login, self.next_id(), "Bot" if bot else "User", name, email)
            account.emails = [e for e in (email, *private_emails) if e] or [account.noreply]
            self.accounts[login] = account
        token = token or f"ghp_{secrets.token_hex(18)}"
        self.tokens[token] = Token(token, login, scopes)
        return token

    def add_token(self, login: str, *, scopes: str | None = DEFAULT_SCOPES) -> str:
        return self.add_user(login, scopes=scopes)

    def set_scopes(self, token: str, scopes: str | None) -> None:
        self.tokens[token].scopes = scopes

    def _org(self, login: str) -> Account:
        if login not in self.accounts:
            self.accounts[login] = Account(login, self.next_id(), "Organization")
        return self.accounts[login]

    def add_team(
        self,
        org: str,
        slug: str,
        members: Iterator[str] | list[str] | set[str],
        *,
        maintainers: tuple[str, ...] = (),
    ) -> Team:
        self._org(org)
        roles = {login: "member" for login in members} | {
            login: "maintainer" for login in maintainers
        }
        for login in roles:
            if login not in self.accounts:
                self.add_user(login)
        team = Team(org, slug, self.next_id(), roles)
        self.teams[(org, slug)] = team
        return team

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        private: bool = False,
        writers: set[str] | frozenset[str] = frozenset(),
        admins: set[str] | frozenset[str] = frozenset(),
        readers: set[str] | frozenset[str] = frozenset(),
        git_dir: Path | None = None,
        files: Mapping[str, str | bytes] | None = None,
    ) -> Repo:
        """A repository: a copy of `git_dir` (bare or not), or a first commit of `files`
        (default: a README; ``{}`` leaves it empty)."""
        owner = full_name.split("/")[0]
        if owner not in self.accounts:
            self._org(owner)
        bare = BareRepo.create(self.root / "repos" / f"{full_name}.git", default_branch, git_dir)
        repo = Repo(
            full_name, self.next_id(), bare, default_branch, private, self.now,
            writers=set(writers), admins=set(admins), readers=set(readers),
        )  # fmt: skip
        self.repos[full_name] = repo
        if git_dir is None and files != {}:
            self.commit(full_name, files or {"README.md": f"# {repo.name}\n"}, branch=default_branch,
                        message="Initial commit")  # fmt: skip
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def person(self, login: str, *, noreply: bool = False) -> Person:
        """`login` as a commit's author: public email (or the noreply one), at `now`."""
        account = self.accounts[login]
        email = account.noreply if noreply else account.email or account.noreply
        return Person(account.name or login, email, self.now)

    def commit(
        self,
        repo: str,
        files: Mapping[str, str | bytes | None],
        *,
        branch: str | None = None,
        parent: str | None = None,
        message: str = "change",
        author: str | None = None,
    ) -> str:
        """A commit of `files` (None deletes) on `parent` (default: `branch`'s tip); moves
        `branch` when given (without recording a push: see `push`)."""
        r = self.repos[repo]
        base = parent or (r.git.resolve(f"refs/heads/{branch}") if branch else None)
        base_tree = r.git.resolve(base, "tree") if base else None
        entries = []
        for path, content in files.items():
            sha = (
                None
                if content is None
                else r.git.write_blob(content.encode() if isinstance(content, str) else content)
            )
            entries.append((path, "100644", sha))
        tree = r.git.write_tree(base_tree, entries)
        who = self.person(author) if author else Person("Test", "test@example.com", self.now)
        sha = r.git.commit_tree(tree, [base] if base else [], message + "\n", who, who)
        if branch:
            r.git.update_ref(f"refs/heads/{branch}", sha)
        return sha

    def push(
        self,
        repo: str,
        branch: str,
        change: Mapping[str, str | bytes | None] | str,
        *,
        pusher: str,
        message: str = "change",
    ) -> str:
        """`pusher` pushes to `branch`: a new commit of `change` (files) on its tip, or the
        existing commit `change` (a sha). Open pull requests with that head follow it (and a
        run of the events workflow is recorded with `pusher` as its actor)."""
        r = self.repos[repo]
        if isinstance(change, str):
            sha = change
            r.git.update_ref(f"refs/heads/{branch}", sha)
        else:
            parent = r.git.resolve(f"refs/heads/{branch}") or r.git.resolve(
                f"refs/heads/{r.default_branch}"
            )
            sha = self.commit(repo, change, parent=parent, message=message, author=pusher)
            r.git.update_ref(f"refs/heads/{branch}", sha)
        self.sync(pusher)
        return sha

    def tag(self, repo: str, name: str, target: str = "HEAD", *, message: str | None = None) -> str:
        """A lightweight tag, or an annotated one with `message`; the tag's ref sha."""
        r = self.repos[repo]
        if message is None:
            r.git.git("tag", "-f", name, target)
        else:
            env = Person("Test", "test@example.com", self.now).env("COMMITTER")
            r.git.git("tag", "-f", "-a", "-m", message, name, target, env=env)
        return r.git.git("rev-parse", f"refs/tags/{name}")

    def pull(self, repo: str, number: int) -> Pull:
        return self.repos[repo].pulls[number]

    def runs(self, repo: str, *, event: str | None = None) -> list[Run]:
        return [run for run in self.repos[repo].runs if event in (None, run.event)]

    def reset_calls(self) -> None:
        self.calls.clear()

    def calls_since(self, mark: int) -> list[tuple[str, str]]:
        """The calls after ``mark = len(fake.calls)``."""
        return self.calls[mark:]

    # --- fault injection -----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests of `method` ("*": any) whose API path fully matches
        `path_regex` get `status` with `body` (dict: JSON; str: text; None: GitHub's error)."""
        self._faults.append(
            _Fault(method.upper(), re.compile(path_regex), status, body, dict(headers or {}), times)
        )

    def fail_rate_limit(
        self, method: str, path_regex: str, *, reset: int | None = None, times: int = 1
    ) -> None:
        """A primary rate limit (403, x-ratelimit-remaining 0) until `reset` (epoch seconds)."""
        headers = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset or int(time.time()) + 60),
        }
        self.fail_next(method, path_regex, 403, headers=headers, times=times)
        self._faults[-1].kind = "primary"

    def fail_secondary_rate_limit(
        self, method: str, path_regex: str, *, retry_after: int = 60, times: int = 1
    ) -> None:
        body = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": f"{RATE_DOCS}#about-secondary-rate-limits",
        }
        self.fail_next(
            method,
            path_regex,
            403,
            body=body,
            headers={"retry-after": str(retry_after)},
            times=times,
        )

    def _fault(self, method: str, path: str, caller: Token | None) -> _Answer | None:
        for fault in self._faults:
            if fault.method in ("*", method) and fault.path.fullmatch(path) and fault.times > 0:
                fault.times -= 1
                body = fault.body
                if fault.kind == "primary":
                    user_id = self.accounts[caller.login].id if caller else 1
                    body = {
                        "message": f"API rate limit exceeded for user ID {user_id}.",
                        "documentation_url": RATE_DOCS,
                    }
                elif body is None:
                    body = ApiError(fault.status).body() if fault.status < 500 else "Server Error"
                return _Answer(fault.status, body, fault.headers)
        return None

    # --- permissions ---------------------------------------------------------------------

    def permission(self, repo: Repo, login: str | None) -> dict[str, bool]:
        admin = login is not None and (login in repo.admins or login == repo.owner)
        push = admin or login in repo.writers
        pull = push or not repo.private or login in repo.readers
        return {"admin": admin, "maintain": admin, "push": push, "triage": push, "pull": pull}

    # --- pull request bookkeeping --------------------------------------------------------

    def sync(self, actor: str | None = None) -> None:
        """Open pull requests follow their head branches (however those moved)."""
        for repo in self.repos.values():
            for pull in repo.pulls.values():
                if pull.state != "open":
                    continue
                sha = pull.head_repo.git.resolve(f"refs/heads/{pull.head_ref}")
                if sha is None:  # GitHub closes a pull request whose head branch is deleted
                    pull.state, pull.closed_at = "closed", self.now
                elif sha != pull.head_sha:
                    self.move_head(pull, sha, actor or self.git_pusher or pull.user, "synchronize")

    def move_head(self, pull: Pull, sha: str, actor: str, action: str) -> None:
        repo = pull.repo
        repo.git.fetch(pull.head_repo.git, sha)
        repo.git.update_ref(f"refs/pull/{pull.number}/head", sha)
        pull.previous_head_sha, pull.head_sha, pull.updated_at = pull.head_sha, sha, self.now
        pull.base_sha = repo.git.resolve(f"refs/heads/{pull.base_ref}") or pull.base_sha
        self.record_run(pull, "pull_request", action, actor)

    def record_run(self, pull: Pull, event: str, action: str, actor: str) -> Run:
        repo = pull.repo
        own = pull.head_repo is repo
        run = Run(
            id=self.next_id(), run_number=len(repo.runs) + 1, workflow=self.events_workflow,
            event=event, action=action, repo=repo, head_repo=pull.head_repo,
            head_branch=pull.head_ref, head_sha=pull.head_sha, actor=actor,
            pull_numbers=[pull.number] if own else [], display_title=pull.title, created_at=self.now,
        )  # fmt: skip
        repo.runs.append(run)
        return run

    # --- webhooks ------------------------------------------------------------------------

    def webhook(
        self, kind: str, action: str, *, repo: str, number: int | None = None, **fields: Any
    ) -> Body:
        """An event payload for `kind`/`action` from the fake's state (``pull_request``
        opened/synchronize/reopened/closed/merged, ``pull_request_review`` submitted/dismissed,
        ``workflow_run`` requested/completed); `fields` override top-level keys.

        ``sender`` defaults to the actor (PR author, merger, reviewer, run actor); for
        reviews, ``review_id`` defaults to the latest review; for runs, ``run_id`` to the
        latest run of the events workflow triggered by a review."""
        r = self.repos[repo]
        if kind == "workflow_run":
            run_id = fields.pop("run_id", None)
            run = next(
                run for run in reversed(r.runs)
                if run.id == run_id or (run_id is None and run.event == "pull_request_review")
            )  # fmt: skip
            payload = self._workflow_run_payload(run, action)
            payload.update(fields)
            return payload
        pull = (
            r.pulls[number] if number is not None else max(r.pulls.values(), key=lambda p: p.number)
        )
        review = None
        if kind == "pull_request_review":
            review_id = fields.pop("review_id", None)
            review = next(rv for rv in reversed(pull.reviews) if review_id in (None, rv.id))
        sender: str = fields.pop("sender", None) or (
            review.user
            if review
            else (pull.merged_by or pull.user)
            if action == "merged"
            else pull.user
        )
        payload = self.webhook_payload(kind, action, pull, sender, review, pull_extra(pull))
        if action == "merged":
            payload["pull_request"].update(
                merged=True,
                merged_by=payload["sender"],
                merge_commit_sha=pull.merge_commit_sha,
            )
        if kind == "pull_request_review":
            payload["action"] = action
        for team in payload["pull_request"].get("requested_teams") or []:
            team.pop("type", None)  # the REST team has it; the webhook schema's does not
        payload.update(fields)
        validate_webhook(kind, "closed" if action == "merged" else action, payload)
        return payload

    def _workflow_run_payload(self, run: Run, action: str) -> Body:
        body = self.run_body(run, None)
        body["status"] = "completed" if action == "completed" else "queued"
        workflow = {
            "id": body["workflow_id"],
            "node_id": "W_" + str(body["workflow_id"]),
            "name": body["name"],
            "path": body["path"],
            "state": "active",
            "url": f"{self.api_url}/repos/{run.repo.full_name}/actions/workflows/{body['workflow_id']}",
        }
        return {
            "action": action,
            "workflow_run": body,
            "workflow": workflow,
            "repository": self.repo_body(run.repo, None),
            "sender": self.user_body(run.actor),
        }

    # --- HTTP ----------------------------------------------------------------------------

    def _api_path(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.hostname != self._host or parts.port not in self._ports:
            return None
        if not parts.path.startswith(self._prefix + "/"):
            return None
        return parts.path[len(self._prefix) :]

    def _callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = self._api_path(request.url)
        if path is None:
            return self._unrouted(request)
        method = request.method.upper()
        self.calls.append((method, path))
        query = dict(parse_qsl(urlsplit(request.url).query))
        token = self._token(request)
        answer, schema = self._answer(request, method, path, query, token)
        headers = {
            k.lower(): v for k, v in (*self._headers(token).items(), *answer.headers.items())
        }
        if isinstance(answer.body, str):
            headers["content-type"] = "text/plain"
            return answer.status, headers, answer.body
        if schema is not None or answer.body is not None:
            self._check(answer.body, schema, f"{method} {path} -> {answer.status}")
        return answer.status, headers, "" if answer.body is None else json.dumps(answer.body)

    def _answer(
        self, request: Any, method: str, path: str, query: dict[str, str], token: Token | None
    ) -> tuple[_Answer, Any]:
        fault = self._fault(method, path, token)
        if fault is not None:
            schema = "basic-error" if isinstance(fault.body, dict) else None
            return fault, schema
        route, params = _match(method, path)
        if route is None:
            self.unregistered.append(f"{method} {request.url}")
            return _Answer(599, f"fake GitHub: no route for {method} {request.url}"), None
        try:
            if token is None:
                message = "Bad credentials" if _auth_header(request) else "Requires authentication"
                raise ApiError(401, message)
            raw = request.body or b"{}"
            payload = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            self.sync()
            ctx = Ctx(self, method, path, query, payload, token.login, token)
            if path != "/rate_limit":
                self._rate_used[token.token] += 1
            status, body = route.handler(ctx, **params)
            return _Answer(status, body, ctx.headers), route.schema(status)
        except ApiError as error:
            return _Answer(error.status, error.body()), error.schema

    def _token(self, request: Any) -> Token | None:
        scheme, _, value = _auth_header(request).partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        found = self.tokens.get(value.strip())
        if found is None and value.count(".") == 2:  # a GitHub App's JWT
            from tests.fakegithub_app import token_for_jwt

            return token_for_jwt(self, value.strip())
        return found

    def _headers(self, token: Token | None) -> dict[str, str]:
        used = self._rate_used[token.token] if token else 0
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": f"FAKE:{len(self.calls):06X}",
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - used, 0)),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
        }
        if token is not None and token.scopes is not None:
            headers["X-OAuth-Scopes"] = token.scopes
            headers["X-Accepted-OAuth-Scopes"] = ""
        return headers

    def _check(self, body: Any, schema: Any, where: str) -> None:
        if schema is None:
            self.failures.append(f"{where}: the subset has no schema for this body")
            return
        try:
            validate(body, schema)
        except jsonschema.ValidationError as error:
            place = "/".join(str(p) for p in error.absolute_path)
            self.failures.append(f"{where}: {error.message[:300]} (at /{place})")

    def page(self, ctx: Ctx, items: list[Any]) -> list[Any]:
        """One page of `items` (per_page, page), with GitHub's Link header."""
        per_page = max(1, min(int(ctx.query.get("per_page", 30)), 100))
        page = max(1, int(ctx.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = urlencode({**ctx.query, "page": number})
                links.append(f'<{self.api_url}{ctx.path}?{query}>; rel="{rel}"')
        if links:
            ctx.headers["Link"] = ", ".join(links)
        return items[(page - 1) * per_page : page * per_page]

    def decode_blob(self, content: str, encoding: str) -> bytes:
        return base64.b64decode(content) if encoding == "base64" else content.encode()


def _auth_header(request: Any) -> str:
    return str(request.headers.get("Authorization", ""))


def _match(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        if route.method == method:
            found = route.regex.fullmatch(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}


@pytest.fixture
def fake_github(tmp_path: Path) -> Iterator[FakeGitHub]:
    """A FakeGitHub on https://api.github.com, active for the test; fails the test at
    teardown on any unregistered call or any body that does not match the subset."""
    with FakeGitHub(tmp_path / "fakegithub") as fake:
        yield fake
