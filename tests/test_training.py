"""`train` on the host: success, and every error path writes a named reason and leaves no model behind."""

import csv
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

import pytest

from byoc.contract import MLPaths
from byoc.training import main, metric_line, train

from conftest import MLRootFactory
from testsupport import REPOSITORY_ROOT, TRAIN_CSV, VALIDATION_CSV, make_ml_root

HEADER = TRAIN_CSV.read_text().splitlines()[0]
TRAIN_BYTES = TRAIN_CSV.read_bytes()


def run_main(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("BYOC_ML_ROOT", str(root))
    return main()


def failure_reason(root: Path) -> str:
    return (root / "output" / "failure").read_text()


def test_success_writes_pipeline_schema_and_metrics(ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"n_estimators": "50", "cv_folds": "3"})
    metrics = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    assert sorted(path.name for path in (root / "model").iterdir()) == [
        "input_schema.json",
        "metrics.json",
        "model.joblib",
    ]
    saved = json.loads((root / "model" / "metrics.json").read_text())
    assert saved["validation"]["rows"] == 179 and saved["train"]["rows"] == 712
    assert saved["hyperparameters"]["n_estimators"] == 50
    assert saved["cross_validation"]["folds"] == 3
    assert set(saved["libraries"]) >= {"lightgbm", "scikit-learn", "pandas", "python"}
    assert saved["duration_seconds"] > 0
    assert metrics["validation"]["auc"] == saved["validation"]["auc"]
    schema = json.loads((root / "model" / "input_schema.json").read_text())
    assert schema["columns"][:3] == ["PassengerId", "Pclass", "Name"]
    assert "Survived" not in schema["columns"]
    assert schema["required"]["Age"] == "number" and schema["required"]["Name"] == "string"
    assert not (root / "output" / "failure").exists()


def test_default_hyperparameters_meet_the_quality_bar(trained_model_dir: Path) -> None:
    validation = json.loads((trained_model_dir / "metrics.json").read_text())["validation"]
    assert validation["auc"] >= 0.85
    assert validation["accuracy"] >= 0.82


def test_metric_lines_have_no_tabs_and_match_a_metric_regex(capsys: pytest.CaptureFixture[str]) -> None:
    line = metric_line("validation", "auc", 0.87312345)
    assert line == "validation:auc=0.873123;"
    assert "\t" not in line


def test_without_validation_channel_a_stratified_holdout_is_used(
    ml_root: MLRootFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ml_root(channels={"train": [("train.csv", TRAIN_BYTES)]})
    metrics = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    assert "hold-out" in metrics["validation_source"]
    assert metrics["validation"]["rows"] == math.ceil(712 * 0.2)
    assert "no 'validation' channel" in capsys.readouterr().out


def test_several_files_in_a_channel_are_all_read(ml_root: MLRootFactory) -> None:
    lines = TRAIN_CSV.read_text().splitlines(keepends=True)
    first, second = lines[1:300], lines[300:]
    root = ml_root(
        channels={
            "train": [
                ("part-1.csv", (lines[0] + "".join(first)).encode()),
                ("part-2.csv.gz", gzip.compress((lines[0] + "".join(second)).encode())),
                ("_SUCCESS", b""),
            ],
            "validation": [("validation.csv", VALIDATION_CSV.read_bytes())],
        }
    )
    metrics = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    assert metrics["train"]["rows"] == 712


def with_first_row_cell(column: str, value: str) -> bytes:
    rows = list(csv.reader(io.StringIO(TRAIN_CSV.read_text())))
    rows[1][rows[0].index(column)] = value
    output = io.StringIO()
    csv.writer(output, lineterminator="\n").writerows(rows)
    return output.getvalue().encode()


def test_reading_in_chunks_gives_the_same_model(
    ml_root: MLRootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(ml_root())}))
    monkeypatch.setattr("byoc.datasets.CHUNK_ROWS", 50)
    chunked_root = make_ml_root(tmp_path / "chunked")
    chunked = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(chunked_root)}))
    assert chunked["train"] == whole["train"]
    assert chunked["validation"] == whole["validation"]


def test_a_gzip_compressed_file_is_read_whatever_its_name(ml_root: MLRootFactory) -> None:
    root = ml_root(
        channels={
            "train": [("train.csv", gzip.compress(TRAIN_BYTES))],
            "validation": [("validation.csv.gz", gzip.compress(VALIDATION_CSV.read_bytes()))],
        }
    )
    metrics = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    assert (metrics["train"]["rows"], metrics["validation"]["rows"]) == (712, 179)


