"""A table too big for its memory limit stops with a named reason; under a comfortable limit it trains."""

import json
from pathlib import Path

import pytest

from bench.tables import digit_table

from testsupport import MLRootFactory, docker

pytestmark = pytest.mark.container
ROWS, COLUMNS = 1_500_000, 40


@pytest.fixture(scope="module")
def table() -> bytes:
    return digit_table(ROWS, COLUMNS)


def train_under(image: str, root: Path, limit: str) -> tuple[int, str]:
    result = docker(
        "run", "--rm", "--network", "none", "--memory", limit, "--memory-swap", limit,
        "-v", f"{root}:/opt/ml", image, "train", check=False, timeout=600,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


HYPERPARAMETERS = {"recipe": "tabular", "target": "y", "n_estimators": "5"}


def test_a_limit_just_too_small_stops_with_a_named_reason(
    image: str, ml_root: MLRootFactory, table: bytes
) -> None:
    root = ml_root(hyperparameters=HYPERPARAMETERS, channels={"train": [("digits.csv", table)]})
    status, output = train_under(image, root, "600m")
    reason = (root / "output" / "failure").read_text()
    assert status == 1, output[-2000:]
    assert "needs about" in reason and "the container has 600 MiB" in reason, reason
    assert "use a larger instance (ml.m5.large, 8 GiB)" in reason
    assert list((root / "model").iterdir()) == []


def test_the_same_table_trains_under_a_comfortable_limit(
    image: str, ml_root: MLRootFactory, table: bytes
) -> None:
    root = ml_root(hyperparameters=HYPERPARAMETERS, channels={"train": [("digits.csv", table)]})
    status, output = train_under(image, root, "2g")
    assert status == 0, output[-2000:]
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert metrics["memory"]["limit_mib"] == 2048
    assert metrics["memory"]["limit_source"].startswith("cgroup")
    assert 0 < metrics["memory"]["peak_rss_mib"] < 2048
    assert not (root / "output" / "failure").exists()
