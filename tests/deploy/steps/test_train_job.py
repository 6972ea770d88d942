"""The training job: the real SDK Estimator's arguments (spot, checkpoints, instances, metrics) and the
request it sends, rendered as the `aws sagemaker create-training-job` command and checked against the API
model."""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.validate import validate_parameters

from lightsage.tasks import Task
from lightsage_deploy.aws.s3 import ModelArchive
from lightsage_deploy.cli import train as train_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import metrics
from lightsage_deploy.project import project
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.targets import target as settings

# Where the SDK (2.257.7) logs its telemetry notice: sagemaker/telemetry/telemetry_logging.py.
SDK_TELEMETRY_LOGGER = "sagemaker.telemetry.telemetry_logging"
VALID_ROLE = "arn:aws:iam::123456789012:role/titanic-byoc-sagemaker-execution"


def _options(the_project: project.Project, instance_type: str, **overrides: Any) -> train_job.TrainingOptions:
    values = {
        "project": the_project,
        "image_uri": "localhost:5000/titanic-byoc:latest",
        "role": VALID_ROLE,
        "layout": settings.S3Layout("my-bucket", the_project.prefix),
        "instance_type": instance_type,
        "hyperparameters": {**the_project.training_hyperparameters(), "num_leaves": "16"},
    }
    return train_job.TrainingOptions(**{**values, **overrides})


def test_the_real_estimator_uses_spot_checkpoints_and_the_project_names(
    offline_aws: None, example_project: project.Project
) -> None:
    with settings.open_target(local=False, sdk_telemetry=False) as target:
        options = _options(example_project, "ml.m5.large", instance_count=3)
        estimator = train_job.build_estimator(target, options, checkpoint_s3_uri="s3://my-bucket/x/")
        assert estimator.use_spot_instances is True
        assert (estimator.max_run, estimator.max_wait) == (3600, 7200)
        assert estimator.checkpoint_s3_uri == "s3://my-bucket/x/"
        assert estimator.instance_count == 3
        assert estimator.output_path == "s3://my-bucket/titanic-byoc/output/"
        assert estimator.base_job_name == "titanic-byoc"
        assert estimator.metric_definitions == metrics.metric_definitions(Task.BINARY)
        assert estimator.tags == [{"Key": "project", "Value": "titanic-byoc"}]
        assert estimator.hyperparameters() == {
            "recipe": "titanic",
            "target": "Survived",
            "num_leaves": "16",
            "task": "binary",  # the recipe's only task: what the metric definitions assume, sent
        }
        with pytest.raises(DeployError, match="--max-wait"):
            train_job.build_estimator(
                target, _options(example_project, "ml.m5.large", max_run=600, max_wait=300)
            )
        with pytest.raises(DeployError, match="--instance-count must be at least 1"):
            train_job.build_estimator(target, _options(example_project, "ml.m5.large", instance_count=0))


def test_checkpoints_go_under_the_prefix_one_folder_per_job(
    offline_aws: None, example_project: project.Project
) -> None:
    with settings.open_target(local=False, sdk_telemetry=False) as target:
        spot = _options(example_project, "ml.m5.large")
        assert (
            train_job.checkpoint_uri(target, spot, "job-1")
            == "s3://my-bucket/titanic-byoc/checkpoints/job-1/"
        )
        on_demand = _options(example_project, "ml.m5.large", use_spot=False)
        assert train_job.checkpoint_uri(target, on_demand, "job-1") is None
        opted_out = _options(example_project, "ml.m5.large", checkpoints=False)
        assert train_job.checkpoint_uri(target, opted_out, "job-1") is None


def test_the_local_estimator_drops_spot_and_checkpoints_and_keeps_the_instance_count(
    offline_aws: None, example_project: project.Project
) -> None:
    with settings.open_target(local=True) as target:
        options = _options(example_project, "local", instance_count=2)
        assert train_job.checkpoint_uri(target, options, "job") is None
        estimator = train_job.build_estimator(target, options, checkpoint_s3_uri="s3://b/ignored/")
        assert estimator.use_spot_instances is False
        assert estimator.max_wait is None
        assert estimator.checkpoint_s3_uri is None
        assert estimator.instance_type == "local"
        assert estimator.instance_count == 2


