"""A model's quality on labelled rows, in the shape of SageMaker Model Monitor's model-quality statistics:
`{"version": 0.0, "dataset": {"item_count": n}, "binary_classification_metrics": {"auc": {"value": ...,
"standard_deviation": ...}, ...}}` (multiclass_classification_metrics, regression_metrics for the other
tasks). A pipeline's JsonGet reads a value there, and `ModelMetrics(model_statistics=...)` points at the file.

As Model Monitor documents: the confusion matrix is keyed by the actual class, then the predicted one; a
metric's standard deviation is that of the metric over 5 random draws of 80 % of the rows, given from 200
rows on and "NaN" below; a "best constant classifier" always answers the most frequent actual class. The
metrics the image's training reports (`lightsage.tasks.METRICS`: log_loss, macro_f1, ...) are added beside
them, so the task's objective metric (`lightsage.evaluation.contract.objective`) is always there. Classes
are predicted at P >= 0.5 (binary) or by the highest probability, as `serve` labels its answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as sk

from lightsage import tasks
from lightsage.contract.monitoring import FORMAT_VERSION, QUALITY_METRICS_KEY
from lightsage.errors import UserError
from lightsage.tasks import OBJECTIVE_METRIC, ClassValue, Task

DEVIATION_MIN_ROWS = 200
DEVIATION_DRAWS = 5
DEVIATION_SHARE = 0.8
DEVIATION_SEED = 0
NOT_A_NUMBER = "NaN"
# Points kept of each curve (evenly by threshold): enough for a chart, small enough for a JSON file.
CURVE_POINTS = 200
DIGITS = 6


class EvaluationError(UserError, ValueError):
    """The labelled rows cannot give the task's objective metric (one class only, too few rows)."""


@dataclass(frozen=True)
class Scored:
    """Labelled rows and the model's output: `actual` class codes (or values), `scores` P(positive class),
    per-class probabilities, or predicted values."""

    task: Task
    classes: tuple[ClassValue, ...]
    actual: np.ndarray
    scores: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        if self.task is Task.BINARY:
            return (self.scores >= 0.5).astype(int)
        if self.task is Task.MULTICLASS:
            return self.scores.argmax(axis=1)
        return self.scores

    def subset(self, rows: np.ndarray) -> Scored:
        return Scored(self.task, self.classes, self.actual[rows], self.scores[rows])


Metric = Callable[[Scored], float]


def _fbeta(beta: float, average: str = "binary") -> Metric:
    return lambda s: float(
        sk.fbeta_score(s.actual, s.predicted, beta=beta, average=average, zero_division=0.0)
    )


def _constant(score: Metric) -> Metric:
    """The metric of a classifier that always answers the most frequent actual class."""

    def constant(s: Scored) -> float:
        counts = np.bincount(s.actual.astype(int), minlength=len(s.classes))
        majority = int(counts.argmax())
        if s.task is Task.BINARY:
            scores = np.full(len(s.actual), float(majority))
        else:
            scores = np.zeros((len(s.actual), len(s.classes)))
            scores[:, majority] = 1.0
        return score(Scored(s.task, s.classes, s.actual, scores))

    return constant


def _rate(numerator: tuple[int, int], denominator: tuple[tuple[int, int], ...]) -> Metric:
    """A rate of the binary confusion matrix, cells given as (actual, predicted)."""

    def rate(s: Scored) -> float:
        matrix = sk.confusion_matrix(s.actual, s.predicted, labels=[0, 1])
        total = sum(matrix[cell] for cell in denominator)
        return float(matrix[numerator] / total) if total else math.nan

    return rate


def _au_prc(s: Scored) -> float:
    return float(sk.average_precision_score(s.actual, s.scores)) if s.actual.any() else math.nan


def _task_metric(task: Task, name: str) -> Metric:
    """A metric `train` reports too, computed the same way (lightsage.tasks)."""
    compute = tasks.metric(task, name).compute
    return lambda s: compute(s.actual, s.scores)


