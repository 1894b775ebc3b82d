"""Bad configuration gets one clear message, exit status 1, and never a traceback.

``bs.yaml`` is read when a command needs the forge (``bs tags``);
``policies/apps.yaml`` by every command that looks at apps (``bs apps``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Result, World

GOOD_BS_YAML = (
    "version: 1\nforge: {kind: local, path: ../forge}\nrequests_repo: alphagov/release-requests\n"
)

GOOD_APP = (
    "    repo: alphagov/frontend\n"
    "    tags: {scheme: release}\n"
    "    deployed: {source: ref, ref: deployed-to-production}\n"
    "    policy: standard\n"
    "    review_list: [frontend-reviewers@example.gov.uk]\n"
)


def apps_yaml(app_body: str, name: str = "frontend") -> str:
    return f"version: 1\napps:\n  {name}:\n{app_body}"


def user_error(result: Result) -> str:
    """The output of a run that must fail as a user error: exit 1, no traceback."""
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert output.startswith("bs: error: "), output
    return output


@pytest.fixture
def app_world(world: World) -> World:
    world.add_app("frontend")
    return world


def run_with_bs_yaml(world: World, content: str | bytes) -> Result:
    path = world.checkout / "bs.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return world.bs("tags", "frontend")


def run_with_apps_yaml(world: World, content: str | bytes) -> Result:
    path = world.checkout / "policies" / "apps.yaml"
    path.parent.mkdir(exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return world.bs("apps")


def test_the_good_configuration_works(app_world: World) -> None:
    """The baseline the other tests break one thing of."""
    assert run_with_apps_yaml(app_world, apps_yaml(GOOD_APP)).exit_code == 0
    result = app_world.bs("apps", "--json")
    assert result.exit_code == 0, result.output
    assert '"name": "frontend"' in result.stdout


# --- bs.yaml -------------------------------------------------------------------


def test_bs_yaml_syntax_error_names_the_file_and_line(app_world: World) -> None:
    output = user_error(
        run_with_bs_yaml(
            app_world, "version: 1\nforge: {kind: local\nrequests_repo: alphagov/release-requests\n"
        )
    )
    assert "bs.yaml" in output
    assert "not valid YAML" in output
    assert "line 3" in output
    # A tab where indentation goes.
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML + "\tpatch: {}\n"))
    assert "bs.yaml" in output and "line 4" in output


def test_bs_yaml_unknown_key_lists_the_allowed_keys(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML + "requests_branch: main\n"))
    assert "bs.yaml" in output
    assert "unknown key 'requests_branch'" in output
    assert "version, forge, requests_repo, patch" in output


def test_bs_yaml_missing_key_is_named(app_world: World) -> None:
    output = user_error(
        run_with_bs_yaml(app_world, "version: 1\nforge: {kind: local, path: ../forge}\n")
    )
    assert "bs.yaml" in output
    assert "requests_repo" in output
    assert "missing" in output


def test_bs_yaml_empty_names_every_missing_key(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, "# nothing yet\n"))
    assert "forge" in output and "requests_repo" in output
    assert "missing" in output


def test_bs_yaml_unknown_forge_kind_names_the_allowed_kinds(app_world: World) -> None:
    output = user_error(
        run_with_bs_yaml(app_world, GOOD_BS_YAML.replace("kind: local", "kind: gitlab"))
    )
    assert "forge.kind: 'gitlab' is not one bs knows: use 'local', 'github'." in output


def test_bs_yaml_forge_without_kind_names_the_key(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML.replace("kind: local, ", "")))
    assert "forge.kind: required key is missing: add it." in output


def test_bs_yaml_unknown_key_in_forge_lists_the_forges_keys(app_world: World) -> None:
    """The forge is a tagged union on `kind`; pydantic puts the tag (`local`) in the
    error location. The message must name `forge` and list `kind, path`, not
    speak of a `forge.local` section that does not exist in the file."""
    output = user_error(
        run_with_bs_yaml(
            app_world, GOOD_BS_YAML.replace("path: ../forge", "path: ../forge, url: x")
        )
    )
    assert "unknown key 'url' in forge:" in output
    assert "kind, path" in output
    assert "forge.local" not in output


def test_bs_yaml_bad_value_is_named(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML + "patch: {max_stored: lots}\n"))
    assert "patch.max_stored" in output
    output = user_error(
        run_with_bs_yaml(app_world, GOOD_BS_YAML.replace("alphagov/release-requests", "no-slash"))
    )
    assert "requests_repo" in output
    output = user_error(
        run_with_bs_yaml(app_world, GOOD_BS_YAML.replace("version: 1", "version: 2"))
    )
    assert "version" in output


def test_bs_yaml_that_is_not_a_mapping(app_world: World) -> None:
    for content, found in [
        ("- version: 1\n- forge: local\n", "a list"),
        ("just words\n", "single value"),
        ("42\n", "single value"),
    ]:
        output = user_error(run_with_bs_yaml(app_world, content))
        assert "bs.yaml" in output
        assert "mapping" in output
        assert found in output


def test_bs_yaml_not_utf8(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, b"version: 1\n# caf\xe9\n"))
    assert "bs.yaml" in output
    assert "UTF-8" in output


def test_bs_yaml_too_large_is_refused_unread(app_world: World) -> None:
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML + "#" * 1_100_000 + "\n"))
    assert "bs.yaml" in output
    assert "too large" in output


def test_bs_yaml_nested_too_deeply_is_a_user_error(app_world: World) -> None:
    """A file of a thousand `[` is bad YAML input like any other; PyYAML's
    recursive composer raises RecursionError, which must not escape as a bug."""
    output = user_error(run_with_bs_yaml(app_world, "[" * 1000 + "]" * 1000 + "\n"))
    assert "bs.yaml" in output


def test_bs_yaml_duplicate_keys_are_refused(app_world: World) -> None:
    """YAML forbids duplicate keys; PyYAML silently keeps the last. A strict
    configuration must not let a second `requests_repo:` quietly win."""
    output = user_error(run_with_bs_yaml(app_world, GOOD_BS_YAML + "requests_repo: mallory/evil\n"))
    assert "bs.yaml" in output
    assert "requests_repo" in output
    assert "line 4" in output


# --- finding bs.yaml -----------------------------------------------------------


def test_no_bs_yaml_says_to_run_inside_a_checkout_or_pass_dash_c(app_world: World) -> None:
    (app_world.checkout / "bs.yaml").unlink()
    output = user_error(app_world.bs("apps"))
    assert "no bs.yaml" in output
    assert "checkout" in output
    assert "-C" in output


def test_dash_c_to_a_folder_without_bs_yaml(app_world: World, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    output = user_error(app_world.bs("-C", str(elsewhere), "apps"))
    assert "no bs.yaml" in output and "-C" in output
    output = user_error(app_world.bs("-C", str(tmp_path / "nope"), "apps"))
    assert "no such folder" in output
    assert str(tmp_path / "nope") in output


def test_dash_c_finds_bs_yaml_in_a_parent_folder(app_world: World) -> None:
    sub = app_world.checkout / "requests" / "frontend"
    sub.mkdir(parents=True)
    result = app_world.bs("-C", str(sub), "apps")
    assert result.exit_code == 0, result.output
    assert "frontend" in result.stdout


# --- policies/apps.yaml ------------------------------------------------------------


def test_apps_unknown_key_in_an_app_lists_the_allowed_keys(app_world: World) -> None:
    output = user_error(
        run_with_apps_yaml(app_world, apps_yaml(GOOD_APP.replace("tags:", "tagz:")))
    )
    assert "policies/apps.yaml" in output
    assert "unknown key 'tagz' in apps.frontend" in output
    assert "repo, tags, deployed, policy, review_list" in output


def test_apps_bad_scheme_lists_the_schemes(app_world: World) -> None:
    output = user_error(
        run_with_apps_yaml(
            app_world, apps_yaml(GOOD_APP.replace("scheme: release", "scheme: calver"))
        )
    )
    assert "apps.frontend.tags.scheme" in output
    for scheme in ("release", "v", "semver", "regex"):
        assert f"'{scheme}'" in output


def test_apps_regex_scheme_without_pattern(app_world: World) -> None:
    output = user_error(
        run_with_apps_yaml(
            app_world, apps_yaml(GOOD_APP.replace("scheme: release", "scheme: regex"))
        )
    )
    assert "apps.frontend.tags" in output
    assert "needs a pattern" in output


def test_apps_regex_scheme_with_a_broken_pattern(app_world: World) -> None:
    body = GOOD_APP.replace("{scheme: release}", "{scheme: regex, pattern: 'deploy-('}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.tags" in output
    assert "not a valid regular expression" in output


def test_apps_pattern_on_a_non_regex_scheme(app_world: World) -> None:
    body = GOOD_APP.replace("{scheme: release}", "{scheme: release, pattern: 'r-(\\d+)'}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.tags" in output
    assert "takes no pattern" in output


def test_messages_do_not_end_in_a_doubled_full_stop(app_world: World) -> None:
    """Messages from TagScheme end in '.', and the validation layer adds another."""
    output = user_error(
        run_with_apps_yaml(
            app_world, apps_yaml(GOOD_APP.replace("scheme: release", "scheme: regex"))
        )
    )
    assert ".." not in output.replace("...", ""), output


def test_apps_bad_repo_name(app_world: World) -> None:
    for repo in ["frontend", "alphagov/front end", "/frontend", "a/b/c", ""]:
        body = GOOD_APP.replace("repo: alphagov/frontend", f"repo: '{repo}'")
        output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
        assert "apps.frontend.repo" in output, repo


def test_apps_bad_email_in_review_list(app_world: World) -> None:
    for address in ["nobody", "a@b", "two words@example.com", ""]:
        body = GOOD_APP.replace(
            "[frontend-reviewers@example.gov.uk]", f"[ok@example.com, '{address}']"
        )
        output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
        assert "apps.frontend.review_list[1]" in output, address


def test_apps_missing_key_in_an_app(app_world: World) -> None:
    body = "".join(line + "\n" for line in GOOD_APP.splitlines() if "policy:" not in line)
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.policy" in output
    assert "missing" in output


def test_apps_bad_app_name(app_world: World) -> None:
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(GOOD_APP, name="Front End")))
    assert "Front End" in output


def test_apps_unknown_deployed_source_names_the_allowed_one(app_world: World) -> None:
    body = GOOD_APP.replace("{source: ref, ref: deployed-to-production}", "{source: ftp}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert (
        "apps.frontend.deployed.source: 'ftp' is not one bs knows: use 'ref', "
        "'github-deployments', 'http', 'gitops-file'." in output
    )


def test_apps_deployed_without_source_names_the_key(app_world: World) -> None:
    body = GOOD_APP.replace("{source: ref, ref: deployed-to-production}", "{ref: deployed}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.deployed.source: required key is missing: add it." in output


def test_apps_unknown_key_in_deployed_lists_its_keys(app_world: World) -> None:
    """`deployed` is a tagged union on `source` (tag `ref`, also a key name):
    the location must be apps.frontend.deployed and the allowed keys listed."""
    body = GOOD_APP.replace("ref: deployed-to-production}", "reff: deployed-to-production}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "unknown key 'reff' in apps.frontend.deployed:" in output
    assert "source, ref" in output


def test_apps_bad_deployed_ref(app_world: World) -> None:
    body = GOOD_APP.replace("ref: deployed-to-production}", "ref: 'deployed..production'}")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "apps.frontend.deployed" in output
    assert "deployed..production" in output


def test_apps_empty(app_world: World) -> None:
    output = user_error(run_with_apps_yaml(app_world, "version: 1\napps: {}\n"))
    assert "policies/apps.yaml" in output
    assert "no apps are defined" in output
    for apps in ["", "[]"]:
        output = user_error(run_with_apps_yaml(app_world, f"version: 1\napps: {apps}\n"))
        assert "policies/apps.yaml" in output
        assert "\n  line 2: apps: " in output
    output = user_error(run_with_apps_yaml(app_world, "version: 1\n"))
    assert "apps: required key is missing" in output


def test_apps_an_app_that_is_not_a_mapping(app_world: World) -> None:
    output = user_error(run_with_apps_yaml(app_world, "version: 1\napps:\n  frontend: [1, 2]\n"))
    assert "apps.frontend" in output


def test_apps_file_that_is_not_a_mapping(app_world: World) -> None:
    for content, found in [
        ("- frontend\n- publishing-api\n", "a list"),
        ("frontend\n", "single value"),
    ]:
        output = user_error(run_with_apps_yaml(app_world, content))
        assert "policies/apps.yaml" in output
        assert "mapping" in output and found in output


def test_apps_not_utf8(app_world: World) -> None:
    output = user_error(run_with_apps_yaml(app_world, b"\xff\xfev\x00e\x00r\x00"))
    assert "policies/apps.yaml" in output
    assert "UTF-8" in output


def test_apps_syntax_error_names_the_line(app_world: World) -> None:
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(GOOD_APP) + "  broken: [\n"))
    assert "policies/apps.yaml" in output
    assert "not valid YAML" in output
    assert "line " in output


def test_apps_file_missing(app_world: World) -> None:
    (app_world.checkout / "policies" / "apps.yaml").unlink()
    output = user_error(app_world.bs("apps"))
    assert "policies/apps.yaml" in output
    assert "no such file" in output


def test_apps_duplicate_app_is_refused(app_world: World) -> None:
    """Two `frontend:` entries: YAML forbids it and PyYAML silently keeps the
    second, which could swap the reviewed repository for another one."""
    second = GOOD_APP.replace("alphagov/frontend", "mallory/frontend")
    output = user_error(
        run_with_apps_yaml(app_world, apps_yaml(GOOD_APP) + f"  frontend:\n{second}")
    )
    assert "policies/apps.yaml" in output
    assert "frontend" in output


def test_apps_errors_are_listed_together(app_world: World) -> None:
    body = GOOD_APP.replace("tags:", "tagz:").replace("alphagov/frontend", "bad repo")
    output = user_error(run_with_apps_yaml(app_world, apps_yaml(body)))
    assert "problems" in output
    assert "apps.frontend.repo" in output
    assert "tagz" in output


@pytest.mark.parametrize(
    ("deploy", "expected"),
    [
        (
            '{kind: command, argv: [deploy.sh, "{app}", "{version}"]}',
            "argv[2]: '{version}' names {version}: the placeholders "
            "are {app}, {tag}, {commit}, {repo}",
        ),
        (
            '{kind: command, argv: [deploy.sh, "{tag"]}',
            "'{tag' has an unmatched brace: write {{ or }} for a literal brace",
        ),
        (
            '{kind: jenkins, url: "https://ci.example", parameters: {TAG: "{tag!r}"}}',
            "'{tag!r}': placeholders take no format spec or conversion",
        ),
        (
            '{kind: github-workflow, inputs: {gitRef: "{ref}"}}',
            "'{ref}' names {ref}: the placeholders are",
        ),
        (
            "{kind: jenkins, url: http://ci.example.gov.uk}",
            "the Jenkins API token would travel unencrypted to ci.example.gov.uk: use https://",
        ),
    ],
)
def test_apps_bad_deploy_block_says_what_and_where(
    app_world: World, deploy: str, expected: str
) -> None:
    output = user_error(
        run_with_apps_yaml(app_world, apps_yaml(GOOD_APP + f"    deploy: {deploy}\n"))
    )
    assert "line 9: apps.frontend.deploy." in output and expected in output, output
