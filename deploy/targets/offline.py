"""Offline stand-ins for ECR and S3: Debian's docker-registry and moto_server, both on 127.0.0.1.

`OfflineServices(state_dir, registry_port, s3_port)` starts both in the background (`up`), waits until each
answers, and records their PIDs and ports in the state folder (which also holds the registry's storage and
both logs); `down` stops them. Nothing listens beyond 127.0.0.1. As a context manager it runs both for the
duration (the tests and the walkthrough use it so); `byoc offline up|status|down` is its command.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from lightsage_deploy.errors import DeployError, PlatformError

DEFAULT_STATE_DIR = Path(".offline")
DEFAULT_REGISTRY_PORT = 5000
DEFAULT_S3_PORT = 9000
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
STATE_FILE = "services.json"
REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@dataclass(frozen=True)
class RunningService:
    name: str
    pid: int
    port: int
    executable: str
    health_url: str


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _is_alive(service: RunningService) -> bool:
    """The recorded PID still runs the recorded program (PIDs get reused)."""
    try:
        os.kill(service.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{service.pid}/cmdline")
    if not cmdline.exists():
        return True
    try:
        return service.executable in cmdline.read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False


def _find_moto_server() -> str:
    beside_python = Path(sys.executable).parent / "moto_server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("moto_server")
    if found is None:
        raise DeployError(
            "moto_server is not installed: pip install 'lightsage[offline]' (or 'moto[server]') into this "
            "virtualenv"
        )
    return found


def _find_registry() -> str:
    found = shutil.which("docker-registry")
    if found is None:
        raise DeployError("Debian's docker-registry is not installed: apt-get install docker-registry")
    return found


class OfflineServices:
    """The local registry and the S3 emulator; `with OfflineServices(dir, ...) as services:` runs both."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        registry_port: int = DEFAULT_REGISTRY_PORT,
        s3_port: int = DEFAULT_S3_PORT,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.registry_port = registry_port
        self.s3_port = s3_port
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def registry(self) -> str:
        return f"localhost:{self.registry_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def recorded(self) -> list[RunningService]:
        if not self.state_file.exists():
            return []
        raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        return [RunningService(**entry) for entry in raw]

    def up(self) -> list[RunningService]:
        running = [service for service in self.recorded() if _is_alive(service)]
        if running:
            names = ", ".join(f"{service.name} (pid {service.pid})" for service in running)
            raise DeployError(
                f"already running from {self.state_dir}: {names}; stop them first with "
                f"`byoc offline down --state-dir {self.state_dir}`"
            )
        for port, option in ((self.registry_port, "--registry-port"), (self.s3_port, "--s3-port")):
            if _port_in_use(port):
                raise DeployError(f"port {port} on 127.0.0.1 is already in use: free it or pass {option}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        storage = self.state_dir / "registry"
        storage.mkdir(exist_ok=True)
        config = self.state_dir / "registry-config.yml"
        config.write_text(REGISTRY_CONFIG.format(storage=storage, port=self.registry_port), encoding="utf-8")
        registry = _find_registry()
        moto_server = _find_moto_server()
        plans = [
            ("registry", [registry, "serve", str(config)], self.registry_port, registry,
             f"http://127.0.0.1:{self.registry_port}/v2/"),
            ("s3", [moto_server, "-H", "127.0.0.1", "-p", str(self.s3_port)], self.s3_port, moto_server,
             f"{self.s3_endpoint}/"),
        ]  # fmt: skip
        services: list[RunningService] = []
        try:
            for name, command, port, executable, health_url in plans:
                services.append(self._start(name, command, port, executable, health_url))
                self._record(services)
            for service in services:
                self._wait_until_answering(service)
        except BaseException:
            self.down()
            raise
        return services

    def _start(
        self, name: str, command: list[str], port: int, executable: str, health_url: str
    ) -> RunningService:
        log = (self.state_dir / f"{name}.log").open("ab")
        try:
            # Own session: the services outlive `up` and ignore the terminal's Ctrl-C.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._children[name] = process
        return RunningService(name, process.pid, port, executable, health_url)

    def _record(self, services: list[RunningService]) -> None:
        self.state_file.write_text(
            json.dumps([service.__dict__ for service in services], indent=2) + "\n", encoding="utf-8"
        )

    def _wait_until_answering(self, service: RunningService) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            child = self._children.get(service.name)
            if child is not None and child.poll() is not None:
                raise PlatformError(
                    f"{service.name} exited with status {child.returncode} while starting:\n"
                    f"{self.log_tail(service)}"
                )
            if _answers(service.health_url):
                return
            time.sleep(0.2)
        raise PlatformError(
            f"{service.name} did not answer {service.health_url} within {START_TIMEOUT_SECONDS:.0f} s:\n"
            f"{self.log_tail(service)}"
        )

    def log_tail(self, service: RunningService, lines: int = 10) -> str:
        log = self.state_dir / f"{service.name}.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def down(self) -> list[str]:
        """Stop every recorded service that still runs; return what was stopped."""
        stopped = []
        for service in self.recorded():
            if _is_alive(service):
                self._stop(service)
                stopped.append(f"{service.name} (pid {service.pid})")
            child = self._children.pop(service.name, None)
            if child is not None:
                child.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def _stop(self, service: RunningService) -> None:
        for sent in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(service.pid, sent)
            except ProcessLookupError:
                return
            child = self._children.get(service.name)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                if child is not None and child.poll() is not None:
                    return
                if child is None and not _is_alive(service):
                    return
                time.sleep(0.1)

    def status(self) -> list[tuple[RunningService, str]]:
        report = []
        for service in self.recorded():
            if not _is_alive(service):
                state = "stopped"
            elif _answers(service.health_url):
                state = "running"
            else:
                state = "running but not answering"
            report.append((service, state))
        return report

    def __enter__(self) -> OfflineServices:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()


def usage_hint(services: OfflineServices) -> str:
    flags = ["--local"]
    if services.registry_port != DEFAULT_REGISTRY_PORT:
        flags.append(f"--registry {services.registry}")
    if services.s3_port != DEFAULT_S3_PORT:
        flags.append(f"--s3-endpoint {services.s3_endpoint}")
    return f"pass {' '.join(flags)} to the other commands, e.g. byoc upload {' '.join(flags)} --create-bucket"
