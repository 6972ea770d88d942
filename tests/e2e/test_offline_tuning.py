"""Tuning cannot run in SageMaker local mode: create the tuning job against moto_server's SageMaker API."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import settings, train_job, tune
from deploy.offline import OfflineServices

pytestmark = pytest.mark.e2e


@pytest.fixture
def aws_on_moto(
    monkeypatch: pytest.MonkeyPatch, scratch_home: Path, offline_services: OfflineServices
) -> None:
    """Real mode (a plain sagemaker.Session), every AWS call sent to moto_server with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", offline_services.s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", settings.DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", settings.DUMMY_SECRET_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in settings.CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("aws_on_moto")
def test_the_tuner_creates_a_job_with_the_objective_and_ranges() -> None:
    layout = settings.S3Layout(bucket="titanic-byoc-tuning")
    with settings.open_target(local=False, region="us-east-1", sdk_telemetry=False) as target:
        options = train_job.TrainingOptions(
            image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/titanic-byoc:latest",
            role="arn:aws:iam::123456789012:role/titanic-byoc-sagemaker-execution",
            layout=layout,
            instance_type=settings.DEFAULT_INSTANCE_TYPE,
            hyperparameters={"cv_folds": "0"},
        )
        tuner = tune.build_tuner(train_job.build_estimator(target, options), max_jobs=6, max_parallel_jobs=2)

        job_name = tune.start_tuning(tuner, layout, wait=False)

        described = target.client("sagemaker").describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name
        )
    assert job_name.startswith(settings.BASE_JOB_NAME)
    config = described["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    ranges = config["ParameterRanges"]
    continuous = {entry["Name"]: entry for entry in ranges["ContinuousParameterRanges"]}
    integer = {entry["Name"]: entry for entry in ranges["IntegerParameterRanges"]}
    assert set(continuous) == {"learning_rate", "subsample", "colsample_bytree", "reg_lambda"}
    assert set(integer) == {"num_leaves", "max_depth", "min_child_samples", "n_estimators"}
    assert continuous["learning_rate"] == {
        "Name": "learning_rate",
        "MinValue": "0.01",
        "MaxValue": "0.2",
        "ScalingType": "Logarithmic",
    }
    assert (integer["n_estimators"]["MinValue"], integer["n_estimators"]["MaxValue"]) == ("100", "800")
    definition = described["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == options.image_uri
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == list(train_job.METRIC_DEFINITIONS)
    assert definition["StaticHyperParameters"]["cv_folds"] == "0"
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert [channel["ChannelName"] for channel in definition["InputDataConfig"]] == ["train", "validation"]
    assert definition["OutputDataConfig"]["S3OutputPath"] == layout.output
