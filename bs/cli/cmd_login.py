"""``bs login``, ``bs whoami``, ``bs logout``: signing in to GitHub from the CLI.

The commands only translate: the device flow is `bs.auth.device`, where the
token lives is `bs.auth.tokens`. A token is never printed, in any mode.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from bs.cli.context import CliContext, emit_json, json_option, pass_cli
from bs.errors import BsError

if TYPE_CHECKING:
    from bs.auth.device import DeviceCode
    from bs.config import GitHubForgeConfig

#: The clock and sleep the device flow polls with; tests replace them so nothing waits.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


@click.command("login")
@json_option
@pass_cli
def login(cli: CliContext, as_json: bool) -> None:
    """Sign in to GitHub in your browser (GitHub's device flow).

    Shows a URL and a code: open the URL, enter the code, and approve. The
    token asks for repo, read:org and user:email, and is kept in the system
    keyring, or where there is none in ~/.config/bs/tokens/HOST (yours only).
    bs.yaml needs forge.kind github and forge.client_id (the OAuth app's,
    with Device Flow enabled). BS_GITHUB_TOKEN or GITHUB_TOKEN, when set, are
    used instead of a stored token.

    \b
    Example:
      bs login
    """
    from bs.auth.device import sign_in
    from bs.auth.tokens import KEYRING, host_of, store_token

    forge = _github_forge(cli)
    if forge.client_id is None:
        raise BsError(
            "bs.yaml has no forge.client_id: bs login needs the client ID of your "
            "organisation's OAuth app, with Device Flow enabled "
            "(forge: {kind: github, client_id: ...})"
        )

    def show(code: DeviceCode) -> None:
        # With --json, stdout holds only the JSON; the instructions go to stderr.
        click.echo(f"Open {code.verification_uri} and enter {code.user_code}", err=as_json)

    progress = _Progress()
    try:
        token = sign_in(
            forge.web_url,
            forge.client_id,
            show=show,
            waiting=progress,
            clock=clock,
            sleep=sleep,
        )
    finally:
        progress.done()
    name = _login_of(token, forge.api_url, "the token GitHub just issued was refused (401)")
    where = store_token(cli.env, forge.web_url, token)
    host = host_of(forge.web_url)
    stored = "keyring" if where == KEYRING else "file"
    if as_json:
        emit_json({"login": name, "host": host, "stored_in": stored, "where": where})
    else:
        click.echo(f"Signed in to {host} as {name} (token in {where})")
    _warn_overridden(cli)


@click.command("whoami")
@json_option
@pass_cli
def whoami(cli: CliContext, as_json: bool) -> None:
    """Say who bs acts as on GitHub, and where its token came from.

    The token is looked for in BS_GITHUB_TOKEN, GITHUB_TOKEN, the one
    `bs login` stored, then `gh auth token`; GitHub is asked whose it is.

    \b
    Example:
      bs whoami
    """
    from bs.auth.tokens import ENV_VARIABLES, GH, find_github_token, host_of

    forge = _github_forge(cli)
    host = host_of(forge.web_url)
    found = find_github_token(cli.env, forge.web_url)
    if found.source in ENV_VARIABLES:
        fix = f"set a valid one, or unset {found.source} and run bs login"
    elif found.source == GH:
        fix = "run gh auth login, or bs login"
    else:
        fix = "run bs login again"
    refused = f"the token from {found.source} was refused by GitHub (401): {fix}"
    name = _login_of(found.token, forge.api_url, refused)
    if as_json:
        emit_json({"login": name, "host": host, "source": found.source})
    else:
        click.echo(f"{name} on {host} (token from {found.source})")


@click.command("logout")
@json_option
@pass_cli
def logout(cli: CliContext, as_json: bool) -> None:
    """Remove the GitHub token `bs login` stored for this host.

    The token stays valid at GitHub until you revoke the app's access in
    your GitHub settings (Applications).

    \b
    Example:
      bs logout
    """
    from bs.auth.tokens import GH, delete_token, host_of, token_source

    forge = _github_forge(cli)
    host = host_of(forge.web_url)
    removed = delete_token(cli.env, forge.web_url)
    # What bs would act with now, so "signed out" is not a surprise.
    left = token_source(cli.env, forge.web_url)
    if as_json:
        emit_json({"host": host, "removed_from": removed, "still_used": left and left.source})
        return
    if removed:
        click.echo(f"Signed out of {host}: removed the token from {' and '.join(removed)}.")
        click.echo(
            "GitHub still honours it until you revoke bs's access at "
            f"{forge.web_url}/settings/applications"
        )
    else:
        click.echo(f"No token stored for {host}: nothing to remove.")
    if not _warn_overridden(cli) and left is not None and left.source == GH:
        click.echo(
            f"bs still uses gh's token for {host} (gh auth token): run gh auth logout to stop that."
        )


def _warn_overridden(cli: CliContext) -> bool:
    """Say when an environment variable is set, since it wins over any stored token."""
    from bs.auth.tokens import ENV_VARIABLES

    set_names = [name for name in ENV_VARIABLES if cli.env.get(name, "").strip()]
    for name in set_names:
        click.echo(f"Note: {name} is still set; bs acts with it until you unset it.", err=True)
    return bool(set_names)


def _github_forge(cli: CliContext) -> GitHubForgeConfig:
    from bs.config import GitHubForgeConfig

    forge = cli.workspace.config.forge
    if not isinstance(forge, GitHubForgeConfig):
        raise BsError(
            f"bs.yaml's forge.kind is {forge.kind}: bs login, whoami and logout are for "
            "GitHub (forge: {kind: github, client_id: ...})"
        )
    return forge


def _login_of(token: str, api_url: str, refused: str) -> str:
    """Whose `token` is, from ``GET /user``; `refused` is the message for a 401."""
    from github import BadCredentialsException, GithubException

    import requests
    from bs.githubapi import github_said, open_github, retry_hint

    client = open_github(token, api_url)
    try:
        return str(client.get_user().login)
    except BadCredentialsException:
        raise BsError(refused) from None
    except GithubException as exc:
        hint = retry_hint(exc) if exc.status in (403, 429) else ""
        raise BsError(
            f"GitHub at {api_url} would not say whose the token is "
            f"({exc.status}: {github_said(exc)}){hint}"
        ) from None
    except requests.RequestException as exc:
        raise BsError(
            f"cannot reach GitHub at {api_url} ({type(exc).__name__}): check the network, "
            "and forge.api_url in bs.yaml"
        ) from None
    finally:
        client.close()


class _Progress:
    """The "waiting" line: redrawn with the time left on a terminal, said once elsewhere."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = False

    def __call__(self, seconds_left: float) -> None:
        left = int(seconds_left)
        if self.tty:
            click.echo(
                f"\rWaiting for you to approve in the browser "
                f"(the code expires in {left // 60}:{left % 60:02d}) ",
                err=True,
                nl=False,
            )
        elif not self.started:
            click.echo("Waiting for you to approve in the browser...", err=True)
        self.started = True

    def done(self) -> None:
        if self.tty and self.started:
            click.echo(err=True)
