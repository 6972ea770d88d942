"""`train` on the host: success, and every error path writes a named reason and leaves no model behind."""

import gzip
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightsage import errors
from lightsage.contract.paths import ContractError, MLPaths
from lightsage.data import channels
from lightsage.data.channels import DataError
from lightsage.model import artifact
from lightsage.serving.decode import decode
from lightsage.serving.predictor import Predictor
from lightsage.training import fit
from lightsage.training.hosts.cluster import ClusterError
from lightsage.training.main import main, train
from lightsage.training.memory import OutOfMemory
from lightsage.training.signals import TrainingInterrupted

from testsupport import (
    REPOSITORY_ROOT,
    TITANIC_MODEL_FILES,
    TRAIN_CSV,
    VALIDATION_CSV,
    MLRootFactory,
    make_ml_root,
)
from trainingcases import TRAIN_BYTES, VALIDATION, bad_case_channels, with_cell


def run_main(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("BYOC_ML_ROOT", str(root))
    return main()


def paths_of(root: Path) -> MLPaths:
    return MLPaths.from_environment({"BYOC_ML_ROOT": str(root)})


def failure_reason(root: Path) -> str:
    return (root / "output" / "failure").read_text()


def test_success_writes_the_artifact_as_data(ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"n_estimators": "50", "cv_folds": "3"})
    metrics = train(paths_of(root))
    model = root / "model"
    assert sorted(path.name for path in model.iterdir()) == TITANIC_MODEL_FILES
    saved = json.loads((model / "metrics.json").read_text())
    assert saved["task"] == "binary" and saved["classes"] == [0, 1]
    assert saved["validation"]["rows"] == 179 and saved["train"]["rows"] == 712
    assert saved["hyperparameters"]["n_estimators"] == 50 and saved["iterations"] == 50
    assert saved["cross_validation"]["folds"] == 3 and 0.8 < saved["cross_validation"]["auc_mean"] < 1
    assert set(saved["libraries"]) >= {"lightgbm", "scikit-learn", "pandas", "pyarrow", "python"}
    assert metrics["validation"]["auc"] == saved["validation"]["auc"]
    manifest = json.loads((model / "manifest.json").read_text())
    titanic = REPOSITORY_ROOT / "program" / "lightsage" / "recipes" / "titanic.py"
    assert manifest["recipe"] == {
        "name": "titanic",
        "version": 4,
        "source": {
            "origin": "image",
            "program": "titanic.py",
            "files": {"titanic.py": artifact.sha256(titanic.read_bytes())},
        },
    }
    assert [c["name"] for c in manifest["inputs"]][:3] == ["PassengerId", "Pclass", "Name"]
    assert "Survived" not in [c["name"] for c in manifest["inputs"]]
    roles = {c["name"]: (c["type"], c["role"], c.get("choices")) for c in manifest["inputs"]}
    assert roles["PassengerId"][1] == "ignored" and roles["Age"] == ("number", "feature", None)
    assert roles["Sex"] == ("string", "feature", ["male", "female"])
    assert "model.txt" and (model / "model.txt").read_text().startswith("tree")
    assert "[force_row_wise: 1]" in (model / "model.txt").read_text()  # a narrow table: histograms by rows
    assert not (root / "output" / "failure").exists()


def test_default_hyperparameters_meet_the_quality_bar(trained_model_dir: Path) -> None:
    validation = json.loads((trained_model_dir / "metrics.json").read_text())["validation"]
    assert validation["auc"] >= 0.85
    assert validation["accuracy"] >= 0.82


