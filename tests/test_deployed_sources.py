"""The ``http`` and ``gitops-file`` deployed-version sources, and ``deployed.format``.

``http`` against ``responses`` and against a real HTTP server on loopback;
``gitops-file`` against the local forge, with a GitOps repository beside the app's.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import responses
from responses import matchers

import requests
from bs.config import AppConfig
from bs.deployed import source_for
from bs.deployed.gitops_file import GitOpsFileSource
from bs.deployed.http import HttpSource, resolve_pointer
from bs.deployed.versionformat import split_version
from bs.errors import BsError
from bs.forges.local import LocalForge
from bs.usecases.releases import read_releases
from tests.conftest import WorkRepo, World, git
from tests.test_config_errors import GOOD_APP, apps_yaml, run_with_apps_yaml, user_error

TOKEN = "s3cr3t-Bearer-NeverLogThis-0123456789"  # a fake
URL = "https://status.example/{app}/version"
WIRE = "https://status.example/frontend/version"
GITOPS = "alphagov/gitops"
VALUES = "apps/frontend/values.yaml"


# --- the app repository and the forge ---------------------------------------------------


class App:
    """frontend on the local forge: release_1 and release_2, and the forge itself."""

    def __init__(self, world: World) -> None:
        self.world = world
        work = world.add_app("frontend")
        self.first = work.write("app.txt", "one\n").commit("one")
        work.tag("release_1", annotated=True)
        self.second = work.write("app.txt", "two\n").commit("two")
        work.tag("release_2")
        work.push_to(world.app_bare("alphagov/frontend"))
        self.bare = world.app_bare("alphagov/frontend")
        self.forge = LocalForge(world.forge, user="alice")

    def config(self, **deployed: Any) -> AppConfig:
        return AppConfig.model_validate(
            {"repo": "alphagov/frontend", "tags": {"scheme": "release"},
             "deployed": deployed, "policy": "standard"}
        )  # fmt: skip


@pytest.fixture
def app(world: World) -> App:
    return App(world)


def refused(call: Any, *args: Any) -> str:
    """The one-line message of the BsError `call(*args)` raises, checked free of the token."""
    with pytest.raises(BsError) as raised:
        call(*args)
    message = str(raised.value)
    assert "\n" not in message, message
    assert TOKEN not in message, message
    return message


# --- deployed.format (pure) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "parts"),
    [
        ("1a2b3c4", "{commit}", ("commit", "1a2b3c4")),
        ("release-1a2b3c4", "release-{commit}", ("commit", "1a2b3c4")),
        ("ghcr.io/x:release_2", "ghcr.io/x:{tag}", ("tag", "release_2")),
        ("v1-abc-linux", "v1-{commit}-linux", ("commit", "abc")),
        ("release-", "release-{commit}", None),
        ("releases-1a2b3c4", "release-{commit}", None),
        ("1a2b3c4", "release-{commit}", None),
        ("release-1a2b3c4-x", "release-{commit}", ("commit", "1a2b3c4-x")),  # hex: later
    ],
)
def test_split_version_matches_the_fixed_text_exactly(value, fmt, parts) -> None:
    assert split_version(value, fmt) == parts


def test_json_pointer_follows_rfc_6901() -> None:
    doc = {"a/b": {"m~n": ["x", "y"]}, "": {"": 1}, "~1": 2}
    assert resolve_pointer(doc, "") is doc
    assert resolve_pointer(doc, "/a~1b/m~0n/1") == "y"
    assert resolve_pointer(doc, "//") == 1
    assert resolve_pointer(doc, "/~01") == 2  # ~01 is "~1", not "/"
    for missing in ("/a~1b/m~0n/2", "/a~1b/m~0n/01", "/a~1b/m~0n/-", "/ab", "/~1/x"):
        with pytest.raises(LookupError):
            resolve_pointer(doc, missing)


# --- http, with responses ---------------------------------------------------------------


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def http_config(app: App, **overrides: Any) -> AppConfig:
    return app.config(**{"source": "http", "url": URL, "pointer": "/version", **overrides})


def read_http(app: App, config: AppConfig | None = None, env: dict[str, str] | None = None):
    source = HttpSource(app.forge, {} if env is None else env)
    return source.deployed_commit("frontend", config or http_config(app))


def test_http_reads_a_full_sha(app, web) -> None:
    web.get(WIRE, json={"version": app.second}, match=[matchers.header_matcher(
        {"Accept": "application/json"})])  # fmt: skip
    assert read_http(app) == app.second


def test_http_resolves_an_abbreviated_sha_and_drops_a_final_newline(app, web) -> None:
    web.get(WIRE, json={"version": app.first[:7].upper() + "\n"})
    assert read_http(app) == app.first


def test_http_reads_release_prefixed_sha_through_the_format(app, web) -> None:
    web.get(WIRE, json={"version": f"release-{app.first[:10]}"})
    assert read_http(app, http_config(app, format="release-{commit}")) == app.first


def test_http_reads_a_tag_annotated_or_not(app, web) -> None:
    web.get(WIRE, json={"version": "release_1"})
    web.get(WIRE, json={"version": "release_2"})
    config = http_config(app, format="{tag}")
    assert read_http(app, config) == app.first  # annotated: peeled to its commit
    assert read_http(app, config) == app.second


def test_http_a_missing_tag_is_named(app, web) -> None:
    web.get(WIRE, json={"version": "release_9"})
    message = refused(read_http, app, http_config(app, format="{tag}"))
    assert "alphagov/frontend has no tag 'release_9'" in message


def test_http_json_null_means_nothing_deployed(app, web) -> None:
    web.get(WIRE, json={"version": None})
    assert read_http(app) is None


@pytest.mark.parametrize("value", ["", "  ", "latest", "release-1a2b3c4", "1a2b3c"])
def test_http_an_unreadable_value_is_an_error_never_nothing_deployed(app, web, value) -> None:
    web.get(WIRE, json={"version": value})
    message = refused(read_http, app)
    assert message.startswith("frontend: /version of https://status.example/frontend/version")


def test_http_the_pointer_unescapes_tilde_one_and_zero(app, web) -> None:
    web.get(WIRE, json={"apps": {"web/frontend": {"sha~v": [app.first, app.second]}}})
    config = http_config(app, pointer="/apps/web~1frontend/sha~0v/1")
    assert read_http(app, config) == app.second


def test_http_a_missing_pointer_lists_what_is_there(app, web) -> None:
    web.get(WIRE, json={"build": {"sha": app.first, "time": "now"}})
    message = refused(read_http, app, http_config(app, pointer="/build/commit"))
    assert "has no /build/commit" in message
    assert "/build has no key 'commit' (keys: 'sha', 'time')" in message
    assert "fix deployed.pointer" in message


@pytest.mark.parametrize("value", [1234567, 12.5, True, ["abc"], {"sha": "abc"}])
def test_http_a_value_that_is_not_a_string_is_refused(app, web, value) -> None:
    web.get(WIRE, json={"version": value})
    assert "not a string" in refused(read_http, app)


def test_http_sends_the_bearer_token_and_never_shows_it(app, web) -> None:
    config = http_config(app, token_env="STATUS_TOKEN")
    bearer = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
    web.get(WIRE, json={"version": app.second}, match=[bearer])
    web.get(WIRE, status=403, body=f"token {TOKEN} may not", match=[bearer])
    assert read_http(app, config, {"STATUS_TOKEN": TOKEN}) == app.second
    message = refused(read_http, app, config, {"STATUS_TOKEN": TOKEN})
    assert message == (
        f"frontend: {WIRE} refused the request (403 Forbidden): check the token in STATUS_TOKEN"
    )


def test_http_a_missing_token_variable_is_named_before_anything_is_sent(app, web) -> None:
    config = http_config(app, token_env="STATUS_TOKEN")
    message = refused(read_http, app, config, {"STATUS_TOKEN": " "})
    assert message.startswith("STATUS_TOKEN is not set: frontend's deployed version is read")


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (404, f"frontend: {WIRE} was not found (404): fix deployed.url"),
        (500, f"frontend: {WIRE} failed (500 Internal Server Error): try again later"),
        (401, f"frontend: {WIRE} refused the request (401 Unauthorized): set deployed.token_env"),
        (204, f"frontend: {WIRE} did not answer JSON ('text/plain')"),
    ],
)
def test_http_error_statuses_are_one_line(app, web, status, says) -> None:
    web.get(WIRE, status=status, body="")
    assert refused(read_http, app).startswith(says)


def test_http_an_answer_that_is_not_json_is_named(app, web) -> None:
    web.get(WIRE, body="<html>ok</html>", content_type="text/html")
    message = refused(read_http, app)
    assert message == (
        f"frontend: {WIRE} did not answer JSON ('text/html'): set deployed.url to a JSON endpoint"
    )


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (requests.ConnectTimeout("slow"), "did not answer within 2.5 s"),
        (requests.ReadTimeout("slow"), "did not answer within 2.5 s"),
        (requests.ConnectionError("x: [Errno 111] Connection refused')"), "(Connection refused)"),
        (requests.exceptions.SSLError("bad cert"), "failed TLS verification"),
    ],
)
def test_http_network_failures_are_one_line(app, web, error, says) -> None:
    web.get(WIRE, body=error)
    message = refused(read_http, app, http_config(app, timeout=2.5))
    assert message.startswith(f"frontend: {WIRE} ")
    assert message.endswith(": check deployed.url and that the service is up, then try again")
    assert says in message


@pytest.mark.parametrize(
    "target", ["https://evil.example/frontend", "http://status.example/frontend/version",
               "https://status.example:8443/x", "//evil.example/x"],
)  # fmt: skip
def test_http_a_redirect_to_another_origin_is_refused_not_followed(app, web, target) -> None:
    web.get(WIRE, status=302, headers={"Location": target})
    config = http_config(app, token_env="STATUS_TOKEN")
    message = refused(read_http, app, config, {"STATUS_TOKEN": TOKEN})
    assert "another origin, which bs does not follow" in message
    assert len(web.calls) == 1  # the token went nowhere else


def test_http_a_redirect_on_the_same_origin_is_followed_with_the_token(app, web) -> None:
    bearer = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
    web.get(WIRE, status=301, headers={"Location": "/v2/frontend"}, match=[bearer])
    web.get("https://status.example/v2/frontend", json={"version": app.first}, match=[bearer])
    config = http_config(app, token_env="STATUS_TOKEN")
    assert read_http(app, config, {"STATUS_TOKEN": TOKEN}) == app.first


def test_http_the_default_port_spelt_out_is_the_same_origin(app, web) -> None:
    web.get(WIRE, status=302, headers={"Location": "https://STATUS.example:443/v2"})
    web.get("https://status.example:443/v2", json={"version": app.first})
    assert read_http(app) == app.first


def test_http_the_app_name_is_quoted_in_the_url(app, web) -> None:
    web.get("https://status.example/q?app=frontend", json={"version": app.first})
    assert read_http(app, http_config(app, url="https://status.example/q?app={app}")) == app.first


def test_http_recording_says_there_is_nothing_to_record(app) -> None:
    said = source_for(http_config(app), app.forge, {}).record_deployed(
        "frontend", http_config(app), app.second
    )
    assert said == f"{WIRE} reports the deployed version itself: nothing to record"


# --- http, against a real server on loopback --------------------------------------------


class _Status(BaseHTTPRequestHandler):
    version = ""
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"deploy": {"frontend": self.version}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass  # keep pytest's output clean


@pytest.fixture
def status_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_loopback_end_to_end_through_bs_tags(app, status_server) -> None:
    """`bs tags` reads the deployed version from a real endpoint on this machine."""
    _Status.version, _Status.seen = f"release-{app.first[:8]}", []
    app.world.apps["frontend"]["deployed"] = {
        "source": "http", "url": f"{status_server}/status/{{app}}",
        "pointer": "/deploy/frontend", "format": "release-{commit}", "token_env": "STATUS_TOKEN",
    }  # fmt: skip
    app.world.write_apps()
    result = app.world.bs("tags", "frontend", env={"STATUS_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert f"frontend: deployed release_1 ({app.first[:12]})" in result.stdout
    assert _Status.seen == [("/status/frontend", f"Bearer {TOKEN}")]


def test_http_loopback_connection_refused_is_one_line(app) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = http_config(app, url=f"http://127.0.0.1:{port}/{{app}}")
    message = refused(read_http, app, config)
    assert message == (
        f"frontend: http://127.0.0.1:{port}/frontend could not be reached (Connection refused): "
        "check deployed.url and that the service is up, then try again"
    )


# --- gitops-file, against the local forge -----------------------------------------------


class GitOps:
    """alphagov/gitops on the local forge, whose values.yaml names frontend's build."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.work = WorkRepo(app.world.root / "work" / "gitops")
        self.commit({"image": {"repository": "ghcr.io/alphagov/frontend", "tag": "x"}})

    def commit(self, values: Any, *, branch: str = "main", raw: str | None = None) -> None:
        text = raw if raw is not None else json.dumps(values)  # JSON is YAML
        if branch != "main":
            self.work.checkout("main", new_branch=branch)
        self.work.write(VALUES, text).commit("deploy")
        self.work.push_to(self.app.world.forge / f"{GITOPS}.git")
        if branch != "main":
            self.work.checkout("main")

    def tag_value(self, value: Any, **kw: Any) -> None:
        image = {"repository": "ghcr.io/alphagov/frontend", "tag": value}
        self.commit({"image": image}, **kw)

    def deployed(self, **overrides: Any) -> AppConfig:
        config = {"source": "gitops-file", "repo": GITOPS, "path": VALUES, "key": "image.tag"}
        return self.app.config(**{**config, **overrides})

    def read(self, config: AppConfig | None = None) -> str | None:
        return GitOpsFileSource(self.app.forge).deployed_commit(
            "frontend", config or self.deployed()
        )