def dry_run_request(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Run `byoc train --dry-run`; return the printed command's words and its request."""
    assert train_command.main(["--dry-run", *argv]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[:4] == ["aws", "sagemaker", "create-training-job", "--cli-input-json"]
    assert len(words) == 5
    return words, json.loads(words[4])


def valid_request(operation: str, request: dict[str, Any]) -> None:
    """botocore's own check of a request against the SageMaker API model (raises when invalid)."""
    model = boto3.client("sagemaker", region_name="us-east-1").meta.service_model.operation_model(operation)
    validate_parameters(request, model.input_shape)


@pytest.mark.usefixtures("nothing_listens")
def test_the_dry_run_prints_the_aws_cli_command_of_the_sdks_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, request = dry_run_request(
        capsys, ["--bucket", "my-bucket", "--instance-count", "2", "--hyperparameter", "cv_folds=5"]
    )
    valid_request("CreateTrainingJob", request)
    job = request["TrainingJobName"]
    assert job.startswith("titanic-byoc-")
    assert request["CheckpointConfig"] == {"S3Uri": f"s3://my-bucket/titanic-byoc/checkpoints/{job}/"}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert request["HyperParameters"] == {
        "recipe": "titanic",
        "target": "Survived",
        "cv_folds": "5",
        "task": "binary",
    }
    specification = request["AlgorithmSpecification"]
    assert specification["MetricDefinitions"] == metrics.metric_definitions(Task.BINARY)
    assert (
        specification["TrainingImage"] == "000000000000.dkr.ecr.us-east-1.amazonaws.com/titanic-byoc:latest"
    )
    channels = {channel["ChannelName"]: channel for channel in request["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://my-bucket/titanic-byoc/train/"
    assert channels["validation"]["ContentType"] == "text/csv"
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://my-bucket/titanic-byoc/output/"
    assert request["RoleArn"] == "arn:aws:iam::000000000000:role/titanic-byoc-sagemaker-execution"
    assert request["Tags"] == [{"Key": "project", "Value": "titanic-byoc"}]


@pytest.mark.usefixtures("nothing_listens")
def test_without_spot_there_is_no_checkpoint_or_wait(capsys: pytest.CaptureFixture[str]) -> None:
    _, on_demand = dry_run_request(capsys, ["--bucket", "b", "--no-spot", "--role", VALID_ROLE])
    assert "CheckpointConfig" not in on_demand and "EnableManagedSpotTraining" not in on_demand
    assert on_demand["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert on_demand["RoleArn"] == VALID_ROLE
    _, opted_out = dry_run_request(capsys, ["--bucket", "b", "--no-checkpoints"])
    assert opted_out["EnableManagedSpotTraining"] is True and "CheckpointConfig" not in opted_out


@pytest.mark.usefixtures("nothing_listens")
def test_another_project_gets_its_own_names_and_every_task_metric_while_train_infers_the_task(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    project_file: Callable[..., Path],
) -> None:
    pd.DataFrame({"size": [1, 2, 3, 4, 5, 6], "kind": ["a", "b", "c", "a", "b", "c"]}).to_parquet(
        tmp_path / "shapes.parquet", index=False
    )
    monkeypatch.setenv(project.FILE_VARIABLE, str(project_file("shapes", "shapes.parquet", "kind")))
    _, request = dry_run_request(capsys, ["--bucket", "b"])
    valid_request("CreateTrainingJob", request)
    assert request["TrainingJobName"].startswith("shapes-")
    # `tabular` allows every task and none is set: `train` infers it from its train channel, so the job is
    # sent no task and gets the metric definitions of each task the recipe allows.
    assert request["HyperParameters"] == {"recipe": "tabular", "target": "kind"}
    definitions = request["AlgorithmSpecification"]["MetricDefinitions"]
    assert definitions == metrics.metric_definitions(Task.BINARY, Task.MULTICLASS, Task.REGRESSION)
    for task in Task:
        assert all(definition in definitions for definition in metrics.metric_definitions(task))
    assert request["InputDataConfig"][0]["ContentType"] == "application/x-parquet"
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://b/shapes/output/"
    assert request["Tags"] == [{"Key": "project", "Value": "shapes"}]
    _, regression = dry_run_request(capsys, ["--bucket", "b", "--task", "regression"])
    assert regression["HyperParameters"]["task"] == "regression"
    assert regression["AlgorithmSpecification"]["MetricDefinitions"] == metrics.metric_definitions(
        Task.REGRESSION
    )


@pytest.mark.usefixtures("nothing_listens", "houses_project")
@pytest.mark.parametrize("given", [[], ["--task", "regression"], ["--hyperparameter", "task=auto"]])
def test_a_one_task_recipe_sends_its_task_with_the_metrics_it_assumes(
    capsys: pytest.CaptureFixture[str], given: list[str]
) -> None:
    _, request = dry_run_request(capsys, ["--bucket", "b", *given])
    valid_request("CreateTrainingJob", request)
    assert request["HyperParameters"]["task"] == "regression"
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == metrics.metric_definitions(
        Task.REGRESSION
    )
    with pytest.raises(DeployError, match=r"task binary: recipe 'houses' handles regression targets only"):
        train_command.main(["--dry-run", "--bucket", "b", "--task", "binary"])


@pytest.mark.usefixtures("nothing_listens")
def test_a_warm_start_sends_the_earlier_model_as_the_model_channel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    earlier = "s3://my-bucket/titanic-byoc/output/titanic-byoc-1/output/model.tar.gz"
    _, request = dry_run_request(capsys, ["--bucket", "my-bucket", "--warm-start", earlier])
    valid_request("CreateTrainingJob", request)
    channels = {channel["ChannelName"]: channel for channel in request["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "model"}
    assert channels["model"]["DataSource"]["S3DataSource"]["S3Uri"] == earlier
    assert "ContentType" not in channels["model"]
    _, plain = dry_run_request(capsys, ["--bucket", "my-bucket"])
    assert [channel["ChannelName"] for channel in plain["InputDataConfig"]] == ["train", "validation"]


@pytest.mark.parametrize("value", ["model.tar.gz", "https://example.com/model.tar.gz", "s3://"])
def test_a_warm_start_that_is_not_an_s3_uri_is_refused_naming_it(value: str) -> None:
    with pytest.raises(DeployError, match=rf"--warm-start '{re.escape(value)}' is not an s3:// URI"):
        train_job.warm_start_uri(value)


def test_a_dry_run_is_for_aws_only(offline_aws: None) -> None:
    with pytest.raises(DeployError, match="leave out --local"):
        train_command.main(["--dry-run", "--local"])


def test_the_summary_reports_the_spot_saving() -> None:
    summary = train_job.summarize(
        {
            "TrainingJobName": "titanic-byoc-1",
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {
                "S3ModelArtifacts": "s3://b/titanic-byoc/output/titanic-byoc-1/output/model.tar.gz"
            },
            "TrainingTimeInSeconds": 100,
            "BillableTimeInSeconds": 35,
            "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.86, "Timestamp": 0}],
        }
    )
    assert summary.spot_saving == pytest.approx(0.65)
    assert summary.final_metrics == {"validation:auc": 0.86}
    lines = train_job.format_summary(summary, None)
    assert "billable:   35 s of 100 s trained" in lines
    assert "spot saved: 65%" in lines


def test_a_local_job_has_no_billing_to_report() -> None:
    summary = train_job.summarize(
        {"TrainingJobName": "j", "TrainingJobStatus": "Completed", "ModelArtifacts": {}}
    )
    assert summary.spot_saving is None
    assert summary.model_data is None
    assert not any(line.startswith(("billable", "spot")) for line in train_job.format_summary(summary, None))


def test_the_scores_shown_are_the_tasks() -> None:
    summary = train_job.summarize({"TrainingJobName": "j", "TrainingJobStatus": "Completed"})
    validation = {"rmse": 1.5, "mae": 1.0, "r2": -0.125, "rows": 40}
    archive = ModelArchive("s3://b/m.tar.gz", (), {}, {"task": "regression", "validation": validation})
    assert "validation: rmse 1.5000, mae 1.0000, r2 -0.1250 (regression, 40 rows, from metrics.json)" in (
        train_job.format_summary(summary, archive)
    )


@pytest.mark.usefixtures("nothing_listens")
def test_the_telemetry_notice_is_left_out_where_telemetry_is_off(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK logs its notice from Estimator.fit before it reads the opt-out: a dry run (and --local) opt
    out, so the notice would be false there."""
    with caplog.at_level(logging.INFO):
        dry_run_request(capsys, ["--bucket", "b"])
    sdk_records = [record for record in caplog.records if record.name.startswith("sagemaker")]
    assert sdk_records, "the SDK logged nothing at INFO: this test no longer sees its log"
    assert not [record for record in caplog.records if record.name == SDK_TELEMETRY_LOGGER]
    assert logging.getLogger(SDK_TELEMETRY_LOGGER).level == logging.NOTSET  # put back afterwards
