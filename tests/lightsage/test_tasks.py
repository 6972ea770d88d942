"""Tasks: inference from the target, classes in their original values, metrics and their printed form."""

import re

import numpy as np
import pytest
from metricsupport import scikit_learn_metrics

from lightsage.tasks import (
    METRICS,
    OBJECTIVE_METRIC,
    TargetError,
    TargetProfile,
    Task,
    TaskChoice,
    choose_task,
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


EDUCATION_YEARS = {years: 10 + years for years in range(1, 17)}  # 16 distinct integers, a typical amount


@pytest.mark.parametrize(
    ("counts", "numeric", "task", "rule", "override"),
    [
        (
            {0: 5, 1: 5},
            True,
            Task.BINARY,
            "target 'y' holds two distinct values (0, 1)",
            "set task=regression",
        ),
        ({"no": 5, "yes": 5}, False, Task.BINARY, "two distinct values ('no', 'yes')", "set task=multiclass"),
        (
            EDUCATION_YEARS,
            True,
            Task.MULTICLASS,
            "target 'y' holds 16 distinct integers (1, 2, 3, 4, 5, ...); "
            "at most 20 distinct integers are read as classes",
            "if they are amounts (counts, years, scores), set task=regression",
        ),
        (
            {i: 1 for i in range(25)},
            True,
            Task.REGRESSION,
            "target 'y' holds more than 20 distinct integers (25 distinct values)",
            "if they are class codes, set task=multiclass",
        ),
        (
            {0.5: 2, 1.5: 2, 2.5: 2},
            True,
            Task.REGRESSION,
            "target 'y' holds numbers, not all integers (3 distinct values)",
            "if they are class codes, set task=multiclass",
        ),
        (
            {"a": 1, "b": 1, "c": 1},
            False,
            Task.MULTICLASS,
            "target 'y' holds text: 3 classes ('a', 'b', 'c')",
            "",
        ),
    ],
)
def test_the_inferred_task_names_its_rule_and_how_to_override_it(
    counts: dict, numeric: bool, task: Task, rule: str, override: str
) -> None:
    choice = choose_task(profile(counts, numeric), "y")
    assert choice.task is task
    assert rule in choice.rule and override in choice.override
    assert str(choice) == f"task {task} ({choice.rule}" + (
        f"; {choice.override})" if choice.override else ")"
    )


def test_the_recipes_only_task_is_applied_when_task_is_auto() -> None:
    only_regression = (Task.REGRESSION,)
    # integers that task=auto reads as classes: a regression-only recipe makes them a regression target
    assert choose_task(profile(EDUCATION_YEARS, True), "y").task is Task.MULTICLASS
    chosen = choose_task(profile(EDUCATION_YEARS, True), "y", "auto", only_regression, "houses")
    assert chosen == TaskChoice(Task.REGRESSION, "recipe 'houses' handles regression targets only")
    # the deploy side asks before reading any data: the same task
    assert choose_task(None, "y", "auto", only_regression, "houses") == chosen
    assert choose_task(None, "y", "multiclass").task is Task.MULTICLASS
    # the only task is still checked against the target
    with pytest.raises(
        TargetError, match=r"recipe 'titanic' \(binary targets only\) needs exactly two classes"
    ):
        choose_task(profile({1: 3, 2: 3, 3: 3}, True), "Pclass", "auto", (Task.BINARY,), "titanic")
    with pytest.raises(
        TargetError, match=r"recipe 'houses' \(regression targets only\) needs a numeric target"
    ):
        choose_task(profile({"a": 3, "b": 3}, False), "y", "auto", only_regression, "houses")


def test_a_task_the_recipe_does_not_handle_is_named() -> None:
    with pytest.raises(TargetError, match=r"task regression: recipe 'titanic' handles binary targets only"):
        choose_task(None, "y", "regression", (Task.BINARY,), "titanic")
    with pytest.raises(
        TargetError,
        match=r"recipe 'r' handles binary, regression targets; 'y' is multiclass \(target 'y' holds text: 3 ",
    ):
        choose_task(
            profile({"a": 1, "b": 1, "c": 1}, False), "y", "auto", (Task.BINARY, Task.REGRESSION), "r"
        )
    with pytest.raises(
        TargetError, match="the task is inferred from the values of target 'y', and none were read"
    ):
        choose_task(None, "y")


NOT_NUMBERS = "1 value that is not a number: 'unknown' (channel 'train', file 'a.csv', row 17)"


def test_numbers_with_a_few_non_numbers_are_named_unless_a_class_task_is_set() -> None:
    mixed = TargetProfile(
        counts={"1": 40, "2": 40, "unknown": 1}, numeric=False, missing=0, rows=81, not_numbers=NOT_NUMBERS
    )
    for requested in ("auto", "binary"):
        with pytest.raises(TargetError) as caught:
            choose_task(mixed, "y", requested)
        assert str(caught.value).startswith(f"target column 'y' holds numbers and {NOT_NUMBERS}. Make each a")
        assert "if the values are class names, set task=multiclass" in str(caught.value)
    with pytest.raises(
        TargetError, match=re.escape(f"task=regression needs a numeric target, but 'y' holds {NOT_NUMBERS}")
    ):
        choose_task(mixed, "y", "regression")
    assert choose_task(mixed, "y", "multiclass").task is Task.MULTICLASS


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


def _cases(rng: np.random.Generator) -> list[tuple[Task, np.ndarray, np.ndarray]]:
    cases = []
    for rows in (2, 3, 17, 500):
        codes = rng.integers(0, 2, rows).astype(float)
        rounded = np.round(rng.random(rows), 1)  # many tied scores
        cases += [(Task.BINARY, codes, rounded), (Task.BINARY, codes, rng.random(rows))]
        cases.append((Task.BINARY, np.ones(rows), rounded))  # one class only: no AUC
        cases.append((Task.BINARY, np.zeros(rows), rounded * 0.4))  # no positive, none predicted: f1 0
        cases.append((Task.BINARY, codes, codes.copy()))  # perfect, probabilities 0 and 1 (clipped)
        probabilities = rng.dirichlet(np.ones(4), rows)
        cases.append((Task.MULTICLASS, rng.integers(0, 4, rows).astype(float), probabilities))
        cases.append((Task.MULTICLASS, np.zeros(rows), probabilities))  # one true class, others predicted
        values = rng.normal(100.0, 20.0, rows)
        cases += [(Task.REGRESSION, values, values + rng.normal(0.0, 5.0, rows))]
        cases += [(Task.REGRESSION, np.full(rows, 3.0), np.full(rows, 3.0))]  # constant and exact: r2 1
        cases += [(Task.REGRESSION, np.full(rows, 3.0), np.linspace(2.0, 4.0, rows))]  # constant: r2 0
    return cases


def test_every_metric_equals_scikit_learns() -> None:
    for task, codes, scores in _cases(np.random.default_rng(7)):
        ours = evaluate(task, codes, scores)
        for name, expected in scikit_learn_metrics(task, codes, scores).items():
            assert ours[name] == (
                None if expected is None else pytest.approx(expected, rel=1e-9, abs=1e-12)
            ), (
                task,
                name,
                len(codes),
            )


def test_balanced_class_weights_match_scikit_learn() -> None:
    from sklearn.utils.class_weight import compute_sample_weight

    codes = np.array([0, 0, 0, 1, 2, 2])
    assert np.allclose(class_weights(codes, 3), compute_sample_weight("balanced", codes))