@pytest.fixture
def gitops(app: App) -> GitOps:
    return GitOps(app)


def test_gitops_reads_the_key_and_resolves_in_the_app_repository(app, gitops) -> None:
    gitops.tag_value(f"release-{app.second[:7]}")
    assert gitops.read(gitops.deployed(format="release-{commit}")) == app.second
    gitops.tag_value(app.first)
    assert gitops.read() == app.first


def test_gitops_reads_a_tag_and_another_branch(app, gitops) -> None:
    gitops.tag_value("release_1", branch="production")
    gitops.tag_value("release_2")
    assert gitops.read(gitops.deployed(format="{tag}", branch="production")) == app.first
    assert gitops.read(gitops.deployed(format="{tag}")) == app.second


def test_gitops_null_means_nothing_deployed(gitops) -> None:
    gitops.commit(None, raw="image:\n  repository: ghcr.io/alphagov/frontend\n  tag:\n")
    assert gitops.read() is None


def test_gitops_a_missing_key_lists_the_keys_where_it_stopped(gitops) -> None:
    message = refused(gitops.read, gitops.deployed(key="image.digest"))
    assert message == (
        f"frontend: {GITOPS}/{VALUES} on the default branch has no image.digest (image has no "
        "key digest; it has repository, tag): fix deployed.key"
    )
    message = refused(gitops.read, gitops.deployed(key="image.tag.sha"))
    assert "(image.tag is 'x', not a mapping with sha)" in message


