"""A security review of the GitHub forge, the repository cache, sign-in, the Actions
workflows and the "not a release request" rule, as tests.

Each ``xfail(strict=True)`` test demonstrates a finding: it states the property that
should hold and fails today; once the finding is fixed it passes, and strict xfail
turns that into a failure, so the marker is removed with the fix. The unmarked tests
pin properties that hold.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses

from bs.auth import tokens
from bs.core.verdict import STATUS_CONTEXT
from bs.errors import BsError
from bs.forges import open_forge
from bs.forges.github import GitHubForge, forge_retry
from bs.githubapi import open_github
from bs.repocache import RepoCache
from bs.workspace import Workspace
from tests.conftest import run_bs
from tests.githubworld import BOT, REQUESTS, GitHubWorld, gh_world

__all__ = ["gh_world"]

ROOT = Path(__file__).resolve().parent.parent
SECRET = "ghs_NeverShowThisInstallationToken0123456789"  # a fake


# --- helpers ----------------------------------------------------------------------------


def verdict_of(world: GitHubWorld, number: int) -> dict[str, Any]:
    """`bs check --json` as the App would run it, without posting the status."""
    result = world.bs("check", str(number), "--json", "--no-status", user=BOT)
    assert result.stdout, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def approve(world: GitHubWorld, number: int, login: str) -> None:
    pull = world.fake.client(world.tokens[login]).get_repo(REQUESTS).get_pull(number)
    pull.create_review(body="Looks right", event="APPROVE")


def request_yaml(world: GitHubWorld, number: int) -> tuple[str, str]:
    """(path, text) of the request file on pull request `number`'s head."""
    pull = world.fake.pull(REQUESTS, number)
    git = world.fake.repo(REQUESTS).git
    changed = git.git("diff", "--name-only", "main", pull.head_sha).split()
    path = next(p for p in changed if p.endswith(".yaml"))
    return path, git.git("show", f"{pull.head_sha}:{path}") + "\n"


def push_files(
    world: GitHubWorld, branch: str, change: dict[str, str | None], *, pusher: str
) -> str:
    """`pusher` pushes a commit of `change` (None deletes a file) on `branch` (made from
    main when new); the fake's own helper cannot delete in its bare repositories."""
    fake = world.fake
    git = fake.repo(REQUESTS).git
    parent = git.resolve(f"refs/heads/{branch}") or git.resolve("refs/heads/main")
    assert parent is not None
    lines = []
    for path, content in change.items():
        blob = "0" * 40 if content is None else git.write_blob(content.encode())
        lines.append(f"{'0' if content is None else '100644'} {blob}\t{path}\n")
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git.git("read-tree", parent, env=env)
        git.git("update-index", "--index-info", input="".join(lines).encode(), env=env)
        tree = git.git("write-tree", env=env)
    who = fake.person(pusher)
    sha = git.commit_tree(tree, [parent], "change\n", who, who)
    git.update_ref(f"refs/heads/{branch}", sha)
    fake.sync(pusher)
    return sha


def bobs_words(text: str) -> str:
    """The request as bob edits it: his own words in it (any change of his would do)."""
    assert "reason: null" in text, text
    return text.replace("reason: null", "reason: bob's words, pushed by bob")


def approvers(verdict: dict[str, Any]) -> list[str]:
    return list(verdict["policy"]["approved_by"]) if verdict.get("policy") else []


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    started: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        httpd, url = serve(handler)
        started.append(httpd)
        return url

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def code_owners(path: str) -> list[str]:
    """The owners .github/CODEOWNERS gives `path` (the last matching line wins)."""
    owners: list[str] = []
    for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, *who = line.split()
        anchored, directory = pattern.startswith("/"), pattern.endswith("/")
        bare = pattern.strip("/")
        if pattern == "*":
            hit = True
        elif directory:
            hit = path.startswith(bare + "/") or (not anchored and f"/{bare}/" in f"/{path}")
        else:
            hit = (
                fnmatch.fnmatchcase(path, bare)
                or path.startswith(bare + "/")
                or (not anchored and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], bare))
            )
        if hit:
            owners = who
    return owners


