"""Tables for the `tabular` recipe's tests, and the plain-LightGBM baseline they are held to.

The tables are the ones scikit-learn ships (breast cancer, wine, diabetes), split with a fixed seed, plus
tables derived from them with text categories, missing values and string labels. Each is written as the
channels `train` reads (CSV or Parquet). The baseline is a default `LGBMClassifier`/`LGBMRegressor` fitted on
the same train rows (text columns as pandas categories) and scored on the same validation rows; the recipe's
served answers are scored the same way and must be within TOLERANCE of it, or better.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.metrics import log_loss, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

TARGET = "target"
SEED = 20240
VALIDATION_SHARE = 0.3
# Scale-free metrics (AUC, accuracy, log loss, r2) may trail the baseline by this much; RMSE, which is in the
# target's units, by this share of the baseline's.
TOLERANCE = 0.01
# Accuracy moves in whole rows: on a few dozen validation rows (wine has 54) one row is more than TOLERANCE,
# so it may trail by this many rows' answers; the log loss, which every row's probabilities move, keeps
# TOLERANCE.
ACCURACY_ROWS = 2

Task = str  # "binary", "multiclass" or "regression", as metrics.json spells it


@dataclass(frozen=True)
class Table:
    """A table split into train and validation rows; `categories` are its text columns."""

    name: str
    task: Task
    train: pd.DataFrame
    validation: pd.DataFrame
    categories: tuple[str, ...] = ()

    @property
    def classes(self) -> list[Any]:
        """The classes as the recipe orders them (sorted), with their original values; [] for regression."""
        if self.task == "regression":
            return []
        return sorted(self.train[TARGET].dropna().unique().tolist())

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[TARGET])

    def channels(self, file_format: str) -> dict[str, list[tuple[str, bytes]]]:
        """The train and validation channels, each one file in `file_format` ("csv" or "parquet")."""
        return {
            "train": [(f"train.{file_format}", table_bytes(self.train, file_format))],
            "validation": [(f"validation.{file_format}", table_bytes(self.validation, file_format))],
        }


def table_bytes(frame: pd.DataFrame, file_format: str) -> bytes:
    if file_format == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def split(name: str, task: Task, frame: pd.DataFrame, categories: Sequence[str] = ()) -> Table:
    """Stratified for classification, random for regression; the same seed every time."""
    stratify = frame[TARGET] if task != "regression" else None
    train, validation = train_test_split(
        frame, test_size=VALIDATION_SHARE, random_state=SEED, stratify=stratify
    )
    return Table(
        name, task, train.reset_index(drop=True), validation.reset_index(drop=True), tuple(categories)
    )


# -- the tables -------------------------------------------------------------------------------------------


def breast_cancer() -> Table:
    return split("breast_cancer", "binary", datasets.load_breast_cancer(as_frame=True).frame)


def wine() -> Table:
    return split("wine", "multiclass", datasets.load_wine(as_frame=True).frame)


def diabetes() -> Table:
    return split("diabetes", "regression", datasets.load_diabetes(as_frame=True).frame)


def _bands(values: pd.Series, names: Sequence[str]) -> pd.Series:
    """A numeric column as text bands of equal row counts, e.g. low/mid/high."""
    return pd.qcut(values, len(names), labels=list(names)).astype(object)


def _with_gaps(frame: pd.DataFrame, columns: Sequence[str], share: float, seed: int) -> pd.DataFrame:
    """`share` of each named column's values made missing, at random rows."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for column in columns:
        gaps = rng.random(len(frame)) < share
        frame[column] = frame[column].astype(object).where(~gaps, None)
    return frame


def breast_cancer_with_text() -> Table:
    """Breast cancer with four numeric columns as text bands (some missing, pandas categories), labels as
    the diagnosis names."""
    data = datasets.load_breast_cancer(as_frame=True)
    source = data.frame
    frame = source.drop(
        columns=["mean radius", "mean texture", "worst concave points", "mean smoothness", TARGET]
    )
    frame.insert(0, "size", _bands(source["mean radius"], ["small", "medium", "large"]))
    frame.insert(1, "texture", _bands(source["mean texture"], ["smooth", "fine", "coarse", "rough"]))
    frame["concavity colour"] = _bands(
        source["worst concave points"], ["white", "yellow", "orange", "red", "purple"]
    )
    frame["smoothness"] = _bands(source["mean smoothness"], ["low", "mid", "high"])
    frame = _with_gaps(frame, ["size", "texture", "concavity colour", "smoothness"], 0.05, SEED)
    for column in ("size", "texture", "concavity colour", "smoothness"):
        frame[column] = frame[column].astype("category")  # Parquet: dictionary-encoded text
    frame[TARGET] = [str(data.target_names[code]) for code in source[TARGET]]
    return split("breast_cancer_text", "binary", frame, ("size", "texture", "concavity colour", "smoothness"))


WINE_CULTIVARS = ("Barolo", "Grignolino", "Barbera")