def test_gitops_a_missing_file_or_branch_is_named(gitops) -> None:
    message = refused(gitops.read, gitops.deployed(path="apps/other/values.yaml"))
    assert message.startswith(
        f"frontend: {GITOPS}/apps/other/values.yaml on the default branch does not exist: "
        "fix deployed.repo, deployed.path or deployed.branch"
    )
    message = refused(gitops.read, gitops.deployed(branch="staging"))
    assert message.startswith(f"frontend: cannot read {GITOPS}/{VALUES} on staging: ")
    assert "staging" in message.split(": ", 2)[2]


def test_gitops_bad_yaml_names_the_file_and_line(gitops) -> None:
    gitops.commit(None, raw="image:\n  tag: [unclosed\n")
    message = refused(gitops.read)
    assert message.startswith(
        f"frontend: {GITOPS}/{VALUES} on the default branch: not valid YAML at line 3"
    )


def test_gitops_a_file_over_a_megabyte_is_refused(gitops) -> None:
    gitops.commit(None, raw="image: {tag: x}\n" + "#" * 1_000_001 + "\n")
    assert "too large for a YAML file" in refused(gitops.read)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("1234567", "is the number 1234567, not a string: YAML reads an unquoted value"),
        ("0123456", "is the number 42798, not a string"),  # YAML 1.1: octal
        ("[a, b]", "is a list, not a string: point deployed.key at the version itself"),
        ("{sha: abc}", "is a mapping, not a string"),
    ],
)
def test_gitops_a_value_that_is_not_a_string_is_refused(gitops, raw, says) -> None:
    gitops.commit(None, raw=f"image:\n  tag: {raw}\n")
    message = refused(gitops.read)
    assert message.startswith(f"frontend: image.tag in {GITOPS}/{VALUES} on the default branch ")
    assert says in message