# === Finding 1 (fixed): who pushed is learnt from records the pushers control ==========
#
# It was learnt from the runs of bs-events.yml, which a pusher could avoid (a push while
# the pull request is closed, the pull request's own copy of the workflow) or delete. Now
# the privileged check workflow records every opened and synchronize event as a
# `bs/pushed` status from the App on the new head ("pushed by bob after <before>"), and
# list_pushes follows that chain back to the opened head; a head nobody recorded, or a
# record not from the App, breaks the chain and the check fails closed.


def test_a_push_while_the_request_is_closed_still_excludes_the_pusher(
    gh_world: GitHubWorld,
) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(w, number)
    # bob (a deployer, who may push to the requests repository) closes the request...
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(number).edit(state="closed")
    # ...and pushes his own change, under alice's name: no synchronize event, no record.
    bob_sha = fake.commit(REQUESTS, {path: bobs_words(text)}, branch=branch, author="alice")
    fake.client(w.tokens["alice"]).get_repo(REQUESTS).get_pull(number).edit(state="open")
    w.record_push("reopened", number)  # a reopening records nothing
    assert fake.pull(REQUESTS, number).head_sha == bob_sha
    approve(w, number, "bob")
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met", (
        f"bob pushed {bob_sha[:12]}, the head, yet his approval counts: {approvers(verdict)}"
    )
    assert "who pushed it is unknown" in json.dumps(verdict)


def test_every_recorded_pusher_is_a_contributor_whoever_pushed_last(
    gh_world: GitHubWorld,
) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(w, number)
    fake.push(REQUESTS, branch, {path: bobs_words(text)}, pusher="bob")
    w.record_push("synchronize", number, sender="bob")
    fake.push(REQUESTS, branch, {}, pusher="alice", message="Empty commit to re-run CI")
    w.record_push("synchronize", number)
    approve(w, number, "bob")
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met" and "bob" not in approvers(verdict)
    assert "pushed to the request's branch" in json.dumps(verdict)


def test_a_record_not_from_the_app_is_not_trusted(gh_world: GitHubWorld) -> None:
    """bob pushes (unrecorded), then posts his own bs/pushed status naming alice: GitHub
    lets any writer post statuses, and bs trusts only the App's."""
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    before = fake.pull(REQUESTS, number).head_sha
    branch = fake.pull(REQUESTS, number).head_ref
    path, text = request_yaml(w, number)
    bob_sha = fake.push(REQUESTS, branch, {path: bobs_words(text)}, pusher="bob")
    repo = fake.client(w.tokens["bob"]).get_repo(REQUESTS)
    repo.get_commit(bob_sha).create_status(
        "success", description=f"pushed by alice after {before}", context="bs/pushed"
    )
    approve(w, number, "bob")
    verdict = verdict_of(w, number)
    assert verdict["outcome"] != "met", f"bob's approval counts: {approvers(verdict)}"
    assert "who pushed it is unknown" in json.dumps(verdict)


# === Finding 2: "not a release request" succeeds for files CODEOWNERS does not own ======
#
# bs/usecases/check.py gives bs/policy `success` to any pull request on the default
# branch that changes nothing under requests/: from then on only the ruleset's plain
# approvals and code-owner review guard it. CODEOWNERS owns /.github/, /policies/, /bs/,
# /pyproject.toml and /bs.yaml, but every privileged workflow runs
# `python -m pip install --quiet .` in the checkout of the default branch, which runs a
# root setup.py (setuptools.build_meta) and imports a root pip.py (cwd is sys.path[0]
# under -m). A root setup.py then runs in the job that later holds the App's token and
# BS_LINK_KEYS (e.g. through $GITHUB_ENV): it mints deploy links for anything.

SETUP_PY = "from setuptools import setup\n\nsetup()\n"


