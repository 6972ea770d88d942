"""Spot interruption through the real image: start, SIGTERM, restart over the same /opt/ml/checkpoints.

SageMaker local mode refuses checkpoint options, so this is `docker run` twice over one mounted folder, as a
managed spot job's second attempt sees it: the first attempt's checkpoints copied back in, nothing else.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scaleoutsupport import synthetic_csv, wait_for_log
from testsupport import docker, make_ml_root

pytestmark = pytest.mark.container

# Only the checkpoint written on SIGTERM: the periodic ones are pushed out of reach.
SETTINGS = {
    "recipe": "tabular",
    "target": "label",
    "n_estimators": "800",
    "learning_rate": "0.03",
    "checkpoint_interval": "100000",
    "checkpoint_seconds": "3600",
    # no time budget: the rounds and the refit then depend on the data alone, not on this machine's load
    "time_budget_seconds": "0",
    "time_budget_per_million_values": "0",
}


def channels() -> dict[str, list[tuple[str, bytes]]]:
    return {
        "train": [("train.csv", synthetic_csv(20_000, seed=1))],
        "validation": [("validation.csv", synthetic_csv(5_000, seed=2))],
    }


def run_train(image: str, root: Path) -> int:
    return docker(
        "run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", image, "train", check=False, timeout=300
    ).returncode  # fmt: skip


def metrics_of(root: Path) -> dict:
    return json.loads((root / "model" / "metrics.json").read_text())


def test_a_stopped_job_checkpoints_and_its_restart_resumes_to_the_same_quality(
    image: str, tmp_path: Path
) -> None:
    whole = make_ml_root(tmp_path / "whole", SETTINGS, channels())
    started = time.monotonic()
    assert run_train(image, whole) == 0
    uninterrupted_seconds = time.monotonic() - started

    spot = make_ml_root(tmp_path / "spot", SETTINGS, channels())
    name = f"byoc-spot-{time.monotonic_ns()}"
    docker("run", "-d", "--name", name, "--network", "none", "-v", f"{spot}:/opt/ml", image, "train")
    try:
        wait_for_log(name, "validation features computed", 120)
        time.sleep(1.0)  # boosting
        docker("kill", "--signal", "TERM", name)
        stopped = time.monotonic()
        assert int(docker("wait", name, timeout=120).stdout.strip()) == 1
        stop_seconds = time.monotonic() - stopped
    finally:
        docker("rm", "-f", name, check=False)

    reason = (spot / "output" / "failure").read_text()
    assert (
        reason.startswith("training was stopped by SIGTERM")
        and "is checkpointed in /opt/ml/checkpoints" in reason
    )
    assert list((spot / "model").iterdir()) == []
    (checkpoint,) = (spot / "checkpoints").glob("checkpoint-*.json")
    rounds = int(checkpoint.name[11:20])
    assert 0 < rounds < 800, rounds
    assert stop_seconds < 10  # well inside SageMaker's 120 s between SIGTERM and SIGKILL

    (spot / "output" / "failure").unlink()  # a new attempt starts without the old failure file
    started = time.monotonic()
    assert run_train(image, spot) == 0
    resumed_seconds = time.monotonic() - started
    resumed, uninterrupted = metrics_of(spot), metrics_of(whole)
    assert resumed["resumed_from_iteration"] == rounds
    assert resumed["iterations"] == uninterrupted["iterations"]  # early stopping chose the same rounds
    for name in ("best_rounds", "refit_rounds", "fold_rounds", "held_out_rows"):
        assert resumed["rounds"][name] == uninterrupted["rounds"][name], name
    assert abs(resumed["validation"]["auc"] - uninterrupted["validation"]["auc"]) < 0.01
    before, after = uninterrupted["validation"]["auc"], resumed["validation"]["auc"]
    print(
        f"uninterrupted {uninterrupted_seconds:.1f} s (AUC {before:.4f}); stopped at round {rounds}, "
        f"exit {stop_seconds:.1f} s after SIGTERM; resumed {resumed_seconds:.1f} s (AUC {after:.4f})"
    )