def test_gitops_an_unknown_or_non_commit_sha_is_refused(app, gitops) -> None:
    gitops.tag_value("deadbee")
    message = refused(gitops.read)
    assert message == (
        f"frontend: image.tag in {GITOPS}/{VALUES} on the default branch is 'deadbee', but "
        "deadbee is not found in alphagov/frontend: is it pushed there, and does deployed "
        "point at this app's source?"
    )
    blob = git(app.bare, "rev-parse", f"{app.first}:app.txt")
    gitops.tag_value(blob[:12])
    assert f"but {blob[:12]} is not a commit in alphagov/frontend" in refused(gitops.read)
    tag_object = git(app.bare, "rev-parse", "release_1")  # annotated: not its commit
    gitops.tag_value(tag_object)
    assert "is not a commit in alphagov/frontend" in refused(gitops.read)


def _colliding_commits(bare: Path) -> tuple[str, str]:
    """Two commits in `bare` whose SHAs share their first 7 hex digits.

    Found by hashing candidate commit objects in Python (a birthday search over
    some 20,000), then only the pair is written to the repository.
    """
    tree = git(bare, "hash-object", "-t", "tree", "-w", "--stdin", input=b"")
    seen: dict[str, bytes] = {}
    for i in range(1_000_000):
        body = (
            f"tree {tree}\nauthor A <a@example.com> 1700000000 +0000\n"
            f"committer A <a@example.com> 1700000000 +0000\n\ncollide {i}\n"
        ).encode()
        sha = hashlib.sha1(b"commit %d\0" % len(body) + body, usedforsecurity=False).hexdigest()
        if sha[:7] in seen:
            written = [
                git(bare, "hash-object", "-t", "commit", "-w", "--stdin", input=content)
                for content in (seen[sha[:7]], body)
            ]
            assert written[1] == sha
            return written[0], written[1]
        seen[sha[:7]] = body
    raise AssertionError("no collision found")


