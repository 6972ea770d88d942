"""The `serve` program: nginx in front of gunicorn (Flask app), supervised as one unit.

- /ping is answered by nginx: 503 until every gunicorn worker has loaded the model, then 200
(lightsage.serving.readiness).
- SIGTERM/SIGINT: /ping turns 503, nginx stops accepting and drains, gunicorn finishes in-flight requests,
  exit 0.
- nginx or gunicorn exits on its own (for example a model that cannot load): stop the other, exit 1.
- No writable temporary folder (a read-only root without `--tmpfs /tmp`): exit 2 with the reason.
- Script mode (SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY set): the source is downloaded and its
  requirements installed once, here, before gunicorn starts; its workers import it from there
  (lightsage.recipes.script). A source that cannot be fetched or installed: exit 2 with the reason.
- Once every worker answers, one compile of the model's trees runs in the background (`Compilation`,
  lightsage.serving.compiled), under a time and memory limit; the workers switch their batches to the
  compiled trees when it succeeds, and keep LightGBM when it fails, is refused or runs out of time.

Everything serve writes goes to one folder under the temporary directory, so it runs on a read-only root
filesystem and as any user.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template
from types import FrameType

from lightsage import logs
from lightsage.contract.paths import MLPaths
from lightsage.errors import LightsageError
from lightsage.recipes import script as script_mode
from lightsage.serving.readiness import READINESS_DIR_VARIABLE, Readiness
from lightsage.serving.settings import (
    COMPILE_ENDED_VARIABLE,
    COMPILED_TREES_CACHE_VARIABLE,
    ServingSettings,
    SettingsError,
)

NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.template")
SHUTDOWN_DEADLINE_SECONDS = 25.0
NGINX_DRAIN_SECONDS = 15.0
POLL_SECONDS = 0.05

logger = logging.getLogger(__name__)


def render_nginx_config(
    settings: ServingSettings, runtime_dir: Path, socket_path: Path, ready_flag: Path
) -> str:
    return Template(NGINX_TEMPLATE.read_text()).substitute(
        runtime_dir=runtime_dir,
        socket_path=socket_path,
        ready_flag=ready_flag,
        port=settings.port,
        max_payload_mb=settings.max_payload_mb,
        timeout_seconds=settings.timeout_seconds,
    )


def gunicorn_command(settings: ServingSettings, socket_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"unix:{socket_path}",
        "--workers", str(settings.workers),
        "--worker-class", "lightsage.serving.workers.ProxiedWorker",
        "--timeout", str(settings.timeout_seconds),
        "--graceful-timeout", str(int(SHUTDOWN_DEADLINE_SECONDS - 5)),
        "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir(),
        "--backlog", "2048",
        # gunicorn's control socket (for gunicornc, unused here) defaults to ~/.gunicorn, which a read-only
        # root or a user without a writable home cannot create.
        "--no-control-socket",
        "--log-level", "info",
        "--error-logfile", "-",
        # each worker writes lightsage's log records as serve does
        "--config", "python:lightsage.serving.workers",
        "lightsage.serving.app:create_app()",
    ]  # fmt: skip


def resident_mb(pid: int) -> float:
    """A process's resident memory in MB (0 once it is gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Compilation:
    """The container's one compile of compiled trees: a subprocess started once every worker answers (the
    cold start never waits for it), stopped when it outlives its time, and announced to the workers by a flag
    file once it has ended, whatever its outcome (the compile process logs its own)."""

    def __init__(self, settings: ServingSettings, model_dir: Path, runtime_dir: Path) -> None:
        self.settings = settings
        self.model_dir = model_dir
        self.ended_flag = runtime_dir / "compile-ended"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.ended = False

    def worker_environment(self) -> dict[str, str]:
        """What the workers need to find the compiled trees (nothing when they are off)."""
        if not self.settings.compiled_trees:
            return {}
        return {
            COMPILED_TREES_CACHE_VARIABLE: str(self.settings.compiled_trees_cache),
            COMPILE_ENDED_VARIABLE: str(self.ended_flag),
        }

    def start(self) -> None:
        if not self.settings.compiled_trees:
            logger.info("compiled trees: off (BYOC_COMPILED_TREES=off); LightGBM answers every request")
            return
        settings = self.settings
        self.started = time.monotonic()
        command = [
            sys.executable, "-m", "lightsage.serving.compiled",
            str(self.model_dir), str(settings.compiled_trees_cache),
            "--seconds", str(settings.compile_timeout_seconds),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            # one thread for the numeric libraries the compiler imports (their pools reserve memory)
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )

    def poll(self) -> None:
        """Stop a compile past its time or memory; raise the flag once it has ended."""
        if self.process is None or self.ended:
            return
        status = self.process.poll()
        if status is None:
            settings = self.settings
            seconds = settings.compile_timeout_seconds
            if time.monotonic() - self.started > seconds:
                self._kill(f"took longer than {seconds} s (BYOC_COMPILE_TIMEOUT_SECONDS)")
            elif resident_mb(self.process.pid) > settings.compile_memory_mb:
                self._kill(f"used more than {settings.compile_memory_mb} MB (BYOC_COMPILE_MEMORY_MB)")
            return
        if status < 0:
            cause = signal.Signals(-status)
            detail = (
                f"used more than {self.settings.compile_timeout_seconds} CPU seconds"
                if cause is signal.SIGXCPU
                else f"was ended by {cause.name}"
            )
            logger.warning(f"compiled trees: the compile {detail}; LightGBM answers")
        self._end()

    def _kill(self, reason: str) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        logger.warning(f"compiled trees: the compile {reason} and was stopped; LightGBM answers")
        self._end()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None and not self.ended:
            self._end()

    def _end(self) -> None:
        self.ended_flag.touch()
        self.ended = True


