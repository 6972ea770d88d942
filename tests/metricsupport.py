"""scikit-learn's value of each metric `train` reports (lightsage.tasks), the reference the metric tests hold
ours to (importable as `metricsupport`: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import numpy as np

from lightsage.tasks import Task


def scikit_learn_metrics(task: Task, codes: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """Each of the task's metrics by scikit-learn; None where it has no value (AUC of one class)."""
    from sklearn import metrics

    if task is Task.REGRESSION:
        return {
            "rmse": metrics.root_mean_squared_error(codes, scores),
            "mae": metrics.mean_absolute_error(codes, scores),
            "r2": metrics.r2_score(codes, scores),
        }
    labels = (scores >= 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
    classes = 2 if scores.ndim == 1 else scores.shape[1]
    found: dict[str, float | None] = {
        "accuracy": metrics.accuracy_score(codes, labels),
        "log_loss": metrics.log_loss(codes, y_proba=scores, labels=list(range(classes))),
    }
    if task is Task.BINARY:
        found["f1"] = metrics.f1_score(codes, labels, zero_division=0)
        found["auc"] = metrics.roc_auc_score(codes, scores) if len(np.unique(codes)) == 2 else None
    else:
        found["macro_f1"] = metrics.f1_score(codes, labels, average="macro", zero_division=0)
    return found
