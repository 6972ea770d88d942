"""Serving benchmark: cold start, /ping ceiling, single-row and batch /invocations vs in-process predict.

    python bench/serving_benchmark.py --image IMAGE [--duration 10] [--port 18090]
                                      [--output bench/results/serving.json]

Trains a model with the image itself (local_test/test_dir copied to a temporary folder), then measures:
- cold start: `docker run ... serve` to the first 200 from /ping (median of 3 starts);
- /ping at concurrency 8 and a single-row CSV /invocations at concurrency 1 and 8 (wrk);
- 1,000- and 10,000-row CSV requests, sequentially, against `pipeline.predict_proba` in this process, with a
  check that both give the same probabilities.
Prints a Markdown table and writes every raw figure as JSON. Exits 0 when everything ran (missed targets
included) and 1 when anything went wrong. Every container it starts is removed, also on errors.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import itertools
import json
import operator
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import joblib
import numpy as np
import pandas as pd

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# joblib.load needs `byoc` importable to rebuild the pipeline's feature step.
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))

from byoc.model import MODEL_FILE, SCHEMA_FILE  # noqa: E402

TEST_DIR = REPOSITORY_ROOT / "local_test" / "test_dir"
VALIDATION_DIR = TEST_DIR / "input" / "data" / "validation"
TITANIC_CSV = REPOSITORY_ROOT / "data" / "titanic.csv"
DEFAULT_OUTPUT = REPOSITORY_ROOT / "bench" / "results" / "serving.json"

TARGET_COLUMN = "Survived"
TRAINING_COLUMNS = (
    "PassengerId", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin", "Embarked",
)  # fmt: skip
CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "application/json"}
BATCH_SIZES = (1_000, 10_000)
SAMPLE_SEED = 42
COLD_STARTS = 3
IN_PROCESS_REPEATS = 7
WARM_UP_REQUESTS = 20  # reach every gunicorn worker before timing
PARITY_TOLERANCE = 1e-9

POLL_INTERVAL_SECONDS = 0.02
READY_DEADLINE_SECONDS = 60.0
TRAIN_TIMEOUT_SECONDS = 600.0
HTTP_TIMEOUT_SECONDS = 30.0

PING_TO_SINGLE_ROW_TARGET = 0.5
BATCH_RATIO_TARGET = 0.5
COLD_START_TARGET_SECONDS = 3.0

JSON_MARKER = "BENCH_JSON "
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class BenchmarkError(RuntimeError):
    """Something failed: the figures would be meaningless, so the run stops and exits non-zero."""


# --- processes and containers ---


def run_command(
    arguments: Sequence[str], timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(arguments), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"`{' '.join(arguments)}` did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        raise BenchmarkError(
            f"`{' '.join(arguments)}` failed with status {result.returncode}:\n{result.stderr.strip()}"
        )
    return result


def docker(*arguments: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_command(["docker", *arguments], timeout=timeout, check=check)


_container_numbers = itertools.count(1)


def new_container_name(role: str) -> str:
    return f"byoc-bench-{role}-{os.getpid()}-{next(_container_numbers)}"


def remove_container(name: str) -> None:
    docker("rm", "-f", name, check=False)


def container_logs(name: str) -> str:
    result = docker("logs", "--tail", "40", name, check=False)
    return (result.stdout + result.stderr).strip()


def container_running(name: str) -> bool:
    result = docker("inspect", "--format", "{{.State.Running}}", name, check=False)
    return result.stdout.strip() == "true"


def image_id(image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


# --- HTTP ---


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_free_port(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while port_in_use(port):
        if time.monotonic() > deadline:
            raise BenchmarkError(f"port {port} is still in use; pick another with --port")
        time.sleep(0.1)


def ping_status(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()


def post(connection: http.client.HTTPConnection, body: bytes, path: str = "/invocations") -> bytes:
    connection.request("POST", path, body=body, headers=CSV_HEADERS)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise BenchmarkError(f"POST {path} answered {response.status}: {answer[:300]!r}")
    return answer


def probabilities_from(answer: bytes) -> np.ndarray:
    return np.array([item["probability"] for item in json.loads(answer)["predictions"]], dtype=float)


# --- the model under test ---


def train_model(image: str, ml_root: Path) -> None:
    """Run the image's `train` on a copy of local_test/test_dir, as SageMaker would: no network."""
    shutil.copytree(TEST_DIR, ml_root)
    ml_root.chmod(0o755)
    for folder in (ml_root / "model", ml_root / "output"):
        for entry in folder.iterdir():
            if entry.name != ".gitkeep":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    name = new_container_name("train")
    try:
        docker(
            "run", "--rm", "--name", name, "--network", "none", "-v", f"{ml_root}:/opt/ml", image, "train",
            timeout=TRAIN_TIMEOUT_SECONDS,
        )  # fmt: skip
    finally:
        remove_container(name)
    if not (ml_root / "model" / MODEL_FILE).is_file():
        raise BenchmarkError(f"`train` left no {MODEL_FILE} in {ml_root / 'model'}")


