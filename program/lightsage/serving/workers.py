"""gunicorn's settings module for `serve`'s workers (`gunicorn --config python:lightsage.serving.workers`).

gunicorn reads the names below that are its settings. Each worker is a process of its own: it writes
lightsage's log records as `serve` does (lightsage.logs) from the moment it is forked, before it loads the
app and its model.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from lightsage import logs


def on_starting(server: Any) -> None:
    """In gunicorn's master, before it forks the workers, which then share the import."""
    import_lightgbm_alone()


def post_fork(server: Any, worker: Any) -> None:
    logs.configure("serve")


def import_lightgbm_alone() -> None:
    """Import lightgbm with scikit-learn hidden while it does.

    lightgbm imports scikit-learn (and through it SciPy's statistics) whenever it is installed, only for its
    scikit-learn-style estimators; serving uses LightGBM's Booster alone. Without them a worker starts about
    a second sooner and holds about 60 MiB less. scikit-learn stays importable afterwards (a script-mode
    recipe may use it); lightgbm's LGBMClassifier and LGBMRegressor no longer work in these processes.
    """
    if "lightgbm" in sys.modules:
        return
    hidden = "sklearn" not in sys.modules
    if hidden:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        importlib.import_module("lightgbm")
    finally:
        if hidden:
            del sys.modules["sklearn"]
