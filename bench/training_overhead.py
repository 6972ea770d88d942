"""`train` (recipe=tabular) against the plain script a user would write, side by side in one run.

    python bench/training_overhead.py --image IMAGE [--rows 3200000] [--pairs 2] [--memory 8g] [--cpus 2]
                                      [--omp-wait-policy PASSIVE] [--cache bench/results/cache]
                                      [--output bench/results/training-overhead.json]

The table is diamonds-shaped: 6 numbers (carat, depth, table, x, y, z), 3 text columns (cut, color, clarity)
and the numeric target price; --rows rows in all, 80 % in the train file and 20 % in the validation file
(seeded, written once into --cache). Both sides run in the same image under the same `docker run --network
none --memory M --memory-swap M --cpus C`, and read the same two files:
- `train`: hyperparameters recipe=tabular, target=price and every LightGBM knob pinned (PINNED: 100 rounds,
  no early stopping, LightGBM's defaults otherwise), so the comparison holds whatever the recipe's defaults;
- the plain script (bench/plain_training.py): pandas.read_csv, category dtypes, lightgbm.train with the same
  LightGBM parameters and num_threads=C, R² on the validation file, save_model.

The sides alternate (plain, train, then train, plain, ...) --pairs times; each figure is the best of its
side's runs (a row also gives the ratio of the median wall times, to show how much runs vary): wall time
from `docker run` to exit, peak memory (the largest resident set of the processes in the container, from
getrusage), validation R². OMP_WAIT_POLICY (PASSIVE by default) is set on both sides: libgomp's default
spin-waiting makes boosting time swing several-fold on a shared machine. Prints a Markdown table with the
ratios against the targets (wall <= 1.15x, peak memory <= 0.6x, same R² within 0.001); raw figures to
--output. Exit 0 when every run succeeded (targets met or not), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from common import Target

DEFAULT_CACHE = common.RESULTS_DIR / "cache"
BENCH_DIR = Path(__file__).resolve().parent
MIB = 1024**2
RUN_TIMEOUT_SECONDS = 3600.0
GENERATOR_VERSION = 1
TARGET = "price"
VALIDATION_SHARE = 0.2
# The LightGBM settings both sides use, under the image's hyperparameter names (LightGBM's defaults).
PINNED = {
    "n_estimators": 100,
    "early_stopping_rounds": 0,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_child_samples": 20,
    "subsample": 1.0,
    "subsample_freq": 0,
    "colsample_bytree": 1.0,
    "reg_lambda": 0.0,
    "reg_alpha": 0.0,
    "min_split_gain": 0.0,
    "max_bin": 255,
    "random_state": 42,
}
# The same settings under LightGBM's names, for the plain script (num_threads is added per run).
PLAIN_PARAMETERS = {
    "objective": "regression",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_data_in_leaf": 20,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "feature_fraction": 1.0,
    "lambda_l2": 0.0,
    "lambda_l1": 0.0,
    "min_gain_to_split": 0.0,
    "max_bin": 255,
    "seed": 42,
    "verbose": -1,
}
WALL_TARGET, MEMORY_TARGET, R2_TOLERANCE = 1.15, 0.6, 0.001
# Runs the command given after it and prints the largest resident set of its processes (KiB) last.
PEAK_WRAPPER = (
    "import resource, subprocess, sys; status = subprocess.run(sys.argv[1:]).returncode; "
    "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); sys.exit(status)"
)

# --- the table ---

CUTS = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
COLORS = list("DEFGHIJ")
CLARITIES = ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]


def diamonds(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    carat = np.round(rng.gamma(2.0, 0.4, rows) + 0.2, 2)
    cut = rng.choice(len(CUTS), rows, p=[0.03, 0.09, 0.22, 0.26, 0.40])
    color = rng.choice(len(COLORS), rows)
    clarity = rng.choice(len(CLARITIES), rows)
    depth = np.round(rng.normal(61.7, 1.4, rows), 1)
    table = np.round(rng.normal(57.5, 2.2, rows), 1)
    x = np.round(6.5 * carat ** (1 / 3) + rng.normal(0, 0.05, rows), 2)
    y = np.round(x + rng.normal(0, 0.05, rows), 2)
    z = np.round(x * depth / 100 + rng.normal(0, 0.03, rows), 2)
    log_price = (
        7.8 + 1.7 * np.log(carat) + 0.08 * cut - 0.07 * color + 0.09 * clarity
        - 0.01 * np.abs(depth - 61.7) + rng.normal(0, 0.12, rows)
    )  # fmt: skip
    return pa.table({
        "carat": carat, "cut": pa.array(np.array(CUTS)[cut]), "color": pa.array(np.array(COLORS)[color]),
        "clarity": pa.array(np.array(CLARITIES)[clarity]), "depth": depth, "table": table,
        TARGET: np.round(np.exp(log_price)).astype(np.int64), "x": x, "y": y, "z": z,
    })  # fmt: skip


def cached_files(cache: Path, rows: int) -> dict[str, Path]:
    """The train and validation files for `rows`, written once; a sidecar JSON records how."""
    folder = cache / f"diamonds-{rows}"
    files = {channel: folder / f"{channel}.csv" for channel in ("train", "validation")}
    sidecar = folder / "files.json"
    expected = {"rows": rows, "validation_share": VALIDATION_SHARE, "generator_version": GENERATOR_VERSION}
    written = sidecar.is_file() and json.loads(sidecar.read_text()) == expected
    if written and all(path.is_file() for path in files.values()):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    validation_rows = int(rows * VALIDATION_SHARE)
    counts = (rows - validation_rows, validation_rows)
    for path, count, seed in zip(files.values(), counts, (1, 2), strict=True):
        partial = path.with_suffix(".partial")
        print(f"writing {path} ({count:,} rows, once)", file=sys.stderr)
        pa_csv.write_csv(diamonds(count, seed), partial, pa_csv.WriteOptions(quoting_style="none"))
        partial.replace(path)
    sidecar.write_text(json.dumps(expected))
    return files


# --- one run of either side ---


def docker_run(
    arguments: argparse.Namespace, files: dict[str, Path], ml_root: Path, command: Sequence[str]
) -> dict[str, Any]:
    """`command` in the image under the limits, with /opt/ml at `ml_root` and the data files mounted; its wall
    time, exit status, peak resident set and output."""
    name = common.new_container_name("overhead")
    mounts = []
    for channel, path in files.items():
        mounts += ["-v", f"{path}:/opt/ml/input/data/{channel}/{channel}.csv:ro"]
    docker_command = [
        "docker", "run", "--rm", "--name", name, "--network", "none",
        "--memory", arguments.memory, "--memory-swap", arguments.memory, "--cpus", str(arguments.cpus),
        "-e", f"OMP_WAIT_POLICY={arguments.omp_wait_policy}",
        "-v", f"{ml_root}:/opt/ml", *mounts, "-v", f"{BENCH_DIR}:/bench:ro",
        arguments.image, "python", "-c", PEAK_WRAPPER, *command,
    ]  # fmt: skip
    started = time.monotonic()
    try:
        result = common.run_command(docker_command, timeout=RUN_TIMEOUT_SECONDS, check=False)
    finally:
        common.remove_container(name)
    wall = time.monotonic() - started
    lines = result.stdout.splitlines()
    peaks = [int(line.split()[1]) for line in lines if line.startswith("PEAK_KIB ")]
    return {
        "command": " ".join(docker_command),
        "exit_status": result.returncode,
        "wall_seconds": wall,
        "peak_mib": peaks[-1] / 1024 if peaks else None,
        "stdout_tail": lines[-5:],
        "stderr_tail": result.stderr.splitlines()[-30:],
        "log_lines": [line for line in (result.stdout + result.stderr).splitlines() if "[train]" in line][
            -60:
        ],
    }


def fresh_root(scratch: Path, side: str, number: int) -> Path:
    root = scratch / f"{side}-{number}"
    for folder in ("input/config", "input/data/train", "input/data/validation", "model", "output"):
        (root / folder).mkdir(parents=True)
    root.chmod(0o755)
    return root


def run_train(arguments: argparse.Namespace, files: dict[str, Path], root: Path) -> dict[str, Any]:
    hyperparameters = {"recipe": "tabular", "target": TARGET, **PINNED}
    # SageMaker passes every hyperparameter as a string
    (root / "input/config/hyperparameters.json").write_text(
        json.dumps({key: str(value) for key, value in hyperparameters.items()})
    )
    run = docker_run(arguments, files, root, ["train"])
    metrics_path = root / "model" / "metrics.json"
    if run["exit_status"] == 0 and metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        run |= {
            "r2": metrics["validation"]["r2"],
            "iterations": metrics["iterations"],
            "own_peak_rss_mib": metrics["peak_rss_mib"],
            "own_duration_seconds": metrics["duration_seconds"],
        }
    failure = root / "output" / "failure"
    if failure.is_file():
        run["failure"] = failure.read_text(errors="replace").strip()[:2000]
    return run


def run_plain(arguments: argparse.Namespace, files: dict[str, Path], root: Path) -> dict[str, Any]:
    parameters = {**PLAIN_PARAMETERS, "num_threads": int(arguments.cpus)}
    command = [
        "python", "/bench/plain_training.py", "/opt/ml/input/data/train/train.csv",
        "/opt/ml/input/data/validation/validation.csv", TARGET, json.dumps(parameters),
        str(PINNED["n_estimators"]), "/opt/ml/model/model.txt",
    ]  # fmt: skip
    run = docker_run(arguments, files, root, command)
    answers = [line for line in run["stdout_tail"] if line.startswith("{")]
    if run["exit_status"] == 0 and answers:
        run |= json.loads(answers[-1])
    return run


def succeeded(run: dict[str, Any]) -> bool:
    return run["exit_status"] == 0 and "r2" in run and run["peak_mib"] is not None


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> bool:
    common.require_tools("docker")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    files = cached_files(arguments.cache, arguments.rows)
    results["files"] = {
        channel: {"path": str(path), "bytes": path.stat().st_size} for channel, path in files.items()
    }
    results["pinned"] = PINNED
    results["runs"] = {"plain": [], "train": []}
    scratch = Path(tempfile.mkdtemp(prefix="byoc-overhead-"))
    try:
        for number in range(arguments.pairs):
            order = ("plain", "train") if number % 2 == 0 else ("train", "plain")
            for side in order:
                runner = run_plain if side == "plain" else run_train
                before = common.cpu_times()
                outcome = runner(arguments, files, fresh_root(scratch, side, number))
                outcome["cpu_stolen_share"] = common.stolen_share(before, common.cpu_times())
                peak, r2 = outcome["peak_mib"] or float("nan"), outcome.get("r2", float("nan"))
                stolen = outcome["cpu_stolen_share"]
                print(
                    f"{side} run {number + 1}: {outcome['wall_seconds']:.1f} s, peak {peak:.0f} MiB, "
                    f"R² {r2:.4f}, load {os.getloadavg()[0]:.2f}"
                    + (f", {stolen:.0%} of CPU time stolen" if stolen is not None else ""),
                    file=sys.stderr,
                )
                results["runs"][side].append(outcome)
                if not succeeded(outcome):
                    raise common.BenchmarkError(
                        f"the {side} run failed (status {outcome['exit_status']}): "
                        + outcome.get("failure", "\n".join(outcome["stderr_tail"]))
                    )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    common.finish_machine(results["machine"])
    results["best"] = {
        side: {
            "wall_seconds": min(run["wall_seconds"] for run in runs),
            "peak_mib": min(run["peak_mib"] for run in runs),
            "r2": runs[0]["r2"],
            "iterations": runs[0]["iterations"],
        }
        for side, runs in results["runs"].items()
    }
    results["targets"] = [check.as_dict() for check in targets(results)]
    return True


# --- report ---


def targets(results: dict[str, Any]) -> list[Target]:
    plain, train = results["best"]["plain"], results["best"]["train"]
    return [
        Target("wall time, train / plain", train["wall_seconds"] / plain["wall_seconds"], "<=", WALL_TARGET),
        Target("peak memory, train / plain", train["peak_mib"] / plain["peak_mib"], "<=", MEMORY_TARGET),
        Target("|R² train - R² plain|", abs(train["r2"] - plain["r2"]), "<=", R2_TOLERANCE),
    ]


def report(results: dict[str, Any]) -> str:
    plain, train = results["best"]["plain"], results["best"]["train"]
    files = results["files"]
    checks = {check.name: check for check in targets(results)}

    def all_of(side: str, key: str, form: str) -> str:
        return ", ".join(format(run[key], form) for run in results["runs"][side])

    def stolen_in(side: str) -> str:
        shares = [run.get("cpu_stolen_share") for run in results["runs"][side]]
        return ", ".join("?" if share is None else f"{share:.0%}" for share in shares)

    rows = [
        ["machine", results["machine"]["cpu_model"], common.load_summary(results["machine"])],
        ["image", results["image"]["name"], results["image"]["id"][:19]],
        [
            "files",
            f"train {files['train']['bytes'] / MIB:.0f} MiB + validation "
            f"{files['validation']['bytes'] / MIB:.0f} MiB, {results['settings']['rows']:,} rows",
            f"limits --cpus {results['settings']['cpus']:g} --memory {results['settings']['memory']}; "
            f"OMP_WAIT_POLICY={results['settings']['omp_wait_policy']}; {results['settings']['pairs']} "
            "alternating runs each, best of them",
        ],
        ["wall time, plain script", f"{plain['wall_seconds']:.1f} s", all_of("plain", "wall_seconds", ".1f")],
        ["wall time, train", f"{train['wall_seconds']:.1f} s", all_of("train", "wall_seconds", ".1f")],
        ["CPU time stolen by the hypervisor, plain runs", "", stolen_in("plain")],
        ["CPU time stolen by the hypervisor, train runs", "", stolen_in("train")],
        ["peak memory, plain script", f"{plain['peak_mib']:.0f} MiB", all_of("plain", "peak_mib", ".0f")],
        ["peak memory, train", f"{train['peak_mib']:.0f} MiB", all_of("train", "peak_mib", ".0f")],
        ["R², plain script", f"{plain['r2']:.4f}", f"{plain['iterations']} rounds"],
        ["R², train", f"{train['r2']:.4f}", f"{train['iterations']} rounds"],
    ]
    rows = [row + [""] * (5 - len(row)) for row in rows]
    for check in checks.values():
        rows.append([check.name, f"{check.value:.3f}", "", check.target, check.verdict])
    medians = {
        side: statistics.median(run["wall_seconds"] for run in results["runs"][side])
        for side in ("train", "plain")
    }
    rows.append(
        [
            "wall time, train / plain, medians (how much the runs vary)",
            f"{medians['train'] / medians['plain']:.3f}",
            f"train {medians['train']:.1f} s, plain {medians['plain']:.1f} s",
            "",
            "",
        ]
    )
    return common.markdown_table(("figure", "value", "detail (every run)", "target", "result"), rows)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--rows", type=int, default=3_200_000, help="rows in both files (default 3.2M)")
    parser.add_argument("--pairs", type=int, default=2, help="alternating runs of each side (default 2)")
    parser.add_argument("--memory", default="8g", help="docker run --memory (default 8g)")
    parser.add_argument("--cpus", type=int, default=2, help="docker run --cpus and num_threads (default 2)")
    parser.add_argument("--omp-wait-policy", choices=("PASSIVE", "ACTIVE"), default="PASSIVE")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated files are kept")
    parser.add_argument("--output", type=Path, default=common.RESULTS_DIR / "training-overhead.json")
    arguments = parser.parse_args(argv)
    if arguments.rows < 100 or arguments.pairs < 1 or arguments.cpus < 1:
        parser.error("--rows must be at least 100, --pairs and --cpus at least 1")
    arguments.cache = arguments.cache.resolve()
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = {
        "rows": arguments.rows,
        "pairs": arguments.pairs,
        "memory": arguments.memory,
        "cpus": arguments.cpus,
        "omp_wait_policy": arguments.omp_wait_policy,
        "pid": os.getpid(),
    }
    return common.run_and_report(arguments.output, settings, lambda results: run(arguments, results), report)


if __name__ == "__main__":
    sys.exit(main())