def schema_columns(model_dir: Path) -> list[str]:
    columns = json.loads((model_dir / SCHEMA_FILE).read_text(encoding="utf-8"))["columns"]
    if tuple(columns) != TRAINING_COLUMNS:
        raise BenchmarkError(f"the model expects columns {columns}, not {list(TRAINING_COLUMNS)}")
    return list(columns)


def single_row_csv(columns: Sequence[str]) -> bytes:
    """The first validation passenger as one header-less CSV row in the training column order."""
    validation_csv = sorted(VALIDATION_DIR.glob("*.csv"))[0]
    with validation_csv.open(newline="", encoding="utf-8") as file:
        record = next(csv.DictReader(file))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([record[column] for column in columns])
    return out.getvalue().encode()


def sampled_csv(rows: int, seed: int) -> bytes:
    """`rows` passengers drawn with replacement from data/titanic.csv, without the label, with a header."""
    with TITANIC_CSV.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        records = [record for record in reader if record]
    kept = [index for index, name in enumerate(header) if name != TARGET_COLUMN]
    picks = np.random.default_rng(seed).integers(0, len(records), size=rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header[index] for index in kept])
    writer.writerows([records[pick][index] for index in kept] for pick in picks)
    return out.getvalue().encode()


def frame_from(body: bytes, columns: Sequence[str] | None = None) -> pd.DataFrame:
    if columns is None:
        return pd.read_csv(io.BytesIO(body))
    return pd.read_csv(io.BytesIO(body), header=None, names=list(columns))


# --- cold start ---


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    docker_run_seconds: float
    ready_seconds: float


def wait_until_ready(name: str, port: int, started: float) -> float:
    """Poll /ping every POLL_INTERVAL_SECONDS; seconds from `started` to the first 200."""
    polls = 0
    while time.monotonic() - started < READY_DEADLINE_SECONDS:
        if ping_status(port) == 200:
            return time.monotonic() - started
        polls += 1
        if polls % 50 == 0 and not container_running(name):
            raise BenchmarkError(
                f"container {name} stopped before /ping answered 200:\n{container_logs(name)}"
            )
        time.sleep(POLL_INTERVAL_SECONDS)
    raise BenchmarkError(
        f"/ping did not answer 200 within {READY_DEADLINE_SECONDS:.0f} s:\n{container_logs(name)}"
    )


@contextmanager
def serving(image: str, ml_root: Path, port: int) -> Iterator[Server]:
    """`docker run -d ... serve` on the host network; the container is removed on the way out, always."""
    if port_in_use(port):
        raise BenchmarkError(f"something already listens on 127.0.0.1:{port}; pick another with --port")
    name = new_container_name("serve")
    started = time.monotonic()
    try:
        docker(
            "run", "-d", "--name", name, "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}",
            "-v", f"{ml_root}:/opt/ml", image, "serve",
        )  # fmt: skip
        docker_run_seconds = time.monotonic() - started
        ready_seconds = wait_until_ready(name, port, started)
        yield Server(name, port, docker_run_seconds, ready_seconds)
    finally:
        remove_container(name)
        wait_for_free_port(port)


def measure_cold_starts(image: str, ml_root: Path, port: int) -> dict[str, Any]:
    starts = []
    for _ in range(COLD_STARTS):
        with serving(image, ml_root, port) as server:
            starts.append(server)
    ready = [server.ready_seconds for server in starts]
    return {
        "starts": COLD_STARTS,
        "seconds_to_first_200": ready,
        "docker_run_returned_seconds": [server.docker_run_seconds for server in starts],
        "median_seconds": statistics.median(ready),
    }


# --- wrk ---

_LUA_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,./:;-_()")

