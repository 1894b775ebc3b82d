"""The fake GitHub (tests/fakegithub.py), driven by PyGithub itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from github import (
    BadCredentialsException,
    GithubException,
    InputGitTreeElement,
    RateLimitExceededException,
    UnknownObjectException,
)

import requests
from tests.conftest import WorkRepo
from tests.fakegithub import FakeGitHub


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def world(fake: FakeGitHub) -> dict[str, str]:
    """alice and bob write to acme/requests; carol is an outsider; tokens by login."""
    tokens = {
        "alice": fake.add_user("alice", "alice@example.gov.uk", name="Alice A"),
        "bob": fake.add_user("bob", "bob@example.gov.uk"),
        "carol": fake.add_user("carol"),
    }
    fake.add_repo("acme/requests", writers={"alice", "bob"})
    return tokens


def open_request(fake: FakeGitHub, gh: Any, branch: str = "req-1") -> Any:
    """alice's branch with requests/app/1.yaml, built with the git data API, and its PR."""
    repo = gh.get_repo("acme/requests")
    tip = repo.get_git_ref("heads/main").object.sha
    base = repo.get_git_commit(tip)
    blob = repo.create_git_blob("app: app\n", "utf-8")
    tree = repo.create_git_tree(
        [InputGitTreeElement("requests/app/1.yaml", "100644", "blob", sha=blob.sha)], base.tree
    )
    commit = repo.create_git_commit("Request app", tree, [base])
    repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    return repo.create_pull(base="main", head=branch, title="Deploy app", body="please")


# --- users, teams, repositories ------------------------------------------------------------


