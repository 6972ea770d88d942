"""What the benchmark scripts share: the machine's state, Docker, the serving container, wrk, reports.

Not a benchmark itself. The scripts import it as `common` (Python puts the script's folder on sys.path).
"""

from __future__ import annotations

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
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
PROGRAM_DIR = REPOSITORY_ROOT / "program"
# `byoc` and `recipes` from this checkout (the dev venv installs `byoc` only).
sys.path.insert(0, str(PROGRAM_DIR))
TEST_DIR = REPOSITORY_ROOT / "local_test" / "test_dir"
VALIDATION_CSV = TEST_DIR / "input" / "data" / "validation" / "validation.csv"
TITANIC_CSV = REPOSITORY_ROOT / "data" / "titanic.csv"
RESULTS_DIR = REPOSITORY_ROOT / "bench" / "results"

TARGET_COLUMN = "Survived"
SAMPLE_SEED = 42
CONTAINER_PORT = 8080
POLL_INTERVAL_SECONDS = 0.02
READY_DEADLINE_SECONDS = 60.0
TRAIN_TIMEOUT_SECONDS = 900.0
HTTP_TIMEOUT_SECONDS = 60.0
PARITY_TOLERANCE = 1e-9
JSON_MARKER = "BENCH_JSON "


class BenchmarkError(RuntimeError):
    """Something failed: the figures would be meaningless, so the run stops and exits non-zero."""


# --- processes and containers ---