# Counts non-2xx answers per thread and prints one JSON line with the totals and latency percentiles (µs).
_LUA_REPORT = """
local threads = {}
non_2xx = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local non_2xx_total = 0
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
  end
  local errors = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, "non_2xx": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes, non_2xx_total,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
""".replace("MARKER", JSON_MARKER)


def lua_string(data: bytes) -> str:
    """A Lua string literal for any bytes: unsafe bytes become three-digit decimal escapes."""
    return '"' + "".join(chr(byte) if byte in _LUA_SAFE else f"\\{byte:03d}" for byte in data) + '"'


def wrk_script(method: str, body: bytes | None, headers: dict[str, str]) -> str:
    lines = [f"wrk.method = {lua_string(method.encode())}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines.extend(
        f"wrk.headers[{lua_string(name.encode())}] = {lua_string(value.encode())}"
        for name, value in headers.items()
    )
    return "\n".join(lines) + "\n" + _LUA_REPORT


def parse_wrk_report(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(JSON_MARKER):
            return json.loads(line.removeprefix(JSON_MARKER))
    raise BenchmarkError(f"wrk printed no report line:\n{stdout}")


def run_wrk(
    url: str, script: str, threads: int, connections: int, duration: float, scratch: Path
) -> dict[str, Any]:
    script_path = scratch / f"wrk-{threads}-{connections}-{time.monotonic_ns()}.lua"
    script_path.write_text(script, encoding="utf-8")
    seconds = max(1, round(duration))
    result = run_command(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(script_path), url],
        timeout=seconds + 60,
    )  # fmt: skip
    report = parse_wrk_report(result.stdout)
    failures = {name: count for name, count in report["errors"].items() if count} | (
        {"non_2xx": report["non_2xx"]} if report["non_2xx"] else {}
    )
    if failures or report["requests"] == 0:
        raise BenchmarkError(f"wrk against {url} saw failures {failures or 'no requests'}:\n{result.stdout}")
    latency = report["latency_us"]
    return {
        "threads": threads,
        "connections": connections,
        "requests": report["requests"],
        "seconds": report["duration_us"] / 1e6,
        "requests_per_second": report["requests"] / (report["duration_us"] / 1e6),
        "latency_ms": {name: value / 1000 for name, value in latency.items()},
        "errors": report["errors"],
        "non_2xx": report["non_2xx"],
    }


# --- batches: server against in-process ---


