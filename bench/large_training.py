"""Train on a large synthetic file in the image under a memory and CPU limit; report time and peak memory.

    python bench/large_training.py --image IMAGE [--table titanic|tabular] [--gigabytes 1.0]
                                   [--memory 8g] [--cpus 2] [--cache bench/results/cache] [--keep]
                                   [--output bench/results/large-training-TABLE-SIZEg.json]

Tables (written once into --cache and reused; writing 1 GiB takes minutes):
- titanic: rows sampled with replacement from data/titanic.csv (seed 7), each with a new PassengerId, Name and
  Ticket, so the text columns are not a handful of repeated strings. The same generator as before the
  framework, so the figures compare. Trained with recipe=titanic and its default hyperparameters.
- tabular: a generic table for `recipe=tabular`: a row id, 11 numeric columns (integers, amounts with 2
  decimals, rates with 4, coordinates with 6, some missing), 7 text columns with 3 to 5,000 distinct values
  (Zipf-like frequencies, some missing), and a binary text label `churned` (yes/no) that depends on them.

Runs `docker run --network none --memory M --memory-swap M --cpus C -v ROOT:/opt/ml IMAGE train` (the file is
bind-mounted read-only into the train channel) and prints a Markdown table: file size and rows, wall time,
exit status, the job's peak RSS from metrics.json (`peak_rss_mib`) as a multiple of the file, the container's
peak from its memory cgroup (with page cache; and its largest sampled anonymous memory, without), rows/s, and
the train log's per-step timings. JSON to --output. Exit 0 when training succeeded (targets missed or not),
1 when anything failed, training included (the report is printed then too).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from common import Target

DEFAULT_CACHE = common.RESULTS_DIR / "cache"
GIB = 1024**3
MIB = 1024**2
SAMPLE_SECONDS = 0.5
TRAIN_TIMEOUT_SECONDS = 3 * 3600.0
GENERATOR_VERSION = 1
STEP_LINE = re.compile(r"^\[train\] (?P<step>.+): (?P<seconds>[\d.]+) s \(peak memory (?P<mib>[\d.]+) MiB\)$")
HYPERPARAMETERS = {
    "titanic": {"recipe": "titanic"},  # with the recipe's default hyperparameters
    "tabular": {"recipe": "tabular", "target": "churned"},
}
# The targets, for 1 GiB files: wall seconds and peak RSS as a multiple of the file.
TARGETS = {"titanic": (180.0, 2.0), "tabular": (120.0, 1.5)}


# --- the titanic-shaped table: the generator from before the framework, unchanged ---


def synthesise_titanic(target: Path, gigabytes: float, seed: int = 7) -> int:
    with common.TITANIC_CSV.open(newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        rows = list(reader)
    name_at, ticket_at, id_at = header.index("Name"), header.index("Ticket"), header.index("PassengerId")
    randomness = random.Random(seed)
    budget = int(gigabytes * GIB)
    written = 0
    with target.open("w", newline="") as output:
        writer = csv.writer(output)
        writer.writerow(header)
        while output.tell() < budget:
            for _ in range(10_000):
                row = list(randomness.choice(rows))
                written += 1
                row[id_at] = str(written)
                surname, rest = row[name_at].split(",", 1) if "," in row[name_at] else (row[name_at], "")
                row[name_at] = f"{surname}{written % 5000},{rest}"
                row[ticket_at] = f"{row[ticket_at]}-{written // 4}"
                writer.writerow(row)
    return written


# --- the generic table ---

TABULAR_CHUNK_ROWS = 250_000
_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "dor", "sha", "tel", "bri", "on", "ux", "fel", "ta", "gri", "ss")


@dataclass
class Vocabulary:
    """A text column's values and their Zipf-like frequencies, with each value's effect on the label."""

    values: pa.Array
    probabilities: np.ndarray
    effects: np.ndarray
    missing_share: float
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cumulative = np.cumsum(self.probabilities)
        self.cumulative[-1] = 1.0

    def draw(self, rng: np.random.Generator, rows: int) -> tuple[pa.Array, np.ndarray]:
        codes = np.searchsorted(self.cumulative, rng.random(rows), side="right")
        missing = rng.random(rows) < self.missing_share
        texts = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), self.values.take(pa.array(codes)))
        return texts, np.where(missing, 0.0, self.effects[codes])


def _vocabulary(
    rng: np.random.Generator, values: Sequence[str], exponent: float, effect: float, missing: float
) -> Vocabulary:
    ranks = np.arange(1, len(values) + 1, dtype=float)
    weights = ranks**-exponent
    return Vocabulary(
        pa.array(list(values), pa.string()),
        weights / weights.sum(),
        rng.normal(0.0, effect, len(values)),
        missing,
    )


def _names(rng: np.random.Generator, count: int, parts: int, suffix: str = "") -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        word = "".join(_SYLLABLES[i] for i in rng.integers(0, len(_SYLLABLES), parts)).capitalize()
        names.add(f"{word}{suffix}" if suffix else word)
    return sorted(names)


def tabular_vocabularies(rng: np.random.Generator) -> dict[str, Vocabulary]:
    devices = [f"{system} {version}" for system in ("Android", "iOS", "Windows", "macOS", "Linux")
               for version in range(10, 15)]  # fmt: skip
    return {
        "region": _vocabulary(rng, ["North", "South", "East", "West", "Central", "Islands"], 0.5, 0.3, 0.01),
        "channel": _vocabulary(rng, ["web", "store", "phone"], 0.7, 0.4, 0.0),
        "device": _vocabulary(rng, devices, 1.0, 0.2, 0.05),
        "plan": _vocabulary(rng, [f"Plan {letter}" for letter in "ABCDEFGHIJKL"], 0.8, 0.5, 0.0),
        "product": _vocabulary(rng, [f"P-{number:04d}" for number in range(300)], 1.0, 0.3, 0.02),
        "city": _vocabulary(rng, _names(rng, 2_000, 3), 1.05, 0.4, 0.03),
        "merchant": _vocabulary(rng, _names(rng, 5_000, 4, " Ltd"), 1.1, 0.3, 0.02),
    }


def _with_missing(values: np.ndarray, rng: np.random.Generator, share: float) -> pa.Array:
    return pa.array(values, mask=rng.random(len(values)) < share) if share else pa.array(values)


def tabular_chunk(
    rng: np.random.Generator, first_id: int, rows: int, vocabularies: dict[str, Vocabulary]
) -> pa.Table:
    age = rng.integers(18, 91, rows)
    tenure = rng.integers(0, 241, rows)
    monthly = np.round(rng.lognormal(3.5, 0.6, rows), 2)
    total = np.round(monthly * (tenure + rng.random(rows)), 2)
    discount = np.round(rng.beta(1.5, 8.0, rows) * 0.5, 4)
    satisfaction = np.round(rng.uniform(0, 10, rows), 1)
    latitude = np.round(rng.uniform(35.0, 60.0, rows), 6)
    longitude = np.round(rng.uniform(-10.0, 30.0, rows), 6)
    calls = rng.poisson(1.5, rows)
    balance = np.round(rng.normal(250.0, 400.0, rows), 2)
    score = np.round(rng.normal(0.0, 1.0, rows), 3)
    columns: dict[str, pa.Array] = {
        "row_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64)),
        "age": _with_missing(age, rng, 0.03),
        "tenure_months": pa.array(tenure),
        "monthly_charge": pa.array(monthly),
        "total_spend": _with_missing(total, rng, 0.05),
        "discount_rate": pa.array(discount),
        "satisfaction": _with_missing(satisfaction, rng, 0.10),
        "latitude": pa.array(latitude),
        "longitude": pa.array(longitude),
        "support_calls": pa.array(calls),
        "balance": _with_missing(balance, rng, 0.02),
        "risk_score": pa.array(score),
    }
    logit = (
        -1.2
        + 0.35 * (calls - 1.5)
        - 0.008 * (tenure - 120)
        + 0.9 * (discount - 0.08) * 10
        - 0.12 * (satisfaction - 5)
        + 0.4 * score
        + 0.002 * (monthly - 40)
    )
    for name, vocabulary in vocabularies.items():
        texts, effects = vocabulary.draw(rng, rows)
        columns[name] = texts
        logit = logit + effects
    churned = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    columns["churned"] = pa.array(np.where(churned, "yes", "no"))
    return pa.table(columns)


def synthesise_tabular(target: Path, gigabytes: float, seed: int = 11) -> int:
    rng = np.random.default_rng(seed)
    vocabularies = tabular_vocabularies(rng)
    budget = int(gigabytes * GIB)
    written = 0
    options = pa_csv.WriteOptions(quoting_style="needed")
    first = tabular_chunk(rng, 1, TABULAR_CHUNK_ROWS, vocabularies)
    with target.open("wb") as output, pa_csv.CSVWriter(output, first.schema, write_options=options) as writer:
        chunk = first
        while True:
            writer.write_table(chunk)
            written += chunk.num_rows
            if output.tell() >= budget:
                return written
            chunk = tabular_chunk(rng, written + 1, TABULAR_CHUNK_ROWS, vocabularies)


# --- the cache ---


def cached_table(cache: Path, table: str, gigabytes: float) -> tuple[Path, int]:
    """The file for (table, gigabytes), written once; a sidecar JSON records its rows and generator."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{table}-{gigabytes:g}g.csv"
    sidecar = path.with_suffix(".json")
    expected = {"table": table, "gigabytes": gigabytes, "generator_version": GENERATOR_VERSION}
    if path.is_file() and sidecar.is_file():
        described = json.loads(sidecar.read_text())
        if {key: described.get(key) for key in expected} == expected and described[
            "bytes"
        ] == path.stat().st_size:
            print(f"reusing {path} ({described['rows']:,} rows)", file=sys.stderr)
            return path, int(described["rows"])
    print(f"writing {path} ({gigabytes:g} GiB, once; it takes a while)", file=sys.stderr)
    started = time.monotonic()
    partial = path.with_suffix(".partial")
    synthesise = synthesise_titanic if table == "titanic" else synthesise_tabular
    rows = synthesise(partial, gigabytes)
    partial.replace(path)
    sidecar.write_text(json.dumps({**expected, "rows": rows, "bytes": path.stat().st_size}) + "\n")
    print(f"wrote {rows:,} rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return path, rows


# --- the container's memory, from its cgroup ---


def cgroup_memory_dir(container_id: str) -> Path | None:
    candidates = (
        Path(f"/sys/fs/cgroup/memory/docker/{container_id}"),  # cgroup v1, cgroupfs driver
        Path(f"/sys/fs/cgroup/memory/system.slice/docker-{container_id}.scope"),  # v1, systemd
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope"),  # v2, systemd
        Path(f"/sys/fs/cgroup/docker/{container_id}"),  # v2, cgroupfs
    )
    return next((path for path in candidates if path.is_dir()), None)


@dataclass
class MemorySampler:
    """Samples a container's memory cgroup until stopped: its peak (page cache included, as the limit
    counts it) and the largest anonymous memory seen (the processes' own memory)."""

    directory: Path
    peak_bytes: int = 0
    anonymous_max_bytes: int = 0
    samples: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def _read(self) -> None:
        version_1 = (self.directory / "memory.max_usage_in_bytes").exists()
        peak_file = "memory.max_usage_in_bytes" if version_1 else "memory.peak"
        anonymous_key = "total_rss" if version_1 else "anon"
        self.peak_bytes = max(self.peak_bytes, int((self.directory / peak_file).read_text()))
        for line in (self.directory / "memory.stat").read_text().splitlines():
            key, value = line.split()
            if key == anonymous_key:
                self.anonymous_max_bytes = max(self.anonymous_max_bytes, int(value))
        self.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._read()
            except (OSError, ValueError):
                return  # the cgroup is gone: the container has exited
            self.stop.wait(SAMPLE_SECONDS)


# --- the training run ---


def run_training(
    arguments: argparse.Namespace,
    data_file: Path,
    ml_root: Path,
    table: str,
    extra_hyperparameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    config = ml_root / "input" / "config"
    config.mkdir(parents=True)
    values = {**HYPERPARAMETERS[table], **(extra_hyperparameters or {})}
    (config / "hyperparameters.json").write_text(json.dumps(values))
    (ml_root / "input" / "data" / "train").mkdir(parents=True)
    for folder in ("model", "output"):
        (ml_root / folder).mkdir()
    ml_root.chmod(0o755)
    name = common.new_container_name("train")
    command = [
        "docker", "run", "-d", "--name", name, "--network", "none",
        "--memory", arguments.memory, "--memory-swap", arguments.memory, "--cpus", str(arguments.cpus),
        "-v", f"{ml_root}:/opt/ml", "-v", f"{data_file}:/opt/ml/input/data/train/{table}.csv:ro",
        arguments.image, "train",
    ]  # fmt: skip
    started = time.monotonic()
    try:
        container_id = common.run_command(command, timeout=120).stdout.strip()
        memory_dir = cgroup_memory_dir(container_id)
        sampler = MemorySampler(memory_dir) if memory_dir else None
        thread = threading.Thread(target=sampler.run, daemon=True) if sampler else None
        if thread:
            thread.start()
        status = int(common.docker("wait", name, timeout=TRAIN_TIMEOUT_SECONDS).stdout.strip())
        wall = time.monotonic() - started
        if sampler and thread:
            sampler.stop.set()
            thread.join(5)
        oom_killed = (
            common.docker("inspect", "--format", "{{.State.OOMKilled}}", name).stdout.strip() == "true"
        )
        logs = common.docker("logs", name, timeout=60)
        log = logs.stdout + logs.stderr
    finally:
        common.remove_container(name)
    return {
        "command": " ".join(command),
        "exit_status": status,
        "oom_killed": oom_killed,
        "wall_seconds": wall,
        "container_memory": None
        if sampler is None
        else {
            "cgroup": str(sampler.directory),
            "peak_mib_with_page_cache": sampler.peak_bytes / MIB,
            "anonymous_max_mib_sampled": sampler.anonymous_max_bytes / MIB,
            "samples": sampler.samples,
            "sample_seconds": SAMPLE_SECONDS,
        },
        "steps": [
            {"step": match["step"], "seconds": float(match["seconds"]), "peak_mib": float(match["mib"])}
            for match in (STEP_LINE.match(line) for line in log.splitlines())
            if match
        ],
        "log_tail": log.splitlines()[-30:],
    }


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> bool:
    """Fills `results`; True when training succeeded."""
    common.require_tools("docker")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    data_file, rows = cached_table(arguments.cache, arguments.table, arguments.gigabytes)
    size = data_file.stat().st_size
    results["file"] = {"path": str(data_file), "bytes": size, "rows": rows, "table": arguments.table}
    results["hyperparameters"] = HYPERPARAMETERS[arguments.table]
    scratch = Path(tempfile.mkdtemp(prefix="byoc-large-"))
    try:
        ml_root = scratch / "ml"
        results["training"] = run_training(arguments, data_file, ml_root, arguments.table)
        metrics_path = ml_root / "model" / "metrics.json"
        if metrics_path.is_file():
            results["metrics"] = json.loads(metrics_path.read_text())
        failure = ml_root / "output" / "failure"
        if failure.is_file():
            results["failure_reason"] = failure.read_text(errors="replace").strip()
    finally:
        if arguments.keep:
            print(f"kept the /opt/ml tree in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    common.finish_machine(results["machine"])
    results["targets"] = [check.as_dict() for check in targets(results)]
    return succeeded(results)


def succeeded(results: dict[str, Any]) -> bool:
    return results["training"]["exit_status"] == 0 and "metrics" in results


# --- report ---


def targets(results: dict[str, Any]) -> list[Target]:
    if results["settings"]["gigabytes"] != 1.0 or "metrics" not in results:
        return []
    seconds, multiple = TARGETS[results["file"]["table"]]
    peak = results["metrics"]["peak_rss_mib"] / (results["file"]["bytes"] / MIB)
    return [
        Target("wall seconds", results["training"]["wall_seconds"], "<=", seconds),
        Target("peak RSS / file size", peak, "<=", multiple),
    ]


def report(results: dict[str, Any]) -> str:
    text = common.markdown_table(("figure", "value", "detail", "target", "result"), table_rows(results))
    if not succeeded(results):
        text += "\n\ntrain failed; the end of its log:\n" + "\n".join(results["training"]["log_tail"])
    return text


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    info, file, training, settings = (
        results["machine"],
        results["file"],
        results["training"],
        results["settings"],
    )
    file_mib = file["bytes"] / MIB
    checks = {check.name: check for check in targets(results)}

    def row(figure: str, value: str, detail: str = "", check: str = "") -> list[str]:
        target = checks.get(check)
        return [figure, value, detail, target.target if target else "", target.verdict if target else ""]

    rows = [
        row("machine", info["cpu_model"], common.load_summary(info)),
        row("image", results["image"]["name"], results["image"]["id"][:19]),
        row(
            "file",
            f"{file['bytes'] / GIB:.2f} GiB, {file['rows']:,} rows",
            f"{file['table']} table; hyperparameters {json.dumps(results['hyperparameters'])}",
        ),
        row("limits", f"--memory {settings['memory']} --cpus {settings['cpus']:g}", "swap: none"),
        row(
            "exit status",
            str(training["exit_status"]),
            ("OOM-killed" if training["oom_killed"] else "not OOM-killed")
            + (f"; failure: {results['failure_reason'][:200]}" if "failure_reason" in results else ""),
        ),
        row("wall time, docker run to exit", f"{training['wall_seconds']:.1f} s", "", "wall seconds"),
        row("rows/s (rows / wall time)", f"{file['rows'] / training['wall_seconds']:,.0f}"),
    ]
    if "metrics" in results:
        metrics = results["metrics"]
        peak = metrics["peak_rss_mib"]
        validation = {
            key: value for key, value in metrics["validation"].items() if key in ("auc", "accuracy")
        }
        rows += [
            row("train's own duration (metrics.json)", f"{metrics['duration_seconds']:.1f} s"),
            row(
                "peak RSS of train (metrics.json peak_rss_mib)",
                f"{peak:,.0f} MiB = {peak / file_mib:.2f}x the file",
                "",
                "peak RSS / file size",
            ),
            row(
                "model",
                f"{metrics['iterations']} rounds",
                f"train rows {metrics['train']['rows']:,} (sample), validation rows "
                f"{metrics['validation']['rows']:,}; validation {json.dumps(validation)}",
            ),
        ]
    memory = training["container_memory"]
    if memory:
        rows += [
            row(
                "container peak, memory cgroup (page cache included)",
                f"{memory['peak_mib_with_page_cache']:,.0f} MiB = "
                f"{memory['peak_mib_with_page_cache'] / file_mib:.2f}x the file",
                "the figure the limit counts; page cache is reclaimed under pressure",
            ),
            row(
                "container anonymous memory, largest sample",
                f"{memory['anonymous_max_mib_sampled']:,.0f} MiB = "
                f"{memory['anonymous_max_mib_sampled'] / file_mib:.2f}x the file",
                f"{memory['samples']} samples every {memory['sample_seconds']} s",
            ),
        ]
    else:
        rows.append(row("container memory", "not measured", "no memory cgroup found for the container"))
    rows += [
        row(f"step: {step['step']}", f"{step['seconds']:.1f} s", f"peak so far {step['peak_mib']:,.0f} MiB")
        for step in training["steps"]
    ]
    return rows


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--table", choices=("titanic", "tabular"), default="titanic")
    parser.add_argument("--gigabytes", type=float, default=1.0, help="file size in GiB (default 1)")
    parser.add_argument("--memory", default="8g", help="docker run --memory (default 8g)")
    parser.add_argument("--cpus", type=float, default=2.0, help="docker run --cpus (default 2)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated files are kept")
    parser.add_argument("--keep", action="store_true", help="keep the /opt/ml tree (model, logs)")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/large-training-...)")
    arguments = parser.parse_args(argv)
    if arguments.gigabytes <= 0:
        parser.error("--gigabytes must be positive")
    if arguments.output is None:
        arguments.output = (
            common.RESULTS_DIR / f"large-training-{arguments.table}-{arguments.gigabytes:g}g.json"
        )
    arguments.cache = arguments.cache.resolve()
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = {
        "table": arguments.table,
        "gigabytes": arguments.gigabytes,
        "memory": arguments.memory,
        "cpus": arguments.cpus,
        "pid": os.getpid(),
    }
    return common.run_and_report(arguments.output, settings, lambda results: run(arguments, results), report)


if __name__ == "__main__":
    sys.exit(main())
