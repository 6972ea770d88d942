"""Real peers, side by side: this image against MLflow's `lightgbm` flavour and MLServer's LightGBM runtime,
each serving the Titanic table the way its users would.

    python bench/peer_benchmark.py --image IMAGE [--mlflow-venv /tmp/byoc-mlflow-venv]
                                   [--mlserver-venv /tmp/byoc-mlserver-venv] [--duration 10] [--rounds 2]
                                   [--via bridge|published] [--output bench/results/peer.json]

- The peers come from the package index, each into its own virtualenv, made here when missing
  (bench/requirements-mlflow.txt, bench/requirements-mlserver.txt); never into the project's.
- Each is trained natively, as a user would (bench/peer_models.py, run with the peer's own Python): pandas,
  the text columns encoded as numbers (both peers take numbers only), lightgbm.train with the image's Titanic
  knobs (300 trees), saved for the peer. The image trains on the same table with its `train`.
- Servers, 2 workers each, all on this machine: MLflow `mlflow models serve --env-manager local -w 2` and
  `mlserver start` (parallel_workers 2) bind 127.0.0.1 only (checked with `ss`); the image is reached on
  Docker's internal bridge (nothing published) or, with --via published, on 127.0.0.1.
- The same passengers for all (one validation passenger; 10,000 drawn from data/titanic.csv with seed 42),
  each in the form its server takes: the image the raw CSV with text, MLflow a CSV of the encoded numbers,
  MLServer an Open Inference Protocol (V2) JSON tensor. Every answer is checked against in-process
  probabilities (1e-9) before timing.
- wrk: single rows at concurrency 8 and 10,000-row requests at concurrency 2, one server at a time, the
  servers alternating over --rounds rounds; each figure is the best round. Each round also times the image's
  empty Flask route (GET /execution-parameters, c=8): its rate over a peer's single-row rate is the highest
  single-row ratio any model served through nginx, gunicorn and Flask could show in that run.
- What each peer needs from its user (code, conversion, content types) is printed, with the status each
  server gives the others' bodies (measured).

Prints a Markdown table, writes the raw figures as JSON. Exit 0 when everything ran (targets met or not), 1
when anything failed. Everything it starts is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import BenchmarkError, Target

DEFAULT_OUTPUT = common.RESULTS_DIR / "peer.json"
HERE = Path(__file__).resolve().parent
PEER_MODELS = HERE / "peer_models.py"
VENVS = {
    "mlflow": (Path("/tmp/byoc-mlflow-venv"), HERE / "requirements-mlflow.txt", "mlflow"),
    "mlserver": (Path("/tmp/byoc-mlserver-venv"), HERE / "requirements-mlserver.txt", "mlserver"),
}
BATCH_ROWS = 10_000
SINGLE_ROW_CONNECTIONS = 8
BATCH_CONNECTIONS = 2
WORKERS = 2
WARM_UP_REQUESTS = 20
EMPTY_ROUTE = "/execution-parameters"
READY_SECONDS = 240.0
INSTALL_SECONDS = 1800.0

SINGLE_ROW_TARGET = 10.0
BATCH_TARGET = 3.0

CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "application/json"}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# What each server needs from its user, beside the figures (the content types are probed in the run).
NEEDS = {
    "image": {
        "code": "none: `docker run IMAGE train` on the table; the titanic recipe (or `recipe=tabular`) reads "
        "the raw columns, text included",
        "conversion": "none: raw rows, text categories and empty cells as they are",
        "content types": 'text/csv (header optional), application/json (records, lists, {"instances": '
        "[...]}), application/jsonlines; gzip/deflate; SageMaker's /ping and /invocations",
    },
    "mlflow": {
        "code": "a training script (pandas, numeric encoding, lightgbm.train) and "
        "`mlflow.lightgbm.save_model(booster, path, signature=infer_signature(X, booster.predict(X)))`; "
        "serve: `mlflow models serve -m PATH --env-manager local -w 2`",
        "conversion": "every request's text categories encoded as the numbers the booster was trained on "
        "(Sex, Embarked), client-side: the signature refuses text",
        "content types": "text/csv (pandas.read_csv; header required), application/json (dataframe_split, "
        "dataframe_records, instances, inputs), parquet; /ping and /invocations; answers probabilities "
        "only, no labels",
    },
    "mlserver": {
        "code": "a training script that saves model.bst (the one file name the runtime reads), "
        "model-settings.json and settings.json; serve: `mlserver start DIR`",
        "conversion": "every request as an Open Inference Protocol FP64 tensor: text categories as "
        "numbers, missing values as JSON null (NaN literals are refused)",
        "content types": "application/json, V2 (Open Inference Protocol) only: POST "
        "/v2/models/NAME/infer (and gRPC); no CSV, no SageMaker /invocations; answers "
        '{"outputs": [{"data": [...]}]}',
    },
}


@dataclass
class Peer:
    """One server under test: where it answers, its bodies (1 and BATCH_ROWS rows) and their answers."""

    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]
    bodies: dict[int, bytes]
    expected: dict[int, np.ndarray]
    ready_seconds: float
    read: Callable[[bytes], np.ndarray]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


# --- the peers' virtualenvs and models ---


def ensure_venv(peer: str, venv: Path) -> str:
    """The peer's virtualenv, made from its requirements file when it lacks the peer; the peer's version."""
    _, requirements, package = VENVS[peer]
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import importlib.metadata as m; print(m.version('{package}'))"]
    if not python.is_file() or common.run_command(check, timeout=120, check=False).returncode != 0:
        print(f"{peer}: making {venv} from {requirements.name} (a few minutes)", file=sys.stderr)
        common.run_command([sys.executable, "-m", "venv", str(venv)], timeout=300)
        common.run_command(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)], timeout=INSTALL_SECONDS
        )
    return common.run_command(check, timeout=120).stdout.strip()


def peer_models(peer: str, venv: Path, out: Path, raw_bodies: dict[int, Path]) -> dict[str, Any]:
    command = [str(venv / "bin" / "python"), str(PEER_MODELS), peer, str(common.TITANIC_CSV), str(out)]
    result = common.run_command([*command, *map(str, raw_bodies.values())], timeout=600)
    described = json.loads(result.stdout.strip().splitlines()[-1])
    described["bodies"] = {
        rows: body for rows, body in zip(raw_bodies, described["bodies"], strict=True)
    }  # keyed by rows
    return described


# --- processes ---


@contextmanager
def process_group(
    command: list[str], log: Path, env: dict[str, str], cwd: Path | None = None
) -> Iterator[int]:
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        yield process.pid
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group this script started (the server and its workers), SIGKILL after 20 s."""
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


