"""The tuning job request, built offline: the ranges, the objective, and a dry run that sends nothing."""

from __future__ import annotations

import json

import pytest

from byoc.hyperparameters import SPECS_BY_NAME, parse_hyperparameters
from deploy import settings, tune
from deploy.errors import DeployError


def test_every_range_is_a_hyperparameter_the_image_accepts_at_both_ends() -> None:
    ranges = tune.hyperparameter_ranges()
    assert set(ranges) <= set(SPECS_BY_NAME)
    for name, parameter in ranges.items():
        parse_hyperparameters({name: str(parameter.min_value)})
        parse_hyperparameters({name: str(parameter.max_value)})


def test_the_parallel_limit_is_checked(offline_aws: None) -> None:
    with pytest.raises(DeployError, match="--max-parallel-jobs"):
        tune.build_tuner(object(), max_jobs=2, max_parallel_jobs=3)  # type: ignore[arg-type]


def test_the_dry_run_prints_the_request_and_sends_nothing(
    offline_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An endpoint nothing listens on: a request that did go out would fail the run.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    argv = ["--dry-run", "--bucket", "my-bucket", "--max-jobs", "8", "--hyperparameter", "cv_folds=0"]

    assert tune.main(argv) == 0

    request = json.loads(capsys.readouterr().out)
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "validation:auc", "Type": "Maximize"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2}
    named = {
        entry["Name"]: entry
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges")
        for entry in config["ParameterRanges"][kind]
    }
    assert set(named) == set(tune.hyperparameter_ranges())
    assert named["learning_rate"]["ScalingType"] == "Logarithmic"
    assert request["HyperParameterTuningJobName"].startswith(settings.BASE_JOB_NAME)
    definition = request["TrainingJobDefinition"]
    assert definition["RoleArn"] == tune.DRY_RUN_ROLE
    assert definition["StaticHyperParameters"] == {"cv_folds": "0"}
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["AlgorithmSpecification"]["TrainingImage"].endswith("/titanic-byoc:latest")


def test_the_dry_run_refuses_every_other_request(offline_aws: None) -> None:
    import boto3

    session = boto3.Session(region_name="us-east-1")
    with tune.offline_boto_session(session, {}):
        s3 = session.client("s3")
        with pytest.raises(DeployError, match="dry run: refused to send GET"):
            s3.list_buckets()
