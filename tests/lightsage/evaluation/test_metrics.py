"""The model-quality statistics' metrics that `train` reports too come from lightsage.tasks; every value
equals scikit-learn's, as Model Monitor's own statistics would give it."""

from __future__ import annotations

import numpy as np
import pytest
from metricsupport import scikit_learn_metrics
from sklearn import metrics as sk

from lightsage.contract.monitoring import QUALITY_METRICS_KEY
from lightsage.evaluation.metrics import DIGITS, Scored, quality_statistics
from lightsage.tasks import Task

ROWS = 300


def _scored(task: Task) -> Scored:
    generator = np.random.default_rng(7)
    if task is Task.BINARY:
        actual = generator.integers(0, 2, ROWS)
        scores = np.round(np.clip(actual * 0.3 + generator.random(ROWS) * 0.7, 0, 1), 2)  # tied scores
        return Scored(task, (0, 1), actual, scores)
    if task is Task.MULTICLASS:
        actual = generator.integers(0, 3, ROWS)
        raw = generator.random((ROWS, 3)) + np.eye(3)[actual] * 0.5
        return Scored(task, ("a", "b", "c"), actual, raw / raw.sum(axis=1, keepdims=True))
    actual = generator.normal(10, 3, ROWS)
    return Scored(task, (), actual, actual + generator.normal(0, 1, ROWS))


@pytest.mark.parametrize("task", list(Task), ids=lambda task: task.value)
def test_the_metrics_train_reports_too_equal_scikit_learns(task: Task) -> None:
    scored = _scored(task)
    values = quality_statistics(scored)[QUALITY_METRICS_KEY[task]]
    expected = scikit_learn_metrics(task, scored.actual, scored.scores)
    if task is Task.REGRESSION:
        expected["mse"] = sk.mean_squared_error(scored.actual, scored.scores)
    for name, value in expected.items():
        assert value is not None
        assert values[name]["value"] == pytest.approx(round(float(value), DIGITS), abs=2 * 10**-DIGITS), name


def test_the_best_constant_classifier_answers_the_most_frequent_class() -> None:
    scored = _scored(Task.BINARY)
    majority = int(np.bincount(scored.actual).argmax())
    constant = np.full(ROWS, majority)
    values = quality_statistics(scored)[QUALITY_METRICS_KEY[Task.BINARY]]
    assert values["accuracy_best_constant_classifier"]["value"] == round(
        sk.accuracy_score(scored.actual, constant), DIGITS
    )
    assert values["f1_best_constant_classifier"]["value"] == round(
        sk.f1_score(scored.actual, constant, zero_division=0.0), DIGITS
    )