def group_members(group: int) -> set[int]:
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # state, ppid, pgrp
            members.add(int(stat.parent.name))
    return members


def listening(group: int) -> list[str]:
    """The addresses the process group listens on (TCP), from `ss`."""
    members = group_members(group)
    addresses = []
    for line in common.run_command(["ss", "-ltnpH"], timeout=30).stdout.splitlines():
        pids = {int(pid) for pid in re.findall(r"pid=(\d+)", line)}
        if pids & members:
            addresses.append(line.split()[3])
    return addresses


def wait_ready(name: str, group: int, port: int, path: str, log: Path, started: float) -> float:
    while common.status_of("127.0.0.1", port, path) != 200:
        if not group_members(group):
            raise BenchmarkError(f"{name} exited before it was ready:\n{tail(log)}")
        if time.monotonic() - started > READY_SECONDS:
            raise BenchmarkError(f"{name} was not ready within {READY_SECONDS:.0f} s:\n{tail(log)}")
        time.sleep(0.1)
    seconds = time.monotonic() - started
    loopback = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")
    exposed = [address for address in listening(group) if not address.startswith(loopback)]
    if exposed:
        raise BenchmarkError(f"{name} listens beyond the loopback interface: {', '.join(exposed)}")
    return seconds


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def peer_environment(venv: Path) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return environment | {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }


@contextmanager
def mlflow_server(venv: Path, model: dict[str, Any], scratch: Path) -> Iterator[Peer]:
    port = common.free_port()
    command = [
        str(venv / "bin" / "mlflow"), "models", "serve", "-m", model["model"], "-h", "127.0.0.1",
        "-p", str(port), "--env-manager", "local", "-w", str(WORKERS),
    ]  # fmt: skip
    log = scratch / "mlflow.log"
    started = time.monotonic()
    with process_group(command, log, peer_environment(venv)) as group:
        ready = wait_ready("MLflow", group, port, "/ping", log, started)
        yield Peer(
            "mlflow", "127.0.0.1", port, "/invocations", CSV_HEADERS,
            {rows: Path(body["body"]).read_bytes() for rows, body in model["bodies"].items()},
            {rows: np.load(body["expected"]) for rows, body in model["bodies"].items()},
            ready, common.probabilities_from,
        )  # fmt: skip


