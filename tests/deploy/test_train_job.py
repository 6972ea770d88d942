"""The training job's pieces: metric regexes, the role, hyperparameters, the estimator, the job summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from byoc import training
from deploy import settings, train_job
from deploy.errors import DeployError

VALID_ROLE = "arn:aws:iam::123456789012:role/titanic-byoc-sagemaker-execution"


def _regex(name: str) -> re.Pattern[str]:
    return re.compile(next(d["Regex"] for d in train_job.METRIC_DEFINITIONS if d["Name"] == name))


def test_the_metric_names_are_the_ones_train_prints() -> None:
    assert train_job.METRIC_NAMES == training.METRIC_NAMES


@pytest.mark.parametrize("split", ["train", "validation"])
@pytest.mark.parametrize("name", training.METRIC_NAMES)
@pytest.mark.parametrize("value", [0.853887, 0.0, 1.0, 12.5])
def test_each_regex_reads_the_exact_line_train_prints(split: str, name: str, value: float) -> None:
    line = training.metric_line(split, name, value)
    matches = [d["Name"] for d in train_job.METRIC_DEFINITIONS if re.search(d["Regex"], line)]
    assert matches == [f"{split}:{name}"]
    assert float(_regex(f"{split}:{name}").search(line).group(1)) == pytest.approx(value)  # type: ignore[union-attr]


def test_the_auc_regex_on_a_logged_line() -> None:
    logged = "[36m7sa74wckhp-algo-1-6jb8m |[0m validation:auc=0.853887;"
    assert _regex("validation:auc").search(logged).group(1) == "0.853887"  # type: ignore[union-attr]
    assert _regex("validation:auc").search("[train] validation (179 rows): auc 0.8539") is None
    assert _regex("train:auc").search("cv:auc_mean=0.861234;") is None
    assert _regex("cv:auc_mean").search(training.metric_line("cv", "auc_mean", 0.86)) is not None


def test_an_explicit_role_wins_and_is_checked() -> None:
    assert train_job.resolve_role(VALID_ROLE, {}) == VALID_ROLE
    path_role = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024"
    assert train_job.resolve_role(path_role, {}) == path_role
    with pytest.raises(DeployError, match=r"--role 'arn:aws:iam::123:role/x' is not an IAM role ARN"):
        train_job.resolve_role("arn:aws:iam::123:role/x", {})
    with pytest.raises(DeployError, match="is not an IAM role ARN"):
        train_job.resolve_role("arn:aws:iam::123456789012:user/me", {})


def test_the_environment_comes_next() -> None:
    environ = {settings.ROLE_VARIABLE: VALID_ROLE}
    assert train_job.resolve_role(None, environ, execution_role=pytest.fail) == VALID_ROLE
    with pytest.raises(DeployError, match=f"{settings.ROLE_VARIABLE} 'my-role' is not an IAM role ARN"):
        train_job.resolve_role(None, {settings.ROLE_VARIABLE: "my-role"})


def test_get_execution_role_is_the_last_resort() -> None:
    assert train_job.resolve_role(None, {}, execution_role=lambda: VALID_ROLE) == VALID_ROLE


def test_no_role_anywhere_names_all_three_sources() -> None:
    def not_in_sagemaker() -> str:
        raise ValueError("The current AWS identity is not a role: arn:aws:iam::123456789012:user/me")

    with pytest.raises(DeployError) as raised:
        train_job.resolve_role(None, {}, execution_role=not_in_sagemaker)
    message = str(raised.value)
    assert "--role" in message and settings.ROLE_VARIABLE in message and "get_execution_role()" in message
    assert "is not a role" in message


def test_hyperparameters_from_the_command_line() -> None:
    parsed = train_job.parse_hyperparameter_assignments(
        ["num_leaves=16", " learning_rate = 0.05", "target=a=b"]
    )
    assert parsed == {"num_leaves": "16", "learning_rate": "0.05", "target": "a=b"}
    with pytest.raises(DeployError, match="'num_leaves' is not KEY=VALUE"):
        train_job.parse_hyperparameter_assignments(["num_leaves"])


def test_hyperparameters_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"num_leaves": 16, "learning_rate": 0.05, "class_weight": "balanced"}))
    assert train_job.read_hyperparameters_file(path) == {
        "num_leaves": "16",
        "learning_rate": "0.05",
        "class_weight": "balanced",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ("{bad", "is not valid JSON"),
        ('{"num_leaves": [16]}', "'num_leaves' must be a string, number or boolean"),
    ],
)
def test_bad_hyperparameter_files_say_what_is_wrong(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "hp.json"
    path.write_text(content)
    with pytest.raises(DeployError, match=expected):
        train_job.read_hyperparameters_file(path)
    with pytest.raises(DeployError, match="does not exist"):
        train_job.read_hyperparameters_file(tmp_path / "missing.json")


def test_the_command_line_wins_over_the_file_and_both_are_checked() -> None:
    merged = train_job.merge_hyperparameters({"num_leaves": "16", "max_depth": "5"}, {"num_leaves": "32"})
    assert merged == {"num_leaves": "32", "max_depth": "5"}
    with pytest.raises(DeployError, match="did you mean 'num_leaves'"):
        train_job.merge_hyperparameters({}, {"num_leave": "32"})
    with pytest.raises(DeployError, match="'learning_rate'"):
        train_job.merge_hyperparameters({"learning_rate": "2"}, {})


def _options(layout: settings.S3Layout, instance_type: str, **overrides: object) -> train_job.TrainingOptions:
    return train_job.TrainingOptions(
        image_uri="localhost:5000/titanic-byoc:latest",
        role=VALID_ROLE,
        layout=layout,
        instance_type=instance_type,
        hyperparameters={"num_leaves": "16"},
        **overrides,  # type: ignore[arg-type]
    )


def test_the_real_estimator_uses_spot_with_a_longer_wait(offline_aws: None) -> None:
    layout = settings.S3Layout("my-bucket")
    with settings.open_target(local=False, sdk_telemetry=False) as target:
        estimator = train_job.build_estimator(target, _options(layout, "ml.m5.large"))
        assert estimator.use_spot_instances is True
        assert (estimator.max_run, estimator.max_wait) == (3600, 7200)
        assert estimator.output_path == "s3://my-bucket/titanic-byoc/output/"
        assert estimator.base_job_name == "titanic-byoc"
        assert estimator.metric_definitions == list(train_job.METRIC_DEFINITIONS)
        assert estimator.tags == [{"Key": "project", "Value": "titanic-byoc"}]
        assert estimator.hyperparameters() == {"num_leaves": "16"}
        with pytest.raises(DeployError, match="--max-wait"):
            train_job.build_estimator(target, _options(layout, "ml.m5.large", max_run=600, max_wait=300))


def test_the_local_estimator_drops_spot(offline_aws: None) -> None:
    with settings.open_target(local=True) as target:
        estimator = train_job.build_estimator(target, _options(settings.S3Layout("b"), "local"))
        assert estimator.use_spot_instances is False
        assert estimator.max_wait is None
        assert estimator.instance_type == "local"


def test_local_defaults_need_no_aws(offline_aws: None) -> None:
    arguments = train_job.build_parser().parse_args(["--local", "--registry", "localhost:5001"])
    with settings.open_target(local=True, registry="localhost:5001") as target:
        options = train_job.options_from(arguments, target)
    assert options.image_uri == "localhost:5001/titanic-byoc:latest"
    assert options.role == settings.LOCAL_ROLE_ARN
    assert options.instance_type == "local"
    assert options.layout == settings.S3Layout(settings.LOCAL_BUCKET)


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
