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


#: The access-log atoms that hold nothing secret; every other (the environ's, cookies,
#: the Referer, raw URIs) is blanked: a custom access_log_format cannot leak through them.
SAFE_ATOMS = frozenset(["h", "l", "u", "t", "s", "m", "H", "b", "B", "a", "T", "D", "M", "L", "p"])
SAFE_HEADERS = frozenset({"{user-agent}i", "{x-forwarded-for}i", "{host}i", "{content-type}o",
                          "{content-length}o"})  # fmt: skip


class RedactingLogger(Logger):  # type: ignore[misc]
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = loggable_path(environ.get("RAW_URI") or environ.get("PATH_INFO", ""))
        method, protocol = environ.get("REQUEST_METHOD", "-"), environ.get("SERVER_PROTOCOL", "-")
        kept = {k: v for k, v in found.items() if k in SAFE_ATOMS or k.lower() in SAFE_HEADERS}
        blank = dict.fromkeys(found, "-")
        return blank | kept | {"U": path, "q": "", "r": f"{method} {path} {protocol}", "f": "-"}


logger_class = RedactingLogger

# gunicorn's control socket would sit at one path per user ($HOME/.gunicorn): two gateways
# on a host would share it. The gateway needs none.
control_socket_disable = True


def worker_exit(server: Any, worker: Any) -> None:
    """A worker stopping (gunicorn stopped, reloaded): ask its running deploys to stop
    (a command gets SIGTERM, a Jenkins build a stop, a workflow run a cancel) and wait for
    them, so none goes on unsupervised once its lock is gone."""
    import threading

    found = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("bs")
    if found is None:
        return
    found.deploy.stopping.set()
    for thread in threading.enumerate():
        if thread.name.startswith("deploy-"):
            thread.join(graceful_timeout - 10)
