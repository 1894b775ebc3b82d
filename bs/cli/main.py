"""``bs``: the entry point, the lazy command group and the one place errors are reported.

Command modules are imported only when their command runs, so ``bs --help``
stays fast: nothing heavy (GitPython, pydantic, PyGithub) loads for it.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bs import __version__
from bs.errors import EXIT_INTERNAL_ERROR, BsError

#: name -> (module, function, one-line help); the help shows without importing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "apps": ("bs.cli.cmd_apps", "apps", "List the apps you may request releases of."),
    "tags": (
        "bs.cli.cmd_tags",
        "tags",
        "List an app's release tags, marking those newer than deployed.",
    ),
    "open-request": (
        "bs.cli.cmd_open_request",
        "open_request",
        "Ask for a release of an app's tag.",
    ),
    "follow-up": (
        "bs.cli.cmd_follow_up",
        "follow_up",
        "Open the follow-up review of an emergency request.",
    ),
    "review": ("bs.cli.cmd_review", "review", "Approve or reject a request (local forge only)."),
    "check": (
        "bs.cli.cmd_check",
        "check",
        "Evaluate a request's policy; post the bs/policy status.",
    ),
    "merge": (
        "bs.cli.cmd_merge",
        "merge",
        "Merge a request once bs/policy passes (local forge only).",
    ),
    "policy": ("bs.cli.cmd_policy", "policy", "Validate and test the approval policies."),
    "audit": ("bs.cli.cmd_audit", "audit", "Audit every release; exit 4 if the chain is broken."),
    "status": ("bs.cli.cmd_status", "status", "Show open requests, deployments, locks, freezes."),
    "hook": (
        "bs.cli.cmd_hook",
        "hook",
        "Pull request hooks: review mail, removal, deploy links.",
    ),
    "keys": ("bs.cli.cmd_keys", "keys", "Generate deploy-link signing keys."),
    "demo": ("bs.cli.cmd_demo", "demo", "Run the whole flow on a local forge, in .demo/."),
    "mail": ("bs.cli.cmd_mail", "mail", "Read the outbox; send a test message."),
    "serve": ("bs.cli.cmd_serve", "serve", "Run the deploy gateway that deploy links open."),
    "login": ("bs.cli.cmd_login", "login", "Sign in to GitHub in your browser."),
    "whoami": (
        "bs.cli.cmd_login",
        "whoami",
        "Say who bs acts as on GitHub, and the token's source.",
    ),
    "logout": ("bs.cli.cmd_login", "logout", "Remove the GitHub token bs login stored."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command: click.Command = getattr(importlib.import_module(entry[0]), entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The group's help lists commands from COMMANDS, importing none of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][2]) for name in self.list_commands(ctx)])


CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "-C",
    "directory",
    default=".",
    metavar="DIR",
    help="Run as if started in DIR (a checkout of the requests repository).",
)
@click.version_option(__version__, "--version", prog_name="bs")
@click.pass_context
def cli(ctx: click.Context, directory: str) -> None:
    """battlestations: approval-gated releases kept in git.

    Ask for a release of an app's tag; reviewers approve it as a pull
    request; you then get a single-use link that deploys exactly that.

    \b
    Example:
      bs tags frontend
      bs open-request frontend release_4573 --reason "Fix the banner"
    """
    from bs.cli.context import CliContext

    ctx.obj = CliContext(Path(directory))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the one place errors become messages and exit statuses."""
    from bs.gitenv import sanitize_environment

    sanitize_environment()
    try:
        cli.main(args=argv, prog_name="bs", standalone_mode=False)
    except BsError as exc:
        click.echo(f"bs: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("bs: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("bs: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        log = _write_crash_log(exc)
        click.echo(
            f"bs: internal error ({type(exc).__name__}): this is a bug in bs. "
            f"Details are in {log}; please report them.",
            err=True,
        )
        sys.exit(EXIT_INTERNAL_ERROR)
    sys.exit(0)


def _write_crash_log(exc: BaseException) -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "bs"
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        state.chmod(0o700)
        log = state / "crash.log"
        # Readable by its owner only (also a log an older bs left): a message may quote input.
        descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()} bs {__version__}\n")
            handle.write("".join(traceback.format_exception(exc)))
        return log
    except OSError:
        return Path("(unwritable log)")
