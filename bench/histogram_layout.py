"""LightGBM's two histogram layouts, by rows and by columns, timed on tables of different widths and bins,
beside the layout `train` chooses for each (`lightsage.model.boosting.histogram_layout`).

    python bench/histogram_layout.py [--rows 1000000] [--rounds 50] [--threads 2] [--repeats 2]
                                     [--output bench/results/histogram-layout-ROWS.json]

Each table is random: --rows rows of 5, 10, 20 or 40 features, each feature holding 8 or 32 whole values
or normally distributed ones (up to 255 bins each); the target is the sum of the first five features plus
noise. For each table and layout, `lightgbm.train` (regression, LightGBM's defaults, --threads threads) runs
--rounds rounds on a freshly built Dataset; the layouts alternate --repeats times and each keeps its fastest
boosting time. Prints a Markdown table: features, bins in all, each layout's time, rows / columns, the layout
`train` chooses, and that choice's time against the faster layout. Exit 0 when every run trained.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))

import common  # noqa: E402
from common import RESULTS_DIR, run_and_report  # noqa: E402

from lightsage.model.boosting import histogram_layout, total_bins  # noqa: E402

FEATURES = (5, 10, 20, 40)
# whole values per feature; 0: normally distributed values
LEVELS = (8, 32, 0)
LAYOUTS = ("row", "col")


def table(rows: int, features: int, levels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    if levels:
        values = generator.integers(0, levels, size=(rows, features)).astype(np.float32)
    else:
        values = generator.normal(size=(rows, features)).astype(np.float32)
    target = values[:, : min(5, features)].sum(axis=1) + generator.normal(size=rows)
    return values, target


def boosting_seconds(values: np.ndarray, target: np.ndarray, layout: str, rounds: int, threads: int) -> float:
    params = {
        "objective": "regression",
        "num_threads": threads,
        "seed": 1,
        "verbose": -1,
        f"force_{layout}_wise": True,
    }
    data = lgb.Dataset(values, target, params=params, free_raw_data=False).construct()
    started = time.perf_counter()
    lgb.train(params, data, rounds)
    return time.perf_counter() - started


def run(results: dict[str, Any], arguments: argparse.Namespace) -> None:
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    measured = []
    for features in FEATURES:
        for levels in LEVELS:
            values, target = table(arguments.rows, features, levels)
            probe = lgb.Dataset(values, target, params={"verbose": -1}, free_raw_data=False).construct()
            bins = total_bins(probe)
            chosen = "row" if histogram_layout(probe, arguments.threads)["force_row_wise"] else "col"
            seconds: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
            for _ in range(arguments.repeats):
                for layout in LAYOUTS:
                    seconds[layout].append(
                        boosting_seconds(values, target, layout, arguments.rounds, arguments.threads)
                    )
            best = {layout: min(times) for layout, times in seconds.items()}
            entry = {"features": features, "levels": levels, "bins": bins, "seconds": seconds}
            measured.append({**entry, "best": best, "chosen": chosen})
            print(
                f"{features} features, {bins} bins: rows {best['row']:.2f} s, columns {best['col']:.2f} s, "
                f"train chooses {chosen}",
                file=sys.stderr,
            )
    results["tables"] = measured
    common.finish_machine(results["machine"])


def report(results: dict[str, Any]) -> str:
    settings = results["settings"]
    rows = []
    for entry in results["tables"]:
        best = entry["best"]
        fastest = min(best.values())
        rows.append(
            [
                str(entry["features"]),
                f"{entry['levels']} values" if entry["levels"] else "normal",
                f"{entry['bins']:,}",
                f"{best['row']:.2f} s",
                f"{best['col']:.2f} s",
                f"{best['row'] / best['col']:.2f}",
                "rows" if entry["chosen"] == "row" else "columns",
                f"{best[entry['chosen']] / fastest:.2f}",
            ]
        )
    header = ["features", "each feature", "bins in all", "by rows", "by columns", "rows / columns",
              "train chooses", "choice / faster"]  # fmt: skip
    return (
        f"{settings['rows']:,} rows, {settings['rounds']} rounds on {settings['threads']} thread(s), best of "
        f"{settings['repeats']} alternated runs per layout; {common.load_summary(results['machine'])}.\n\n"
        + common.markdown_table(header, rows)
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    output = arguments.output or RESULTS_DIR / f"histogram-layout-{arguments.rows}.json"
    settings = {
        "rows": arguments.rows, "rounds": arguments.rounds, "threads": arguments.threads,
        "repeats": arguments.repeats,
    }  # fmt: skip
    return run_and_report(output, settings, lambda results: run(results, arguments), report)


if __name__ == "__main__":
    sys.exit(main())