def time_server_batches(port: int, body: bytes, rows: int, duration: float) -> dict[str, Any]:
    """Sequential requests on one keep-alive connection for `duration` seconds (at least one request)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_SECONDS)
    latencies: list[float] = []
    try:
        started = time.perf_counter()
        while not latencies or time.perf_counter() - started < duration:
            sent = time.perf_counter()
            post(connection, body)
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rows_per_second": rows * len(latencies) / elapsed,
        "latency_ms": {
            "min": min(latencies) * 1000,
            "p50": statistics.median(latencies) * 1000,
            "max": max(latencies) * 1000,
        },
    }


def time_in_process(predict: Callable[[], np.ndarray], rows: int) -> dict[str, Any]:
    timings = []
    for _ in range(IN_PROCESS_REPEATS):
        started = time.perf_counter()
        predict()
        timings.append(time.perf_counter() - started)
    best = min(timings)
    return {
        "repeats": IN_PROCESS_REPEATS,
        "best_seconds": best,
        "median_seconds": statistics.median(timings),
        "rows_per_second": rows / best,
    }


def check_parity(server: np.ndarray, in_process: np.ndarray, what: str) -> float:
    if server.shape != in_process.shape:
        raise BenchmarkError(
            f"{what}: the server answered {server.shape[0]} rows, expected {in_process.shape[0]}"
        )
    difference = float(np.max(np.abs(server - in_process)))
    if not difference <= PARITY_TOLERANCE:
        raise BenchmarkError(
            f"{what}: server and in-process probabilities differ by up to {difference:.3g} "
            f"(tolerance {PARITY_TOLERANCE:g})"
        )
    return difference


def measure_batch(port: int, pipeline: Any, rows: int, duration: float) -> dict[str, Any]:
    body = sampled_csv(rows, SAMPLE_SEED)
    frame = frame_from(body)
    expected = pipeline.predict_proba(frame)[:, 1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_SECONDS)
    try:
        answered = probabilities_from(post(connection, body))
    finally:
        connection.close()
    return {
        "rows": rows,
        "body_bytes": len(body),
        "max_abs_difference": check_parity(answered, expected, f"{rows}-row request"),
        "server": time_server_batches(port, body, rows, duration),
        "in_process": time_in_process(lambda: pipeline.predict_proba(frame), rows),
    }


# --- the run ---


def machine() -> dict[str, Any]:
    cpu_models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    return {
        "nproc": int(run_command(["nproc"], timeout=10).stdout),
        "cpu_model": cpu_models[0] if cpu_models else platform.processor() or "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": run_command(["wrk", "--version"], timeout=10, check=False).stdout.splitlines()[0].strip(),
        "load_average_at_start": os.getloadavg(),
        "containers_running_at_start": len(docker("ps", "--quiet").stdout.split()),
    }


def warn_if_busy(machine_info: dict[str, Any]) -> None:
    load, containers = machine_info["load_average_at_start"][0], machine_info["containers_running_at_start"]
    if load > machine_info["nproc"] / 2 or containers:
        print(
            f"warning: the machine is busy (1-min load average {load:.2f} on {machine_info['nproc']} CPU(s), "
            f"{containers} other container(s) running): expect noisy figures",
            file=sys.stderr,
        )


def measure_load(image: str, ml_root: Path, port: int, duration: float, scratch: Path) -> dict[str, Any]:
    model_dir = ml_root / "model"
    pipeline = joblib.load(model_dir / MODEL_FILE)
    columns = schema_columns(model_dir)
    row = single_row_csv(columns)
    expected_row = pipeline.predict_proba(frame_from(row, columns))[:, 1]
    with serving(image, ml_root, port) as server:
        base = f"http://127.0.0.1:{server.port}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_SECONDS)
        try:
            for _ in range(WARM_UP_REQUESTS):
                post(connection, row)
            answered_row = probabilities_from(post(connection, row))
        finally:
            connection.close()
        single_row_difference = check_parity(answered_row, expected_row, "single-row request")
        row_script = wrk_script("POST", row, CSV_HEADERS)
        wrk_runs = {
            "ping_c8": run_wrk(f"{base}/ping", wrk_script("GET", None, {}), 2, 8, duration, scratch),
            "single_row_c1": run_wrk(f"{base}/invocations", row_script, 1, 1, duration, scratch),
            "single_row_c8": run_wrk(f"{base}/invocations", row_script, 2, 8, duration, scratch),
        }
        batches = {str(rows): measure_batch(port, pipeline, rows, duration) for rows in BATCH_SIZES}
    return {
        "single_row": {"body": row.decode(), "max_abs_difference": single_row_difference},
        "wrk": wrk_runs,
        "batches": batches,
    }


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    comparison: str  # a key of COMPARISONS
    limit: float

    @property
    def target(self) -> str:
        return f"{self.comparison} {self.limit:g}"

    @property
    def passed(self) -> bool:
        return COMPARISONS[self.comparison](self.value, self.limit)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "target": self.target, "passed": self.passed}


def targets(results: dict[str, Any]) -> dict[str, Target]:
    wrk_runs = results["wrk"]
    largest = results["batches"][str(max(BATCH_SIZES))]
    return {
        "single_row_vs_ping": Target(
            "single-row req/s at c=8 / ping req/s at c=8",
            wrk_runs["single_row_c8"]["requests_per_second"] / wrk_runs["ping_c8"]["requests_per_second"],
            ">=",
            PING_TO_SINGLE_ROW_TARGET,
        ),
        "batch_vs_in_process": Target(
            f"{max(BATCH_SIZES):,}-row server rows/s / in-process rows/s",
            largest["server"]["rows_per_second"] / largest["in_process"]["rows_per_second"],
            ">=",
            BATCH_RATIO_TARGET,
        ),
        "cold_start": Target(
            "cold start seconds (median)",
            results["cold_start"]["median_seconds"],
            "<",
            COLD_START_TARGET_SECONDS,
        ),
    }


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> None:
    for tool in ("docker", "wrk", "nproc"):
        if shutil.which(tool) is None:
            raise BenchmarkError(f"`{tool}` is not on PATH")
    results["machine"] = machine()
    warn_if_busy(results["machine"])
    results["image"] = {"name": arguments.image, "id": image_id(arguments.image)}
    with tempfile.TemporaryDirectory(prefix="byoc-bench-", ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        ml_root = scratch / "ml"
        started = time.monotonic()
        train_model(arguments.image, ml_root)
        results["train_seconds"] = time.monotonic() - started
        results["cold_start"] = measure_cold_starts(arguments.image, ml_root, arguments.port)
        results.update(measure_load(arguments.image, ml_root, arguments.port, arguments.duration, scratch))
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["targets"] = {key: target.as_dict() for key, target in targets(results).items()}


# --- report ---


TABLE_HEADER = ("figure", "value", "p50 ms", "p99 ms", "detail", "target", "result")


def row(
    figure: str, value: str, p50: str = "", p99: str = "", detail: str = "", target: Target | None = None
) -> tuple[str, ...]:
    verdict = "" if target is None else ("PASS" if target.passed else "FAIL")
    return (figure, value, p50, p99, detail, "" if target is None else target.target, verdict)


def _wrk_row(figure: str, run: dict[str, Any]) -> tuple[str, ...]:
    return row(
        figure,
        f"{run['requests_per_second']:,.0f} req/s",
        p50=f"{run['latency_ms']['p50']:.2f}",
        p99=f"{run['latency_ms']['p99']:.2f}",
        detail=f"{run['requests']:,} requests, 0 socket errors, 0 non-2xx",
    )


def _batch_rows(rows: int, batch: dict[str, Any]) -> list[tuple[str, ...]]:
    server, in_process = batch["server"], batch["in_process"]
    return [
        row(
            f"{rows:,}-row CSV POST, server, sequential",
            f"{server['rows_per_second']:,.0f} rows/s",
            p50=f"{server['latency_ms']['p50']:.1f}",
            detail=f"{server['requests']} requests in {server['seconds']:.1f} s",
        ),
        row(
            f"{rows:,}-row in-process predict_proba",
            f"{in_process['rows_per_second']:,.0f} rows/s",
            detail=f"best of {in_process['repeats']}: {in_process['best_seconds'] * 1000:.1f} ms",
        ),
        row(
            f"{rows:,}-row probabilities, server vs in-process",
            f"max abs diff {batch['max_abs_difference']:.1g}",
            target=Target("parity", batch["max_abs_difference"], "<=", PARITY_TOLERANCE),
        ),
    ]


def table_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    machine_info, image, cold = results["machine"], results["image"], results["cold_start"]
    checks = targets(results)
    starts = ", ".join(f"{seconds:.2f}" for seconds in cold["seconds_to_first_200"])
    rows = [
        row(
            "machine",
            f"{machine_info['nproc']} CPU(s), {machine_info['cpu_model']}",
            detail=f"image {image['name']} ({image['id'][:19]}); 1-min load average "
            f"{machine_info['load_average_at_start'][0]:.2f} at start, "
            f"{machine_info['load_average_at_end'][0]:.2f} at end",
        ),
        row(
            f"cold start, docker run to first 200 (median of {cold['starts']})",
            f"{cold['median_seconds']:.2f} s",
            detail=f"starts: {starts} s",
            target=checks["cold_start"],
        ),
        _wrk_row("GET /ping, c=8 (wrk -t2 -c8)", results["wrk"]["ping_c8"]),
        _wrk_row("single-row CSV POST, c=1 (wrk -t1 -c1)", results["wrk"]["single_row_c1"]),
        _wrk_row("single-row CSV POST, c=8 (wrk -t2 -c8)", results["wrk"]["single_row_c8"]),
    ]
    for size, batch in results["batches"].items():
        rows += _batch_rows(int(size), batch)
    for key in ("single_row_vs_ping", "batch_vs_in_process"):
        rows.append(row(f"ratio: {checks[key].name}", f"{checks[key].value:.2f}", target=checks[key]))
    return rows


def render_table(results: dict[str, Any]) -> str:
    lines = [TABLE_HEADER, ("---",) * len(TABLE_HEADER), *table_rows(results)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def write_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True, help="the image to benchmark (it is not rebuilt)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run (default 10)")
    parser.add_argument("--port", type=int, default=18090, help="host port the server binds (default 18090)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file for the raw figures")
    arguments = parser.parse_args(argv)
    if arguments.duration <= 0:
        parser.error("--duration must be positive")
    return arguments


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` blocks that remove containers


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"duration_seconds": arguments.duration, "port": arguments.port, "seed": SAMPLE_SEED},
    }
    try:
        run(arguments, results)
    except Exception as error:
        results["error"] = f"{type(error).__name__}: {error}"
        write_results(arguments.output, results)
        if not isinstance(error, BenchmarkError):
            traceback.print_exc()
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    print(render_table(results))
    write_results(arguments.output, results)
    print(f"\nraw figures: {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
