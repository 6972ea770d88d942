"""The evaluation contract: where each task's objective metric stands in evaluation.json, for every task."""

import pytest

from lightsage.evaluation import contract
from lightsage.tasks import OBJECTIVE_METRIC, Task


@pytest.mark.parametrize("task", list(Task))
def test_the_objective_path_names_the_tasks_model_quality_section_and_metric(task: Task) -> None:
    section, metric, value = contract.objective_json_path(task).split(".")
    assert section == contract.METRICS_SECTION[task]
    assert section.endswith("_metrics")
    assert (metric, value) == (OBJECTIVE_METRIC[task], "value")


@pytest.mark.parametrize("task", list(Task))
def test_a_document_in_model_monitors_shape_is_read_at_the_objective_path(task: Task) -> None:
    document = {
        contract.METRICS_SECTION[task]: {OBJECTIVE_METRIC[task]: {"value": 0.42, "standard_deviation": 0}}
    }
    assert contract.read_json_path(document, contract.objective_json_path(task)) == 0.42


def test_every_task_has_its_own_section() -> None:
    assert sorted(contract.METRICS_SECTION) == sorted(Task)
    assert len(set(contract.METRICS_SECTION.values())) == len(Task)


@pytest.mark.parametrize(
    "document",
    [{}, {"regression_metrics": {}}, {"regression_metrics": {"rmse": 1.0}}, {"regression_metrics": []}, []],
)
def test_a_missing_or_misshapen_path_reads_as_none(document: object) -> None:
    assert contract.read_json_path(document, contract.objective_json_path(Task.REGRESSION)) is None


def test_the_drift_summary_line_is_recognised_with_and_without_names() -> None:
    named = contract.DRIFT_SUMMARY.search("drift: 2 violation(s) in 2 feature(s): Age, Fare")
    assert named and named.groups() == ("2", "2", "Age, Fare")
    none = contract.DRIFT_SUMMARY.search("drift: 0 violation(s) in 0 feature(s)")
    assert none and none.groups() == ("0", "0", None)
    assert contract.DRIFT_SUMMARY.search("drift: some violations") is None