def test_users_emails_and_bad_credentials(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    gh = fake_github.client(tokens["alice"])
    me = gh.get_user()
    assert (me.login, me.name, me.email) == ("alice", "Alice A", "alice@example.gov.uk")
    assert [e.email for e in me.get_emails()] == ["alice@example.gov.uk"]
    assert gh.get_user("carol").email is None
    with pytest.raises(UnknownObjectException):
        gh.get_user("nobody")
    with pytest.raises(BadCredentialsException):
        _ = fake_github.client("ghp_wrong", retry=None).get_user().login
    assert gh.oauth_scopes == ["repo", "read:org", "user:email", "workflow"]


def test_teams_and_a_token_without_read_org(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    fake_github.add_team("acme", "deployers", [f"u{i}" for i in range(35)], maintainers=("bob",))
    gh = fake_github.client(tokens["alice"])
    team = gh.get_organization("acme").get_team_by_slug("deployers")  # lazy: no request
    assert {m.login for m in team.get_members()} == {f"u{i}" for i in range(35)} | {"bob"}
    assert [m.login for m in team.get_members(role="maintainer")] == ["bob"]
    assert team.get_team_membership("bob").role == "maintainer"
    with pytest.raises(UnknownObjectException):
        team.get_team_membership("alice")
    mark = len(fake_github.calls)
    assert (team.members_count, team.slug) == (36, "deployers")  # completes the team: its url
    assert team.get_team_membership("u1").role == "member"  # ... is /organizations/<id>/team/<id>
    assert fake_github.calls_since(mark)[-1][1].startswith("/organizations/")
    with pytest.raises(UnknownObjectException):
        list(gh.get_organization("acme").get_team_by_slug("nope").get_members())
    fake_github.set_scopes(tokens["alice"], "repo")
    with pytest.raises(UnknownObjectException):
        list(gh.get_organization("acme").get_team_by_slug("deployers").get_members())
    fake_github.missing_scope_status = 403
    with pytest.raises(GithubException) as raised:
        gh.get_organization("acme").get_team_by_slug("deployers").get_team_membership("bob")
    assert raised.value.status == 403


def test_repository_permissions_and_private_repositories(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    fake_github.add_repo("acme/secret", private=True, writers={"alice"})
    alice, carol = fake_github.client(tokens["alice"]), fake_github.client(tokens["carol"])
    repo = alice.get_repo("acme/requests")
    assert repo.permissions.push and not repo.permissions.admin
    assert repo.default_branch == "main"
    assert repo.clone_url == fake_github.repo("acme/requests").git.url
    assert repo.url == "https://api.github.com/repos/acme/requests"
    assert repo.html_url == "https://github.com/acme/requests"
    assert repo.organization.login == "acme"
    assert not carol.get_repo("acme/requests").permissions.push
    assert repo.get_collaborator_permission("bob") == "write"
    assert repo.get_collaborator_permission("carol") == "read"
    assert alice.get_repo("acme/secret").private
    with pytest.raises(UnknownObjectException):
        _ = carol.get_repo("acme/secret").full_name
    with pytest.raises(GithubException) as raised:  # read access, no push
        carol.get_repo("acme/requests").create_git_blob("x", "utf-8")
    assert raised.value.status == 403


def test_tags_over_several_pages_peeled(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    bare = fake_github.repo("acme/requests").git
    tip = bare.resolve("refs/heads/main")
    assert tip is not None
    lightweight = "".join(f"create refs/tags/v1.{i} {tip}\n" for i in range(250) if i % 10)
    bare.git("update-ref", "--stdin", input=lightweight.encode())
    for i in range(0, 250, 10):
        fake_github.tag("acme/requests", f"v1.{i}", tip, message="release")
    gh = fake_github.client(tokens["alice"])
    mark = len(fake_github.calls)
    tags = list(gh.get_repo("acme/requests").get_tags())
    assert len(tags) == 250
    assert tags[0].name == "v1.249" and tags[-1].name == "v1.0"
    assert {t.commit.sha for t in tags} == {tip}  # annotated tags peeled to their commit
    pages = [c for c in fake_github.calls_since(mark) if c[1] == "/repos/acme/requests/tags"]
    assert len(pages) == 9
    assert gh.get_repo("acme/requests").get_tags().totalCount == 250
    annotated = gh.get_repo("acme/requests").get_git_ref("tags/v1.10")
    assert annotated.object.type == "tag" and annotated.object.sha != tip
    assert gh.get_repo("acme/requests").get_git_ref("tags/v1.2").object.sha == tip


# --- git data, contents, clones --------------------------------------------------------------


def test_a_repository_from_existing_history_and_compare(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    tokens = world(fake_github)
    work = WorkRepo(tmp_path / "app")
    old = work.write("app.py", "v1\n").commit("one")
    work.tag("v1.0.0", annotated=True)
    new = work.write("app.py", "v2\n").commit("two")
    work.tag("v1.1.0")
    fake_github.add_repo("acme/app", git_dir=work.path)
    repo = fake_github.client(tokens["alice"]).get_repo("acme/app")
    assert [(t.name, t.commit.sha) for t in repo.get_tags()] == [("v1.1.0", new), ("v1.0.0", old)]
    comparison = repo.compare("v1.0.0", "v1.1.0")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 1, 0)
    assert [c.sha for c in comparison.commits] == [new]
    assert [f.filename for f in comparison.files] == ["app.py"]
    assert repo.compare("v1.1.0", "v1.0.0").status == "behind"
    with pytest.raises(UnknownObjectException):
        repo.compare("v1.0.0", "nope")


def test_git_data_lands_in_the_bare_repo_and_a_blobless_clone(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    tokens = world(fake_github)
    gh = fake_github.client(tokens["alice"])
    pull = open_request(fake_github, gh)
    sha = pull.head.sha
    bare = fake_github.repo("acme/requests").git
    assert bare.git("show", f"{sha}:requests/app/1.yaml") == "app: app"
    assert (
        bare.git("log", "-1", "--format=%an <%ae>", sha)
        == f"Alice A <{fake_github.accounts['alice'].noreply}>"
    )
    assert bare.resolve("refs/heads/req-1") == sha
    clone = tmp_path / "clone"
    url = gh.get_repo("acme/requests").clone_url
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", url, str(clone))
    git(clone, "fetch", "-q", "origin", "refs/pull/1/head")
    assert git(clone, "rev-parse", "FETCH_HEAD") == sha
    assert git(clone, "show", "origin/req-1:requests/app/1.yaml") == "app: app"
    commit = gh.get_repo("acme/requests").get_git_commit(sha)
    assert commit.message == "Request app" and len(commit.parents) == 1


def test_refs_create_update_delete(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    repo = fake_github.client(tokens["alice"]).get_repo("acme/requests")
    main = repo.get_git_ref("heads/main").object.sha
    older = fake_github.commit("acme/requests", {"a": "1"}, parent=main)
    ref = repo.create_git_ref("refs/heads/x", older)
    with pytest.raises(GithubException, match="Reference already exists"):
        repo.create_git_ref("refs/heads/x", main)
    with pytest.raises(GithubException, match="not a fast forward"):
        ref.edit(main)
    ref.edit(main, force=True)
    assert repo.get_git_ref("heads/x").object.sha == main
    ref.delete()
    with pytest.raises(UnknownObjectException):
        _ = repo.get_git_ref("heads/x").object
    with pytest.raises(GithubException, match="Reference does not exist"):
        ref.delete()
    assert repo.get_branch("main").commit.sha == main


def test_contents_read_create_update(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    repo = fake_github.client(tokens["alice"]).get_repo("acme/requests")
    readme = repo.get_contents("README.md")
    assert readme.decoded_content == b"# requests\n"
    created = repo.create_file("policies/apps.yaml", "add apps", "apps: {}\n", branch="main")
    assert created["commit"].sha == repo.get_branch("main").commit.sha
    with pytest.raises(GithubException) as raised:
        repo.update_file("README.md", "edit", "new", sha="0" * 40)
    assert raised.value.status == 409
    updated = repo.update_file("README.md", "edit", "new\n", sha=readme.sha)
    assert repo.get_contents("README.md", ref=updated["commit"].sha).decoded_content == b"new\n"
    listing = repo.get_contents("policies")
    assert [c.path for c in listing] == ["policies/apps.yaml"]
    assert sorted(c.path for c in repo.get_contents("")) == ["README.md", "policies"]
    with pytest.raises(UnknownObjectException):
        repo.get_contents("nope.txt")


# --- pull requests ---------------------------------------------------------------------------


def test_pull_request_review_and_merge(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    alice, bob = fake_github.client(tokens["alice"]), fake_github.client(tokens["bob"])
    pull = open_request(fake_github, alice)
    assert (pull.number, pull.state, pull.mergeable, pull.user.login) == (1, "open", True, "alice")
    with pytest.raises(GithubException, match="already exists"):
        alice.get_repo("acme/requests").create_pull(base="main", head="req-1", title="again")
    with pytest.raises(GithubException, match="not a collaborator"):
        pull.create_review_request(reviewers=["carol"])
    with pytest.raises(GithubException, match="author"):
        pull.create_review_request(reviewers=["alice"])
    pull.create_review_request(reviewers=["bob"])
    assert [u.login for u in alice.get_repo("acme/requests").get_pull(1).requested_reviewers] == [
        "bob"
    ]
    with pytest.raises(GithubException, match="your own pull request"):
        pull.create_review(event="APPROVE")
    first = pull.head.sha
    bob.get_repo("acme/requests").get_pull(1).create_review(event="APPROVE", body="ok")
    assert alice.get_repo("acme/requests").get_pull(1).requested_reviewers == []
    moved = fake_github.push(
        "acme/requests", "req-1", {"requests/app/1.yaml": "app: other\n"}, pusher="alice"
    )
    assert alice.get_repo("acme/requests").get_pull(1).head.sha == moved
    reviews = list(pull.get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [("bob", "APPROVED", first)]
    with pytest.raises(GithubException) as raised:
        bob.get_repo("acme/requests").get_pull(1).merge(sha=first)
    assert raised.value.status == 409
    result = bob.get_repo("acme/requests").get_pull(1).merge(sha=moved)
    assert result.merged
    merged = alice.get_repo("acme/requests").get_pull(1)
    assert (merged.merged, merged.state, merged.merged_by.login) == (True, "closed", "bob")
    assert merged.merge_commit_sha == result.sha
    bare = fake_github.repo("acme/requests").git
    assert bare.resolve("refs/heads/main") == result.sha
    assert bare.commit_info(result.sha).parents[1] == moved
    assert bare.git("show", f"{result.sha}:requests/app/1.yaml") == "app: other"
    with pytest.raises(GithubException) as raised:
        merged.merge()
    assert raised.value.status == 405
    assert [c.sha for c in merged.get_commits()][-1] == moved
    assert [f.filename for f in merged.get_files()] == ["requests/app/1.yaml"]


def test_review_rules_dismissal_and_close(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    alice, bob = fake_github.client(tokens["alice"]), fake_github.client(tokens["bob"])
    pull = open_request(fake_github, alice)
    as_bob = bob.get_repo("acme/requests").get_pull(1)
    review = as_bob.create_review(event="REQUEST_CHANGES", body="no")
    assert review.state == "CHANGES_REQUESTED"
    with pytest.raises(GithubException):
        as_bob.create_review(event="COMMENT")  # a comment needs a body
    review.dismiss("stale")
    assert [r.state for r in pull.get_reviews()] == ["DISMISSED"]
    assert [(r.event, r.actor) for r in fake_github.runs("acme/requests")] == [
        ("pull_request", "alice"),
        ("pull_request_review", "bob"),
    ]
    pull.edit(state="closed")
    assert alice.get_repo("acme/requests").get_pull(1).state == "closed"
    assert [p.number for p in alice.get_repo("acme/requests").get_pulls(state="closed")] == [1]
    assert list(alice.get_repo("acme/requests").get_pulls()) == []
    with pytest.raises(GithubException) as raised:
        pull.merge()
    assert raised.value.status == 405
    pull.edit(state="open")
    assert alice.get_repo("acme/requests").get_pull(1).state == "open"
    assert fake_github.runs("acme/requests")[-1].action == "reopened"
    fake_github.repo("acme/requests").git.delete_ref(
        "refs/heads/req-1"
    )  # a plain git push --delete
    assert alice.get_repo("acme/requests").get_pull(1).state == "closed"


def test_statuses_comments_and_commits(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    gh = fake_github.client(tokens["alice"])
    pull = open_request(fake_github, gh)
    commit = gh.get_repo("acme/requests").get_commit(pull.head.sha)
    commit.create_status("pending", context="bs/check", description="waiting")
    fake_github.advance(minutes=1)
    commit.create_status("success", context="bs/check", target_url="https://ci.example/1")
    statuses = list(commit.get_statuses())
    assert [(s.state, s.creator.login) for s in statuses] == [
        ("success", "alice"),
        ("pending", "alice"),
    ]
    _, listed = gh.requester.requestJsonAndCheck(
        "GET", f"/repos/acme/requests/commits/{pull.head.sha}/statuses"
    )
    assert [s["state"] for s in listed] == ["success", "pending"]
    pull.create_issue_comment("first")
    fake_github.client(tokens["bob"]).get_repo("acme/requests").get_pull(1).create_issue_comment(
        "second"
    )
    assert [(c.user.login, c.body) for c in pull.get_issue_comments()] == [
        ("alice", "first"),
        ("bob", "second"),
    ]
    assert commit.author.login == "alice"
    assert commit.files[0].filename == "requests/app/1.yaml"
    unknown = fake_github.push("acme/requests", "req-1", {"x": "y"}, pusher="alice")
    fake_github.repo("acme/requests").git.update_ref(
        "refs/heads/stranger", fake_github.commit("acme/requests", {"z": "1"}, parent=unknown)
    )
    stranger = gh.get_repo("acme/requests").get_commit("stranger")
    assert stranger.author is None  # "Test <test@example.com>" is nobody on this GitHub


def test_fork_pull_request(fake_github: FakeGitHub, tmp_path: Path) -> None:
    tokens = world(fake_github)
    carol = fake_github.client(tokens["carol"])
    fork = carol.get_repo("acme/requests").create_fork()
    assert (fork.full_name, fork.fork, fork.parent.full_name) == (
        "carol/requests",
        True,
        "acme/requests",
    )
    assert carol.get_repo("acme/requests").create_fork().id == fork.id
    sha = fake_github.push("carol/requests", "fix", {"requests/app/2.yaml": "x\n"}, pusher="carol")
    pull = carol.get_repo("acme/requests").create_pull(
        base="main", head="carol:fix", title="From a fork"
    )
    assert (pull.head.repo.full_name, pull.head.label, pull.head.sha) == (
        "carol/requests",
        "carol:fix",
        sha,
    )
    base = fake_github.repo("acme/requests").git
    assert base.resolve("refs/pull/1/head") == sha
    run = fake_github.runs("acme/requests")[-1]
    assert (run.event, run.actor, run.pull_numbers, run.head_repo.full_name) == (
        "pull_request", "carol", [], "carol/requests",
    )  # fmt: skip
    _, runs = carol.requester.requestJsonAndCheck(
        "GET",
        "/repos/acme/requests/actions/workflows/bs-events.yml/runs",
        parameters={"event": "pull_request"},
    )
    assert runs["total_count"] == 1 and runs["workflow_runs"][0]["pull_requests"] == []
    assert runs["workflow_runs"][0]["head_repository"]["full_name"] == "carol/requests"
    # a plain git push to the fork moves the pull request too
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "-b", "fix", fork.clone_url, str(work))
    (work / "more.txt").write_text("more\n")
    git(work, "add", "more.txt")
    git(work, "commit", "-q", "-m", "more")
    git(work, "push", "-q", "origin", "fix")
    head = git(work, "rev-parse", "HEAD")
    assert carol.get_repo("acme/requests").get_pull(1).head.sha == head
    assert base.resolve("refs/pull/1/head") == head
    assert fake_github.runs("acme/requests")[-1].actor == "carol"


def test_workflow_runs_and_deployments(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    gh = fake_github.client(tokens["alice"])
    open_request(fake_github, gh)
    fake_github.client(tokens["bob"]).get_repo("acme/requests").get_pull(1).create_review(
        event="APPROVE"
    )
    repo = gh.get_repo("acme/requests")
    runs = repo.get_workflow("bs-events.yml").get_runs(event="pull_request_review", branch="req-1")
    (run,) = list(runs)
    assert (run.actor.login, run.pull_requests[0].number, run.event) == (
        "bob",
        1,
        "pull_request_review",
    )
    assert repo.get_workflow_run(run.id).head_sha == repo.get_pull(1).head.sha
    assert runs.totalCount == 1
    opened = list(repo.get_workflow("bs-events.yml").get_runs(event="pull_request"))
    assert [r.actor.login for r in opened] == ["alice"]
    deployment = repo.create_deployment("main", environment="production", required_contexts=[])
    deployment.create_status("success", target_url="https://deploy.example/1")
    assert [d.sha for d in repo.get_deployments(environment="production")] == [
        repo.get_branch("main").commit.sha
    ]
    assert [s.state for s in deployment.get_statuses()] == ["success"]
    assert list(repo.get_deployments(environment="staging")) == []


# --- the harness: calls, faults, unregistered calls, Enterprise, webhooks -------------------


def test_calls_rate_limit_headers_and_faults(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    gh = fake_github.client(tokens["alice"])
    fake_github.reset_calls()
    _ = gh.get_repo("acme/requests").full_name
    assert fake_github.calls == [("GET", "/repos/acme/requests")]
    assert gh.rate_limiting[0] == 4999
    assert gh.get_rate_limit().resources.core.remaining == 4999
    fake_github.fail_next("GET", r"/repos/acme/requests", 502, body="<html>Bad gateway</html>")
    assert gh.get_repo("acme/requests").full_name == "acme/requests"  # PyGithub retried
    no_retry = fake_github.client(tokens["alice"], retry=None)
    fake_github.fail_next("GET", r"/repos/acme/requests", 502, body="<html>Bad gateway</html>")
    with pytest.raises(GithubException) as raised:
        _ = no_retry.get_repo("acme/requests").full_name
    assert raised.value.status == 502
    fake_github.fail_rate_limit("*", r"/repos/.*")
    with pytest.raises(RateLimitExceededException, match="API rate limit exceeded for user ID"):
        _ = no_retry.get_repo("acme/requests").full_name
    fake_github.fail_secondary_rate_limit("GET", r"/user", retry_after=1)
    with pytest.raises(RateLimitExceededException) as limited:
        _ = no_retry.get_user().login
    assert (limited.value.headers or {})["retry-after"] == "1"
    fake_github.fail_next("GET", r"/user", 401)
    with pytest.raises(BadCredentialsException):
        _ = no_retry.get_user().login
    fake_github.fail_next("GET", r"/repos/acme/requests", 404, times=2)
    for _ in range(2):
        with pytest.raises(UnknownObjectException):
            _ = no_retry.get_repo("acme/requests").full_name
    assert no_retry.get_repo("acme/requests").full_name == "acme/requests"


def test_unregistered_calls_fail_at_teardown(tmp_path: Path) -> None:
    with (
        pytest.raises(AssertionError, match="no route for") as raised,
        FakeGitHub(tmp_path) as fake,
    ):
        token = fake.add_user("alice")
        answer = requests.get(
            "https://api.github.com/repos/acme/requests/hooks",
            headers={"Authorization": f"token {token}"},
            timeout=5,
        )
        assert answer.status_code == 599
        assert requests.get("https://example.com/anything", timeout=5).status_code == 599
    assert "GET https://api.github.com/repos/acme/requests/hooks" in str(raised.value)
    assert "GET https://example.com/anything" in str(raised.value)


def test_bodies_that_miss_the_schema_fail_at_teardown(tmp_path: Path) -> None:
    with (
        pytest.raises(AssertionError, match="do not match the subset"),
        FakeGitHub(tmp_path) as fake,
    ):
        token = fake.add_user("alice")
        fake.fail_next("GET", "/user", 404, body={"message": 404})
        fake.client(token, retry=None).requester.requestJson("GET", "/user")


def test_other_hosts_can_be_mocked_alongside(tmp_path: Path) -> None:
    with FakeGitHub(tmp_path) as fake:
        fake.mock_other("GET", "https://jenkins.example/api/json", json={"ok": True})
        assert requests.get("https://jenkins.example/api/json", timeout=5).json() == {"ok": True}
        assert fake.unregistered == []


def test_passthru_for_local_servers(tmp_path: Path) -> None:
    with FakeGitHub(tmp_path) as fake:
        fake.passthru("http://127.0.0.1:9")
        with pytest.raises(requests.ConnectionError):  # really tried: nothing listens on port 9
            requests.get("http://127.0.0.1:9/", timeout=5)
        assert fake.unregistered == []


def test_enterprise_base_url(tmp_path: Path) -> None:
    with FakeGitHub(tmp_path, api_url="https://ghe.example.com/api/v3") as fake:
        token = fake.add_user("alice")
        fake.add_repo("acme/requests", writers={"alice"})
        gh = fake.client(token)
        repo = gh.get_repo("acme/requests")
        assert repo.url == "https://ghe.example.com/api/v3/repos/acme/requests"
        assert repo.html_url == "https://ghe.example.com/acme/requests"
        pull = open_request(fake, gh)
        assert pull.url == "https://ghe.example.com/api/v3/repos/acme/requests/pulls/1"
        assert [t.name for t in repo.get_tags()] == []
        assert ("POST", "/repos/acme/requests/pulls") in fake.calls


def test_webhook_payloads(fake_github: FakeGitHub) -> None:
    tokens = world(fake_github)
    alice, bob = fake_github.client(tokens["alice"]), fake_github.client(tokens["bob"])
    pull = open_request(fake_github, alice)
    opened = fake_github.webhook("pull_request", "opened", repo="acme/requests", number=1)
    assert opened["number"] == 1 and opened["pull_request"]["head"]["sha"] == pull.head.sha
    assert opened["repository"]["full_name"] == "acme/requests"
    assert opened["sender"]["login"] == "alice"
    moved = fake_github.push("acme/requests", "req-1", {"b": "1"}, pusher="alice")
    sync = fake_github.webhook("pull_request", "synchronize", repo="acme/requests", number=1)
    assert sync["after"] == moved and sync["pull_request"]["head"]["sha"] == moved
    assert sync["before"] == pull.head.sha
    bob.get_repo("acme/requests").get_pull(1).create_review(event="APPROVE")
    review = fake_github.webhook("pull_request_review", "submitted", repo="acme/requests", number=1)
    assert (review["review"]["state"], review["review"]["commit_id"]) == ("approved", moved)
    assert review["sender"]["login"] == "bob"
    run = fake_github.webhook("workflow_run", "completed", repo="acme/requests")
    assert run["workflow_run"]["event"] == "pull_request_review"
    assert run["workflow_run"]["head_sha"] == moved
    assert run["workflow_run"]["pull_requests"][0]["number"] == 1
    bob.get_repo("acme/requests").get_pull(1).merge()
    with pytest.raises(jsonschema.ValidationError):
        fake_github.webhook("pull_request", "opened", repo="acme/requests", number=1)  # closed now
    merged = fake_github.webhook("pull_request", "merged", repo="acme/requests", number=1)
    assert merged["action"] == "closed" and merged["pull_request"]["merged"]
    assert merged["pull_request"]["merged_by"]["login"] == "bob"
    assert (
        merged["pull_request"]["merge_commit_sha"]
        == fake_github.pull("acme/requests", 1).merge_commit_sha
    )
