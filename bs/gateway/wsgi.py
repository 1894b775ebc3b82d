"""The gateway for gunicorn: ``gunicorn -c python:bs.gateway.gunicorn_conf 'bs.gateway.wsgi:app'``.

Run from the requests repository's checkout (or set ``BS_DIR``). The
listening address is gunicorn's, so the gateway cannot tell whether it is on
loopback: it is treated as not (Secure cookies, no local sign-in) unless
``BS_GATEWAY_HOST`` says the address it is bound to.
"""

from __future__ import annotations

import os
from pathlib import Path

from bs.gateway.serve import build_app, build_settings
from bs.workspace import Workspace

app = build_app(
    build_settings(
        Workspace.discover(Path(os.environ.get("BS_DIR", "."))),
        dict(os.environ),
        host=os.environ.get("BS_GATEWAY_HOST", "0.0.0.0"),  # noqa: S104 (see the docstring)
    )
)