def mlserver_answers(answer: bytes) -> np.ndarray:
    return np.asarray(json.loads(answer)["outputs"][0]["data"], dtype=float)


@contextmanager
def mlserver_server(venv: Path, model: dict[str, Any], scratch: Path) -> Iterator[Peer]:
    port, grpc_port, metrics_port = common.free_port(), common.free_port(), common.free_port()
    folder = Path(model["model"])
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": grpc_port, "metrics_port": metrics_port,
                "parallel_workers": WORKERS}  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings))
    log = scratch / "mlserver.log"
    started = time.monotonic()
    command = [str(venv / "bin" / "mlserver"), "start", str(folder)]
    with process_group(command, log, peer_environment(venv), cwd=folder) as group:
        ready = wait_ready("MLServer", group, port, "/v2/models/titanic/ready", log, started)
        yield Peer(
            "mlserver", "127.0.0.1", port, "/v2/models/titanic/infer", JSON_HEADERS,
            {rows: Path(body["body"]).read_bytes() for rows, body in model["bodies"].items()},
            {rows: np.load(body["expected"]) for rows, body in model["bodies"].items()},
            ready, mlserver_answers,
        )  # fmt: skip


@contextmanager
def image_server(image: str, ml_root: Path, via: str, bodies: dict[int, bytes]) -> Iterator[Peer]:
    predictor = common.load_predictor(ml_root / "model")
    expected = {rows: common.in_process_probabilities(predictor, body) for rows, body in bodies.items()}
    with common.serving(image, ml_root, via) as server:
        trees = common.wait_for_batch_trees(server.name)
        peer = Peer("image", server.host, server.port, "/invocations", CSV_HEADERS, bodies, expected,
                    server.ready_seconds, common.probabilities_from)  # fmt: skip
        peer.figures["batch_trees"] = trees["trees"]
        yield peer


# --- measuring ---


def check_answers(peer: Peer) -> dict[str, float]:
    for _ in range(WARM_UP_REQUESTS):
        common.post_ok(peer.host, peer.port, peer.path, peer.bodies[1], peer.headers)
    parity = {}
    for rows, body in peer.bodies.items():
        answer = common.post_ok(peer.host, peer.port, peer.path, body, peer.headers)
        parity[str(rows)] = common.check_parity(
            peer.read(answer), peer.expected[rows], f"{peer.name}: {rows} rows"
        )
    return parity


def load_run(peer: Peer, rows: int, connections: int, duration: float, scratch: Path) -> dict[str, Any]:
    run = common.run_wrk(peer.url, "POST", peer.bodies[rows], peer.headers, connections, duration, scratch)
    run["rows_per_second"] = run["requests_per_second"] * rows
    return run


def stack_floor(image: Peer, duration: float, scratch: Path) -> dict[str, Any]:
    """GET /execution-parameters on the image at the single-row concurrency: the smallest Flask round trip
    through the same nginx, gunicorn and Flask, without model work. No request through them answers faster."""
    return common.run_wrk(
        f"http://{image.host}:{image.port}{EMPTY_ROUTE}", "GET", None, {}, SINGLE_ROW_CONNECTIONS, duration,
        scratch,
    )  # fmt: skip


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = max(runs, key=lambda run: run["requests_per_second"])
    return chosen | {"rounds": [run["requests_per_second"] for run in runs]}


