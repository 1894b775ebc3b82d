"""``bs serve``: the deploy gateway on this machine."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from types import FrameType

import click

from bs.cli.context import CliContext, json_option, pass_cli

#: How long a stopping gateway waits for its running deploys to stop.
STOP_WAIT_SECONDS = 60.0


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8421, show_default=True)
@json_option
@pass_cli
def serve(cli: CliContext, host: str, port: int, as_json: bool) -> None:
    """Run the deploy gateway: deploy links open here.

    It signs people in (GitHub, or on this machine a pick of the local
    forge's users), turns each link into its deployment once, runs the
    deploy with the credentials only it holds, and records the result.
    Settings come from bs.yaml's gateway: block; keys from BS_LINK_KEYS or
    BS_LINK_KEYS_FILE; a store URL with a password from BS_GATEWAY_STORE.

    For production, run it under gunicorn instead (see the README):
    gunicorn -c python:bs.gateway.gunicorn_conf 'bs.gateway.wsgi:app'

    \b
    With --json, the start-up line and the log are JSON lines.

    \b
    Example:
      bs serve                      # http://127.0.0.1:8421, local sign-in
      bs serve --host 0.0.0.0       # needs gateway.github in bs.yaml
      bs serve --json               # JSON lines, for a log collector
    """
    from werkzeug.serving import make_server

    from bs.gateway.serve import RedactingHandler, build_app, build_settings

    settings = build_settings(cli.workspace, cli.env, host=host)
    app = build_app(settings)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if as_json else logging.Formatter(
        "%(asctime)s %(name)s %(message)s"))  # fmt: skip
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _check_free(host, port)
    server = make_server(host, port, app, threaded=True, request_handler=RedactingHandler)
    listening = f"http://{host}:{server.server_address[1]}"
    if as_json:
        emit_json_line({"listening": listening, "links": settings.config.gateway.url})
    else:
        click.echo(
            f"bs gateway listening on {listening} (links start with "
            f"{settings.config.gateway.url}); Ctrl-C stops it",
            err=True,
        )
    stopping = app.extensions["bs"].deploy.stopping

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    running = [t for t in threading.enumerate() if t.name.startswith("deploy-")]
    if running:
        click.echo(f"waiting for {len(running)} running deploy(s) to stop...", err=True)
    for thread in running:
        thread.join(STOP_WAIT_SECONDS)
    sys.stdout.flush()


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {"at": self.formatTime(record), "logger": record.name,
             "level": record.levelname.lower(), "message": record.getMessage()}
        )  # fmt: skip


def emit_json_line(data: dict[str, str]) -> None:
    click.echo(json.dumps(data))


def _check_free(host: str, port: int) -> None:
    """werkzeug would print its own message and exit: say it as bs does."""
    import socket

    from bs.errors import BsError

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise BsError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}. Stop what uses it, "
                "or pick another port with --port."
            ) from None
