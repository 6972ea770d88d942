"""`docker run IMAGE evaluate` and `docker run IMAGE drift` over a temporary /opt/ml/processing tree, as
SageMaker Processing runs them: the files they write, the last line drift prints, and a failure's reason in
/opt/ml/output/message (the job's ExitMessage) and /opt/ml/output/failure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from monitorshapes import CONSTRAINTS, MODEL_QUALITY, STATISTICS, VIOLATIONS, check
from processingsupport import archive, csv_file, processing_root, trained
from sklearn.model_selection import train_test_split

from testsupport import TITANIC_CSV, docker

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def titanic(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, bytes]:
    whole = pd.read_csv(TITANIC_CSV)
    train, held_out = train_test_split(whole, test_size=0.3, random_state=11, stratify=whole["Survived"])
    model_dir = trained(tmp_path_factory.mktemp("titanic"), {"train": [csv_file(train, "train.csv")]}, {})
    return held_out, archive(model_dir)


def run_program(image: str, root: Path, *command: str) -> tuple[int, str]:
    result = docker("run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", image, *command, check=False)
    return result.returncode, result.stdout


def test_evaluate_writes_its_files(image: str, titanic: tuple[pd.DataFrame, bytes], tmp_path: Path) -> None:
    held_out, model = titanic
    processing_root(tmp_path, {"model": [("model.tar.gz", model)], "data": [csv_file(held_out, "test.csv")]})
    code, stdout = run_program(image, tmp_path, "evaluate", "--task", "binary")
    assert code == 0
    output = tmp_path / "processing" / "evaluation"
    quality = json.loads((output / "evaluation.json").read_text())
    check(quality, MODEL_QUALITY)
    assert quality["binary_classification_metrics"]["auc"]["value"] > 0.8
    check(json.loads((output / "baseline" / "statistics.json").read_text()), STATISTICS)
    check(json.loads((output / "baseline" / "constraints.json").read_text()), CONSTRAINTS)
    assert "<svg" in (output / "report" / "index.html").read_text()
    assert stdout.splitlines()[-1].startswith("evaluate: auc ")
    assert (tmp_path / "output" / "message").read_text().startswith("evaluate: auc ")


def test_drift_same_and_shifted(image: str, titanic: tuple[pd.DataFrame, bytes], tmp_path: Path) -> None:
    held_out, model = titanic
    shifted = held_out.assign(Fare=held_out["Fare"] * 4, Pclass=1)
    for name, traffic, expected in (
        ("same", held_out, "drift: 0 violation(s) in 0 feature(s)"),
        ("shifted", shifted, "drift: 2 violation(s) in 2 feature(s): Pclass, Fare"),
    ):
        root = processing_root(
            tmp_path / name, {"model": [("model.tar.gz", model)], "traffic": [csv_file(traffic)]}
        )
        code, stdout = run_program(image, root, "drift")
        assert code == 0
        assert stdout.splitlines()[-1] == expected
        check(
            json.loads((root / "processing" / "drift" / "constraint_violations.json").read_text()), VIOLATIONS
        )


def test_drift_fails_on_an_unknown_capture_encoding(
    image: str, titanic: tuple[pd.DataFrame, bytes], tmp_path: Path
) -> None:
    _, model = titanic
    line = json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                         "data": "3,male", "encoding": "ZSTD"}}})  # fmt: skip
    processing_root(
        tmp_path, {"model": [("model.tar.gz", model)], "traffic": [("capture.jsonl", line.encode())]}
    )
    code, _ = run_program(image, tmp_path, "drift")
    assert code == 1
    message = (tmp_path / "output" / "message").read_text()
    assert "encoding is 'ZSTD', not one of CSV, JSON, BASE64" in message
    assert (tmp_path / "output" / "failure").read_text() == message
    assert not (tmp_path / "processing" / "drift").exists()
