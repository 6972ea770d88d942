"""Train on a large synthetic channel (about 1 GB by default) in the image and report time and peak memory.

    python bench/large_training.py --image IMAGE [--gigabytes 1.0] [--memory 16g] [--keep]

Synthesises rows by sampling data/titanic.csv with replacement and giving each row a new PassengerId, a
new name and ticket (so the text columns are not a handful of repeated strings), writes them as one CSV file
in a train channel, runs `docker run --memory LIMIT IMAGE train` on it and prints the job's own figures from
metrics.json (rows, duration, peak RSS) plus the container's exit status. Needs free disk for the file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def synthesise(target: Path, gigabytes: float, seed: int = 7) -> int:
    with (REPOSITORY_ROOT / "data" / "titanic.csv").open(newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        rows = list(reader)
    name_at, ticket_at, id_at = header.index("Name"), header.index("Ticket"), header.index("PassengerId")
    randomness = random.Random(seed)
    budget = int(gigabytes * 1024**3)
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--memory", default="16g", help="docker run --memory for the training container")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic tree")
    arguments = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="byoc-large-"))
    try:
        channel = scratch / "input" / "data" / "train"
        channel.mkdir(parents=True)
        (scratch / "model").mkdir()
        started = time.monotonic()
        rows = synthesise(channel / "train.csv", arguments.gigabytes)
        size = (channel / "train.csv").stat().st_size
        print(f"synthesised {rows:,} rows, {size / 1024**3:.2f} GiB in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        result = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--memory", arguments.memory,
             "-v", f"{scratch}:/opt/ml", arguments.image, "train"],
            capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        limit = arguments.memory
        print(f"train exited {result.returncode} after {elapsed:.0f} s (container memory limit {limit})")
        metrics_path = scratch / "model" / "metrics.json"
        if result.returncode != 0 or not metrics_path.exists():
            print(result.stdout[-2000:], result.stderr[-3000:], sep="\n")
            failure = scratch / "output" / "failure"
            if failure.exists():
                print("failure:", failure.read_text())
            return 1
        metrics = json.loads(metrics_path.read_text())
        print(
            f"train rows {metrics['train']['rows']:,}, validation rows {metrics['validation']['rows']:,}, "
            f"duration {metrics['duration_seconds']:.0f} s, peak RSS {metrics['peak_rss_mib']:.0f} MiB "
            f"({metrics['peak_rss_mib'] / (size / 1024**2):.1f}x the file), "
            f"validation AUC {metrics['validation']['auc']:.4f}"
        )
        return 0
    finally:
        if arguments.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
