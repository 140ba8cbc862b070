"""gunicorn settings shared by ``ems serve``, the demo and the load run.

Each of them starts ``gunicorn -c python:ems.gunicorn_conf ems.app:create_app()``
and adds only what is its own (address, workers, shorter timeouts for the demo).
"""

from __future__ import annotations

import sys
from typing import Any

# Threads for the live event streams too: every ER dashboard and console holds one
# open. MAX_ACTIVE_REQUESTS bounds how many requests a worker works on at once.
worker_class = "gthread"
threads = 32
timeout = 120
graceful_timeout = 10
keepalive = 30

# A request waits for the interpreter after every database round trip. With the
# default 5 ms switch interval, a thread back from PostgreSQL may wait that long
# behind another request's Python code, several times a request; 1 ms keeps a
# request's turns short. (Three interleaved pairs of load runs: p99 27.0–35.5 ms
# with it, 29.0–40.5 without, and less CPU in every pair.)
SWITCH_INTERVAL_S = 0.001


def post_fork(server: Any, worker: Any) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def gunicorn_argv(*, bind: str, workers: int, threads: int | None = None) -> list[str]:
    """gunicorn's arguments for the server: these settings, then the caller's own.
    (gunicorn reads only the names it knows from this module, so not this one.)"""
    argv = ["-c", "python:ems.gunicorn_conf", "ems.app:create_app()", "--bind", bind]
    argv += ["--workers", str(workers)]
    return argv + (["--threads", str(threads)] if threads is not None else [])
