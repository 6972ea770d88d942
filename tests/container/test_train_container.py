"""`docker run IMAGE train` over a temporary /opt/ml tree, as SageMaker runs it."""

import json
import time
from pathlib import Path

import pytest

from testsupport import TITANIC_MODEL_FILES, WORKED_EXAMPLE_RECIPE, MLRootFactory, docker
from trainingcases import bad_case_channels

pytestmark = pytest.mark.container


def run_train(image: str, root: Path, *extra: str) -> int:
    result = docker(
        "run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", *extra, image, "train", check=False
    )
    return result.returncode


def test_train_writes_the_model_and_metrics(image: str, ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"n_estimators": "300", "learning_rate": "0.03", "cv_folds": "5"})
    assert run_train(image, root) == 0
    assert sorted(path.name for path in (root / "model").iterdir()) == TITANIC_MODEL_FILES
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert metrics["validation"]["auc"] >= 0.85
    assert metrics["cross_validation"]["auc_mean"] >= 0.85
    assert not (root / "output" / "failure").exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_train", "channel 'train' is missing"),
        ("garbage_parquet", "file 'train.parquet' is not a readable parquet file"),
        ("no_target", "channel 'train' has no target column 'Survived'"),
        ("one_class", "target column 'Survived' has one class only"),
        ("missing_column", "the data lacks column(s) recipe 'titanic' needs: Cabin"),
        ("bad_number", "row 5, column 'Age': 'old' is not a number"),
        ("closed_vocabulary", "column 'Sex': 'unknown' is not one of male, female"),
        ("different_headers", "file 'b.csv' has different columns than 'a.csv'"),
        ("duplicated_header", "the header names these columns more than once: Age"),
        ("no_labels", "has no values"),
        ("truncated_mid_row", "the file looks truncated"),
        ("truncated_gzip", "file 'train.csv.gz' is not readable"),
    ],
)
def test_bad_input_fails_with_the_reason_in_the_failure_file(
    image: str, ml_root: MLRootFactory, case: str, expected: str
) -> None:
    root = ml_root(channels=bad_case_channels(case))
    assert run_train(image, root) != 0
    reason = (root / "output" / "failure").read_text()
    assert expected in reason.splitlines()[0]
    assert len(reason.encode()) <= 1024
    assert list((root / "model").iterdir()) == []


def test_bad_hyperparameter_fails_naming_the_key(image: str, ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"num_leaves": '"lots"'})
    assert run_train(image, root) != 0
    assert "hyperparameter 'num_leaves'" in (root / "output" / "failure").read_text()
    assert list((root / "model").iterdir()) == []


def test_sigterm_during_training_fails_promptly_without_a_model(image: str, ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"n_estimators": "100000", "learning_rate": "0.001"})
    name = f"byoc-train-sigterm-{time.monotonic_ns()}"
    docker("run", "-d", "--name", name, "--network", "none", "-v", f"{root}:/opt/ml", image, "train")
    try:
        deadline = time.monotonic() + 60
        while "training on" not in docker("logs", name).stdout:
            assert time.monotonic() < deadline, docker("logs", name).stderr
            time.sleep(0.2)
        time.sleep(0.5)
        docker("kill", "--signal", "TERM", name)
        started = time.monotonic()
        exit_code = int(docker("wait", name, timeout=30).stdout.strip())
        assert time.monotonic() - started < 10
        assert exit_code == 1
        assert "stopped by SIGTERM" in (root / "output" / "failure").read_text().splitlines()[0]
        assert list((root / "model").iterdir()) == []
    finally:
        docker("rm", "-f", name, check=False)


def test_a_sigterm_during_start_up_is_not_lost(image: str, ml_root: MLRootFactory) -> None:
    """SageMaker may stop a job while Python is still importing (the first second, as PID 1 under tini)."""
    root = ml_root()
    name = f"byoc-train-early-{time.monotonic_ns()}"
    docker("run", "-d", "--name", name, "--network", "none", "-v", f"{root}:/opt/ml", image, "train")
    try:
        time.sleep(0.3)
        docker("kill", "--signal", "TERM", name)
        exit_code = int(docker("wait", name, timeout=60).stdout.strip())
        assert exit_code != 0, docker("logs", name).stdout
        assert list((root / "model").iterdir()) == []
        assert "stopped by SIGTERM" in (root / "output" / "failure").read_text()
    finally:
        docker("rm", "-f", name, check=False)


def test_a_file_name_that_is_not_utf8_still_gets_a_failure_file(image: str, ml_root: MLRootFactory) -> None:
    root = ml_root(
        hyperparameters={"recipe": "tabular", "target": "Survived"},
        channels={"train": [(b"caf\xe9.csv".decode("utf-8", "surrogateescape"), b"Survived,b\n1,2\n3\n")]},
    )
    assert run_train(image, root) != 0
    reason = (root / "output" / "failure").read_text(encoding="utf-8")
    assert "file 'caf\\xe9.csv'" in reason


def test_a_failed_run_leaves_no_earlier_model_in_the_folder(image: str, ml_root: MLRootFactory) -> None:
    """Issue 18, item 17: a failed local run left the previous run's model, which `serve` then served."""
    root = ml_root(hyperparameters={"n_estimators": "20", "checkpoint_interval": "0"})
    assert run_train(image, root) == 0
    assert sorted(path.name for path in (root / "model").iterdir()) == TITANIC_MODEL_FILES
    broken = {"recipe": WORKED_EXAMPLE_RECIPE, "num_leaves": "lots"}
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(broken))
    result = docker("run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", image, "train", check=False)
    assert result.returncode == 1
    assert (
        "[train] removed the previous model from /opt/ml/model (constraints.json, manifest.json, "
        in result.stdout
    )
    assert "hyperparameter 'num_leaves'" in (root / "output" / "failure").read_text()
    assert list((root / "model").iterdir()) == []


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd"])
def test_train_reads_no_checkpoint_through_a_link(image: str, ml_root: MLRootFactory, target: str) -> None:
    """Issue 18, item 9: train followed links out of /opt/ml/checkpoints."""
    root = ml_root(hyperparameters={"n_estimators": "20", "checkpoint_interval": "0"})
    (root / "checkpoints").mkdir()
    (root / "checkpoints" / "checkpoint-000000010.json").symlink_to(target)
    result = docker("run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", image, "train", check=False)
    assert result.returncode == 0, result.stderr
    link = "/opt/ml/checkpoints/checkpoint-000000010.json"
    assert (
        f"[train] skipping checkpoint checkpoint-000000010.json: {link} is a symbolic link" in result.stdout
    )
    assert "PATH=" not in result.stdout + result.stderr and "root:x:0:0" not in result.stdout + result.stderr
    assert json.loads((root / "model" / "metrics.json").read_text())["resumed_from_iteration"] is None
