"""Peer comparison: the image's server against MLflow's model server on the same trained model.

    python bench/peer_benchmark.py --image IMAGE [--mlflow-venv /tmp/byoc-mlflow-venv] [--duration 10]
                                   [--via bridge|published] [--output bench/results/peer.json]

MLflow runs from its own virtualenv (bench/requirements-mlflow.txt) on 127.0.0.1, with this checkout's
program/ on PYTHONPATH: `mlflow models serve -m PYFUNC -h 127.0.0.1 -p PORT --env-manager local -w 2`, where
PYFUNC wraps the model the image trained (bench/mlflow_pyfunc.py: MLflow parses the CSV with pandas, then the
manifest's InputSchema types the columns and lightsage.serving.predictor computes features and calls the
booster). The image serves the same model folder with its 2 gunicorn workers (one per CPU here).

Both get the same CSV bodies (with a header row): one passenger at concurrency 8 and 10,000 passengers at
concurrency 2, with wrk, one server at a time. Prints requests/s and rows/s of each, the ratios, the
in-process booster-only floor (booster.predict on precomputed features, 1 thread, best of 15) and the
image's 10,000-row rate against it, and checks that both servers' probabilities equal the in-process ones.
Exit 0 when everything ran (targets missed or not), 1 when anything failed. Everything it starts is stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import common
from common import BenchmarkError, Target

DEFAULT_OUTPUT = common.RESULTS_DIR / "peer.json"
DEFAULT_MLFLOW_VENV = Path("/tmp/byoc-mlflow-venv")
PYFUNC_CODE = Path(__file__).resolve().with_name("mlflow_pyfunc.py")
CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "application/json"}
BATCH_ROWS = 10_000
SINGLE_ROW_CONNECTIONS = 8
BATCH_CONNECTIONS = 2
MLFLOW_WORKERS = 2
FLOOR_REPEATS = 15
WARM_UP_REQUESTS = 20
MLFLOW_READY_SECONDS = 180.0

SINGLE_ROW_TARGET = 10.0
BATCH_TARGET = 3.0
FLOOR_TARGET = 0.5

SAVE_PYFUNC = """
import sys
import mlflow.pyfunc
mlflow.pyfunc.save_model(
    path=sys.argv[1], python_model=sys.argv[2], artifacts={"byoc_model": sys.argv[3]},
    pip_requirements=[f"mlflow=={mlflow.__version__}"],
)
"""


# --- MLflow ---


def mlflow_environment(venv: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",  # uvicorn is found on PATH
        "PYTHONPATH": str(common.PROGRAM_DIR),
        "VIRTUAL_ENV": str(venv),
    }


def check_mlflow(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "mlflow").is_file():
        raise BenchmarkError(
            f"no MLflow in {venv}: python3 -m venv {venv} && "
            f"{venv}/bin/pip install -r bench/requirements-mlflow.txt"
        )
    result = common.run_command(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        timeout=120,
        env=mlflow_environment(venv),
    )
    return result.stdout.strip()


def save_pyfunc(venv: Path, model_dir: Path, pyfunc_dir: Path) -> None:
    common.run_command(
        [str(venv / "bin" / "python"), "-c", SAVE_PYFUNC, str(pyfunc_dir), str(PYFUNC_CODE), str(model_dir)],
        timeout=300,
        env=mlflow_environment(venv),
    )


@contextmanager
def mlflow_serving(venv: Path, pyfunc_dir: Path, log_path: Path) -> Iterator[common.Server]:
    """`mlflow models serve` on 127.0.0.1 in its own session; the whole process group is stopped on exit."""
    port = common.free_port()
    command = [
        str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(pyfunc_dir), "-h", "127.0.0.1",
        "-p", str(port), "--env-manager", "local", "-w", str(MLFLOW_WORKERS),
    ]  # fmt: skip
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=mlflow_environment(venv),
            start_new_session=True,
        )
    try:
        while common.status_of("127.0.0.1", port, "/ping") != 200:
            if process.poll() is not None:
                raise BenchmarkError(
                    f"mlflow models serve exited with {process.returncode}:\n{_tail(log_path)}"
                )
            if time.monotonic() - started > MLFLOW_READY_SECONDS:
                raise BenchmarkError(f"MLflow did not answer /ping within {MLFLOW_READY_SECONDS:.0f} s")
            time.sleep(0.1)
        yield common.Server("mlflow", "127.0.0.1", port, time.monotonic() - started)
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group this script started (mlflow, uvicorn and its workers), SIGKILL after 20 s."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                process.wait(5)
                return
            time.sleep(0.2)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- one server under load ---


def measure(
    server: common.Server, bodies: dict[int, bytes], expected: dict[int, Any], duration: float, scratch: Path
) -> dict[str, Any]:
    for _ in range(WARM_UP_REQUESTS):
        common.post_ok(server.host, server.port, "/invocations", bodies[1], CSV_HEADERS)
    parity = {}
    for rows, body in bodies.items():
        answer = common.post_ok(server.host, server.port, "/invocations", body, CSV_HEADERS)
        parity[str(rows)] = common.check_parity(
            common.probabilities_from(answer), expected[rows], f"{server.name}: {rows}-row request"
        )
    url = f"{server.url}/invocations"
    load_before = os.getloadavg()
    single = common.run_wrk(url, "POST", bodies[1], CSV_HEADERS, SINGLE_ROW_CONNECTIONS, duration, scratch)
    batch = common.run_wrk(url, "POST", bodies[BATCH_ROWS], CSV_HEADERS, BATCH_CONNECTIONS, duration, scratch)
    batch["rows_per_second"] = batch["requests_per_second"] * BATCH_ROWS
    return {
        "address": f"{server.host}:{server.port}",
        "ready_seconds": server.ready_seconds,
        "load_average_before": load_before,
        "max_abs_difference": parity,
        "single_row": single,
        "batch": batch,
    }


# --- the run ---


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> None:
    common.require_tools("docker", "wrk")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    results["mlflow_version"] = check_mlflow(arguments.mlflow_venv)
    with tempfile.TemporaryDirectory(prefix="byoc-peer-", ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        ml_root = scratch / "ml"
        results["train_seconds"] = common.train_titanic(arguments.image, ml_root)
        pyfunc_dir = scratch / "pyfunc"
        save_pyfunc(arguments.mlflow_venv, ml_root / "model", pyfunc_dir)

        predictor = common.load_predictor(ml_root / "model")
        bodies = {1: common.single_row_csv(), BATCH_ROWS: common.sampled_csv(BATCH_ROWS)}
        expected = {rows: common.in_process_probabilities(predictor, body) for rows, body in bodies.items()}
        features = predictor.features(common.decode_csv(predictor, bodies[BATCH_ROWS]))
        booster = predictor.model.booster
        floor = common.best_of(lambda: booster.predict(features, num_threads=1), FLOOR_REPEATS)
        results["booster_floor"] = floor | {
            "rows": BATCH_ROWS,
            "rows_per_second": BATCH_ROWS / floor["best_seconds"],
        }

        with common.serving(arguments.image, ml_root, arguments.via) as server:
            results["image_server"] = measure(server, bodies, expected, arguments.duration, scratch)
        with mlflow_serving(arguments.mlflow_venv, pyfunc_dir, scratch / "mlflow.log") as server:
            results["mlflow_server"] = measure(server, bodies, expected, arguments.duration, scratch)
    common.finish_machine(results["machine"])
    results["targets"] = {key: target.as_dict() for key, target in targets(results).items()}


def targets(results: dict[str, Any]) -> dict[str, Target]:
    image, mlflow = results["image_server"], results["mlflow_server"]
    return {
        "single_row": Target(
            f"single-row req/s at c={SINGLE_ROW_CONNECTIONS}: image / MLflow",
            image["single_row"]["requests_per_second"] / mlflow["single_row"]["requests_per_second"],
            ">=",
            SINGLE_ROW_TARGET,
        ),
        "batch": Target(
            f"{BATCH_ROWS:,}-row rows/s at c={BATCH_CONNECTIONS}: image / MLflow",
            image["batch"]["rows_per_second"] / mlflow["batch"]["rows_per_second"],
            ">=",
            BATCH_TARGET,
        ),
        "floor": Target(
            f"{BATCH_ROWS:,}-row rows/s at c={BATCH_CONNECTIONS}: image / in-process booster floor",
            image["batch"]["rows_per_second"] / results["booster_floor"]["rows_per_second"],
            ">=",
            FLOOR_TARGET,
        ),
    }


# --- report ---

HEADER = ("figure", "image", "MLflow", "ratio", "target", "result")


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    image, mlflow, floor = results["image_server"], results["mlflow_server"], results["booster_floor"]
    checks = targets(results)

    def latency(run: dict[str, Any]) -> str:
        return f"p50 {run['latency_ms']['p50']:.2f} ms, p99 {run['latency_ms']['p99']:.2f} ms"

    single_image, single_mlflow = image["single_row"], mlflow["single_row"]
    batch_image, batch_mlflow = image["batch"], mlflow["batch"]
    return [
        ["machine", common.load_summary(results["machine"]), "", "", "", ""],
        [
            "servers",
            f"{results['image']['name']} ({results['image']['id'][7:19]}), at {image['address']}",
            f"MLflow {results['mlflow_version']}, `mlflow models serve -w {MLFLOW_WORKERS}`, "
            f"at {mlflow['address']}",
            "",
            "",
            "",
        ],
        [
            "start to first 200 on /ping",
            f"{image['ready_seconds']:.2f} s",
            f"{mlflow['ready_seconds']:.2f} s",
            "",
            "",
            "",
        ],
        [
            f"single-row CSV, c={SINGLE_ROW_CONNECTIONS}",
            f"{single_image['requests_per_second']:,.0f} req/s ({latency(single_image)})",
            f"{single_mlflow['requests_per_second']:,.0f} req/s ({latency(single_mlflow)})",
            f"{checks['single_row'].value:.1f}x",
            checks["single_row"].target,
            checks["single_row"].verdict,
        ],
        [
            f"{BATCH_ROWS:,}-row CSV, c={BATCH_CONNECTIONS}",
            f"{batch_image['rows_per_second']:,.0f} rows/s ({batch_image['requests_per_second']:.2f} req/s, "
            f"{latency(batch_image)})",
            f"{batch_mlflow['rows_per_second']:,.0f} rows/s "
            f"({batch_mlflow['requests_per_second']:.2f} req/s, "
            f"{latency(batch_mlflow)})",
            f"{checks['batch'].value:.2f}x",
            checks["batch"].target,
            checks["batch"].verdict,
        ],
        [
            f"in-process booster floor, {BATCH_ROWS:,} rows, 1 thread (best of {floor['repeats']})",
            f"{floor['rows_per_second']:,.0f} rows/s",
            "",
            f"image / floor {checks['floor'].value:.2f}",
            checks["floor"].target,
            checks["floor"].verdict,
        ],
        [
            "probabilities vs in-process (max abs difference, 1 and 10,000 rows)",
            ", ".join(f"{value:.1g}" for value in image["max_abs_difference"].values()),
            ", ".join(f"{value:.1g}" for value in mlflow["max_abs_difference"].values()),
            "",
            f"<= {common.PARITY_TOLERANCE:g}",
            "PASS",
        ],
    ]


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True, help="the image to benchmark (it is not rebuilt)")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV, help="MLflow's virtualenv")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run (default 10)")
    parser.add_argument(
        "--via",
        choices=("bridge", "published"),
        default="bridge",
        help="reach the image at its address on Docker's bridge (default) or at a port on 127.0.0.1",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file for the raw figures")
    arguments = parser.parse_args(argv)
    if arguments.duration <= 0:
        parser.error("--duration must be positive")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = {"duration_seconds": arguments.duration, "via": arguments.via, "seed": common.SAMPLE_SEED}
    return common.run_and_report(
        arguments.output,
        settings,
        lambda results: run(arguments, results),
        lambda results: common.markdown_table(HEADER, table_rows(results)),
    )


if __name__ == "__main__":
    sys.exit(main())
