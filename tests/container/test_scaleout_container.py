"""Several hosts as `docker run` containers on a network of their own, each with its own /opt/ml as on
SageMaker: one model from every host, the same trees on each, only the first host saving it; an empty, dead,
stuck or unresolvable host fails the job in bounded time, naming it."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest

from lightsage.contract.paths import MLPaths
from lightsage.training.main import train

from scaleoutsupport import Channels, docker_job, host_root
from testsupport import TITANIC_MODEL_FILES, TRAIN_CSV, VALIDATION_CSV, docker, make_ml_root

pytestmark = pytest.mark.container

HOSTS = ["algo-1", "algo-2"]
LONG_TRAINING = {"n_estimators": "100000", "learning_rate": "0.001"}
TRAINED = re.compile(r"trained (\d+) rounds, best (\d+), trees ([0-9a-f]+)")


def titanic() -> Channels:
    return {
        "train": [("train.csv", TRAIN_CSV.read_bytes())],
        "validation": [("validation.csv", VALIDATION_CSV.read_bytes())],
    }


def one_host_auc(tmp_path: Path, channels: Channels) -> float:
    root = make_ml_root(tmp_path / "one-host", {}, channels)
    return float(train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))["validation"]["auc"])


def split_train(parts: list[int]) -> list[bytes]:
    """The train split cut into files of the given shares of rows, one per host."""
    header, *rows = TRAIN_CSV.read_text().splitlines(keepends=True)
    cuts = [0]
    for share in parts:
        cuts.append(cuts[-1] + round(len(rows) * share / sum(parts)))
    return [(header + "".join(rows[start:end])).encode() for start, end in itertools.pairwise(cuts)]


def assert_one_model(job_logs: list[str]) -> None:
    trained = [TRAINED.search(log) for log in job_logs]
    assert all(trained), job_logs
    assert len({match.groups() for match in trained if match}) == 1, "the hosts grew different trees"


def test_two_replicated_hosts_train_one_model_as_good_as_one_host(image: str, tmp_path: Path) -> None:
    roots = [host_root(tmp_path / host, host, HOSTS, {}, titanic()) for host in HOSTS]
    started = time.monotonic()
    with docker_job(image, roots) as job:
        exits = [job.wait(index, 180) for index in range(2)]
        logs = [job.logs(index) for index in range(2)]
    assert exits == [0, 0], logs
    assert "joined 2 hosts" in logs[0]
    assert "training on 356 rows" in logs[0] and "training on 356 rows" in logs[1]
    assert_one_model(logs)
    assert job.model_files(0) == TITANIC_MODEL_FILES
    assert job.model_files(1) == []
    assert "validation:auc=" in logs[0] and "validation:auc=" not in logs[1]
    metrics = json.loads((roots[0] / "model" / "metrics.json").read_text())
    assert metrics["hosts"] == 2 and metrics["validation"]["rows"] == 179
    assert abs(metrics["validation"]["auc"] - one_host_auc(tmp_path, titanic())) < 0.02
    auc = metrics["validation"]["auc"]
    print(f"2 replicated hosts: {time.monotonic() - started:.1f} s, validation AUC {auc:.4f}")


@pytest.mark.parametrize("validation", ["channel", "hold-out"])
def test_sharded_hosts_train_on_their_own_files(image: str, tmp_path: Path, validation: str) -> None:
    files = split_train([1, 2])
    settings = {"recipe": "tabular", "target": "Survived"}
    shared: Channels = {"validation": titanic()["validation"]} if validation == "channel" else {}
    channels = [{"train": [(f"{host}.csv", files[index])], **shared} for index, host in enumerate(HOSTS)]
    roots = [
        host_root(tmp_path / host, host, HOSTS, settings, channels[index], sharded=("train",))
        for index, host in enumerate(HOSTS)
    ]
    with docker_job(image, roots) as job:
        exits = [job.wait(index, 180) for index in range(2)]
        logs = [job.logs(index) for index in range(2)]
    assert exits == [0, 0], logs
    assert_one_model(logs)
    metrics = json.loads((roots[0] / "model" / "metrics.json").read_text())
    assert metrics["hosts"] == 2
    if validation == "channel":
        assert "training on 237 rows" in logs[0] and "training on 475 rows" in logs[1]
        whole = make_ml_root(tmp_path / "one-host", settings, titanic())
        alone = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(whole)}))["validation"]["auc"]
        assert abs(metrics["validation"]["auc"] - alone) < 0.02
    else:  # each host held out its own rows; every host validated on all of them
        held_out = [int(re.search(r"holding out (\d+)", log).group(1)) for log in logs]  # type: ignore[union-attr]
        assert metrics["validation"]["rows"] == sum(held_out) and held_out[0] < held_out[1]
        assert metrics["validation"]["auc"] > 0.8


def test_a_host_without_rows_fails_every_host_naming_it(image: str, tmp_path: Path) -> None:
    header, *rows = TRAIN_CSV.read_text().splitlines(keepends=True)
    passenger, survived, rest = zip(*(row.split(",", 2) for row in rows[:20]), strict=True)
    assert set(survived) <= {"0", "1"}
    unlabelled = header + "".join(f"{first},,{last}" for first, last in zip(passenger, rest, strict=True))
    shards = [TRAIN_CSV.read_bytes(), unlabelled.encode()]
    roots = [
        host_root(
            tmp_path / host, host, HOSTS, {}, {"train": [("part.csv", shards[index])]}, sharded=("train",)
        )
        for index, host in enumerate(HOSTS)
    ]
    with docker_job(image, roots) as job:
        exits = [job.wait(index, 120) for index in range(2)]
        reasons = [job.failure(index) for index in range(2)]
    assert exits == [1, 1]
    for reason in reasons:
        assert "host(s) algo-2 have no training rows" in reason
    assert job.model_files(0) == job.model_files(1) == []


@pytest.mark.parametrize("stop", ["kill", "pause"])
def test_a_host_that_dies_or_hangs_mid_training_fails_the_job_in_time(
    image: str, tmp_path: Path, stop: str
) -> None:
    timeout = 15
    settings = {**LONG_TRAINING, "network_timeout_seconds": str(timeout)}
    roots = [host_root(tmp_path / host, host, HOSTS, settings, titanic()) for host in HOSTS]
    with docker_job(image, roots) as job:
        job.wait_for_log(1, "boosting on 2 hosts")
        time.sleep(1)
        docker(stop, job.containers[1])
        stopped = time.monotonic()
        assert job.wait(0, timeout + 30) == 1
        took = time.monotonic() - stopped
        reason = job.failure(0)
    # Dead: its connection closes at once; stuck: nothing for network_timeout_seconds (+5 s grace).
    assert took < (10 if stop == "kill" else timeout + 10), took
    expected = (
        "host 'algo-2' left the job during training" if stop == "kill" else "no boosting round finished"
    )
    assert expected in reason and "algo-2" in reason
    assert job.model_files(0) == []
    print(f"{stop}: the first host failed {took:.1f} s later: {reason.strip()}")


def test_a_host_that_never_resolves_fails_the_job_naming_it(image: str, tmp_path: Path) -> None:
    root = host_root(tmp_path / "algo-1", "algo-1", HOSTS, {"network_timeout_seconds": "10"}, titanic())
    name = f"byoc-scaleout-alone-{time.monotonic_ns()}"
    started = time.monotonic()
    try:
        exit_code = docker(
            "run", "--name", name, "--network", "none", "--add-host", "algo-1:127.0.0.1",
            "-v", f"{root}:/opt/ml", image, "train", check=False, timeout=60,
        ).returncode  # fmt: skip
    finally:
        docker("rm", "-f", name, check=False)
    assert exit_code == 1 and time.monotonic() - started < 40
    assert "host 'algo-2' could not be resolved after" in (root / "output" / "failure").read_text()


def test_hosts_stopped_together_resume_from_the_first_hosts_checkpoint(image: str, tmp_path: Path) -> None:
    """A spot interruption stops every host; only the first writes checkpoints, and sends one to the rest."""
    settings = {"n_estimators": "6000", "learning_rate": "0.001", "checkpoint_interval": "500"}
    roots = [host_root(tmp_path / host, host, HOSTS, settings, titanic()) for host in HOSTS]
    with docker_job(image, roots) as job:
        job.wait_for_log(1, "boosting on 2 hosts")
        time.sleep(1.5)
        docker("kill", "--signal", "TERM", *job.containers)
        assert [job.wait(index, 60) for index in range(2)] == [1, 1]
        reasons = [job.failure(index) for index in range(2)]
    assert reasons[0].startswith("training was stopped by SIGTERM")
    assert "SIGTERM" in reasons[1] or "algo-1" in reasons[1]  # its own stop, or the first host's news
    rounds = int(re.search(r"round (\d+) is checkpointed", reasons[0]).group(1))  # type: ignore[union-attr]
    assert not (roots[1] / "checkpoints").exists()
    assert job.model_files(0) == job.model_files(1) == []

    for root in roots:  # the restarted attempt: the same folders, no failure file
        (root / "output" / "failure").unlink()
    with docker_job(image, roots) as restarted:
        exits = [restarted.wait(index, 180) for index in range(2)]
        logs = [restarted.logs(index) for index in range(2)]
    assert exits == [0, 0], logs
    assert all(
        f"resuming from checkpoint /opt/ml/checkpoints/checkpoint-{rounds:09d}.json" in log for log in logs
    )
    assert_one_model(logs)
    metrics = json.loads((roots[0] / "model" / "metrics.json").read_text())
    assert (metrics["resumed_from_iteration"], metrics["iterations"], metrics["hosts"]) == (rounds, 6000, 2)
