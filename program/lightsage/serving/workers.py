"""gunicorn's settings module for `serve`'s workers (`gunicorn --config python:lightsage.serving.workers`),
and their worker class (`--worker-class lightsage.serving.workers.ProxiedWorker`).

gunicorn reads the names below that are its settings. Each worker is a process of its own: it writes
lightsage's log records as `serve` does (lightsage.logs) from the moment it is forked, before it loads the
app and its model.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.sync import SyncWorker

from lightsage import logs
from lightsage.libraries import import_lightgbm_alone

BODY_READ_BYTES = 64 * 1024


def on_starting(server: Any) -> None:
    """In gunicorn's master, before it forks the workers, which then share the import."""
    import_lightgbm_alone()


def post_fork(server: Any, worker: Any) -> None:
    logs.configure("serve")


class ProxiedWorker(SyncWorker):
    """gunicorn's sync worker, for a worker that only nginx talks to.

    After an answer, the sync worker half-closes the connection and waits, up to 2 s, for the client to
    close its side, so that unread request bytes cannot turn the close into a reset that cuts the answer
    short. nginx has sent the whole request before the app sees it, and only reads from then on: this worker
    reads what the app left of the body and closes at once, instead of waiting a round trip through nginx on
    every request (docs/benchmarks.md, "Workers that close at once").
    """

    def handle_request(self, listener: Any, req: Any, client: Any, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        while req.body.read(BODY_READ_BYTES):
            pass
        client.close()
