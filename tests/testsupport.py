"""Paths and builders shared by the tests (importable as `testsupport`: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
TEST_DIR = REPOSITORY_ROOT / "local_test" / "test_dir"
TITANIC_CSV = REPOSITORY_ROOT / "data" / "titanic.csv"
TRAIN_CSV = TEST_DIR / "input" / "data" / "train" / "train.csv"
VALIDATION_CSV = TEST_DIR / "input" / "data" / "validation" / "validation.csv"


def make_ml_root(
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    channels: dict[str, list[tuple[str, bytes]]] | None = None,
) -> Path:
    """An /opt/ml tree: config files plus channel folders. Default channels: the committed split."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    if channels is None:
        channels = {
            "train": [("train.csv", TRAIN_CSV.read_bytes())],
            "validation": [("validation.csv", VALIDATION_CSV.read_bytes())],
        }
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": "text/csv", "TrainingInputMode": "File"} for name in channels})
    )
    for name, files in channels.items():
        channel_dir = root / "input" / "data" / name
        channel_dir.mkdir(parents=True)
        for file_name, content in files:
            (channel_dir / file_name).write_bytes(content)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def docker(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def ping_status(self) -> int | None:
        try:
            return self.request("GET", "/ping")[0]
        except OSError:
            return None

    def wait_healthy(self, seconds: float = 30) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if self.ping_status() == 200:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"/ping never answered 200; log:\n{logs(self.name)}")


def logs(name: str) -> str:
    result = docker("logs", name, check=False)
    return result.stdout + result.stderr


def start_server(image: str, model_root: Path, *extra: str) -> Server:
    port = free_port()
    name = f"byoc-serve-test-{port}"
    docker(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", "-v", f"{model_root}:/opt/ml", *extra,
        image, "serve",
    )  # fmt: skip
    return Server(name, port)