def test_not_a_request_success_only_for_files_code_owners_review(
    gh_world: GitHubWorld, tmp_path: Path
) -> None:
    fake, w = gh_world.fake, gh_world
    # 1. The privileged workflows build bs from the checkout's root.
    for name in ("bs-check", "bs-check-review", "bs-opened", "bs-closed"):
        text = (ROOT / ".github" / "workflows" / f"{name}.yml").read_text()
        assert "python -I -m pip install --quiet ." in text, name
    # 2. That runs a root setup.py, and imports a root pip.py.
    build = tmp_path / "build"
    build.mkdir()
    (build / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "x"\nversion = "0"\n'
    )
    (build / "setup.py").write_text(
        "import pathlib\npathlib.Path('ran-setup').write_text('1')\n" + SETUP_PY
    )
    (build / "pip.py").write_text("import pathlib\npathlib.Path('ran-pip').write_text('1')\n")
    subprocess.run(
        [sys.executable, "-c",
         "import setuptools.build_meta as b; b.get_requires_for_build_wheel()"],
        cwd=build, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip"], cwd=build, check=False, capture_output=True)
    assert (build / "ran-setup").exists() and (build / "ran-pip").exists()
    # 3. A pull request adding one is not a request, so bs/policy says success.
    sha = fake.push(REQUESTS, "packaging", {"setup.py": SETUP_PY}, pusher="bob")
    repo = fake.client(w.tokens["bob"]).get_repo(REQUESTS)
    pull = repo.create_pull(title="Packaging", body="", head="packaging", base="main")
    result = w.bs("check", str(pull.number), "--json", user=BOT)
    assert result.exit_code == 0, result.output
    state = fake.repo(REQUESTS).statuses[sha][-1]
    succeeded = state["context"] == STATUS_CONTEXT and state["state"] == "success"
    # The property: bs/policy succeeds only where a code owner must review.
    unowned = [path for path in ("setup.py", "pip.py") if not code_owners(path)]
    assert not (succeeded and unowned), (
        f"bs/policy is success for a pull request adding setup.py, and CODEOWNERS owns "
        f"none of {unowned}"
    )


def test_code_owners_reads_the_file_as_github_does() -> None:
    """The matcher above, on what CODEOWNERS does own (and requests/, which it must not)."""
    for path in (".github/workflows/bs-check.yml", "policies/apps.yaml", "bs/cli/main.py",
                 "pyproject.toml", "bs.yaml"):  # fmt: skip
        assert code_owners(path), path
    assert code_owners("requests/frontend/20260101-abcdefghijklmnop.yaml") == []


def test_a_rename_out_of_requests_is_judged_not_waved_through(gh_world: GitHubWorld) -> None:
    fake, w = gh_world.fake, gh_world
    push_files(w, "tidy", {"requests/.keep": None, "docs/keep": ""}, pusher="bob")
    pull = (
        fake.client(w.tokens["bob"])
        .get_repo(REQUESTS)
        .create_pull(title="Tidy", body="", head="tidy", base="main")
    )
    verdict = verdict_of(w, pull.number)
    assert verdict["outcome"] != "met", verdict["summary"]


@pytest.mark.parametrize(
    "files",
    [{"README.md": "changed\n"}, {"Requests/frontend/20260101-abcdefghijklmnop.yaml": "x: 1\n"}],
)
def test_a_pull_request_on_another_branch_is_never_waved_through(
    gh_world: GitHubWorld, files: dict[str, str | bytes | None]
) -> None:
    fake, w = gh_world.fake, gh_world
    main = fake.repo(REQUESTS).git.resolve("refs/heads/main")
    assert main is not None
    fake.repo(REQUESTS).git.update_ref("refs/heads/staging", main)
    fake.push(REQUESTS, "stacked", files, pusher="bob")
    pull = (
        fake.client(w.tokens["bob"])
        .get_repo(REQUESTS)
        .create_pull(title="Stacked", body="", head="stacked", base="staging")
    )
    verdict = verdict_of(w, pull.number)
    assert verdict["outcome"] != "met", verdict["summary"]


def test_a_look_alike_of_requests_is_waved_through_but_never_read_as_a_request(
    gh_world: GitHubWorld,
) -> None:
    """`Requests/` (or any other spelling) is not requests/: git and bs are case-sensitive,
    so it gets "not a request", and merged it mints nothing."""
    fake, w = gh_world.fake, gh_world
    path, text = request_yaml(w, w.open_request())
    look_alike = {"R" + path[1:]: text, "R" + path[1:-5] + ".patch": "x\n"}
    fake.push(REQUESTS, "look-alike", look_alike, pusher="alice")
    pull = (
        fake.client(w.tokens["alice"])
        .get_repo(REQUESTS)
        .create_pull(title="Look-alike", body="", head="look-alike", base="main")
    )
    assert verdict_of(w, pull.number)["summary"].startswith("Not a release request")
    fake.client(w.tokens["bob"]).get_repo(REQUESTS).get_pull(pull.number).merge()
    merged = fake.webhook("pull_request", "merged", repo=REQUESTS, number=pull.number)
    result = w.bs("hook", "closed", "--json", user=BOT, env=w.actions(merged, "look-alike"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "not-a-request"
    assert not fake.repo(REQUESTS).comments.get(pull.number)


# === Finding 3: a POST whose answer was lost is sent again ==============================
#
# _ForgeRetry (bs/forges/github.py) keeps POST out of status retries, but lists POST in
# allowed_methods, so urllib3 retries a POST after a read error (the request reached
# GitHub, the connection dropped before the answer): a comment, a review or a pull
# request is made twice, and a branch creation fails as "already exists" after it worked.


def test_a_post_whose_answer_was_lost_is_not_sent_again(
    tmp_path: Path, server: Callable[[type[BaseHTTPRequestHandler]], str]
) -> None:
    posts: list[str] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            posts.append(self.path)
            if len(posts) == 1:
                self.close_connection = True  # done, but the answer never arrives
                return
            body = json.dumps({
                "id": len(posts), "user": {"login": "battlestations[bot]"}, "body": "hi",
                "created_at": "2024-05-01T12:00:00Z",
            }).encode()  # fmt: skip
            self.send_response(201)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    url = server(Handler)
    github = open_github(SECRET, url, retry=forge_retry(backoff=0))
    forge = GitHubForge(github, requests_repo="o/r", cache=RepoCache(tmp_path / "cache", None))
    try:
        forge.add_comment("o/r", 1, "hi")
    except BsError:
        pass  # "cannot tell whether it was posted" is the right answer
    finally:
        github.close()
    assert len(posts) == 1, f"the comment was posted {len(posts)} times: {posts}"


# === Finding 4: the repository cache trusts the copy it finds ===========================
#
# RepoCache.ensure (bs/repocache.py) decides to hand git the token from the clone_url it
# is given (https only), then runs `git fetch origin`: origin, and every other setting,
# come from the cached repository's own config. A copy planted in, or left in, a shared
# cache (forge.cache in bs.yaml, e.g. on a build machine) receives the token wherever its
# origin points, plain http included; git's safe.directory check does not apply with
# --git-dir.


def test_the_cache_sends_the_token_only_to_the_clone_url(
    tmp_path: Path, server: Callable[[type[BaseHTTPRequestHandler]], str]
) -> None:
    seen: list[str] = []

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization") or "")
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    url = server(Handler)
    root = tmp_path / "shared-cache"
    planted = root / "alphagov" / "frontend.git"
    subprocess.run(["git", "init", "-q", "--bare", str(planted)], check=True)
    subprocess.run(["git", f"--git-dir={planted}", "remote", "add", "origin",
                    f"{url}/collector/frontend.git"], check=True)  # fmt: skip
    cache = RepoCache(root, SECRET)
    with pytest.raises(BsError):
        cache.ensure("alphagov/frontend", "https://github.com/alphagov/frontend.git")
    leaked = [h for h in seen if SECRET in base64.b64decode(h.split()[-1] + "==").decode()]
    # bs fetched from the clone_url it was given (unreachable here), not the planted origin.
    config = subprocess.run(["git", f"--git-dir={planted}", "config", "remote.origin.url"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert config == "https://github.com/alphagov/frontend.git"
    assert not leaked, f"the token went to {url}, the cached copy's origin"


def test_a_repository_name_never_leaves_the_cache(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path / "cache", SECRET)
    for name in ("../x", "o/..", "o/../../x", "-o/x/y", "o", "o/x\n"):
        with pytest.raises(BsError):
            cache.path(name)


# === Finding 5: the stored token is sent to whatever api_url bs.yaml names ==============
#
# find_github_token (bs/auth/tokens.py) picks the stored token by forge.web_url's host,
# and open_github_forge / whoami send it to forge.api_url, which may name any host: a
# bs.yaml in a pull request's branch, a fork or a copied repository that keeps
# web_url: https://github.com and sets api_url elsewhere receives the person's token.


def test_the_stored_token_goes_only_to_the_host_it_was_stored_for(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "bs.yaml").write_text(
        "version: 1\n"
        "forge: {kind: github, web_url: 'https://github.com', "
        "api_url: 'https://api.collector.example'}\n"
        "requests_repo: alphagov/release-requests\n"
    )
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": "/nonexistent",  # no gh
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    tokens.store_token(env, "https://github.com", SECRET)  # `bs login` on github.com
    with responses.RequestsMock(assert_all_requests_are_fired=False) as web:
        web.get("https://api.collector.example/user", json={"login": "octocat", "id": 1})
        run_bs(checkout, "whoami", env=env)
        sent = [
            call.request.url
            for call in web.calls
            if SECRET in str(call.request.headers.get("Authorization", ""))
        ]
    assert not sent, f"the github.com token was sent to {sent}"


def test_a_token_file_is_replaced_never_written_through_a_planted_link(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # fmt: skip
    path = tokens.token_file(env, "github.com")
    path.parent.mkdir(parents=True)
    victim = tmp_path / "readable-by-others"
    victim.write_text("")
    path.symlink_to(victim)
    tokens.store_token(env, "https://github.com", SECRET)
    assert victim.read_text() == ""
    assert not path.is_symlink() and path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0


# === Finding 6: branch names are not quoted in API paths ================================
#
# _branch_via_api, delete_branch and set_branch (bs/forges/github_repos.py) put a
# branch's parts into the URL unquoted (`_path` quotes the repository only), and git
# allows '#' and '%' in branch names: "feature#1" reads and deletes "feature". Today every
# caller passes a validated name (request/<app>/<id>, deployed.ref), so nothing reaches
# it from a requester; create_branch already quotes.


def test_a_branch_name_is_quoted_in_the_api_path(gh_world: GitHubWorld) -> None:
    fake, w = gh_world.fake, gh_world
    git = fake.repo(REQUESTS).git
    main = git.resolve("refs/heads/main")
    assert main is not None
    git.update_ref("refs/heads/feature", main)
    git.update_ref("refs/heads/feature#1", main)
    forge = open_forge(Workspace(w.checkout), w.env(BOT))
    forge.delete_branch(REQUESTS, "feature#1", sha=main)
    assert git.resolve("refs/heads/feature") == main, "deleted 'feature', not 'feature#1'"


# === Properties that hold ===============================================================


def test_a_refusal_from_github_names_the_source_never_the_token(gh_world: GitHubWorld) -> None:
    fake, w = gh_world.fake, gh_world
    number = w.open_request()
    fake.fail_next("GET", rf"/repos/{REQUESTS}/pulls/{number}", 401)
    actions = w.actions(fake.webhook("pull_request", "opened", repo=REQUESTS, number=number),
                        "refused")  # fmt: skip
    result = w.bs("check", user=BOT, env=actions)
    assert result.exit_code == 3, result.output
    summary = (w.root / "events" / "refused.summary.md").read_text()
    assert "BS_GITHUB_TOKEN" in result.output and "401" in summary
    for secret in (w.tokens[BOT], w.tokens["alice"]):
        assert secret not in result.output
        assert secret not in summary
