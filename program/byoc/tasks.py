"""Tasks: binary, multiclass or regression. Inferred from the target, each with its LightGBM objective and
metrics. Metric names, directions and the tuner's objective are defined here once; `train`'s metric lines,
`metrics.json`, `deploy`'s metric definitions and the tuner all read them from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

MAX_CLASSES = 100
MAX_INTEGER_CLASSES = 20
Direction = Literal["Maximize", "Minimize"]
ClassValue = int | float | str


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class TargetError(ValueError):
    """The target column cannot be learnt from; the message says why."""


@dataclass(frozen=True)
class Metric:
    name: str
    direction: Direction
    compute: Callable[[np.ndarray, np.ndarray], float]


def _sklearn() -> Any:
    """scikit-learn's metrics, imported on first use: `serve` never scores, and starts faster without them."""
    import sklearn.metrics

    return sklearn.metrics


def _labels_of(scores: np.ndarray) -> np.ndarray:
    return (scores >= 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)


def _auc(codes: np.ndarray, scores: np.ndarray) -> float:
    return float(_sklearn().roc_auc_score(codes, scores)) if len(np.unique(codes)) == 2 else math.nan


def _log_loss(codes: np.ndarray, scores: np.ndarray) -> float:
    classes = 2 if scores.ndim == 1 else scores.shape[1]
    return float(_sklearn().log_loss(codes, scores, labels=list(range(classes))))


METRICS: dict[Task, tuple[Metric, ...]] = {
    Task.BINARY: (
        Metric("auc", "Maximize", _auc),
        Metric("accuracy", "Maximize", lambda y, p: float(_sklearn().accuracy_score(y, _labels_of(p)))),
        Metric("f1", "Maximize", lambda y, p: float(_sklearn().f1_score(y, _labels_of(p), zero_division=0))),
        Metric("log_loss", "Minimize", _log_loss),
    ),
    Task.MULTICLASS: (
        Metric("accuracy", "Maximize", lambda y, p: float(_sklearn().accuracy_score(y, _labels_of(p)))),
        Metric(
            "macro_f1",
            "Maximize",
            lambda y, p: float(_sklearn().f1_score(y, _labels_of(p), average="macro", zero_division=0)),
        ),
        Metric("log_loss", "Minimize", _log_loss),
    ),
    Task.REGRESSION: (
        Metric("rmse", "Minimize", lambda y, p: float(math.sqrt(_sklearn().mean_squared_error(y, p)))),
        Metric("mae", "Minimize", lambda y, p: float(_sklearn().mean_absolute_error(y, p))),
        Metric("r2", "Maximize", lambda y, p: float(_sklearn().r2_score(y, p)) if len(y) > 1 else math.nan),
    ),
}
# The metric a tuning job optimises and early stopping watches, per task.
OBJECTIVE_METRIC: dict[Task, str] = {Task.BINARY: "auc", Task.MULTICLASS: "log_loss", Task.REGRESSION: "rmse"}
# LightGBM's objective and its name for the objective metric.
LIGHTGBM_OBJECTIVE: dict[Task, str] = {
    Task.BINARY: "binary",
    Task.MULTICLASS: "multiclass",
    Task.REGRESSION: "regression",
}
LIGHTGBM_METRIC: dict[Task, str] = {
    Task.BINARY: "auc",
    Task.MULTICLASS: "multi_logloss",
    Task.REGRESSION: "rmse",
}
METRIC_SPLITS = ("train", "validation")
CV_PREFIX = "cv"


def metric(task: Task, name: str) -> Metric:
    return next(candidate for candidate in METRICS[task] if candidate.name == name)


def objective(task: Task) -> Metric:
    return metric(task, OBJECTIVE_METRIC[task])


def all_metric_names() -> tuple[str, ...]:
    """Every metric name of every task, each once, in a stable order."""
    return tuple(dict.fromkeys(entry.name for metrics in METRICS.values() for entry in metrics))