def wine_with_text() -> Table:
    """Wine with two columns as text bands (some missing) and the cultivars' names as labels, all in pandas'
    `str` dtype (which Parquet stores as large_string)."""
    source = datasets.load_wine(as_frame=True).frame
    frame = source.drop(columns=["alcohol", "hue", TARGET])
    frame.insert(0, "alcohol level", _bands(source["alcohol"], ["low", "mid", "high"]))
    frame["hue band"] = _bands(source["hue"], ["pale", "amber", "ruby", "deep"])
    frame = _with_gaps(frame, ["alcohol level", "hue band"], 0.05, SEED + 1)
    for column in ("alcohol level", "hue band"):
        frame[column] = frame[column].astype("str")  # pandas 3's text dtype; Parquet: large_string
    frame[TARGET] = pd.Series([WINE_CULTIVARS[code] for code in source[TARGET]], dtype="str")
    return split("wine_text", "multiclass", frame, ("alcohol level", "hue band"))


TABLES: dict[str, Callable[[], Table]] = {
    "breast_cancer": breast_cancer,
    "wine": wine,
    "diabetes": diabetes,
    "breast_cancer_text": breast_cancer_with_text,
    "wine_text": wine_with_text,
}


# -- scoring ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    metric: str
    value: float
    higher_is_better: bool
    rows: int = 0


def scores_of(table: Table, labels: Sequence[Any], outputs: np.ndarray) -> list[Score]:
    """The task's metrics on the validation rows from predicted labels and outputs.

    outputs: P(classes[1]) per row (binary), per-class probabilities in `table.classes` order (multiclass),
    or predicted values (regression).
    """
    truth = table.validation[TARGET].to_numpy()
    if table.task == "binary":
        positive = table.classes[1]
        return [Score("auc", float(roc_auc_score(truth == positive, outputs)), True)]
    if table.task == "multiclass":
        return [
            Score(
                "accuracy",
                float(np.mean([a == b for a, b in zip(truth, labels, strict=True)])),
                True,
                len(truth),
            ),
            Score("log_loss", float(log_loss(truth, outputs, labels=table.classes)), False),
        ]
    return [
        Score("r2", float(r2_score(truth, outputs)), True),
        Score("rmse", float(math.sqrt(mean_squared_error(truth, outputs))), False),
    ]


def baseline_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The features as the baseline reads them: text columns as pandas categories of the train values."""
    features = table.features(frame).copy()
    for column in table.categories:
        known = sorted(table.train[column].dropna().unique().tolist())
        features[column] = pd.Categorical(features[column], categories=known)
    return features


def baseline_scores(table: Table) -> list[Score]:
    """A default LGBMClassifier/LGBMRegressor on the same train rows, scored on the same validation rows.

    verbose=-1 only silences LightGBM's log; every modelling setting is the library's default.
    """
    train_x, validation_x = baseline_frame(table, table.train), baseline_frame(table, table.validation)
    train_y = table.train[TARGET]
    if table.task == "regression":
        regressor = lgb.LGBMRegressor(verbose=-1).fit(train_x, train_y)
        return scores_of(table, [], np.asarray(regressor.predict(validation_x)))
    classifier = lgb.LGBMClassifier(verbose=-1).fit(train_x, train_y)
    probabilities = np.asarray(classifier.predict_proba(validation_x))
    order = [list(classifier.classes_).index(value) for value in table.classes]
    probabilities = probabilities[:, order]
    labels = [table.classes[position] for position in probabilities.argmax(axis=1)]
    outputs = probabilities[:, 1] if table.task == "binary" else probabilities
    return scores_of(table, labels, outputs)


def served_scores(table: Table, predictions: Sequence[Mapping[str, Any]]) -> list[Score]:
    """Scores of the served answers (`{"predictions": [...]}` records), read the way a client reads them."""
    assert len(predictions) == len(table.validation)
    if table.task == "regression":
        return scores_of(table, [], np.array([answer["prediction"] for answer in predictions]))
    labels = [answer["label"] for answer in predictions]
    if table.task == "binary":
        return scores_of(table, labels, np.array([answer["probability"] for answer in predictions]))
    keys = [str(value) for value in table.classes]
    probabilities = np.array([[answer["probabilities"][key] for key in keys] for answer in predictions])
    return scores_of(table, labels, probabilities)


def falls_short(served: Score, baseline: Score) -> bool:
    """True when `served` is worse than the baseline by more than the tolerance."""
    allowed = TOLERANCE * abs(baseline.value) if served.metric == "rmse" else TOLERANCE
    if served.metric == "accuracy":
        allowed = max(allowed, ACCURACY_ROWS / served.rows)
    if served.higher_is_better:
        return served.value < baseline.value - allowed
    return served.value > baseline.value + allowed


def compare(table: Table, served: Sequence[Score], baseline: Sequence[Score]) -> list[str]:
    """One line per metric (served vs baseline), each marked when the served figure falls short."""
    lines = []
    for mine, theirs in zip(served, baseline, strict=True):
        assert mine.metric == theirs.metric
        verdict = "FALLS SHORT" if falls_short(mine, theirs) else "ok"
        lines.append(
            f"{table.name} {mine.metric}: recipe {mine.value:.4f}, baseline {theirs.value:.4f} ({verdict})"
        )
    return lines


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON objects, missing values as null."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records
