"""Tasks: inference from the target, classes in their original values, metrics and their printed form."""

import re

import numpy as np
import pytest

from byoc.tasks import (
    METRICS,
    OBJECTIVE_METRIC,
    TargetError,
    TargetProfile,
    Task,
    class_values,
    class_weights,
    evaluate,
    infer_task,
    metric_line,
    metric_regex,
)


def profile(counts: dict, numeric: bool, missing: int = 0) -> TargetProfile:
    return TargetProfile(counts=counts, numeric=numeric, missing=missing, rows=sum(counts.values()) + missing)


@pytest.mark.parametrize(
    ("counts", "numeric", "task"),
    [
        ({0: 5, 1: 5}, True, Task.BINARY),
        ({"yes": 3, "no": 4}, False, Task.BINARY),
        ({0: 3, 1: 3, 2: 3}, True, Task.MULTICLASS),
        ({"Adelie": 3, "Gentoo": 2, "Chinstrap": 1}, False, Task.MULTICLASS),
        ({float(i) / 10: 1 for i in range(30)}, True, Task.REGRESSION),
        ({i: 1 for i in range(25)}, True, Task.REGRESSION),
        ({0.5: 2, 1.5: 2, 2.5: 2}, True, Task.REGRESSION),
    ],
)
def test_task_is_inferred_from_the_target(counts: dict, numeric: bool, task: Task) -> None:
    assert infer_task(profile(counts, numeric), "y") is task


def test_overrides_are_checked_against_the_target() -> None:
    assert infer_task(profile({0: 3, 1: 3, 2: 3}, True), "y", "regression") is Task.REGRESSION
    assert infer_task(profile({0: 3, 1: 3}, True), "y", "multiclass") is Task.MULTICLASS
    with pytest.raises(TargetError, match="task=binary needs exactly two classes, but 'y' has 3"):
        infer_task(profile({0: 3, 1: 3, 2: 3}, True), "y", "binary")
    with pytest.raises(TargetError, match="task=regression needs a numeric target"):
        infer_task(profile({"a": 1, "b": 1}, False), "y", "regression")


@pytest.mark.parametrize(
    ("counts", "numeric", "missing", "fragment"),
    [
        ({1: 10}, True, 0, "has one class only (1 in all 10 labelled rows)"),
        ({}, False, 7, "has no values: every one of its 7 rows is empty"),
        ({f"c{i}": 1 for i in range(101)}, False, 0, "too many classes"),
    ],
)
def test_unusable_targets_fail_with_a_named_reason(
    counts: dict, numeric: bool, missing: int, fragment: str
) -> None:
    with pytest.raises(TargetError) as caught:
        infer_task(profile(counts, numeric, missing), "label")
    assert "'label'" in str(caught.value) and fragment in str(caught.value)


def test_classes_keep_their_values_in_sorted_order() -> None:
    assert class_values(profile({1: 1, 0: 1}, True), Task.BINARY) == [0, 1]
    assert class_values(profile({"no": 1, "yes": 1}, False), Task.BINARY) == ["no", "yes"]
    assert class_values(profile({2.0: 1, 10.0: 1, 1.0: 1}, True), Task.MULTICLASS) == [1, 2, 10]
    assert class_values(profile({1.5: 1, 2.5: 1}, True), Task.REGRESSION) == []


def test_metric_lines_have_no_tabs_and_the_regex_reads_them_back_even_when_negative() -> None:
    line = metric_line("validation", "r2", -0.123456789)
    assert line == "validation:r2=-0.123457;" and "\t" not in line
    assert float(re.search(metric_regex("validation", "r2"), line).group(1)) == -0.123457


def test_every_task_has_its_metrics_and_an_objective_among_them() -> None:
    assert [m.name for m in METRICS[Task.BINARY]] == ["auc", "accuracy", "f1", "log_loss"]
    assert [m.name for m in METRICS[Task.MULTICLASS]] == ["accuracy", "macro_f1", "log_loss"]
    assert [m.name for m in METRICS[Task.REGRESSION]] == ["rmse", "mae", "r2"]
    for task, name in OBJECTIVE_METRIC.items():
        assert name in {m.name for m in METRICS[task]}


def test_evaluate_scores_each_task() -> None:
    binary = evaluate(Task.BINARY, np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.3]))
    assert binary["auc"] == 1.0 and binary["accuracy"] == 0.75 and binary["rows"] == 4
    multiclass = evaluate(Task.MULTICLASS, np.array([0, 2]), np.array([[0.8, 0.1, 0.1], [0.2, 0.2, 0.6]]))
    assert multiclass["accuracy"] == 1.0
    regression = evaluate(Task.REGRESSION, np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert regression["mae"] == pytest.approx(1 / 3) and regression["rmse"] == pytest.approx((1 / 3) ** 0.5)
    assert evaluate(Task.BINARY, np.array([1, 1]), np.array([0.6, 0.7]))["auc"] is None


def test_balanced_class_weights_match_scikit_learn() -> None:
    from sklearn.utils.class_weight import compute_sample_weight

    codes = np.array([0, 0, 0, 1, 2, 2])
    assert np.allclose(class_weights(codes, 3), compute_sample_weight("balanced", codes))
