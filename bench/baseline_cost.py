"""What the data baseline costs `train`: the same large file trained with baseline=true and baseline=false,
alternately, in the image under the memory and CPU limits of large_training.py.

    python bench/baseline_cost.py --image IMAGE [--table titanic|tabular] [--gigabytes 1.0] [--repeats 2]
                                  [--memory 8g] [--cpus 2] [--cache bench/results/cache]
                                  [--output bench/results/baseline-cost-TABLE-SIZEg.json]

The runs alternate (on, off, on, off, ...) so a change in the machine's load falls on both; each side's best
(lowest) wall time is compared. Printed: every run's wall time, its "training features computed" step (where
the baseline is gathered) and peak memory, each side's best, the overhead of the baseline in seconds and as
a share of the best run without it, and the load average at the start and end. Exit 0 when every run
trained, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import large_training

FEATURE_STEP = "training features computed"
BASELINE_FILES = ("statistics.json", "constraints.json")


def run_once(arguments: argparse.Namespace, data_file: Path, baseline: bool) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="byoc-baseline-cost-"))
    try:
        result = large_training.run_training(
            arguments, data_file, scratch / "ml", arguments.table, {"baseline": str(baseline).lower()}
        )
        model = scratch / "ml" / "model"
        result["baseline_files"] = sorted(p.name for p in model.iterdir() if p.name in BASELINE_FILES)
        result["baseline_bytes"] = sum((model / name).stat().st_size for name in result["baseline_files"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    step = next((s for s in result["steps"] if s["step"] == FEATURE_STEP), None)
    return {
        "baseline": baseline,
        "exit_status": result["exit_status"],
        "wall_seconds": round(result["wall_seconds"], 1),
        "feature_step_seconds": step["seconds"] if step else None,
        "peak_mib": max((s["peak_mib"] for s in result["steps"]), default=None),
        "baseline_files": result["baseline_files"],
        "baseline_bytes": result["baseline_bytes"],
        "log_tail": result["log_tail"] if result["exit_status"] else [],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--table", choices=("titanic", "tabular"), default="titanic")
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2, help="runs per side (default 2)")
    parser.add_argument("--memory", default="8g")
    parser.add_argument("--cpus", type=float, default=2.0)
    parser.add_argument("--cache", type=Path, default=large_training.DEFAULT_CACHE)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args(argv)
    arguments.output = arguments.output or (
        common.RESULTS_DIR / f"baseline-cost-{arguments.table}-{arguments.gigabytes:g}g.json"
    )
    common.require_tools("docker")
    machine = common.machine()
    common.announce_machine(machine)
    data_file, rows = large_training.cached_table(
        arguments.cache.resolve(), arguments.table, arguments.gigabytes
    )
    runs = []
    for _ in range(arguments.repeats):
        for baseline in (True, False):
            run = run_once(arguments, data_file, baseline)
            runs.append(run)
            print(f"baseline={str(baseline).lower():5} wall {run['wall_seconds']:7.1f} s, features step "
                  f"{run['feature_step_seconds']} s, peak {run['peak_mib']} MiB, exit {run['exit_status']}, "
                  f"files {run['baseline_files']} ({run['baseline_bytes']:,} bytes)", flush=True)  # fmt: skip
    common.finish_machine(machine)
    ok = all(run["exit_status"] == 0 for run in runs)
    best = {
        side: min(run["wall_seconds"] for run in runs if run["baseline"] is side and run["exit_status"] == 0)
        for side in (True, False)
    } if ok else {}  # fmt: skip
    summary: dict[str, Any] = {"table": arguments.table, "gigabytes": arguments.gigabytes, "rows": rows,
                               "image": arguments.image, "machine": machine, "runs": runs}  # fmt: skip
    if ok:
        overhead = best[True] - best[False]
        summary.update(best_with=best[True], best_without=best[False], overhead_seconds=round(overhead, 1),
                       overhead_share=round(overhead / best[False], 4))  # fmt: skip
        print(f"| {arguments.table} {arguments.gigabytes:g} GiB ({rows:,} rows) | best with baseline "
              f"{best[True]:.1f} s | best without {best[False]:.1f} s | overhead {overhead:+.1f} s "
              f"({overhead / best[False]:+.1%}) | {common.load_summary(machine)} |")  # fmt: skip
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
