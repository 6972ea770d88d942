"""What the host side reads from the image's contract: the objective's JSON path and direction per task, the
processing folders, and the drift summary line."""

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