def run_command(
    arguments: Sequence[str], timeout: float, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(arguments), capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"`{' '.join(arguments)}` did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        error = result.stderr.strip()[-3000:]
        raise BenchmarkError(f"`{' '.join(arguments)}` failed with status {result.returncode}:\n{error}")
    return result


def docker(*arguments: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_command(["docker", *arguments], timeout=timeout, check=check)


_container_numbers = itertools.count(1)


def new_container_name(role: str) -> str:
    return f"byoc-bench-{role}-{os.getpid()}-{next(_container_numbers)}"


def remove_container(name: str) -> None:
    docker("rm", "-f", name, check=False)


def container_logs(name: str, lines: int = 40) -> str:
    result = docker("logs", "--tail", str(lines), name, check=False)
    return (result.stdout + result.stderr).strip()


def container_running(name: str) -> bool:
    result = docker("inspect", "--format", "{{.State.Running}}", name, check=False)
    return result.stdout.strip() == "true"


def image_id(image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise BenchmarkError(f"`{tool}` is not on PATH")


# --- the machine (it is shared: every report carries its load) ---


def machine() -> dict[str, Any]:
    cpu_models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    return {
        "nproc": os.cpu_count() or 1,
        "cpu_model": cpu_models[0] if cpu_models else platform.processor() or "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "containers_running_at_start": len(docker("ps", "--quiet").stdout.split()),
        "cpu_times_at_start": cpu_times(),
    }


def cpu_times() -> list[int] | None:
    """The machine's CPU time so far by kind, in ticks (/proc/stat's `cpu` line: user, nice, system, idle,
    iowait, irq, softirq, steal, ...); None where there is no /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return [int(ticks) for ticks in first[1:]] if first and first[0] == "cpu" else None


def stolen_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of CPU time the hypervisor gave to other machines between two `cpu_times` (its steal time):
    on a shared virtual machine, the usual reason figures vary from run to run."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    spent = sum(after[:8]) - sum(before[:8])
    return (after[7] - before[7]) / spent if spent > 0 else None


def busy_warning(load: float, cpus: int, containers: int = 0) -> str | None:
    if load > cpus / 2 or containers:
        return (
            f"warning: the machine is busy (1-min load average {load:.2f} on {cpus} CPU(s), {containers} "
            "other container(s) running): expect noisy figures; rerun on a quiet machine for the README"
        )
    return None


def announce_machine(info: dict[str, Any]) -> None:
    load = info["load_average_at_start"]
    print(
        f"machine: {info['nproc']} CPU(s), {info['cpu_model']}; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; {info['containers_running_at_start']} container(s) already running",
        file=sys.stderr,
    )
    warning = busy_warning(load[0], info["nproc"], info["containers_running_at_start"])
    if warning:
        print(warning, file=sys.stderr)


def finish_machine(info: dict[str, Any]) -> None:
    info["load_average_at_end"] = os.getloadavg()
    info["cpu_stolen_share"] = stolen_share(info.get("cpu_times_at_start"), cpu_times())
    load = info["load_average_at_end"]
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    warning = busy_warning(load[0], info["nproc"])
    if warning:
        print(warning, file=sys.stderr)


def load_summary(info: dict[str, Any]) -> str:
    start, end = info["load_average_at_start"][0], info.get("load_average_at_end", [float("nan")])[0]
    summary = f"{info['nproc']} CPU(s), 1-min load average {start:.2f} at start, {end:.2f} at end"
    stolen = info.get("cpu_stolen_share")
    return summary + (f", {stolen:.0%} of CPU time stolen by the hypervisor" if stolen is not None else "")


# --- HTTP ---


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def status_of(host: str, port: int, path: str) -> int | None:
    try:
        return request(host, port, "GET", path, timeout=1.0)[0]
    except OSError:
        return None


def post_ok(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    status, answer = request(host, port, "POST", path, body, headers)
    if status != 200:
        raise BenchmarkError(f"POST {path} on {host}:{port} answered {status}: {answer[:300]!r}")
    return answer


def check_parity(answered: np.ndarray, expected: np.ndarray, what: str) -> float:
    if answered.shape != expected.shape:
        raise BenchmarkError(f"{what}: answered shape {answered.shape}, expected {expected.shape}")
    difference = float(np.max(np.abs(answered - expected))) if len(expected) else 0.0
    if not difference <= PARITY_TOLERANCE:
        raise BenchmarkError(
            f"{what}: probabilities differ from in-process ones by up to {difference:.3g} "
            f"(tolerance {PARITY_TOLERANCE:g})"
        )
    return difference


# --- the Titanic model and request bodies ---


def train_titanic(image: str, ml_root: Path) -> float:
    """Run the image's `train` on a copy of local_test/test_dir with no network, as SageMaker would."""
    shutil.copytree(TEST_DIR, ml_root)
    ml_root.chmod(0o755)
    for folder in (ml_root / "model", ml_root / "output"):
        for entry in folder.iterdir():
            if entry.name != ".gitkeep":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    name = new_container_name("train")
    started = time.monotonic()
    try:
        docker(
            "run", "--rm", "--name", name, "--network", "none", "-v", f"{ml_root}:/opt/ml", image, "train",
            timeout=TRAIN_TIMEOUT_SECONDS,
        )  # fmt: skip
    finally:
        remove_container(name)
    if not (ml_root / "model" / "manifest.json").is_file():
        raise BenchmarkError(f"`train` left no manifest.json in {ml_root / 'model'}")
    return time.monotonic() - started


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def single_row_csv() -> bytes:
    """The first validation passenger, with the header row and without the label."""
    with VALIDATION_CSV.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        record = next(reader)
    kept = [index for index, name in enumerate(header) if name != TARGET_COLUMN]
    return _csv_text([header[i] for i in kept], [[record[i] for i in kept]])


def sampled_csv(rows: int, seed: int = SAMPLE_SEED) -> bytes:
    """`rows` passengers drawn with replacement from data/titanic.csv, with a header, without the label."""
    with TITANIC_CSV.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        records = [record for record in reader if record]
    kept = [index for index, name in enumerate(header) if name != TARGET_COLUMN]
    picks = np.random.default_rng(seed).integers(0, len(records), size=rows)
    return _csv_text([header[i] for i in kept], [[records[p][i] for i in kept] for p in picks])


# --- the image's server ---


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    port: int
    ready_seconds: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def container_address(name: str) -> str:
    address = docker(
        "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
    ).stdout.strip()
    if not address:
        raise BenchmarkError(f"container {name} has no address on Docker's bridge network")
    return address


def wait_until_ready(name: str, host: str, port: int, started: float) -> float:
    """Poll /ping every POLL_INTERVAL_SECONDS; seconds from `started` to the first 200."""
    polls = 0
    while time.monotonic() - started < READY_DEADLINE_SECONDS:
        if status_of(host, port, "/ping") == 200:
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
def serving(
    image: str, ml_root: Path, via: str, port: int = 0, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """`docker run -d IMAGE serve`, reached on Docker's bridge (`via="bridge"`: the container's own address,
    nothing published on the host, no docker-proxy in the path) or on a port published on 127.0.0.1 only
    (`via="published"`, through docker-proxy). The container is removed on the way out, always."""
    name = new_container_name("serve")
    publish: list[str] = []
    if via == "published":
        port = port or free_port()
        if port_in_use(port):
            raise BenchmarkError(f"something already listens on 127.0.0.1:{port}")
        publish = ["-p", f"127.0.0.1:{port}:{CONTAINER_PORT}"]
    started = time.monotonic()
    try:
        docker("run", "-d", "--name", name, *publish, *extra, "-v", f"{ml_root}:/opt/ml", image, "serve")
        host, target_port = (
            ("127.0.0.1", port) if via == "published" else (container_address(name), CONTAINER_PORT)
        )
        ready = wait_until_ready(name, host, target_port, started)
        yield Server(name, host, target_port, ready)
    finally:
        remove_container(name)


# --- compiled trees in the image's workers ---

COMPILED_READY = "answers batches with them"
COMPILED_NOT_USED = ("compiled trees: not used", "the compile failed", "was stopped", "the compile used more",
                     "compiled trees: off", "LightGBM keeps answering")  # fmt: skip
COMPILED_WAIT_SECONDS = 180.0


def serving_workers(name: str) -> int:
    """The worker count `serve` announced in its first log line."""
    for line in container_logs(name, lines=400).splitlines():
        if line.startswith("[serve] port ") and " worker(s)" in line:
            return int(line.split(" worker(s)")[0].rsplit(" ", 1)[1])
    raise BenchmarkError(f"container {name} never announced its workers:\n{container_logs(name)}")


def image_has_compiled_trees(name: str) -> bool:
    """Whether the running container's image has compiled trees at all (an image from before them has not)."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('lleaves') is None)"
    return docker("exec", name, "python", "-c", probe, timeout=60, check=False).returncode == 0


def wait_for_batch_trees(name: str) -> dict[str, Any]:
    """Wait until every worker answers batches with compiled trees, or the log says they will not; what the
    workers use then ("compiled trees" or "LightGBM"), the seconds waited and the log lines that say so."""
    workers = serving_workers(name)
    started = time.monotonic()
    if not image_has_compiled_trees(name):
        return {"trees": "LightGBM (the image has no compiled trees)", "workers": workers, "seconds": 0.0,
                "log": []}  # fmt: skip
    while time.monotonic() - started < COMPILED_WAIT_SECONDS:
        lines = [line for line in container_logs(name, lines=400).splitlines() if "compiled trees" in line]
        ready = [line for line in lines if COMPILED_READY in line]
        if len(ready) >= workers:
            return {"trees": "compiled trees", "workers": workers, "seconds": time.monotonic() - started,
                    "log": lines}  # fmt: skip
        if any(marker in line for line in lines for marker in COMPILED_NOT_USED):
            return {"trees": "LightGBM", "workers": workers, "seconds": time.monotonic() - started,
                    "log": lines}  # fmt: skip
        time.sleep(0.2)
    raise BenchmarkError(
        f"the workers of {name} neither switched to compiled trees nor said why within "
        f"{COMPILED_WAIT_SECONDS:.0f} s:\n{container_logs(name)}"
    )


def compiled_predictor(model_dir: Path, scratch: Path) -> Any:
    """The server's Predictor with its batches switched to compiled trees, as a worker of `serve` does."""
    from lightsage.serving import compiled

    predictor = load_predictor(model_dir)
    cache = scratch / "compiled-trees"
    if compiled.compile_model(model_dir, cache) != 0:
        raise BenchmarkError(f"the model in {model_dir} was not compiled in this process")
    ended = scratch / "compile-ended"
    ended.touch()
    if compiled.Watch(predictor.model, model_dir, cache, ended).run(predictor, interval=0.01) is None:
        raise BenchmarkError("this process did not switch to compiled trees: see the log above")
    return predictor


# --- wrk ---

_LUA_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,./:;-_()=")

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


def run_wrk(
    url: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    connections: int,
    duration: float,
    scratch: Path,
) -> dict[str, Any]:
    """wrk at `connections` concurrent connections (one thread per connection, at most 2) for `duration` s.

    Any socket error, timeout or non-2xx answer fails the run: the figure would not be a rate of answers."""
    threads = min(2, connections)
    load_before = os.getloadavg()[0]
    script_path = scratch / f"wrk-{time.monotonic_ns()}.lua"
    script_path.write_text(wrk_script(method, body, headers), encoding="utf-8")
    seconds = max(1, round(duration))
    result = run_command(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
         "-s", str(script_path), url],
        timeout=seconds + 90,
    )  # fmt: skip
    report = next(
        (json.loads(line.removeprefix(JSON_MARKER)) for line in result.stdout.splitlines()
         if line.startswith(JSON_MARKER)),
        None,
    )  # fmt: skip
    if report is None:
        raise BenchmarkError(f"wrk printed no report line:\n{result.stdout}\n{result.stderr}")
    failures = {name: count for name, count in report["errors"].items() if count}
    if report["non_2xx"]:
        failures["non_2xx"] = report["non_2xx"]
    if failures or report["requests"] == 0:
        raise BenchmarkError(f"wrk against {url} saw failures {failures or 'no requests'}:\n{result.stdout}")
    seconds_measured = report["duration_us"] / 1e6
    return {
        "threads": threads,
        "connections": connections,
        "requests": report["requests"],
        "seconds": seconds_measured,
        "requests_per_second": report["requests"] / seconds_measured,
        "latency_ms": {name: value / 1000 for name, value in report["latency_us"].items()},
        "load_average_before": load_before,
    }


# --- the model in this process: the server's own code, without HTTP ---

CSV = "text/csv"


def load_predictor(model_dir: Path, threads: int = 1) -> Any:
    """`lightsage.serving.predictor.Predictor` on the saved artifact, as each gunicorn worker builds it."""
    from lightsage.model import artifact
    from lightsage.serving.predictor import Predictor

    return Predictor(artifact.load(model_dir), threads=threads)


def encoder_for(predictor: Any) -> Any:
    """The encoder /invocations uses for the predictor's model (`lightsage.serving.encode.Encoder`)."""
    from lightsage.serving.encode import Encoder

    manifest = predictor.manifest
    return Encoder(manifest.task, manifest.classes, manifest.features)


def decode_csv(predictor: Any, body: bytes) -> Any:
    """A CSV body decoded as /invocations decodes it (`lightsage.serving.decode.decode`)."""
    from lightsage.serving.decode import decode

    return decode(body, CSV, predictor.manifest.inputs, predictor.manifest.target)


def in_process_probabilities(predictor: Any, body: bytes) -> np.ndarray:
    return np.asarray(predictor.scores(decode_csv(predictor, body)), dtype=float)


def probabilities_from(answer: bytes) -> np.ndarray:
    """P(positive) per row from a JSON answer: the image's records or MLflow's bare list."""
    predictions = json.loads(answer)["predictions"]
    return np.array(
        [item["probability"] if isinstance(item, dict) else item for item in predictions], dtype=float
    )


# --- timing in this process ---


def best_of(function: Callable[[], Any], repeats: int) -> dict[str, float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return {"repeats": repeats, "best_seconds": min(timings), "median_seconds": sorted(timings)[repeats // 2]}


# --- reports ---

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
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

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "target": self.target, "passed": self.passed}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` blocks that remove containers


def stop_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)


def run_and_report(
    output: Path,
    settings: dict[str, Any],
    run: Callable[[dict[str, Any]], bool | None],
    report: Callable[[dict[str, Any]], str],
) -> int:
    """A benchmark's main: `run` fills the results, `report` prints them, and the raw figures go to `output`.

    Exit 1 when `run` raised (the error is written to `output` too) or returned False, else 0.
    """
    stop_on_sigterm()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
    }
    try:
        outcome = run(results)
    except Exception as error:
        results["error"] = f"{type(error).__name__}: {error}"
        write_json(output, results)
        if not isinstance(error, BenchmarkError):
            traceback.print_exc()
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    print(report(results))
    write_json(output, results)
    print(f"\nraw figures: {output}")
    return 1 if outcome is False else 0