_BINARY_BASE: dict[str, Metric] = {
    "recall": lambda s: float(sk.recall_score(s.actual, s.predicted, zero_division=0.0)),
    "precision": lambda s: float(sk.precision_score(s.actual, s.predicted, zero_division=0.0)),
    "accuracy": _task_metric(Task.BINARY, "accuracy"),
    "f0_5": _fbeta(0.5),
    "f1": _task_metric(Task.BINARY, "f1"),
    "f2": _fbeta(2.0),
}
BINARY: dict[str, Metric] = {
    **_BINARY_BASE,
    **{f"{name}_best_constant_classifier": _constant(metric) for name, metric in _BINARY_BASE.items()},
    "true_positive_rate": _rate((1, 1), ((1, 1), (1, 0))),
    "true_negative_rate": _rate((0, 0), ((0, 0), (0, 1))),
    "false_positive_rate": _rate((0, 1), ((0, 0), (0, 1))),
    "false_negative_rate": _rate((1, 0), ((1, 1), (1, 0))),
    "auc": _task_metric(Task.BINARY, "auc"),
    "au_prc": _au_prc,
    "log_loss": _task_metric(Task.BINARY, "log_loss"),
}
_MULTICLASS_BASE: dict[str, Metric] = {
    "accuracy": _task_metric(Task.MULTICLASS, "accuracy"),
    "weighted_recall": lambda s: float(
        sk.recall_score(s.actual, s.predicted, average="weighted", zero_division=0.0)
    ),
    "weighted_precision": lambda s: float(
        sk.precision_score(s.actual, s.predicted, average="weighted", zero_division=0.0)
    ),
    "weighted_f0_5": _fbeta(0.5, "weighted"),
    "weighted_f1": _fbeta(1.0, "weighted"),
    "weighted_f2": _fbeta(2.0, "weighted"),
}
MULTICLASS: dict[str, Metric] = {
    **_MULTICLASS_BASE,
    **{f"{name}_best_constant_classifier": _constant(metric) for name, metric in _MULTICLASS_BASE.items()},
    "macro_f1": _task_metric(Task.MULTICLASS, "macro_f1"),
    "log_loss": _task_metric(Task.MULTICLASS, "log_loss"),
}
REGRESSION: dict[str, Metric] = {
    "mae": _task_metric(Task.REGRESSION, "mae"),
    "mse": lambda s: float(np.mean((s.actual - s.scores) ** 2)),
    "rmse": _task_metric(Task.REGRESSION, "rmse"),
    "r2": _task_metric(Task.REGRESSION, "r2"),
}
TASK_METRICS: dict[Task, dict[str, Metric]] = {
    Task.BINARY: BINARY,
    Task.MULTICLASS: MULTICLASS,
    Task.REGRESSION: REGRESSION,
}


def _value(value: float) -> float | str:
    return NOT_A_NUMBER if math.isnan(value) else round(value, DIGITS)


def _draws(rows: int) -> list[np.ndarray]:
    generator = np.random.default_rng(DEVIATION_SEED)
    size = int(rows * DEVIATION_SHARE)
    return [np.sort(generator.choice(rows, size=size, replace=False)) for _ in range(DEVIATION_DRAWS)]


def _with_deviation(metric: Metric, scored: Scored, draws: Sequence[np.ndarray]) -> dict[str, float | str]:
    value = metric(scored)
    deviation = math.nan
    if draws:
        values = [metric(scored.subset(rows)) for rows in draws]
        if not any(math.isnan(v) for v in values):
            deviation = float(np.std(values))
    return {"value": _value(value), "standard_deviation": _value(deviation)}


def _thinned(*columns: np.ndarray) -> list[list[float]]:
    """At most CURVE_POINTS points of a curve, the first and last kept."""
    count = len(columns[0])
    keep = np.unique(np.linspace(0, count - 1, min(count, CURVE_POINTS)).round().astype(int))
    return [[round(float(value), DIGITS) for value in column[keep]] for column in columns]


def _confusion(scored: Scored) -> dict[str, dict[str, int]]:
    labels = list(range(len(scored.classes)))
    matrix = sk.confusion_matrix(scored.actual.astype(int), scored.predicted.astype(int), labels=labels)
    names = [str(value) for value in scored.classes]
    return {
        names[actual]: {names[predicted]: int(matrix[actual, predicted]) for predicted in labels}
        for actual in labels
    }


def curves(scored: Scored) -> dict[str, Any]:
    """The binary model's ROC and precision-recall curves, thinned."""
    false_positive, true_positive, _ = sk.roc_curve(scored.actual, scored.scores)
    precision, recall, _ = sk.precision_recall_curve(scored.actual, scored.scores)
    roc = _thinned(false_positive, true_positive)
    pr = _thinned(precision[::-1], recall[::-1])
    return {
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": roc[0],
            "true_positive_rates": roc[1],
        },
        "precision_recall_curve": {"precisions": pr[0], "recalls": pr[1]},
    }


def check_objective(scored: Scored) -> None:
    """EvaluationError when the rows cannot give the task's objective metric."""
    name = OBJECTIVE_METRIC[scored.task]
    if len(scored.actual) == 0:
        raise EvaluationError("the labelled data has no rows with a label to evaluate on")
    if scored.task is Task.BINARY and len(np.unique(scored.actual)) < 2:
        only = scored.classes[int(scored.actual[0])]
        raise EvaluationError(
            f"every labelled row is of class {only!r}: {name} needs rows of both classes "
            f"({', '.join(map(repr, scored.classes))})"
        )


def quality_statistics(scored: Scored) -> dict[str, Any]:
    """Model Monitor's model-quality statistics of the scored rows (see the module's docstring)."""
    check_objective(scored)
    draws = _draws(len(scored.actual)) if len(scored.actual) >= DEVIATION_MIN_ROWS else []
    values: dict[str, Any] = {}
    if scored.task is not Task.REGRESSION:
        values["confusion_matrix"] = _confusion(scored)
    for name, metric in TASK_METRICS[scored.task].items():
        values[name] = _with_deviation(metric, scored, draws)
    if scored.task is Task.BINARY:
        values.update(curves(scored))
    return {
        "version": FORMAT_VERSION,
        "dataset": {"item_count": len(scored.actual)},
        QUALITY_METRICS_KEY[scored.task]: values,
    }
