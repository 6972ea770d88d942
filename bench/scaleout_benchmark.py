"""One host against several: the same training job as 1..N `docker run` containers on a network of their own.

    python bench/scaleout_benchmark.py --image IMAGE [--hosts 1 2] [--rows 200000] [--rounds 300]
                                       [--distribution FullyReplicated|ShardedByS3Key] [--cpus-per-host C]

The data is synthetic (ten numeric columns and a text one; the label depends on an interaction, a square and
a category), trained with recipe=tabular (one model refitted, never folds averaged, as on several hosts) on
a fixed validation set. Each host gets its own /opt/ml as on SageMaker: FullyReplicated gives every host
every row, ShardedByS3Key one file per host. `--cpus-per-host K` pins each container to K CPUs of its own
where there are enough (`docker run --cpuset-cpus`; `train` sizes its threads from the CPUs it may use), as an
instance of K vCPUs would be. Prints, per host count, the wall time of the job, the seconds `train` spent
boosting and in all (first host), and the validation AUC. Everything it starts is removed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tables import interaction_table

BOOSTED = re.compile(r"boosted up to \d+ rounds on (\d+) thread\(s\): ([0-9.]+) s")


def cpu_set(host_index: int, cpus: int) -> str:
    """K CPUs for the host, its own ones while the machine has enough."""
    total = os.cpu_count() or 1
    return ",".join(str((host_index * cpus + offset) % total) for offset in range(cpus))


def docker(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=check, timeout=3600)


def host_tree(root: Path, host: str, hosts: list[str], train: list[pd.DataFrame], validation: pd.DataFrame,
              settings: dict[str, str], distribution: str) -> None:  # fmt: skip
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(settings))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"S3DistributionType": distribution}, "validation": {}})
    )
    for name, parts in (("train", train), ("validation", [validation])):
        (root / "input" / "data" / name).mkdir(parents=True)
        for index, part in enumerate(parts):
            part.to_csv(root / "input" / "data" / name / f"part-{index}.csv", index=False)
    (root / "model").mkdir()
    (root / "output").mkdir()


def run(image: str, count: int, work: Path, train: pd.DataFrame, validation: pd.DataFrame,
        settings: dict[str, str], distribution: str, cpus: int | None) -> dict[str, float]:  # fmt: skip
    hosts = [f"algo-{index}" for index in range(1, count + 1)]
    bounds = np.linspace(0, len(train), count + 1).astype(int)
    shards = [train.iloc[start:end] for start, end in itertools.pairwise(bounds)]
    network = f"byoc-bench-{time.monotonic_ns()}"
    containers: list[str] = []
    docker("network", "create", network)
    try:
        for index, host in enumerate(hosts):
            root = work / f"{count}-hosts" / host
            mine = [shards[index]] if distribution == "ShardedByS3Key" else [train]
            host_tree(root, host, hosts, mine, validation, settings, distribution)
            limit = ["--cpuset-cpus", cpu_set(index, cpus)] if cpus else []
            containers.append(f"{network}-{host}")
            docker("run", "-d", "--name", containers[-1], "--network", network, "--hostname", host,
                   "--network-alias", host, *limit, "-v", f"{root}:/opt/ml", image, "train")  # fmt: skip
        started = time.monotonic()
        exits = [int(docker("wait", name).stdout.strip()) for name in containers]
        wall = time.monotonic() - started
        log = docker("logs", containers[0]).stdout
    finally:
        for name in containers:
            docker("rm", "-f", name, check=False)
        docker("network", "rm", network, check=False)
    if exits != [0] * count:
        raise SystemExit(f"{count} host(s): exit codes {exits}\n{log}")
    metrics = json.loads((work / f"{count}-hosts" / "algo-1" / "model" / "metrics.json").read_text())
    boosted = BOOSTED.search(log)
    return {
        "wall_seconds": wall,
        "train_seconds": metrics["duration_seconds"],
        "boosting_seconds": float(boosted.group(2)) if boosted else float("nan"),
        "threads": float(boosted.group(1)) if boosted else float("nan"),
        "auc": metrics["validation"]["auc"],
        "peak_rss_mib": metrics["peak_rss_mib"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--distribution", choices=("FullyReplicated", "ShardedByS3Key"), default="FullyReplicated"
    )
    parser.add_argument("--cpus-per-host", type=int, help="CPUs each host is pinned to, e.g. 1")
    arguments = parser.parse_args()

    train, validation = interaction_table(arguments.rows, seed=1), interaction_table(20_000, seed=2)
    # ensemble_folds=0: several hosts never average folds, so one host refits too and the models compare
    settings = {
        "recipe": "tabular",
        "target": "label",
        "n_estimators": str(arguments.rounds),
        "ensemble_folds": "0",
    }
    work = Path(tempfile.mkdtemp(prefix="byoc-scaleout-bench-"))
    try:
        print(f"{arguments.rows:,} rows x 11 columns, {arguments.rounds} rounds, {arguments.distribution}, "
              f"cpus per host: {arguments.cpus_per_host or 'all'}")  # fmt: skip
        print("hosts | job wall s | train s (host 1) | boosting s | threads/host | validation AUC | peak MiB")
        for count in arguments.hosts:
            figures = run(arguments.image, count, work, train, validation, settings, arguments.distribution,
                          arguments.cpus_per_host)  # fmt: skip
            print(f"{count} | {figures['wall_seconds']:.1f} | {figures['train_seconds']:.1f} | "
                  f"{figures['boosting_seconds']:.1f} | {figures['threads']:.0f} | {figures['auc']:.4f} | "
                  f"{figures['peak_rss_mib']:.0f}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