def test_gitops_an_ambiguous_abbreviation_is_refused(app, gitops) -> None:
    one, two = _colliding_commits(app.bare)
    gitops.tag_value(one[:7])
    message = refused(gitops.read)
    assert message == (
        f"frontend: image.tag in {GITOPS}/{VALUES} on the default branch is '{one[:7]}', which "
        f"is ambiguous in alphagov/frontend: 2 commits start with {one[:7]}; make the source "
        "state more digits (a full SHA is best)"
    )
    gitops.tag_value(two[:12])
    assert gitops.read() == two


def test_gitops_a_branch_named_like_the_abbreviation_does_not_win(app, gitops) -> None:
    """`rev-parse 1a2b3c4` prefers a ref of that name over the object: not here."""
    git(app.bare, "branch", app.first[:7], app.second)
    gitops.tag_value(app.first[:7])
    assert gitops.read() == app.first


def test_gitops_recording_writes_nothing_and_says_who_records(app, gitops) -> None:
    before = git(app.world.forge / f"{GITOPS}.git", "rev-parse", "main")
    said = source_for(gitops.deployed(), app.forge, {}).record_deployed(
        "frontend", gitops.deployed(), app.second
    )
    assert said == (
        f"the deployer's own commit to {GITOPS}/{VALUES} records it (image.tag, GitOps): "
        "bs writes nothing"
    )
    assert git(app.world.forge / f"{GITOPS}.git", "rev-parse", "main") == before


