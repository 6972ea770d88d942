"""When `serve` is ready: /ping answers 200 only once every gunicorn worker has its model in memory.

nginx answers /ping itself, from a flag file, so a health check never waits behind a worker busy predicting.
Each worker calls `report_model_loaded()` once its model is loaded: that creates `<pid>.loaded` in the folder
named by BYOC_READINESS_DIR. The `serve` supervisor counts the markers whose process is a live child of the
gunicorn master and, once there are as many as workers, creates the flag. It removes the flag before it stops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

READINESS_DIR_VARIABLE = "BYOC_READINESS_DIR"
MARKER_SUFFIX = ".loaded"


def report_model_loaded(environ: Mapping[str, str] | None = None) -> None:
    """Called by a gunicorn worker once its model is loaded; does nothing outside `serve`."""
    directory = (os.environ if environ is None else environ).get(READINESS_DIR_VARIABLE)
    if directory:
        (Path(directory) / f"{os.getpid()}{MARKER_SUFFIX}").touch()


def is_live_child(pid: int, parent_pid: int, proc: Path = Path("/proc")) -> bool:
    """True when `pid` runs (is not a zombie) and its parent is `parent_pid`."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    # /proc/<pid>/stat: "pid (command) state ppid ..."; the command may itself hold spaces and parentheses.
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return state not in ("Z", "X") and int(parent) == parent_pid


class Readiness:
    def __init__(self, runtime_dir: Path, workers: int) -> None:
        self.workers = workers
        self.markers_dir = runtime_dir / "workers"
        self.markers_dir.mkdir(exist_ok=True)
        # nginx's /ping location tests whether this file exists.
        self.flag = runtime_dir / "ready"

    def loaded_workers(self, master_pid: int) -> list[int]:
        """PIDs of the live gunicorn workers that reported a loaded model."""
        markers = self.markers_dir.glob(f"*{MARKER_SUFFIX}")
        pids = [int(marker.name.removesuffix(MARKER_SUFFIX)) for marker in markers]
        return sorted(pid for pid in pids if is_live_child(pid, master_pid))

    def update(self, master_pid: int) -> bool:
        """Set the flag once every worker has loaded the model; True when it is (now or already) set."""
        if self.flag.exists():
            return True
        if len(self.loaded_workers(master_pid)) < self.workers:
            return False
        self.flag.touch()
        return True

    def clear(self) -> None:
        self.flag.unlink(missing_ok=True)