def metric_line(split: str, name: str, value: float) -> str:
    """One metric per line, no tabs, in the form a SageMaker metric_definitions regex reads."""
    return f"{split}:{name}={value:.6f};"


def metric_regex(split: str, name: str) -> str:
    """The regex SageMaker reads `metric_line(split, name, value)` with (values may be negative, e.g. r2)."""
    return f"{split}:{name}=(-?[0-9]+(?:\\.[0-9]+)?);"


def evaluate(task: Task, codes: np.ndarray, scores: np.ndarray) -> dict[str, float | int | None]:
    """Every metric of the task; `codes` are class codes (or values), `scores` the model's raw output."""
    values: dict[str, float | int | None] = {}
    for entry in METRICS[task]:
        value = entry.compute(codes, scores)
        values[entry.name] = None if math.isnan(value) else value
    values["rows"] = len(codes)
    return values


@dataclass(frozen=True)
class TargetProfile:
    """What the target column holds: its distinct values with counts, whether all are numbers."""

    counts: Mapping[ClassValue, int]
    numeric: bool
    missing: int
    rows: int


def _is_integer(value: ClassValue) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _describe(values: Sequence[ClassValue], limit: int = 5) -> str:
    shown = ", ".join(repr(value) for value in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def infer_task(profile: TargetProfile, target: str, requested: str = "auto") -> Task:
    """binary for two values; multiclass for a few strings or integers; regression for other numbers."""
    present = profile.rows - profile.missing
    if present == 0:
        raise TargetError(
            f"target column '{target}' has no values: every one of its {profile.rows} rows is empty"
        )
    distinct = sorted(profile.counts, key=_sort_key)
    count = len(distinct)
    if requested == "regression":
        if not profile.numeric:
            text = [value for value in distinct if isinstance(value, str)]
            raise TargetError(
                f"task=regression needs a numeric target, but '{target}' holds text such as {_describe(text)}"
            )
        if count < 2:
            raise TargetError(
                f"target column '{target}' has one value only ({distinct[0]!r}): nothing to learn"
            )
        return Task.REGRESSION
    if count < 2:
        raise TargetError(
            f"target column '{target}' has one class only ({distinct[0]!r} in all {present} labelled rows): "
            "a model needs at least two classes to learn from"
        )
    if requested == "binary":
        if count != 2:
            raise TargetError(
                f"task=binary needs exactly two classes, but '{target}' has {count}: {_describe(distinct)}"
            )
        return Task.BINARY
    if requested == "multiclass":
        if count > MAX_CLASSES:
            raise TargetError(
                f"target column '{target}' has {count} classes; at most {MAX_CLASSES} are supported"
            )
        return Task.MULTICLASS
    if count == 2:
        return Task.BINARY
    if profile.numeric and not (
        all(_is_integer(value) for value in distinct) and count <= MAX_INTEGER_CLASSES
    ):
        return Task.REGRESSION
    if count > MAX_CLASSES:
        raise TargetError(
            f"target column '{target}' holds {count} distinct text values, too many classes "
            f"(at most {MAX_CLASSES}): "
            f"is '{target}' the right column? ({_describe(distinct)})"
        )
    return Task.MULTICLASS


def _sort_key(value: ClassValue) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def class_values(profile: TargetProfile, task: Task) -> list[ClassValue]:
    """The classes in sorted order (empty for regression); integers stay integers."""
    if task is Task.REGRESSION:
        return []
    values = sorted(profile.counts, key=_sort_key)
    return [int(value) if isinstance(value, float) and value.is_integer() else value for value in values]


def class_weights(codes: np.ndarray, classes: int, counts: np.ndarray | None = None) -> np.ndarray:
    """Per-row weights n / (classes * count of the row's class), as scikit-learn's class_weight='balanced'.

    `counts` are the class counts of all training rows when `codes` are only some of them (one host's).
    """
    if counts is None:
        counts = np.bincount(codes.astype(int), minlength=classes)
    totals = np.asarray(counts, dtype=float)
    weights = totals.sum() / (classes * np.maximum(totals, 1.0))
    return weights[codes.astype(int)]