def probe_content_types(peers: dict[str, Peer]) -> dict[str, dict[str, int]]:
    """The status each server answers to each server's single-row body (its own, and the others')."""
    statuses: dict[str, dict[str, int]] = {}
    for name, peer in peers.items():
        statuses[name] = {}
        for other in peers.values():
            status, _ = common.request(
                peer.host, peer.port, "POST", peer.path, other.bodies[1], other.headers
            )
            statuses[name][f"{other.name} body ({other.headers['Content-Type']})"] = status
    return statuses


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> None:
    common.require_tools("docker", "wrk", "ss")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    venvs = {"mlflow": arguments.mlflow_venv, "mlserver": arguments.mlserver_venv}
    results["versions"] = {peer: ensure_venv(peer, venv) for peer, venv in venvs.items()}
    with tempfile.TemporaryDirectory(prefix="byoc-peer-", ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        ml_root = scratch / "ml"
        results["train_seconds"] = common.train_titanic(arguments.image, ml_root)
        raw = {1: common.single_row_csv(), BATCH_ROWS: common.sampled_csv(BATCH_ROWS)}
        raw_files = {}
        for rows, body in raw.items():
            raw_files[rows] = scratch / f"raw-{rows}.csv"
            raw_files[rows].write_bytes(body)
        models = {peer: peer_models(peer, venv, scratch / peer, raw_files) for peer, venv in venvs.items()}
        results["peer_models"] = models
        with ExitStack() as stack:
            peers = {
                "image": stack.enter_context(image_server(arguments.image, ml_root, arguments.via, raw)),
                "mlflow": stack.enter_context(mlflow_server(venvs["mlflow"], models["mlflow"], scratch)),
                "mlserver": stack.enter_context(
                    mlserver_server(venvs["mlserver"], models["mlserver"], scratch)
                ),
            }
            parity = {name: check_answers(peer) for name, peer in peers.items()}
            results["content_types"] = probe_content_types(peers)
            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                name: {"single": [], "batch": []} for name in peers
            }
            empty_route: list[dict[str, Any]] = []
            for round_number in range(arguments.rounds):
                print(f"round {round_number + 1} of {arguments.rounds}", file=sys.stderr)
                for name, peer in peers.items():
                    runs[name]["single"].append(
                        load_run(peer, 1, SINGLE_ROW_CONNECTIONS, arguments.duration, scratch)
                    )
                empty_route.append(stack_floor(peers["image"], arguments.duration, scratch))
                for name, peer in peers.items():
                    runs[name]["batch"].append(
                        load_run(peer, BATCH_ROWS, BATCH_CONNECTIONS, arguments.duration, scratch)
                    )
            results["servers"] = {
                name: {
                    "address": f"{peer.host}:{peer.port}{peer.path}",
                    "ready_seconds": peer.ready_seconds,
                    "max_abs_difference": parity[name],
                    "single_row": best(runs[name]["single"]),
                    "batch": best(runs[name]["batch"]),
                    **peer.figures,
                }
                for name, peer in peers.items()
            }
            results["servers"]["image"]["empty_route"] = best(empty_route)
    common.finish_machine(results["machine"])
    results["targets"] = {key: target.as_dict() for key, target in targets(results).items()}


def targets(results: dict[str, Any]) -> dict[str, Target]:
    servers = results["servers"]
    image = servers["image"]
    checks = {}
    for peer, label in (("mlflow", "MLflow"), ("mlserver", "MLServer")):
        checks[f"single_row_{peer}"] = Target(
            f"single-row req/s at c={SINGLE_ROW_CONNECTIONS}: image / {label}",
            image["single_row"]["requests_per_second"] / servers[peer]["single_row"]["requests_per_second"],
            ">=",
            SINGLE_ROW_TARGET,
        )
        checks[f"batch_{peer}"] = Target(
            f"{BATCH_ROWS:,}-row rows/s at c={BATCH_CONNECTIONS}: image / {label}",
            image["batch"]["rows_per_second"] / servers[peer]["batch"]["rows_per_second"],
            ">=",
            BATCH_TARGET,
        )
    return checks


# --- report ---