class Supervisor:
    def __init__(
        self, settings: ServingSettings, runtime_dir: Path, environment: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.runtime_dir = runtime_dir
        # for gunicorn's workers, besides this process's own environment (script mode: the prepared source)
        self.environment = environment or {}
        # nginx workers run as an unprivileged user and must reach the gunicorn socket in here.
        self.runtime_dir.chmod(0o755)
        self.socket_path = self.runtime_dir / "gunicorn.sock"
        self.readiness = Readiness(self.runtime_dir, settings.workers)
        self.compilation = Compilation(settings, MLPaths.from_environment().model_dir, runtime_dir)
        self.stopping = False
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.runtime_dir / "nginx.conf"
        config.write_text(
            render_nginx_config(self.settings, self.runtime_dir, self.socket_path, self.readiness.flag)
        )
        settings = self.settings
        logger.info(
            f"port {settings.port}, {settings.workers} worker(s), timeout {settings.timeout_seconds} s, "
            f"max payload {settings.max_payload_mb} MB"
        )
        self.gunicorn = subprocess.Popen(
            gunicorn_command(self.settings, self.socket_path),
            env={
                **os.environ,
                **self.environment,
                READINESS_DIR_VARIABLE: str(self.readiness.markers_dir),
                **self.compilation.worker_environment(),
            },
        )
        self.nginx = subprocess.Popen(["nginx", "-c", str(config), "-e", "stderr"])

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            logger.info(f"received {signal.Signals(signum).name}: draining in-flight requests, then stopping")
        self.stopping = True

    def wait(self) -> int:
        """Block until a stop is requested (exit 0) or a child exits on its own (exit 1)."""
        children = {"nginx": self.nginx, "gunicorn": self.gunicorn}
        ready = False
        while not self.stopping:
            for name, child in children.items():
                if child is not None and child.poll() is not None:
                    logger.info(f"{name} exited with status {child.returncode}; stopping")
                    self.shutdown()
                    return 1
            if not ready and self.gunicorn is not None and self.readiness.update(self.gunicorn.pid):
                ready = True
                logger.info(
                    f"the model is loaded in all {self.settings.workers} worker(s): /ping answers 200"
                )
                self.compilation.start()
            self.compilation.poll()
            time.sleep(POLL_SECONDS)
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        self.readiness.clear()
        self.compilation.stop()
        deadline = time.monotonic() + SHUTDOWN_DEADLINE_SECONDS
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            _wait(self.nginx, min(deadline, time.monotonic() + NGINX_DRAIN_SECONDS))
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
        for child in (self.nginx, self.gunicorn):
            if child is not None and not _wait(child, deadline):
                child.kill()
                child.wait()
        logger.info("stopped")


def _wait(child: subprocess.Popen[bytes], deadline: float) -> bool:
    try:
        child.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def prepared_script(runtime_dir: Path) -> dict[str, str]:
    """Script mode: fetch the source SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY name and install its
    requirements, once for every worker; what the workers' environment then needs. Nothing otherwise."""
    location = script_mode.location_from_environment()
    if location is None:
        return {}
    work_dir = runtime_dir / "script"
    work_dir.mkdir()
    return script_mode.prepare(location, work_dir).environment()


def main() -> int:
    logs.configure("serve")
    # First: the settings' default compiled-trees cache lives in the temporary folder too.
    try:
        runtime_dir = Path(tempfile.mkdtemp(prefix="byoc-serve-"))
    except OSError as error:
        logger.error(
            f"cannot start: no writable temporary folder for nginx and gunicorn ({error}); "
            "on a read-only root filesystem mount one, e.g. `docker run --read-only --tmpfs /tmp ...`"
        )
        return 2
    try:
        settings = ServingSettings.from_environment()
    except SettingsError as error:
        logger.error(f"cannot start: {error}")
        shutil.rmtree(runtime_dir, ignore_errors=True)
        return 2
    try:
        environment = prepared_script(runtime_dir)
    except LightsageError as error:
        logger.error(f"cannot start: {error}")
        return 2
    supervisor = Supervisor(settings, runtime_dir, environment)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    supervisor.start()
    return supervisor.wait()
