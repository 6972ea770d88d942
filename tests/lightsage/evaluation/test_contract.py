"""What the host side reads from the image's contract: the objective's JSON path and direction per task, the
processing folders, and the drift summary line. (The names and values of i21-deploy's contract, kept so the
host side builds its jobs from the same constants.)"""

import pytest

from lightsage.evaluation import contract
from lightsage.tasks import OBJECTIVE_METRIC, Task


@pytest.mark.parametrize(
    ("task", "path", "direction"),
    [
        (Task.BINARY, "binary_classification_metrics.auc.value", "Maximize"),
        (Task.MULTICLASS, "multiclass_classification_metrics.log_loss.value", "Minimize"),
        (Task.REGRESSION, "regression_metrics.rmse.value", "Minimize"),
    ],
)
def test_the_objective_is_the_tuner_s_metric_at_its_json_path(task: Task, path: str, direction: str) -> None:
    goal = contract.objective(task)
    assert (goal.metric, goal.json_path, goal.direction) == (OBJECTIVE_METRIC[task], path, direction)
    assert goal.passes_at_or_above == (direction == "Maximize")


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


def test_every_folder_is_under_opt_ml_processing() -> None:
    slots = {
        *contract.EVALUATE_INPUTS,
        *contract.EVALUATE_OUTPUTS,
        *contract.DRIFT_INPUTS,
        *contract.DRIFT_OUTPUTS,
    }
    assert all(slot.local_path == f"/opt/ml/processing/{slot.name}" for slot in slots)
    assert [slot.name for slot in contract.EVALUATE_INPUTS if slot.required] == ["model", "data"]
    assert [slot.name for slot in contract.DRIFT_INPUTS if slot.required] == ["model", "traffic"]


def test_the_plain_folder_paths_are_the_slots_folders() -> None:
    assert contract.MODEL_INPUT == "/opt/ml/processing/model"
    assert contract.DATA_INPUT == "/opt/ml/processing/data"
    assert contract.BASELINE_INPUT == "/opt/ml/processing/baseline" == contract.GIVEN_BASELINE.local_path
    assert contract.EVALUATION_OUTPUT == "/opt/ml/processing/evaluation"
    assert contract.TRAFFIC_INPUT == "/opt/ml/processing/traffic"
    assert contract.DRIFT_OUTPUT == "/opt/ml/processing/drift"
    assert (contract.REPORT_FOLDER, contract.REPORT_FILE) == ("report", "report/index.html")


@pytest.mark.parametrize(
    ("violations", "features", "line"),
    [
        (0, [], "drift: 0 violation(s) in 0 feature(s)"),
        (3, ["Age", "Fare"], "drift: 3 violation(s) in 2 feature(s): Age, Fare"),
    ],
)
def test_the_drift_summary_line_reads_back(violations: int, features: list[str], line: str) -> None:
    assert contract.drift_summary(violations, features) == line
    assert contract.parse_drift_summary(line) == (violations, features)
    assert contract.parse_drift_summary("[drift] wrote statistics.json") is None


def test_the_drift_summary_line_is_recognised_with_and_without_names() -> None:
    named = contract.DRIFT_SUMMARY.search("drift: 2 violation(s) in 2 feature(s): Age, Fare")
    assert named and named.groups() == ("2", "2", "Age, Fare")
    none = contract.DRIFT_SUMMARY.search("drift: 0 violation(s) in 0 feature(s)")
    assert none and none.groups() == ("0", "0", None)
    assert contract.DRIFT_SUMMARY.search("drift: some violations") is None
    prefixed = contract.DRIFT_SUMMARY.search("abc-algo-1-xyz  | drift: 1 violation(s) in 1 feature(s): Sex")
    assert prefixed and prefixed.groups() == ("1", "1", "Sex")
