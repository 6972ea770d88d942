"""Training jobs of several hosts as `docker run` containers on a network of their own, and a synthetic table
large enough that boosting takes seconds (so a test can stop it half-way)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.tables import interaction_table

from testsupport import docker, make_ml_root

Channels = dict[str, list[tuple[str, bytes]]]


def synthetic_csv(rows: int, seed: int) -> bytes:
    buffer = io.StringIO()
    interaction_table(rows, seed).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def host_root(
    root: Path,
    host: str,
    hosts: list[str],
    hyperparameters: dict[str, str],
    channels: Channels,
    sharded: tuple[str, ...] = (),
) -> Path:
    """An /opt/ml tree for one host of a job: its resourceconfig.json and S3DistributionType per channel."""
    make_ml_root(root, hyperparameters, channels)
    config = root / "input" / "config"
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                name: {
                    "ContentType": "text/csv",
                    "TrainingInputMode": "File",
                    "S3DistributionType": "ShardedByS3Key" if name in sharded else "FullyReplicated",
                }
                for name in channels
            }
        )
    )
    return root


def wait_for_log(container: str, text: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while text not in (logged := docker("logs", container, check=False)).stdout:
        assert time.monotonic() < deadline, f"no '{text}' in the log of {container}:\n{logged.stdout}"
        time.sleep(0.1)


@dataclass
class Job:
    network: str
    containers: list[str]
    roots: list[Path]

    def wait(self, index: int, seconds: float) -> int:
        return int(docker("wait", self.containers[index], timeout=seconds).stdout.strip())

    def logs(self, index: int) -> str:
        result = docker("logs", self.containers[index], check=False)
        return result.stdout + result.stderr

    def wait_for_log(self, index: int, text: str, seconds: float = 90) -> None:
        wait_for_log(self.containers[index], text, seconds)

    def failure(self, index: int) -> str:
        return (self.roots[index] / "output" / "failure").read_text()

    def model_files(self, index: int) -> list[str]:
        return sorted(path.name for path in (self.roots[index] / "model").iterdir())


@contextmanager
def docker_job(image: str, roots: list[Path], *extra: str) -> Iterator[Job]:
    """One `train` container per root, as hosts algo-1, algo-2, ... on a new network; all removed after."""
    network = f"byoc-scaleout-{time.monotonic_ns()}"
    docker("network", "create", network)
    containers: list[str] = []
    try:
        for index, root in enumerate(roots, start=1):
            name = f"{network}-algo-{index}"
            docker(
                "run", "-d", "--name", name, "--network", network, "--hostname", f"algo-{index}",
                "--network-alias", f"algo-{index}", "-v", f"{root}:/opt/ml", *extra, image, "train",
            )  # fmt: skip
            containers.append(name)
        yield Job(network, containers, roots)
    finally:
        for name in containers:
            docker("unpause", name, check=False)
            docker("rm", "-f", name, check=False)
        docker("network", "rm", network, check=False)
