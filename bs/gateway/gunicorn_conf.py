"""gunicorn settings for the gateway: an access log with no link tokens or OAuth codes.

``gunicorn -c python:bs.gateway.gunicorn_conf 'bs.gateway.wsgi:app'``. Threads,
not only processes: a deploy runs in a thread of the worker that started it,
and the live page polls while it runs.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from bs.gateway.security import loggable_path

worker_class = "gthread"
workers = 2
threads = 8
# A deploy outlives any request: never recycle a worker under it.
max_requests = 0
graceful_timeout = 120


class RedactingLogger(Logger):  # type: ignore[misc]
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = loggable_path(environ.get("PATH_INFO", ""))
        found["U"] = path
        found["q"] = ""
        found["r"] = (
            f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        )
        for key in list(found):
            if key.startswith("{") and key.lower() in ("{referer}i", "{raw_uri}e"):
                found[key] = "-"
        found["f"] = "-"  # the Referer header
        return found


logger_class = RedactingLogger

# gunicorn's control socket would sit at one path per user ($HOME/.gunicorn): two gateways
# on a host would share it. The gateway needs none.
control_socket_disable = True
