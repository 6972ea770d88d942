"""Serving benchmark: cold start, /ping, a Flask round trip, single-row and batch /invocations, explanations.

    python bench/serving_benchmark.py --image IMAGE [--duration 10] [--via bridge|published]
                                      [--output bench/results/serving.json]

Trains a model with the image itself (local_test/test_dir copied to a temporary folder), then measures:
- cold start: `docker run ... serve` to the first 200 from /ping (median of 3 starts);
- with wrk: GET /ping (answered by nginx) and GET /execution-parameters (a Flask round trip) at
  concurrency 8; a single-row CSV /invocations at concurrency 1 and 8; 1,000- and 10,000-row CSV requests at
  concurrency 1 and 2;
- which trees the workers answer batches with: it waits until every worker has switched to compiled trees
  (or the log says they will not) before any batch is timed;
- in this process, with the server's own code: the whole request path without HTTP (decode, features,
  trees, encode) with LightGBM and with compiled trees, and LightGBM's booster.predict alone on precomputed
  features, one thread (the floor: measured right before and after each server run, best of 7 each, so the
  ratio compares figures taken under the same load);
- explanations (`Accept: application/json; explain=true`): their cost per row, when the server supports them;
  in-process LightGBM `pred_contrib` cost per row in any case;
- that the server's probabilities equal the in-process ones.
Prints a Markdown table and writes every raw figure as JSON. Exits 0 when everything ran (missed targets
included) and 1 when anything went wrong. Every container it starts is removed, also on errors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import Target

DEFAULT_OUTPUT = common.RESULTS_DIR / "serving.json"
CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "application/json"}
EXPLAIN_ACCEPT = "application/json; explain=true"
EXPLAIN_HEADERS = {"Content-Type": "text/csv", "Accept": EXPLAIN_ACCEPT}
PLAIN_KEYS = frozenset({"label", "probability", "probabilities", "prediction"})
BATCH_SIZES = (1_000, 10_000)
COLD_STARTS = 3
IN_PROCESS_REPEATS = 7
WARM_UP_REQUESTS = 20  # reach every gunicorn worker before timing

SINGLE_ROW_VS_FLASK_TARGET = 0.5
BATCH_VS_FLOOR_TARGET = 1.0
COLD_START_TARGET_SECONDS = 3.0


# --- cold start ---


def measure_cold_starts(image: str, ml_root: Path, via: str) -> dict[str, Any]:
    ready = []
    for _ in range(COLD_STARTS):
        with common.serving(image, ml_root, via) as server:
            ready.append(server.ready_seconds)
    return {"starts": COLD_STARTS, "seconds_to_first_200": ready, "median_seconds": statistics.median(ready)}


# --- explanations ---


def explain_support(server: common.Server, body: bytes) -> tuple[bool, str]:
    """Whether the server answers `explain=true` with something beyond the plain prediction."""
    status, answer = common.request(server.host, server.port, "POST", "/invocations", body, EXPLAIN_HEADERS)
    if status != 200:
        return False, f"the server answered {status} to Accept: {EXPLAIN_ACCEPT}: {answer[:200]!r}"
    try:
        first = json.loads(answer)["predictions"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return False, f"the answer to Accept: {EXPLAIN_ACCEPT} is not JSON predictions: {answer[:200]!r}"
    extra = sorted(set(first) - PLAIN_KEYS) if isinstance(first, dict) else []
    if not extra:
        return False, (
            f"the server ignores Accept: {EXPLAIN_ACCEPT} (its answer holds only {sorted(first)}): "
            "explanations are not served by this image, so their HTTP cost was not measured"
        )
    return True, f"the answer carries {', '.join(extra)}"


def in_process_contributions(predictor: Any, features: np.ndarray) -> dict[str, Any]:
    """LightGBM pred_contrib on precomputed features, one thread: the compute floor of an explanation."""
    booster = predictor.model.booster
    plain = common.best_of(lambda: booster.predict(features, num_threads=1), IN_PROCESS_REPEATS)
    contributions = common.best_of(
        lambda: booster.predict(features, num_threads=1, pred_contrib=True), IN_PROCESS_REPEATS
    )
    rows = len(features)
    return {
        "rows": rows,
        "predict": plain,
        "pred_contrib": contributions,
        "pred_contrib_microseconds_per_row": contributions["best_seconds"] / rows * 1e6,
        "extra_microseconds_per_row": (contributions["best_seconds"] - plain["best_seconds"]) / rows * 1e6,
    }


def measure_explanations(
    server: common.Server, predictor: Any, bodies: dict[int, bytes], duration: float, scratch: Path
) -> dict[str, Any]:
    biggest = max(bodies)
    features = predictor.features(common.decode_csv(predictor, bodies[biggest]))
    result: dict[str, Any] = {"in_process": in_process_contributions(predictor, features)}
    supported, detail = explain_support(server, bodies[1])
    result |= {"supported": supported, "detail": detail}
    if not supported:
        print(f"explanations: skipped: {detail}", file=sys.stderr)
        return result
    served: dict[str, Any] = {}
    for rows, body in bodies.items():
        expected = common.in_process_probabilities(predictor, body)
        answer = common.post_ok(server.host, server.port, "/invocations", body, EXPLAIN_HEADERS)
        parity = common.check_parity(common.probabilities_from(answer), expected, f"{rows}-row explained")
        url = f"{server.url}/invocations"
        plain = common.run_wrk(url, "POST", body, CSV_HEADERS, 1, duration, scratch)
        explained = common.run_wrk(url, "POST", body, EXPLAIN_HEADERS, 1, duration, scratch)
        extra = 1 / explained["requests_per_second"] - 1 / plain["requests_per_second"]
        served[str(rows)] = {
            "rows": rows,
            "max_abs_difference": parity,
            "plain_c1": plain,
            "explained_c1": explained,
            "answer_bytes": len(answer),
            "extra_microseconds_per_row": extra / rows * 1e6,
        }
    result["served"] = served
    return result


# --- the run ---


def batch_figures(
    server: common.Server,
    predictors: dict[str, Any],
    rows: int,
    body: bytes,
    duration: float,
    scratch: Path,
) -> dict[str, Any]:
    predictor = predictors["LightGBM"]
    expected = common.in_process_probabilities(predictor, body)
    answer = common.post_ok(server.host, server.port, "/invocations", body, CSV_HEADERS)
    parity = common.check_parity(common.probabilities_from(answer), expected, f"{rows}-row request")
    features = predictor.features(common.decode_csv(predictor, body))
    booster = predictor.model.booster
    encoder = common.encoder_for(predictor)
    floors: list[dict[str, float]] = []

    def floor() -> None:
        floors.append(common.best_of(lambda: booster.predict(features, num_threads=1), IN_PROCESS_REPEATS))

    def whole_path(trees: str) -> dict[str, float]:
        chosen = predictors[trees]
        return common.best_of(
            lambda: encoder.encode(chosen.scores(common.decode_csv(chosen, body)), "application/json"),
            IN_PROCESS_REPEATS,
        )

    url = f"{server.url}/invocations"
    figures: dict[str, Any] = {"rows": rows, "body_bytes": len(body), "max_abs_difference": parity}
    floor()
    figures["server_c1"] = common.run_wrk(url, "POST", body, CSV_HEADERS, 1, duration, scratch)
    floor()
    figures["server_c2"] = common.run_wrk(url, "POST", body, CSV_HEADERS, 2, duration, scratch)
    floor()
    figures["in_process_whole_path"] = whole_path("LightGBM")
    figures["in_process_whole_path_compiled"] = whole_path("compiled trees")
    best = min(floors, key=lambda figure: figure["best_seconds"])
    figures["booster_floor"] = best | {
        "runs": len(floors),
        "each_best_seconds": [f["best_seconds"] for f in floors],
    }
    for key in ("server_c1", "server_c2"):
        figures[key]["rows_per_second"] = figures[key]["requests_per_second"] * rows
    for key in ("in_process_whole_path", "in_process_whole_path_compiled", "booster_floor"):
        figures[key]["rows_per_second"] = rows / figures[key]["best_seconds"]
    return figures


def measure_server(image: str, ml_root: Path, via: str, duration: float, scratch: Path) -> dict[str, Any]:
    predictor = common.load_predictor(ml_root / "model")
    predictors = {
        "LightGBM": predictor,
        "compiled trees": common.compiled_predictor(ml_root / "model", scratch),
    }
    row = common.single_row_csv()
    bodies = {1: row} | {rows: common.sampled_csv(rows) for rows in BATCH_SIZES}
    with common.serving(image, ml_root, via) as server:
        batch_trees = common.wait_for_batch_trees(server.name)
        print(
            f"batches are answered by {batch_trees['trees']} in {batch_trees['workers']} worker(s)",
            file=sys.stderr,
        )
        for _ in range(WARM_UP_REQUESTS):
            common.post_ok(server.host, server.port, "/invocations", row, CSV_HEADERS)
            common.post_ok(server.host, server.port, "/invocations", bodies[max(BATCH_SIZES)], CSV_HEADERS)
        answer = common.post_ok(server.host, server.port, "/invocations", row, CSV_HEADERS)
        single_parity = common.check_parity(
            common.probabilities_from(answer), common.in_process_probabilities(predictor, row), "single row"
        )
        url = server.url
        wrk_runs = {
            "ping_c8": common.run_wrk(f"{url}/ping", "GET", None, {}, 8, duration, scratch),
            "execution_parameters_c8": common.run_wrk(
                f"{url}/execution-parameters", "GET", None, {}, 8, duration, scratch
            ),
            "single_row_c1": common.run_wrk(
                f"{url}/invocations", "POST", row, CSV_HEADERS, 1, duration, scratch
            ),
            "single_row_c8": common.run_wrk(
                f"{url}/invocations", "POST", row, CSV_HEADERS, 8, duration, scratch
            ),
        }
        batches = {
            str(rows): batch_figures(server, predictors, rows, bodies[rows], duration, scratch)
            for rows in BATCH_SIZES
        }
        explanations = measure_explanations(server, predictor, bodies, duration, scratch)
    return {
        "address": "container address on Docker's bridge" if via == "bridge" else "127.0.0.1, published port",
        "batch_trees": batch_trees,
        "single_row": {"body": row.decode(), "max_abs_difference": single_parity},
        "wrk": wrk_runs,
        "batches": batches,
        "explanations": explanations,
    }


def targets(results: dict[str, Any]) -> dict[str, Target]:
    wrk_runs, largest = results["wrk"], results["batches"][str(max(BATCH_SIZES))]
    single = wrk_runs["single_row_c8"]["requests_per_second"]
    return {
        "single_row_vs_flask": Target(
            "single-row c=8 / GET /execution-parameters c=8 (Flask round trip)",
            single / wrk_runs["execution_parameters_c8"]["requests_per_second"],
            ">=",
            SINGLE_ROW_VS_FLASK_TARGET,
        ),
        "batch_vs_floor": Target(
            f"{max(BATCH_SIZES):,}-row rows/s at c=2 through nginx, gunicorn and Flask / one-thread "
            "booster.predict on the same features",
            largest["server_c2"]["rows_per_second"] / largest["booster_floor"]["rows_per_second"],
            ">=",
            BATCH_VS_FLOOR_TARGET,
        ),
        "cold_start": Target(
            "cold start seconds (median)",
            results["cold_start"]["median_seconds"],
            "<",
            COLD_START_TARGET_SECONDS,
        ),
    }


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> None:
    common.require_tools("docker", "wrk")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    with tempfile.TemporaryDirectory(prefix="byoc-bench-", ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        ml_root = scratch / "ml"
        results["train_seconds"] = common.train_titanic(arguments.image, ml_root)
        results["cold_start"] = measure_cold_starts(arguments.image, ml_root, arguments.via)
        results.update(measure_server(arguments.image, ml_root, arguments.via, arguments.duration, scratch))
    common.finish_machine(results["machine"])
    results["targets"] = {key: target.as_dict() for key, target in targets(results).items()}


# --- report ---

HEADER = ("figure", "value", "p50 ms", "p99 ms", "detail", "target", "result")


def row(
    figure: str, value: str, p50: str = "", p99: str = "", detail: str = "", target: Target | None = None
) -> list[str]:
    return [
        figure,
        value,
        p50,
        p99,
        detail,
        target.target if target else "",
        target.verdict if target else "",
    ]


def wrk_row(figure: str, run: dict[str, Any], rows: int = 1) -> list[str]:
    value = f"{run['requests_per_second']:,.0f} req/s"
    if rows > 1:
        value = f"{run['requests_per_second'] * rows:,.0f} rows/s ({run['requests_per_second']:,.1f} req/s)"
    return row(
        figure,
        value,
        f"{run['latency_ms']['p50']:.2f}",
        f"{run['latency_ms']['p99']:.2f}",
        f"{run['requests']:,} requests, no errors; load average {run['load_average_before']:.2f} before",
    )


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    info, cold, wrk_runs = results["machine"], results["cold_start"], results["wrk"]
    checks = targets(results)
    starts = ", ".join(f"{seconds:.2f}" for seconds in cold["seconds_to_first_200"])
    single_vs_ping = (
        wrk_runs["single_row_c8"]["requests_per_second"] / wrk_runs["ping_c8"]["requests_per_second"]
    )
    rows = [
        row("machine", info["cpu_model"], detail=common.load_summary(info)),
        row(
            "image",
            results["image"]["name"],
            detail=f"{results['image']['id'][:19]}; reached at {results['address']}",
        ),
        row(
            f"cold start, docker run to first 200 on /ping (median of {cold['starts']})",
            f"{cold['median_seconds']:.2f} s",
            detail=f"starts: {starts} s",
            target=checks["cold_start"],
        ),
        row(
            "batch requests answered by",
            results["batch_trees"]["trees"],
            detail=f"in all {results['batch_trees']['workers']} worker(s), "
            f"{results['batch_trees']['seconds']:.1f} s after /ping turned 200",
        ),
        wrk_row("GET /ping, c=8 (nginx answers it)", wrk_runs["ping_c8"]),
        wrk_row("GET /execution-parameters, c=8 (Flask round trip)", wrk_runs["execution_parameters_c8"]),
        wrk_row("single-row CSV POST, c=1", wrk_runs["single_row_c1"]),
        wrk_row("single-row CSV POST, c=8", wrk_runs["single_row_c8"]),
        row(
            "ratio: single-row c=8 / GET /ping c=8 (nginx)",
            f"{single_vs_ping:.2f}",
            detail="informational: /ping no longer reaches Flask",
        ),
        row(
            f"ratio: {checks['single_row_vs_flask'].name}",
            f"{checks['single_row_vs_flask'].value:.2f}",
            detail="what the issue's 0.58 compared (the old /ping was a Flask route)",
            target=checks["single_row_vs_flask"],
        ),
    ]
    for size, batch in results["batches"].items():
        rows_count = int(size)
        whole, floor = batch["in_process_whole_path"], batch["booster_floor"]
        compiled = batch["in_process_whole_path_compiled"]
        rows += [
            wrk_row(f"{rows_count:,}-row CSV POST, c=1", batch["server_c1"], rows_count),
            wrk_row(f"{rows_count:,}-row CSV POST, c=2", batch["server_c2"], rows_count),
            row(
                f"{rows_count:,} rows in-process: decode, features, LightGBM, encode (1 thread)",
                f"{whole['rows_per_second']:,.0f} rows/s",
                detail=f"best of {whole['repeats']}: {whole['best_seconds'] * 1000:.1f} ms",
            ),
            row(
                f"{rows_count:,} rows in-process: decode, features, compiled trees, encode (1 thread)",
                f"{compiled['rows_per_second']:,.0f} rows/s",
                detail=f"best of {compiled['repeats']}: {compiled['best_seconds'] * 1000:.1f} ms",
            ),
            row(
                f"{rows_count:,} rows in-process: booster.predict only (floor, 1 thread)",
                f"{floor['rows_per_second']:,.0f} rows/s",
                detail=f"best of {floor['runs']} x {floor['repeats']} around the server runs: "
                + ", ".join(f"{seconds * 1000:.1f}" for seconds in floor["each_best_seconds"])
                + " ms",
            ),
            row(
                f"{rows_count:,}-row probabilities, server vs in-process",
                f"max abs diff {batch['max_abs_difference']:.1g}",
                target=Target("parity", batch["max_abs_difference"], "<=", common.PARITY_TOLERANCE),
            ),
        ]
    floor_check = checks["batch_vs_floor"]
    rows.append(row(f"ratio: {floor_check.name}", f"{floor_check.value:.2f}", target=floor_check))
    rows += explanation_rows(results["explanations"])
    return rows


def explanation_rows(explanations: dict[str, Any]) -> list[list[str]]:
    local = explanations["in_process"]
    rows = [
        row(
            f"explanations in-process: pred_contrib on {local['rows']:,} rows (1 thread)",
            f"{local['pred_contrib_microseconds_per_row']:.2f} µs/row",
            detail=f"{local['extra_microseconds_per_row']:.2f} µs/row more than predict",
        )
    ]
    if not explanations["supported"]:
        rows.append(row("explanations served (explain=true)", "skipped", detail=explanations["detail"]))
        return rows
    for size, served in explanations["served"].items():
        explained, plain = served["explained_c1"], served["plain_c1"]
        rows.append(
            row(
                f"explanations served: {int(size):,}-row request, c=1",
                f"{served['extra_microseconds_per_row']:.1f} µs/row extra",
                detail=f"{explained['requests_per_second']:,.1f} req/s explained vs "
                f"{plain['requests_per_second']:,.1f} plain; answer {served['answer_bytes']:,} bytes",
            )
        )
    return rows


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True, help="the image to benchmark (it is not rebuilt)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run (default 10)")
    parser.add_argument(
        "--via",
        choices=("bridge", "published"),
        default="bridge",
        help="reach the container at its address on Docker's bridge (default; nothing is published on the "
        "host) or at a port published on 127.0.0.1 (through docker-proxy, which costs about half of /ping)",
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