HEADER = ("figure", "image", "MLflow (lightgbm flavour)", "MLServer (LightGBM runtime)", "target", "result")
LABELS = {"image": "image", "mlflow": "MLflow", "mlserver": "MLServer"}


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    servers, checks, versions = results["servers"], targets(results), results["versions"]
    order = ("image", "mlflow", "mlserver")

    def latency(run: dict[str, Any]) -> str:
        return f"p50 {run['latency_ms']['p50']:.2f} ms, p99 {run['latency_ms']['p99']:.2f} ms"

    def rounds(run: dict[str, Any]) -> str:
        return "rounds: " + ", ".join(f"{value:,.1f}" for value in run["rounds"]) + " req/s"

    single = [servers[name]["single_row"] for name in order]
    batch = [servers[name]["batch"] for name in order]
    rows = [
        ["machine", common.load_summary(results["machine"]), "", "", "", ""],
        [
            "server",
            f"{results['image']['name']} ({results['image']['id'][7:19]}), nginx, gunicorn, Flask; "
            f"batches on {servers['image'].get('batch_trees', '?')}",
            f"MLflow {versions['mlflow']}, `mlflow models serve -w {WORKERS}` (uvicorn)",
            f"MLServer {versions['mlserver']}, parallel_workers {WORKERS}",
            "",
            "",
        ],
        ["address", *(servers[name]["address"] for name in order), "", ""],
        ["start to ready", *(f"{servers[name]['ready_seconds']:.2f} s" for name in order), "", ""],
        [
            f"single-row requests, c={SINGLE_ROW_CONNECTIONS}",
            *(f"{run['requests_per_second']:,.0f} req/s ({latency(run)}; {rounds(run)})" for run in single),
            "",
            "",
        ],
        [
            f"{BATCH_ROWS:,}-row requests, c={BATCH_CONNECTIONS}",
            *(f"{run['rows_per_second']:,.0f} rows/s ({latency(run)}; {rounds(run)})" for run in batch),
            "",
            "",
        ],
    ]
    empty = servers["image"]["empty_route"]
    rows.append(
        [
            f"empty Flask route (GET {EMPTY_ROUTE}), c={SINGLE_ROW_CONNECTIONS}: the stack's own ceiling",
            f"{empty['requests_per_second']:,.0f} req/s ({latency(empty)}; {rounds(empty)})",
            "",
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "ceiling: empty Flask route / each peer's single rows (the highest single-row ratio any model "
            "served through nginx, gunicorn and Flask could reach in this run)",
            "",
            *(
                f"{empty['requests_per_second'] / servers[peer]['single_row']['requests_per_second']:.2f}x"
                for peer in order[1:]
            ),
            "",
            "",
        ]
    )
    for kind in ("single_row", "batch"):
        for peer in order[1:]:
            check = checks[f"{kind}_{peer}"]
            cells = ["", "", ""]
            cells[order.index(peer)] = f"{check.value:.2f}x"
            rows.append([f"ratio: {check.name}", *cells, check.target, check.verdict])
    rows.append(
        [
            "answers vs in-process (max abs difference, 1 and 10,000 rows)",
            *(", ".join(f"{v:.1g}" for v in servers[name]["max_abs_difference"].values()) for name in order),
            f"<= {common.PARITY_TOLERANCE:g}",
            "PASS",
        ]
    )
    for need in ("code", "conversion", "content types"):
        rows.append([f"what the user needs: {need}", *(NEEDS[name][need] for name in order), "", ""])
    statuses = results["content_types"]
    for other in order:
        label = next(key for key in statuses["image"] if key.startswith(f"{other} body"))
        rows.append(
            [
                f"status for the {LABELS[other]} single-row body ({label.split('(')[1][:-1]})",
                *(str(statuses[name][label]) for name in order),
                "",
                "",
            ]
        )
    return rows


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True, help="the image to benchmark (it is not rebuilt)")
    parser.add_argument("--mlflow-venv", type=Path, default=VENVS["mlflow"][0], help="MLflow's virtualenv")
    parser.add_argument(
        "--mlserver-venv", type=Path, default=VENVS["mlserver"][0], help="MLServer's virtualenv"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of alternating runs (default 2)")
    parser.add_argument(
        "--via",
        choices=("bridge", "published"),
        default="bridge",
        help="reach the image at its address on Docker's bridge (default) or at a port on 127.0.0.1",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file for the raw figures")
    arguments = parser.parse_args(argv)
    if arguments.duration <= 0 or arguments.rounds < 1:
        parser.error("--duration must be positive and --rounds at least 1")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = {
        "duration_seconds": arguments.duration,
        "rounds": arguments.rounds,
        "via": arguments.via,
        "seed": common.SAMPLE_SEED,
        "workers": WORKERS,
    }
    return common.run_and_report(
        arguments.output,
        settings,
        lambda results: run(arguments, results),
        lambda results: common.markdown_table(HEADER, table_rows(results)),
    )


if __name__ == "__main__":
    sys.exit(main())
