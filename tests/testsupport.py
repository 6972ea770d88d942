"""Paths and builders shared by the tests (importable as `testsupport`: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The `ml_root` fixture (conftest.py): builds an /opt/ml tree under the test's temporary folder.
MLRootFactory = Callable[..., Path]
TEST_DIR = REPOSITORY_ROOT / "local_test" / "test_dir"
# The worked example's project file, and the recipe it and local_test/test_dir name.
EXAMPLE_PROJECT_FILE = REPOSITORY_ROOT / "byoc.toml"
WORKED_EXAMPLE_RECIPE = "titanic"
TITANIC_CSV = REPOSITORY_ROOT / "data" / "titanic.csv"
TRAIN_CSV = TEST_DIR / "input" / "data" / "train" / "train.csv"
VALIDATION_CSV = TEST_DIR / "input" / "data" / "validation" / "validation.csv"
# A Titanic model's files, sorted: its two group tables are Parquet files beside recipe_state.json, and the
# data baseline (statistics.json, constraints.json) is there unless baseline=false.
TITANIC_MODEL_FILES = [
    "constraints.json",
    "manifest.json",
    "metrics.json",
    "model.txt",
    "recipe_state-1.parquet",
    "recipe_state-2.parquet",
    "recipe_state.json",
    "statistics.json",
]


def make_ml_root(
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    channels: dict[str, list[tuple[str, bytes]]] | None = None,
    recipe: str | None = WORKED_EXAMPLE_RECIPE,
) -> Path:
    """An /opt/ml tree: config files plus channel folders. Default channels: the committed split. The
    `recipe` hyperparameter is `recipe` (the worked example's, as local_test/test_dir names it) unless
    `hyperparameters` names one; recipe=None leaves it out, for the image's default."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    settings = dict(hyperparameters or {})
    if recipe is not None:
        settings.setdefault("recipe", recipe)
    (config / "hyperparameters.json").write_text(json.dumps(settings))
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


@contextmanager
def lightsage_log(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The messages lightsage's loggers write inside the block (INFO and above), in order."""
    said: list[str] = []
    with caplog.at_level(logging.INFO, logger="lightsage"):
        start = len(caplog.records)
        yield said
        said.extend(
            record.getMessage() for record in caplog.records[start:] if record.name.startswith("lightsage.")
        )


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


def start_server(image: str, model_root: Path, *extra: str, command: tuple[str, ...] = ("serve",)) -> Server:
    port = free_port()
    name = f"byoc-serve-test-{port}"
    docker(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", "-v", f"{model_root}:/opt/ml", *extra,
        image, *command,
    )  # fmt: skip
    return Server(name, port)


@contextmanager
def healthy_server(image: str, model_root: Path, *extra: str) -> Iterator[Server]:
    """`serve` started and answering /ping; removed afterwards."""
    running = start_server(image, model_root, *extra)
    try:
        running.wait_healthy()
        yield running
    finally:
        docker("rm", "-f", running.name, check=False)


@dataclass
class LoadResult:
    succeeded: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def run_load(
    port: int, body: bytes, seconds: float, concurrency: int, content_type: str = "text/csv"
) -> LoadResult:
    """POST `body` from `concurrency` threads for `seconds` to 127.0.0.1:port, counting non-200 answers."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            try:
                status, _, answer = Server("load", port).request(
                    "POST", "/invocations", body, {"Content-Type": content_type}
                )
                outcome = None if status == 200 else f"{status} {answer[:120]!r}"
            except (OSError, http.client.HTTPException) as error:  # also an answer cut short (IncompleteRead)
                outcome = f"{type(error).__name__}: {error}"
            with lock:
                if outcome is None:
                    result.succeeded += 1
                else:
                    result.failed += 1
                    result.failures.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return result


GUNICORN_WORKERS_SCRIPT = """
import os
def ppid(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
def command(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read()
gunicorn = [p for p in os.listdir("/proc") if p.isdigit() and b"gunicorn" in command(p)]
print(" ".join(p for p in gunicorn if ppid(p) in gunicorn))
"""
# The master is the parent of the workers (this script's own command line names gunicorn too).
GUNICORN_MASTER_SCRIPT = GUNICORN_WORKERS_SCRIPT.replace(
    'print(" ".join(p for p in gunicorn if ppid(p) in gunicorn))',
    'print(" ".join({ppid(p) for p in gunicorn if ppid(p) in gunicorn}))',
)
assert GUNICORN_MASTER_SCRIPT != GUNICORN_WORKERS_SCRIPT


def gunicorn_worker_pids(container: str) -> list[str]:
    """PIDs (inside the container) of the gunicorn workers, children of the gunicorn master."""
    return docker("exec", container, "python3", "-c", GUNICORN_WORKERS_SCRIPT).stdout.split()


def in_process_scores(model_dir: Path, labelled_csv: Path) -> list[float]:
    """What the saved model answers for a CSV file's rows, computed in this process without the server."""
    import pandas as pd
    import pyarrow as pa

    from lightsage.model import artifact
    from lightsage.model.boosting import as_features

    model = artifact.load(model_dir)
    frame = pd.read_csv(labelled_csv, dtype=str, keep_default_na=False)
    typed = model.manifest.inputs.typed_table(pa.Table.from_pandas(frame, preserve_index=False)).to_pandas()
    return model.booster.predict(as_features(model.recipe.transform(typed))).tolist()


def gunicorn_master_pid(container: str) -> str:
    """PID (inside the container) of the gunicorn master."""
    (pid,) = docker("exec", container, "python3", "-c", GUNICORN_MASTER_SCRIPT).stdout.split()
    return pid


@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json_error(self) -> str:
        """The `error` text of a JSON error answer; fails when the answer is not one."""
        assert self.headers.get("Content-Type", "").startswith("application/json"), (self.status, self.body)
        return str(json.loads(self.body)["error"])


def raw_request(port: int, data: bytes, timeout: float = 10, half_close: bool = False) -> RawResponse | None:
    """Send `data` to 127.0.0.1:port exactly as given and read one answer (None when the server closed the
    connection without answering). `half_close` ends the sending side after `data`, so a server waiting for
    more (a shorter body than announced) answers or closes at once instead of at its timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        try:
            client.sendall(data)
            if half_close:
                client.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before it read everything; its answer is still readable
        method = data.split(b" ", 1)[0].decode("latin-1")
        response = http.client.HTTPResponse(client, method=method)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        return RawResponse(response.status, response.headers, response.read())
