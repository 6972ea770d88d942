"""Tuning cannot run in SageMaker local mode: create the tuning job against moto_server's SageMaker API."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightsage.tasks import Task
from lightsage_deploy.jobs import hyperparameters, metrics
from lightsage_deploy.project import project
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps import tune
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.offline import OfflineServices

from testsupport import EXAMPLE_PROJECT_FILE

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
    the_project = project.load(EXAMPLE_PROJECT_FILE, environ={})
    layout = settings.S3Layout("titanic-byoc-tuning", the_project.prefix)
    values = hyperparameters.for_job(the_project, assignments=["num_leaves=16"])
    with settings.open_target(local=False, region="us-east-1", sdk_telemetry=False) as target:
        options = train_job.TrainingOptions(
            project=the_project,
            image_uri=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{the_project.repository}:latest",
            role=f"arn:aws:iam::123456789012:role/{the_project.role_name}",
            layout=layout,
            instance_type=settings.DEFAULT_INSTANCE_TYPE,
            hyperparameters=values,
        )
        estimator = train_job.build_estimator(target, options)
        tuner = tune.build_tuner(estimator, options, max_jobs=6, max_parallel_jobs=2)

        job_name = tune.start_tuning(tuner, options)

        described = target.client("sagemaker").describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name
        )
    assert job_name.startswith(the_project.base_job_name)
    config = described["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    ranges = config["ParameterRanges"]
    continuous = {entry["Name"]: entry for entry in ranges["ContinuousParameterRanges"]}
    integer = {entry["Name"]: entry for entry in ranges["IntegerParameterRanges"]}
    declared = hyperparameters.tuning_ranges(values)
    assert set(continuous) == {name for name, spec in declared.items() if spec.kind is float}
    assert set(integer) == {name for name, spec in declared.items() if spec.kind is int}
    assert "num_leaves" not in integer  # set, so fixed
    for name, entry in {**continuous, **integer}.items():
        tuning = declared[name].tuning
        assert tuning is not None
        assert (float(entry["MinValue"]), float(entry["MaxValue"])) == (tuning.low, tuning.high)
        assert entry["ScalingType"] == tuning.scaling
    definition = described["TrainingJobDefinition"]
    specification = definition["AlgorithmSpecification"]
    assert specification["TrainingImage"] == options.image_uri
    assert specification["MetricDefinitions"] == metrics.metric_definitions(Task.BINARY)
    assert definition["StaticHyperParameters"]["num_leaves"] == "16"
    assert definition["StaticHyperParameters"]["recipe"] == the_project.recipe
    assert definition["StaticHyperParameters"]["task"] == "binary"  # the recipe's only task, sent
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert [channel["ChannelName"] for channel in definition["InputDataConfig"]] == ["train", "validation"]
    assert definition["OutputDataConfig"]["S3OutputPath"] == layout.output
