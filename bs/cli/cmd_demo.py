"""``bs demo``: the whole flow on the embedded defaults, in ``.demo/``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from bs.errors import BsError


@click.command("demo")
@click.option(
    "--serve",
    is_flag=True,
    help="Stop before the deploy and leave the gateway running, with alice's link printed.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8421, show_default=True)
def demo(serve: bool, port: int) -> None:
    """Run the demo: a local forge, a request, reviews, the hooks, the gateway.

    Everything is made afresh in .demo/ beside this checkout of bs. With
    --serve, the gateway is left running for you to click through alice's
    deploy: open the printed link, sign in as alice, confirm, deploy.

    \b
    Example:
      bs demo
      bs demo --serve
    """
    script = Path(__file__).resolve().parents[2] / "demo" / "demo.sh"
    if not script.is_file():
        raise BsError(
            f"the demo script is not at {script}: bs demo runs from a checkout of bs "
            "(git clone, then make demo)."
        )
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["BS_DEMO_PORT"] = str(port)
    if serve:
        env["BS_DEMO_SERVE"] = "1"
    raise SystemExit(subprocess.call(["bash", str(script)], env=env))