def test_bs_tags_shows_the_version_a_gitops_file_names(app, gitops) -> None:
    gitops.tag_value(f"ghcr.io/alphagov/frontend:{app.first[:9]}")
    app.world.apps["frontend"]["deployed"] = {
        "source": "gitops-file", "repo": GITOPS, "path": VALUES, "key": "image.tag",
        "format": "ghcr.io/alphagov/frontend:{commit}",
    }  # fmt: skip
    app.world.write_apps()
    result = app.world.bs("tags", "frontend")
    assert result.exit_code == 0, result.output
    assert f"frontend: deployed release_1 ({app.first[:12]})" in result.stdout
    assert "release_2" in result.stdout.split("\n", 1)[1]
    listing = json.loads(app.world.bs("tags", "frontend", "--json").stdout)
    assert listing["deployed"] == {"tag": "release_1", "commit": app.first}
    releases = read_releases(app.forge, "frontend", gitops.deployed(
        format="ghcr.io/alphagov/frontend:{commit}"))  # fmt: skip
    assert releases.deployed is not None and releases.deployed.commit == app.first


def test_bs_tags_reports_a_broken_gitops_file_as_a_user_error(app, gitops) -> None:
    gitops.commit(None, raw="image: {tag: [\n")
    app.world.apps["frontend"]["deployed"] = {
        "source": "gitops-file", "repo": GITOPS, "path": VALUES, "key": "image.tag"
    }  # fmt: skip
    app.world.write_apps()
    assert "not valid YAML" in user_error(app.world.bs("tags", "frontend"))


# --- configuration ----------------------------------------------------------------------


def test_config_refuses_plain_http_off_this_machine(app_world: World) -> None:
    body = GOOD_APP.replace(
        "{source: ref, ref: deployed-to-production}",
        "{source: http, url: 'http://status.example/{app}', pointer: /version}",
    )
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert (
        "apps.frontend.deployed.url: use https:// for status.example (http:// only on this "
        "machine)" in output
    )


@pytest.mark.parametrize("fmt", ["v{sha}", "{commit}-{tag}", "plain", "{commit} x"])
def test_config_refuses_a_bad_format(app_world: World, fmt: str) -> None:
    body = GOOD_APP.replace(
        "{source: ref, ref: deployed-to-production}",
        f"{{source: gitops-file, repo: alphagov/gitops, path: a.yaml, key: image.tag, "
        f"format: '{fmt}'}}",
    )
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.deployed.format" in output


def test_config_accepts_loopback_http(app_world: World) -> None:
    body = GOOD_APP.replace(
        "{source: ref, ref: deployed-to-production}",
        "{source: http, url: 'http://127.0.0.1:8080/{app}', pointer: /version}",
    )
    assert run_with_apps_yaml(app_world, apps_yaml(body)).exit_code == 0
