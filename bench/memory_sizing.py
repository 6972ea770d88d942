"""The memory guard at work: one table trained under memory limits, with each run's reason or peak.

    python bench/memory_sizing.py --image IMAGE [--limits 600m 2g] [--rows 1500000] [--columns 40]

The table is single-digit numbers (2 bytes a cell on disk, 4 bytes a cell as features), the kind of data whose
features outweigh its file, with a label `y` from the first column; it is trained with `recipe=tabular` and
5 rounds. For each limit it runs `docker run --network none --memory L --memory-swap L IMAGE train` and prints
the exit status, then the failure reason or the limit seen and the peak RSS from metrics.json. Exit 0 when
every run ended with a model or with a failure reason, 1 when a run ended with neither (a kill).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import common
from tables import digit_table

HYPERPARAMETERS = {"recipe": "tabular", "target": "y", "n_estimators": "5"}


def ml_root(parent: Path, table: bytes) -> Path:
    root = Path(tempfile.mkdtemp(dir=parent))
    for folder in ("input/data/train", "input/config", "model", "output"):
        (root / folder).mkdir(parents=True)
    (root / "input/data/train/digits.csv").write_bytes(table)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
    return root


def train_under(image: str, root: Path, limit: str) -> bool:
    """Print one run's outcome; False when it ended with neither a model nor a reason."""
    run = common.docker(
        "run", "--rm", "--network", "none", "--memory", limit, "--memory-swap", limit,
        "-v", f"{root}:/opt/ml", image, "train", timeout=common.TRAIN_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    print(f"--memory {limit}: exit {run.returncode}")
    failure, metrics = root / "output" / "failure", root / "model" / "metrics.json"
    if failure.exists():
        print(f"  reason: {failure.read_text().strip()}")
        return True
    if metrics.exists():
        memory = json.loads(metrics.read_text())["memory"]
        limit_seen = f"{memory['limit_mib']} MiB ({memory['limit_source']})"
        print(f"  trained: limit {limit_seen}, peak {memory['peak_rss_mib']} MiB")
        return True
    print("  no model and no failure reason:\n" + run.stdout[-2000:] + run.stderr[-2000:])
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--limits", nargs="+", default=["600m", "2g"])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--columns", type=int, default=40)
    arguments = parser.parse_args(argv)
    table = digit_table(arguments.rows, arguments.columns)
    size = f"{len(table) / 2**20:.1f} MiB"
    print(f"table: {size}, {arguments.rows:,} rows x {arguments.columns} digit columns")
    scratch = Path(tempfile.mkdtemp(prefix="byoc-memory-"))
    try:
        outcomes = [
            train_under(arguments.image, ml_root(scratch, table), limit) for limit in arguments.limits
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
