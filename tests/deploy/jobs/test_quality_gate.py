"""The quality gate: each task's objective metric against a threshold it can reach, in the right direction."""

from __future__ import annotations

import math

import pytest

from lightsage.evaluation.contract import objective_json_path
from lightsage.tasks import METRICS, OBJECTIVE_METRIC, Task
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs.gate import METRIC_RANGES, gate_for, parse_threshold


def test_every_metric_of_every_task_has_a_range() -> None:
    assert {entry.name for metrics in METRICS.values() for entry in metrics} <= set(METRIC_RANGES)


@pytest.mark.parametrize("task", list(Task))
def test_the_gate_reads_the_objective_where_evaluate_writes_it(task: Task) -> None:
    gate = gate_for(task, 0.5)
    assert gate.metric == OBJECTIVE_METRIC[task]
    assert gate.json_path == objective_json_path(task)


@pytest.mark.parametrize(
    ("task", "threshold", "passing", "failing"),
    [
        (Task.BINARY, 0.8, 0.8, 0.79),  # auc: at least the threshold
        (Task.MULTICLASS, 0.5, 0.5, 0.51),  # log_loss: at most the threshold
        (Task.REGRESSION, 2.0, 1.5, 2.5),  # rmse: at most the threshold
    ],
)
def test_a_metric_to_maximise_passes_at_or_above_one_to_minimise_at_or_below(
    task: Task, threshold: float, passing: float, failing: float
) -> None:
    gate = gate_for(task, threshold)
    assert gate.passes(passing) and not gate.passes(failing)
    assert str(gate) == f"{gate.metric} {'>=' if task is Task.BINARY else '<='} {threshold:g}"


@pytest.mark.parametrize(
    ("task", "threshold", "bound"),
    [
        (Task.BINARY, 1.01, "at most 1"),
        (Task.BINARY, 80, "at most 1"),
        (Task.MULTICLASS, -0.1, "at least 0"),
        (Task.REGRESSION, -1, "at least 0"),
    ],
)
def test_a_threshold_the_metric_cannot_reach_is_refused_naming_the_metric_and_its_range(
    task: Task, threshold: float, bound: str
) -> None:
    with pytest.raises(
        DeployError,
        match=rf"threshold {threshold:g} cannot be reached: .*{OBJECTIVE_METRIC[task]} is {bound}",
    ):
        gate_for(task, threshold, "the threshold")


@pytest.mark.parametrize("task", list(Task))
def test_the_ends_of_a_metrics_range_are_reachable(task: Task) -> None:
    low, high = METRIC_RANGES[OBJECTIVE_METRIC[task]]
    for end in (low, high):
        if math.isfinite(end):
            assert gate_for(task, end).threshold == end


@pytest.mark.parametrize("value", ["0.8", True, None, math.nan, math.inf, [0.8]])
def test_a_threshold_that_is_not_a_finite_number_is_refused(value: object) -> None:
    with pytest.raises(DeployError, match=r"\[lifecycle\] threshold must be a finite number, not"):
        gate_for(Task.BINARY, value, "[lifecycle] threshold")


@pytest.mark.parametrize("text", ["high", "", "nan", "inf", "0.8.1"])
def test_threshold_option_text_that_is_not_a_finite_number_is_refused(text: str) -> None:
    with pytest.raises(DeployError, match=r"--threshold must be a (finite )?number, not"):
        parse_threshold(text)


def test_threshold_option_text_is_read_as_a_number() -> None:
    assert parse_threshold("0.85") == 0.85
    assert parse_threshold("1") == 1.0