def bad_case_channels(case: str) -> dict[str, list[tuple[str, bytes]]] | None:
    body = TRAIN_BYTES.decode()
    train_files = {
        "empty_file": [("train.csv", b"")],
        "header_only": [("train.csv", (HEADER + "\n").encode())],
        "not_csv": [("train.parquet", b"PAR1")],
        "unreadable": [("train.csv", b'a,b\n"unterminated,1\n')],
        "binary_garbage": [("train.csv", bytes(range(256)) * 4)],
        "no_target": [("train.csv", body.replace("Survived,", "Label,", 1).encode())],
        "non_binary_target": [("train.csv", with_first_row_cell("Survived", "2"))],
        "missing_column": [("train.csv", body.replace(",Cabin,", ",Cabinet,", 1).encode())],
        "bad_number": [("train.csv", with_first_row_cell("Age", "old"))],
        "different_headers": [
            ("a.csv", TRAIN_BYTES),
            ("b.csv", body.replace("Embarked", "Port", 1).encode()),
        ],
        "truncated_mid_row": [("train.csv", TRAIN_BYTES[: TRAIN_BYTES.rindex(b",male,")])],
        "truncated_gzip": [("train.csv.gz", gzip.compress(TRAIN_BYTES)[:-200])],
        "no_labels": [
            ("train.csv", "\n".join([HEADER] + [",".join(["1", "", *(["3"] * 10)])] * 5).encode() + b"\n"),
        ],
    }
    if case == "missing_train":
        return {"validation": [("validation.csv", VALIDATION_CSV.read_bytes())]}
    return {"train": train_files[case], "validation": [("validation.csv", VALIDATION_CSV.read_bytes())]}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_train", "channel 'train' is missing"),
        ("empty_file", "channel 'train', file 'train.csv' is empty"),
        ("header_only", "channel 'train', file 'train.csv' has a header but no rows"),
        ("not_csv", "channel 'train' has no .csv or .csv.gz file"),
        ("unreadable", "channel 'train', file 'train.csv' is not a readable CSV file"),
        ("binary_garbage", "channel 'train', file 'train.csv'"),
        ("no_target", "channel 'train' has no target column 'Survived'"),
        ("non_binary_target", "file 'train.csv', line 2: target column 'Survived' must hold only 0 and 1"),
        ("missing_column", "channel 'train' is missing column(s) the model needs: Cabin"),
        (
            "bad_number",
            "channel 'train', file 'train.csv', line 2, column 'Age': 'old' is not a finite number",
        ),
        ("different_headers", "file 'b.csv' has a different header than 'a.csv'"),
        ("no_labels", "no rows left after dropping rows without a 'Survived' value"),
        ("truncated_mid_row", "channel 'train', file 'train.csv' looks truncated: its last row"),
        ("truncated_gzip", "file 'train.csv.gz' is not a readable CSV file: Compressed file ended"),
    ],
)
def test_bad_input_fails_with_a_named_reason_and_an_empty_model_folder(
    case: str, expected: str, ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ml_root(channels=bad_case_channels(case))
    assert run_main(root, monkeypatch) == 1
    reason = failure_reason(root)
    assert reason.splitlines()[0].startswith(expected) or expected in reason.splitlines()[0]
    assert len(reason.encode()) <= 1024
    assert list((root / "model").iterdir()) == []


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({"n_estimators": "many"}, "hyperparameter 'n_estimators': 'many' is not a valid int"),
        ({"learning_rat": "0.1"}, "unknown hyperparameter 'learning_rat' (did you mean 'learning_rate'?)"),
        ({"target": "Pclass"}, "target column 'Pclass' must hold only 0 and 1 (or be empty), found '3'"),
    ],
)
def test_bad_hyperparameters_fail_naming_the_key(
    hyperparameters: dict[str, str], expected: str, ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ml_root(hyperparameters=hyperparameters)
    assert run_main(root, monkeypatch) == 1
    assert expected in failure_reason(root).splitlines()[0]
    assert list((root / "model").iterdir()) == []


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
            deadline = time.monotonic() + 30
            while b"training on" not in log_path.read_bytes():
                assert time.monotonic() < deadline, "training never started fitting"
                assert process.poll() is None, log_path.read_text()
                time.sleep(0.1)
            time.sleep(0.5)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 1
            assert time.monotonic() - sent < 5
        finally:
            process.kill()
    assert "stopped by SIGTERM" in failure_reason(root).splitlines()[0]
    assert list((root / "model").iterdir()) == []
