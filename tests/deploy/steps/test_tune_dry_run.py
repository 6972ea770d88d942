"""The tuning job request, built offline: the recipe's ranges, the task's objective, nothing sent."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.validate import validate_parameters

from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.recipes.base import resolve
from lightsage.tasks import Task
from lightsage_deploy.aws import dry_run
from lightsage_deploy.cli import tune as tune_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters, metrics
from lightsage_deploy.project import project
from lightsage_deploy.steps import tune


def tuning_request(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[dict[str, Any], str]:
    """The request `byoc tune --dry-run` prints, checked against the API model; and what went to stderr."""
    assert tune_command.main(["--dry-run", *argv]) == 0
    printed = capsys.readouterr()
    words = shlex.split(printed.out)
    assert words[:4] == ["aws", "sagemaker", "create-hyper-parameter-tuning-job", "--cli-input-json"]
    request = json.loads(words[4])
    model = boto3.client("sagemaker", region_name="us-east-1").meta.service_model
    validate_parameters(request, model.operation_model("CreateHyperParameterTuningJob").input_shape)
    return request, printed.err


def ranges_of(request: dict[str, Any]) -> dict[str, dict[str, str]]:
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    return {
        entry["Name"]: entry
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges")
        for entry in ranges[kind]
    }


def test_every_range_is_a_value_the_image_accepts_at_both_ends() -> None:
    values = {"recipe": "titanic", "target": "Survived"}
    ranges = tune.hyperparameter_ranges(values)
    assert set(ranges) == set(hyperparameters.tuning_ranges(values))
    for name, parameter in ranges.items():
        for end in (parameter.min_value, parameter.max_value):
            try:
                resolve({**values, name: str(end)})
            except HyperparameterError as error:
                pytest.fail(f"the tuner could send {name}={end}, which train refuses: {error}")


@pytest.mark.usefixtures("nothing_listens")
def test_the_dry_run_prints_the_request_and_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    request, _ = tuning_request(
        capsys, ["--bucket", "my-bucket", "--max-jobs", "8", "--hyperparameter", "num_leaves=16"]
    )
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "validation:auc", "Type": "Maximize"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2}
    named = ranges_of(request)
    expected = hyperparameters.tuning_ranges({"recipe": "titanic", "target": "Survived", "num_leaves": "16"})
    assert set(named) == set(expected) and "num_leaves" not in named
    assert named["learning_rate"]["ScalingType"] == "Logarithmic"
    assert request["HyperParameterTuningJobName"].startswith("titanic-byoc")
    definition = request["TrainingJobDefinition"]
    assert definition["RoleArn"] == dry_run.placeholder_role("titanic-byoc-sagemaker-execution")
    assert definition["StaticHyperParameters"] == {
        "recipe": "titanic",
        "target": "Survived",
        "num_leaves": "16",
        "task": "binary",  # the recipe's only task, sent to every trial
    }
    assert definition["EnableManagedSpotTraining"] is True
    assert "CheckpointConfig" not in definition  # trials would share one folder
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == metrics.metric_definitions(
        Task.BINARY
    )
    assert definition["AlgorithmSpecification"]["TrainingImage"].endswith("/titanic-byoc:latest")


@pytest.mark.usefixtures("nothing_listens")
@pytest.mark.parametrize(
    ("task", "objective"),
    [
        ("multiclass", {"MetricName": "validation:log_loss", "Type": "Minimize"}),
        ("regression", {"MetricName": "validation:rmse", "Type": "Minimize"}),
    ],
)
def test_the_objective_and_metrics_follow_the_task(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    project_file: Callable[..., Path],
    task: str,
    objective: dict[str, str],
) -> None:
    labels = {"multiclass": ["a", "b", "c"] * 4, "regression": [0.5, -1.25, 3.0] * 4}[task]
    pd.DataFrame({"x": range(12), "y": labels}).to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.setenv(project.FILE_VARIABLE, str(project_file("other-project", "data.csv", "y")))
    request, printed = tuning_request(capsys, ["--bucket", "b"])
    assert request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == objective
    assert f"task: {task} (inferred from data.csv" in printed
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"]["task"] == task  # the objective's task, sent to every trial
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == metrics.metric_definitions(Task(task))
    assert request["HyperParameterTuningJobName"].startswith("other-project")
    assert set(ranges_of(request)) == set(hyperparameters.tuning_ranges({"recipe": "tabular", "target": "y"}))


def test_the_parallel_limit_is_checked(offline_aws: None, example_project: project.Project) -> None:
    options: Any = type("Options", (), {"hyperparameters": {"recipe": "titanic"}, "project": example_project})
    with pytest.raises(DeployError, match="--max-parallel-jobs"):
        tune.build_tuner(object(), options, max_jobs=2, max_parallel_jobs=3)  # type: ignore[arg-type]
