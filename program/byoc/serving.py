"""The `serve` program: nginx in front of gunicorn (Flask app), supervised as one unit.

- SIGTERM/SIGINT: nginx stops accepting and drains, gunicorn finishes in-flight requests, exit 0.
- nginx or gunicorn exits on its own (for example a model that cannot load): stop the other, exit 1.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template
from types import FrameType

from byoc.settings import ServingSettings, SettingsError

NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.template")
SHUTDOWN_DEADLINE_SECONDS = 25.0
NGINX_DRAIN_SECONDS = 15.0


def log(message: str) -> None:
    print(f"[serve] {message}", file=sys.stderr, flush=True)


def render_nginx_config(settings: ServingSettings, runtime_dir: Path, socket_path: Path) -> str:
    return Template(NGINX_TEMPLATE.read_text()).substitute(
        runtime_dir=runtime_dir,
        socket_path=socket_path,
        port=settings.port,
        max_payload_mb=settings.max_payload_mb,
        timeout_seconds=settings.timeout_seconds,
    )


def gunicorn_command(settings: ServingSettings, socket_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"unix:{socket_path}",
        "--workers", str(settings.workers),
        "--worker-class", "sync",
        "--timeout", str(settings.timeout_seconds),
        "--graceful-timeout", str(int(SHUTDOWN_DEADLINE_SECONDS - 5)),
        "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir(),
        "--backlog", "2048",
        "--log-level", "info",
        "--error-logfile", "-",
        "byoc.api:create_app()",
    ]  # fmt: skip


class Supervisor:
    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="byoc-serve-"))
        # nginx workers run as an unprivileged user and must reach the gunicorn socket in here.
        self.runtime_dir.chmod(0o755)
        self.socket_path = self.runtime_dir / "gunicorn.sock"
        self.stopping = False
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.runtime_dir / "nginx.conf"
        config.write_text(render_nginx_config(self.settings, self.runtime_dir, self.socket_path))
        settings = self.settings
        log(
            f"port {settings.port}, {settings.workers} worker(s), timeout {settings.timeout_seconds} s, "
            f"max payload {settings.max_payload_mb} MB"
        )
        self.gunicorn = subprocess.Popen(gunicorn_command(self.settings, self.socket_path))
        self.nginx = subprocess.Popen(["nginx", "-c", str(config), "-e", "stderr"])

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            log(f"received {signal.Signals(signum).name}: draining in-flight requests, then stopping")
        self.stopping = True

    def wait(self) -> int:
        """Block until a stop is requested (exit 0) or a child exits on its own (exit 1)."""
        children = {"nginx": self.nginx, "gunicorn": self.gunicorn}
        while not self.stopping:
            for name, child in children.items():
                if child is not None and child.poll() is not None:
                    log(f"{name} exited with status {child.returncode}; stopping")
                    self.shutdown()
                    return 1
            time.sleep(0.1)
        self.shutdown()
        return 0

    def shutdown(self) -> None:
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
        log("stopped")


def _wait(child: subprocess.Popen[bytes], deadline: float) -> bool:
    try:
        child.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def main() -> int:
    try:
        settings = ServingSettings.from_environment()
    except SettingsError as error:
        log(f"cannot start: {error}")
        return 2
    supervisor = Supervisor(settings)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    supervisor.start()
    return supervisor.wait()
