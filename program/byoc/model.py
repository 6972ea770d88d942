"""The model: one scikit-learn pipeline (feature engineering + LightGBM), its metrics, its saved artifacts."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from lightgbm import LGBMClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from byoc.features import NUMERIC_COLUMNS, REQUIRED_COLUMNS, TitanicFeatures
from byoc.hyperparameters import LIGHTGBM_PARAMETERS

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"
SCHEMA_FILE = "input_schema.json"
DECISION_THRESHOLD = 0.5


class ModelLoadError(RuntimeError):
    """The model folder does not hold a usable model; the message says which file and why."""


def build_pipeline(hyperparameters: Mapping[str, Any]) -> Pipeline:
    class_weight = None if hyperparameters["class_weight"] == "none" else hyperparameters["class_weight"]
    classifier = LGBMClassifier(
        **{name: hyperparameters[name] for name in LIGHTGBM_PARAMETERS},
        class_weight=class_weight,
        random_state=hyperparameters["random_state"],
        n_jobs=1,
        verbose=-1,
    )
    return Pipeline([("features", TitanicFeatures()), ("model", classifier)])


def positive_probabilities(pipeline: Pipeline, columns: Mapping[str, Any]) -> np.ndarray:
    """P(label = 1) for raw passenger columns.

    Calls the fitted feature step and the LightGBM booster directly: the same two steps as
    `pipeline.predict_proba`, without scikit-learn's per-call validation, which dominates single-row latency.
    """
    features = pipeline.named_steps["features"].transform(columns)
    return pipeline.named_steps["model"].booster_.predict(features, num_threads=1)


def labels_for(probabilities: np.ndarray) -> np.ndarray:
    return (probabilities >= DECISION_THRESHOLD).astype(int)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float | int | None]:
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, labels_for(probabilities))),
        "auc": float(roc_auc_score(labels, probabilities)) if both_classes else None,
        "f1": float(f1_score(labels, labels_for(probabilities), zero_division=0)),
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
        "rows": len(labels),
    }


def cross_validated_metrics(
    hyperparameters: Mapping[str, Any], features: Any, labels: np.ndarray
) -> dict[str, float]:
    folds = StratifiedKFold(
        n_splits=hyperparameters["cv_folds"], shuffle=True, random_state=hyperparameters["random_state"]
    )
    scores: dict[str, list[float]] = {"auc": [], "accuracy": []}
    for train_index, test_index in folds.split(np.zeros(len(labels)), labels):
        pipeline = build_pipeline(hyperparameters).fit(features.iloc[train_index], labels[train_index])
        fold_metrics = classification_metrics(
            labels[test_index], positive_probabilities(pipeline, features.iloc[test_index])
        )
        scores["auc"].append(fold_metrics["auc"])
        scores["accuracy"].append(fold_metrics["accuracy"])
    return {
        "folds": hyperparameters["cv_folds"],
        "auc_mean": float(np.mean(scores["auc"])),
        "auc_std": float(np.std(scores["auc"])),
        "accuracy_mean": float(np.mean(scores["accuracy"])),
        "accuracy_std": float(np.std(scores["accuracy"])),
    }


@dataclass(frozen=True)
class InputSchema:
    """What `serve` expects: the raw columns in training-file order (minus the target) and their types."""

    columns: list[str]
    required: dict[str, str]
    target: str
    optional: list[str] = field(default_factory=list)

    @classmethod
    def from_training_columns(cls, columns: list[str], target: str) -> InputSchema:
        feature_columns = [column for column in columns if column != target]
        required = {
            column: "number" if column in NUMERIC_COLUMNS else "string"
            for column in feature_columns
            if column in REQUIRED_COLUMNS
        }
        optional = [column for column in feature_columns if column not in required]
        return cls(columns=feature_columns, required=required, target=target, optional=optional)

    @classmethod
    def from_json(cls, text: str) -> InputSchema:
        raw = json.loads(text)
        return cls(
            columns=list(raw["columns"]),
            required=dict(raw["required"]),
            target=str(raw["target"]),
            optional=list(raw.get("optional", [])),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @cached_property
    def known_columns(self) -> frozenset[str]:
        """Every column name a header row may carry: the inputs and the target."""
        return frozenset([*self.columns, self.target])


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Keep SIGTERM/SIGINT from landing between the renames that publish the artifacts."""
    blocked = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def save_artifacts(
    model_dir: Path, pipeline: Pipeline, schema: InputSchema, metrics: Mapping[str, Any]
) -> None:
    """Write every artifact into a staging folder beside the model, then rename them in at once.

    An interrupted or failed save never leaves a partial artifact in `model_dir`.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    try:
        joblib.dump(pipeline, staging / MODEL_FILE)
        (staging / SCHEMA_FILE).write_text(schema.to_json() + "\n", encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        with _signals_blocked():
            for name in (SCHEMA_FILE, METRICS_FILE, MODEL_FILE):
                (staging / name).replace(model_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Pipeline
    schema: InputSchema

    def predict(self, columns: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        probabilities = positive_probabilities(self.pipeline, columns)
        return labels_for(probabilities), probabilities


def load_model(model_dir: Path) -> LoadedModel:
    model_path = model_dir / MODEL_FILE
    schema_path = model_dir / SCHEMA_FILE
    for path in (model_path, schema_path):
        if not path.is_file():
            present = sorted(entry.name for entry in model_dir.iterdir()) if model_dir.is_dir() else []
            raise ModelLoadError(
                f"{path} is missing (the model folder holds: {', '.join(present) or 'nothing'}); "
                "run `train` first or check the model artifact"
            )
    try:
        pipeline = joblib.load(model_path)
    except Exception as error:
        raise ModelLoadError(f"{model_path} could not be loaded: {type(error).__name__}: {error}") from error
    if not isinstance(pipeline, Pipeline) or "features" not in pipeline.named_steps:
        raise ModelLoadError(f"{model_path} does not hold this project's pipeline (found {type(pipeline)})")
    try:
        schema = InputSchema.from_json(schema_path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"{schema_path} is not a valid input schema: {error}") from error
    missing = [column for column in REQUIRED_COLUMNS if column not in schema.required]
    if missing:
        raise ModelLoadError(f"{schema_path} lacks columns the pipeline needs: {', '.join(missing)}")
    return LoadedModel(pipeline=pipeline, schema=schema)
