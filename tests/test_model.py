import json
import signal
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from byoc import model as model_module
from byoc.hyperparameters import parse_hyperparameters
from byoc.model import (
    MODEL_FILE,
    SCHEMA_FILE,
    InputSchema,
    ModelLoadError,
    build_pipeline,
    cross_validated_metrics,
    load_model,
    positive_probabilities,
    save_artifacts,
)

from testsupport import TITANIC_CSV, VALIDATION_CSV


def test_fast_path_equals_the_pipelines_predict_proba(trained_model_dir: Path) -> None:
    pipeline = joblib.load(trained_model_dir / MODEL_FILE)
    frame = pd.read_csv(VALIDATION_CSV).drop(columns=["Survived"])
    np.testing.assert_allclose(
        positive_probabilities(pipeline, frame), pipeline.predict_proba(frame)[:, 1], rtol=0, atol=1e-12
    )


def test_loaded_model_predicts_labels_from_probabilities(trained_model_dir: Path) -> None:
    loaded = load_model(trained_model_dir)
    frame = pd.read_csv(VALIDATION_CSV)
    labels, probabilities = loaded.predict(frame)
    assert set(np.unique(labels)) <= {0, 1}
    assert ((probabilities >= 0.5) == (labels == 1)).all()


def test_schema_round_trips_and_lists_required_types() -> None:
    schema = InputSchema.from_training_columns(
        "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(","),
        "Survived",
    )
    assert schema.optional == ["PassengerId"]
    assert schema.required["Fare"] == "number" and schema.required["Ticket"] == "string"
    assert InputSchema.from_json(schema.to_json()) == schema


def test_load_errors_name_the_file(tmp_path: Path, trained_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model\.joblib is missing"):
        load_model(tmp_path)
    (tmp_path / MODEL_FILE).write_bytes(b"not a pickle")
    (tmp_path / SCHEMA_FILE).write_text((trained_model_dir / SCHEMA_FILE).read_text())
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_model(tmp_path)
    joblib.dump({"not": "a pipeline"}, tmp_path / MODEL_FILE)
    with pytest.raises(ModelLoadError, match="does not hold this project's pipeline"):
        load_model(tmp_path)
    (tmp_path / MODEL_FILE).write_bytes((trained_model_dir / MODEL_FILE).read_bytes())
    (tmp_path / SCHEMA_FILE).write_text(json.dumps({"columns": []}))
    with pytest.raises(ModelLoadError, match="not a valid input schema"):
        load_model(tmp_path)


def test_a_failed_save_leaves_nothing_in_the_model_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_dump(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(model_module.joblib, "dump", fail_dump)
    pipeline = build_pipeline(parse_hyperparameters({}))
    schema = InputSchema(columns=["a"], required={}, target="Survived")
    with pytest.raises(OSError, match="disk full"):
        save_artifacts(tmp_path / "model", pipeline, schema, {})
    assert list((tmp_path / "model").iterdir()) == []


def test_signals_are_blocked_only_while_publishing(tmp_path: Path) -> None:
    pipeline = build_pipeline(parse_hyperparameters({}))
    schema = InputSchema(columns=["a"], required={}, target="Survived")
    save_artifacts(tmp_path / "model", pipeline, schema, {"ok": True})
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == [
        "input_schema.json",
        "metrics.json",
        "model.joblib",
    ]


def test_default_hyperparameters_cross_validate_above_0_88_on_the_whole_file() -> None:
    whole = pd.read_csv(TITANIC_CSV)
    hyperparameters = parse_hyperparameters({"cv_folds": "5"})
    labels = whole.pop("Survived").to_numpy()
    scores = cross_validated_metrics(hyperparameters, whole, labels)
    assert scores["auc_mean"] >= 0.88
