"""`byoc pipeline`'s definition, built by the real SDK with nothing sent: the steps, the gate of each task's
objective in the direction it improves, the FailStep's message, the registration, and where the evaluation
goes; the local run's results read the same from local mode's and SageMaker's answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lightsage.evaluation import contract
from lightsage.tasks import Task
from lightsage_deploy.cli import pipeline as pipeline_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs.gate import gate_for
from lightsage_deploy.project import project
from lightsage_deploy.steps import pipeline, registry
from lightsage_deploy.steps.train import TrainingOptions
from lightsage_deploy.targets import target as settings

IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/p:latest"
ROLE = "arn:aws:iam::000000000000:role/p-sagemaker-execution"
LAYOUT = settings.S3Layout("my-bucket", "p")


def options_for(the_project: project.Project, task: Task, threshold: float) -> pipeline.PipelineOptions:
    training = TrainingOptions(
        project=the_project,
        image_uri=IMAGE,
        role=ROLE,
        layout=LAYOUT,
        instance_type="ml.m5.large",
        hyperparameters={**the_project.training_hyperparameters(), "task": task.value},
    )
    return pipeline.PipelineOptions(training, gate_for(task, threshold), "ml.m5.large")


@pytest.fixture
def planned(
    nothing_listens: None, project_file: Callable[..., Path]
) -> Callable[[Task, float], pipeline.PipelinePlan]:
    def plan(task: Task, threshold: float) -> pipeline.PipelinePlan:
        the_project = project.load(project_file("p", "d.csv", "y"), environ={})
        # As `byoc pipeline --dry-run` opens it: the SDK's telemetry (a request to AWS) off.
        with settings.open_target(local=False, region="us-east-1", sdk_telemetry=False) as target:
            return pipeline.plan(target, options_for(the_project, task, threshold))

    return plan


def steps_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            found.update({inner["Name"]: inner for inner in step.get("Arguments", {}).get(branch, [])})
    return found


@pytest.mark.parametrize(
    ("task", "threshold", "comparison"),
    [
        (Task.BINARY, 0.8, "GreaterThanOrEqualTo"),
        (Task.MULTICLASS, 0.6, "LessThanOrEqualTo"),
        (Task.REGRESSION, 2.5, "LessThanOrEqualTo"),
    ],
)
def test_the_gate_compares_the_tasks_objective_in_the_direction_it_improves(
    planned: Callable[[Task, float], pipeline.PipelinePlan], task: Task, threshold: float, comparison: str
) -> None:
    definition = planned(task, threshold).definition
    steps = steps_of(definition)
    assert list(steps) == ["Train", "Evaluate", "ObjectiveGate", "Register-RegisterModel", "GateFailed"]
    (condition,) = steps["ObjectiveGate"]["Arguments"]["Conditions"]
    assert condition["Type"] == comparison
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == contract.objective_json_path(task)
    assert condition["RightValue"] == {"Get": "Parameters.ObjectiveThreshold"}
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    assert parameters["ObjectiveThreshold"] == {
        "Name": "ObjectiveThreshold",
        "Type": "Float",
        "DefaultValue": threshold,
    }
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == registry.PENDING


def test_the_fail_step_gives_the_metric_and_the_threshold(
    planned: Callable[[Task, float], pipeline.PipelinePlan],
) -> None:
    message = steps_of(planned(Task.BINARY, 0.8).definition)["GateFailed"]["Arguments"]["ErrorMessage"][
        "Std:Join"
    ]
    first, metric, middle, threshold = message["Values"]
    assert first == "quality gate failed: auc"
    assert metric["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert middle.endswith("a model is registered when auc >=")
    assert threshold == {"Get": "Parameters.ObjectiveThreshold"}


def test_the_evaluation_job_reads_and_writes_the_contracts_folders(
    planned: Callable[[Task, float], pipeline.PipelinePlan],
) -> None:
    evaluate = steps_of(planned(Task.BINARY, 0.8).definition)["Evaluate"]["Arguments"]
    assert evaluate["AppSpecification"]["ContainerEntrypoint"] == [contract.EVALUATE_ENTRY]
    # evaluate refuses a model of another task than the one whose metric the gate reads
    assert evaluate["AppSpecification"]["ContainerArguments"] == ["--task", "binary"]
    inputs = {entry["InputName"]: entry["S3Input"] for entry in evaluate["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["model"]["LocalPath"] == contract.MODEL_INPUT
    assert (inputs["data"]["S3Uri"], inputs["data"]["LocalPath"]) == (LAYOUT.validation, contract.DATA_INPUT)
    assert (inputs["baseline"]["S3Uri"], inputs["baseline"]["LocalPath"]) == (
        LAYOUT.train,
        contract.BASELINE_INPUT,
    )
    (output,) = evaluate["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["LocalPath"] == contract.EVALUATION_OUTPUT
    # One folder per execution, inside the project's prefix (where the execution role may write).
    assert output["S3Output"]["S3Uri"]["Std:Join"]["Values"] == [
        LAYOUT.uri("evaluation").rstrip("/"),
        {"Get": "Execution.PipelineExecutionId"},
    ]


def test_the_register_step_registers_pending_with_metrics_and_media_types(
    planned: Callable[[Task, float], pipeline.PipelinePlan],
) -> None:
    arguments = steps_of(planned(Task.BINARY, 0.8).definition)["Register-RegisterModel"]["Arguments"]
    assert arguments["ModelPackageGroupName"] == "p"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    metrics = arguments["ModelMetrics"]
    assert (
        metrics["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][-1] == contract.EVALUATION_FILE
    )
    assert metrics["ModelDataQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][-2:] == [
        "baseline",
        "statistics.json",
    ]
    assert metrics["ModelDataQuality"]["Constraints"]["S3Uri"]["Std:Join"]["Values"][-2:] == [
        "baseline",
        "constraints.json",
    ]
    specification = arguments["InferenceSpecification"]
    assert specification["Containers"][0]["Image"] == IMAGE
    assert specification["Containers"][0]["ModelDataUrl"] == {
        "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"
    }
    assert specification["SupportedContentTypes"] == list(registry.CONTENT_TYPES)
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == list(registry.INFERENCE_INSTANCE_TYPES)
    assert specification["SupportedTransformInstanceTypes"] == list(registry.TRANSFORM_INSTANCE_TYPES)
    assert arguments["CustomerMetadataProperties"] == {"task": "binary", "objective_metric": "auc"}


def test_the_training_step_sends_the_task_the_gate_assumes(
    planned: Callable[[Task, float], pipeline.PipelinePlan],
) -> None:
    train = steps_of(planned(Task.REGRESSION, 1.0).definition)["Train"]["Arguments"]
    assert train["HyperParameters"]["task"] == "regression"
    assert train["OutputDataConfig"]["S3OutputPath"] == LAYOUT.output


def test_the_aws_cli_creates_the_group_and_the_pipeline_and_starts_it(
    planned: Callable[[Task, float], pipeline.PipelinePlan],
) -> None:
    commands = planned(Task.BINARY, 0.8).commands
    assert commands[0].startswith("aws sagemaker create-model-package-group --cli-input-json ")
    assert commands[1].startswith(
        "aws sagemaker create-pipeline --pipeline-name p --pipeline-definition file://p-pipeline.json"
    )
    assert commands[2] == (
        "aws sagemaker start-pipeline-execution --pipeline-name p"
        " --pipeline-parameters Name=ObjectiveThreshold,Value=0.8"
    )


@pytest.mark.parametrize(
    ("arguments", "extra", "message"),
    [
        (
            ["--threshold", "1.5"],
            "",
            r"--threshold 1.5 cannot be reached: the binary objective auc is at most 1",
        ),
        (["--threshold", "high"], "", "--threshold must be a number, not 'high'"),
        ([], "", "no quality gate threshold: set threshold in the project file's \\[lifecycle\\] table"),
        ([], "\n[lifecycle]\nthreshold = 2\n", r"\[lifecycle\] threshold 2 cannot be reached"),
    ],
)
def test_a_threshold_that_cannot_gate_is_refused_before_anything_runs(
    nothing_listens: None,
    project_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    extra: str,
    message: str,
) -> None:
    path = project_file("p", "d.csv", "y", extra='\n[training.hyperparameters]\ntask = "binary"\n' + extra)
    monkeypatch.setenv(project.FILE_VARIABLE, str(path))
    with pytest.raises(DeployError, match=message):
        pipeline_command.main(["--bucket", "my-bucket", "--dry-run", *arguments])
    assert capsys.readouterr().out == ""


def test_local_and_sagemaker_step_listings_read_the_same(example_project: project.Project) -> None:
    gate = gate_for(Task.BINARY, 0.8)
    local = {
        "PipelineExecutionSteps": [
            {
                "StepName": "ObjectiveGate",
                "StepStatus": "Succeeded",
                "StartTime": 3.0,
                "Metadata": {"Condition": {"Outcome": False}},
            },
            {
                "StepName": "Train",
                "StepStatus": "Succeeded",
                "StartTime": 1.0,
                "Metadata": {"TrainingJob": {"Arn": "Train-1"}},
            },
            {
                "StepName": "GateFailed",
                "StepStatus": "Failed",
                "StartTime": 4.0,
                "Metadata": {"Fail": {"ErrorMessage": "auc 0.7 is low"}},
            },
        ]
    }
    on_aws = [
        {**step, "StartTime": datetime.fromtimestamp(step["StartTime"], UTC)}
        | ({"Metadata": {"Condition": {"Outcome": "False"}}} if step["StepName"] == "ObjectiveGate" else {})
        for step in local["PipelineExecutionSteps"]
    ]
    for listed in (local, on_aws):
        run = pipeline.summarise("p", "Failed", pipeline.normalised_steps(listed), gate, {})
        assert [step.name for step in run.steps] == ["Train", "ObjectiveGate", "GateFailed"]
        assert (run.gate_passed, run.failure) == (False, "auc 0.7 is low")
        assert "registered: nothing (the quality gate failed)" in run.lines()