def test_without_validation_channel_a_stratified_holdout_is_used(
    ml_root: MLRootFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ml_root(channels={"train": [("train.csv", TRAIN_BYTES)]})
    metrics = train(paths_of(root))
    assert "stratified 20% hold-out" in metrics["validation_source"]
    assert metrics["validation"]["rows"] == math.ceil(712 * 0.2)
    assert "no 'validation' channel" in capsys.readouterr().out


def test_csv_gzip_parquet_and_markers_mix_in_a_channel(ml_root: MLRootFactory) -> None:
    lines = TRAIN_CSV.read_text().splitlines(keepends=True)
    parquet = io.BytesIO()
    pd.read_csv(io.StringIO(lines[0] + "".join(lines[500:])), dtype=str).to_parquet(parquet)
    root = ml_root(
        channels={
            "train": [
                ("part-1.csv", (lines[0] + "".join(lines[1:300])).encode()),
                ("part-2", gzip.compress((lines[0] + "".join(lines[300:500])).encode())),
                ("part-3.parquet", parquet.getvalue()),
                ("_SUCCESS", b""),
                ("part-4.csv", b""),
            ],
            "validation": VALIDATION,
        }
    )
    assert train(paths_of(root))["train"]["rows"] == 712


def test_missing_value_markers_in_a_declared_number_column_read_as_missing(tmp_path: Path) -> None:
    """Titanic declares Age and Fare as numbers: `NA` and `?` there give the model empty cells give."""
    models = []
    for name, (age, fare) in {"marked": ("NA", "?"), "empty": ("", "")}.items():
        body = with_cell(5, "Age", age, with_cell(9, "Fare", fare))
        root = make_ml_root(
            tmp_path / name,
            {"n_estimators": "20"},
            {"train": [("train.csv", body)], "validation": VALIDATION},
        )
        train(paths_of(root))
        models.append((root / "model" / "model.txt").read_bytes())
    assert models[0] == models[1]


def test_block_size_does_not_change_the_model(
    ml_root: MLRootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = train(paths_of(ml_root()))
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)  # a batch per block
    blocks = train(paths_of(make_ml_root(tmp_path / "blocks")))
    assert blocks["train"] == whole["train"] and blocks["validation"] == whole["validation"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_train", "channel 'train' is missing"),
        (
            "header_only",
            "channel 'train' has no rows: its 1 data file(s) hold a header only or no rows (train.csv)",
        ),
        ("not_data", "channel 'train' has no data file"),
        ("garbage_parquet", "channel 'train', file 'train.parquet' is not a readable parquet file"),
        ("binary_garbage", "channel 'train', file 'train.csv'"),
        ("no_target", "channel 'train' has no target column 'Survived'; its columns: PassengerId, Label"),
        ("missing_column", "the data lacks column(s) recipe 'titanic' needs: Cabin"),
        ("bad_number", "channel 'train', file 'train.csv', row 5, column 'Age': 'old' is not a number"),
        ("closed_vocabulary", "file 'train.csv', row 7, column 'Sex': 'unknown' is not one of male, female"),
        ("different_headers", "file 'b.csv' has different columns than 'a.csv'"),
        ("duplicated_header", "the header names these columns more than once: Age"),
        (
            "truncated_mid_row",
            "row 712 has 4 field(s) but the header has 12 (it is the last row: the file looks truncated)",
        ),
        ("truncated_gzip", "file 'train.csv.gz' is not readable"),
        ("one_class", "target column 'Survived' has one class only (0 in all 712 labelled rows)"),
        ("no_labels", "target column 'Survived' has no values: every one of its 5 rows is empty"),
        (
            "unknown_validation_class",
            "channel 'validation': target column 'Survived' holds 2, which is not a class",
        ),
    ],
)
def test_bad_input_fails_with_a_named_reason_and_an_empty_model_folder(
    case: str, expected: str, ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ml_root(channels=bad_case_channels(case))
    assert run_main(root, monkeypatch) == 1
    reason = failure_reason(root)
    assert expected in reason.splitlines()[0]
    assert len(reason.encode()) <= 1024
    assert list((root / "model").iterdir()) == []


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({"n_estimators": "many"}, "hyperparameter 'n_estimators': 'many' is not a valid int"),
        ({"learning_rat": "0.1"}, "unknown hyperparameter 'learning_rat' (did you mean 'learning_rate'?)"),
        ({"random_state": "-1"}, "hyperparameter 'random_state': '-1' must be between 0 and 2147483647"),
        ({"recipe": "nosuch"}, "hyperparameter 'recipe': unknown recipe 'nosuch'; available: "),
        (
            {"target": "Pclass"},
            "recipe 'titanic' (binary targets only) needs exactly two classes, but 'Pclass' has 3",
        ),
        ({"task": "regression"}, "task regression: recipe 'titanic' handles binary targets only"),
    ],
)
def test_bad_hyperparameters_fail_naming_the_key(
    hyperparameters: dict[str, str],
    expected: str,
    ml_root: MLRootFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = ml_root(hyperparameters=hyperparameters, channels={"train": [("train.csv", TRAIN_BYTES)]})
    assert run_main(root, monkeypatch) == 1
    assert expected in failure_reason(root).splitlines()[0]
    assert list((root / "model").iterdir()) == []
    stderr = capsys.readouterr().err
    assert "[train] FAILED: " + expected in stderr and "Traceback" not in stderr


def test_an_unexpected_error_is_reported_with_its_traceback(
    ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ml_root()

    def broken_recipe(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(fit, "learn_state", broken_recipe)
    assert run_main(root, monkeypatch) == 1
    assert failure_reason(root).startswith("unexpected error: ZeroDivisionError: division by zero")
    stderr = capsys.readouterr().err
    assert "Traceback (most recent call last)" in stderr and "broken_recipe" in stderr


@pytest.mark.parametrize(
    "raised",
    [
        DataError("channel 'train': the user's data"),
        ContractError("config file resourceconfig.json: the platform's configuration"),
        OutOfMemory("the instance's memory"),
        TrainingInterrupted("a stop"),
        ClusterError("host 'algo-2' left the job"),
        KeyError("a bug"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_reason_and_the_traceback_follow_from_the_class_of_the_error(
    raised: Exception,
    ml_root: MLRootFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """User errors and platform faults are their message, without a traceback; anything else is a bug."""
    root = ml_root()

    def failing(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(fit, "learn_state", failing)
    assert run_main(root, monkeypatch) == 1
    reason = failure_reason(root).splitlines()[0]
    stderr = capsys.readouterr().err
    assert reason == errors.failure_reason(raised)
    if errors.is_bug(raised):
        assert reason.startswith("unexpected error: KeyError: 'a bug' (a bug in lightsage or in the recipe's")
        assert "Traceback (most recent call last)" in stderr
    else:
        assert reason == str(raised) and "Traceback" not in stderr
    assert f"[train] FAILED: {reason}" in stderr


def test_malformed_hyperparameters_file_fails_naming_it(
    ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ml_root()
    (root / "input" / "config" / "hyperparameters.json").write_text("{oops")
    assert run_main(root, monkeypatch) == 1
    assert "hyperparameters.json is not valid JSON" in failure_reason(root)


def test_sigterm_stops_training_promptly_with_a_reason_and_no_model(
    ml_root: MLRootFactory, tmp_path: Path
) -> None:
    root = ml_root(hyperparameters={"n_estimators": "100000", "learning_rate": "0.001"})
    log_path = tmp_path / "train.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPOSITORY_ROOT / "program" / "train")],
            env={**os.environ, "BYOC_ML_ROOT": str(root)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while b"training on" not in log_path.read_bytes():
                assert time.monotonic() < deadline, "training never started fitting"
                assert process.poll() is None, log_path.read_text()
                time.sleep(0.1)
            time.sleep(1.0)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 1
            assert time.monotonic() - sent < 10
        finally:
            process.kill()
    assert "stopped by SIGTERM" in failure_reason(root).splitlines()[0]
    assert list((root / "model").iterdir()) == []


def test_regression_metrics_read_every_label_exactly_as_the_file_gives_it(ml_root: MLRootFactory) -> None:
    """Fares such as 71.2833 have no float32 of their own: their labels stay float64, so the saved metrics are
    those of the file's own values and the model's answers (a label rounded on the way would move them)."""
    root = ml_root(hyperparameters={"recipe": "tabular", "target": "Fare", "n_estimators": "30"})
    saved = train(paths_of(root))["validation"]
    validation = pd.read_csv(VALIDATION_CSV)
    predictor = Predictor(artifact.load(root / "model"), threads=1)
    body = validation.drop(columns="Fare").to_csv(index=False).encode()
    answers = predictor.scores(decode(body, "text/csv", predictor.manifest.inputs, predictor.manifest.target))
    labelled = validation["Fare"].notna().to_numpy()
    errors_ = validation["Fare"].to_numpy(dtype=float)[labelled] - np.asarray(answers, dtype=float)[labelled]
    assert saved["rows"] == int(labelled.sum())
    assert saved["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors_**2))), rel=1e-12)
    assert saved["mae"] == pytest.approx(float(np.mean(np.abs(errors_))), rel=1e-12)
