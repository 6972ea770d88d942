"""gunicorn's settings module for `serve`'s workers (`gunicorn --config python:lightsage.serving.workers`).

gunicorn reads the names below that are its settings. Each worker is a process of its own: it writes
lightsage's log records as `serve` does (lightsage.logs) from the moment it is forked, before it loads the
app and its model.
"""

from __future__ import annotations

from typing import Any

from lightsage import logs
from lightsage.libraries import import_lightgbm_alone


def on_starting(server: Any) -> None:
    """In gunicorn's master, before it forks the workers, which then share the import."""
    import_lightgbm_alone()


def post_fork(server: Any, worker: Any) -> None:
    logs.configure("serve")
