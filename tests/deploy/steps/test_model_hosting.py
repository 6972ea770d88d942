"""Hosting: the answers read, and the endpoint kinds as the SDK's own objects and requests.

SageMaker local mode offers real-time endpoints only (no serverless, no asynchronous, no data capture), so the
other kinds are proven here through the real SDK: `Model.deploy` with ServerlessInferenceConfig,
AsyncInferenceConfig and DataCaptureConfig builds CreateEndpointConfig requests that botocore validates
against the SageMaker API model, and that are captured instead of sent.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.serving.decode import decode_csv
from lightsage.training.main import train
from lightsage_deploy.cli import batch as batch_command
from lightsage_deploy.cli import deploy as deploy_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import rows
from lightsage_deploy.project import project
from lightsage_deploy.steps import batch as batch_transform
from lightsage_deploy.steps import endpoint, predict
from lightsage_deploy.targets import target as settings

from testsupport import VALIDATION_CSV, make_ml_root

MODEL_DATA = "s3://my-bucket/titanic-byoc/output/job/output/model.tar.gz"
ANSWERS = {
    "binary": {"label": "yes", "probability": 0.9},
    "binary-integers": {"label": 0, "probability": 0.2},
    "multiclass": {"label": "b", "probabilities": {"a": 0.1, "b": 0.7, "c": 0.2}},
    "regression": {"prediction": -3.25},
}


def test_every_tasks_answers_are_read_and_shown() -> None:
    answer = {"predictions": list(ANSWERS.values())}
    parsed = predict.parse_predictions(answer)
    assert [predict.describe(entry) for entry in parsed] == [
        "label 'yes'  probability 0.9000",
        "label 0  probability 0.2000",
        "label 'b'  p 0.7000",
        "prediction -3.2500",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "row 1, column 'Age': 'old' is not a number"},
        {"predictions": [{"label": 1}]},
        {"predictions": [{"prediction": "high"}]},
        [{"label": 1, "probability": 0.5}],
    ],
)
def test_anything_else_is_refused(answer: Any) -> None:
    with pytest.raises(DeployError, match="something other than predictions"):
        predict.parse_predictions(answer)


class RecordingSession:
    def __init__(self, failing: str | None = None) -> None:
        self.calls: list[str] = []
        self.failing = failing

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if what == self.failing:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "boom"}}, what)

    def delete_model(self, name: str) -> None:
        self._call("DeleteModel")

    def delete_endpoint(self, name: str) -> None:
        self._call("DeleteEndpoint")

    def delete_endpoint_config(self, name: str) -> None:
        self._call("DeleteEndpointConfig")


def test_teardown_deletes_the_model_first_and_carries_on_after_a_failure() -> None:
    session = RecordingSession(failing="DeleteEndpoint")
    target: Any = type("Target", (), {"sagemaker_session": session})()
    problems = endpoint.delete_endpoint(target, "titanic-byoc-1")
    assert session.calls == ["DeleteModel", "DeleteEndpoint", "DeleteEndpointConfig"]
    assert problems == [
        "could not delete endpoint titanic-byoc-1: DeleteEndpoint failed with ValidationException: boom"
    ]


def _options(the_project: project.Project, **overrides: Any) -> endpoint.EndpointOptions:
    values: dict[str, Any] = {
        "project": the_project,
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/titanic-byoc:latest",
        "model_data": MODEL_DATA,
        "role": "arn:aws:iam::123456789012:role/titanic-byoc-sagemaker-execution",
        "instance_type": "ml.m5.large",
        "name": "titanic-byoc-endpoint",
        "layout": settings.S3Layout("my-bucket", the_project.prefix),
    }
    return endpoint.EndpointOptions(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": endpoint.EndpointKind.SERVERLESS}, "local mode has no serverless endpoints"),
        ({"kind": endpoint.EndpointKind.ASYNC}, "local mode has no async endpoints"),
        ({"data_capture_percent": 50}, "local mode has no data capture"),
    ],
)
def test_local_mode_offers_real_time_endpoints_only(
    tmp_path: Path, example_project: project.Project, overrides: dict[str, Any], message: str
) -> None:
    local = settings.DeployTarget("us-east-1", settings.LocalStandIns(work_dir=tmp_path))
    with pytest.raises(DeployError, match=message):
        endpoint.check_kind(local, _options(example_project, **overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": endpoint.EndpointKind.SERVERLESS, "memory_size_mb": 1000}, "--memory-size must be one of"),
        ({"kind": endpoint.EndpointKind.SERVERLESS, "max_concurrency": 0}, "--max-concurrency must be"),
        (
            {"kind": endpoint.EndpointKind.SERVERLESS, "data_capture_percent": 10},
            "serverless .* no data capture",
        ),
        ({"kind": endpoint.EndpointKind.ASYNC, "layout": None}, "--async needs --bucket"),
        ({"data_capture_percent": 10, "layout": None}, "--data-capture needs --bucket"),
        ({"data_capture_percent": 101}, "--data-capture must be a percentage"),
    ],
)
def test_impossible_endpoints_are_refused_before_anything_is_created(
    example_project: project.Project, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeployError, match=message):
        endpoint.check_kind(settings.DeployTarget("us-east-1"), _options(example_project, **overrides))


def test_the_deploy_arguments_are_the_sdks_config_objects(
    offline_aws: None, example_project: project.Project
) -> None:
    from sagemaker.async_inference import AsyncInferenceConfig
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.serverless import ServerlessInferenceConfig

    with settings.open_target(local=False, sdk_telemetry=False) as target:
        serverless = endpoint.deploy_arguments(
            target, _options(example_project, kind=endpoint.EndpointKind.SERVERLESS, memory_size_mb=3072)
        )
        asynchronous = endpoint.deploy_arguments(
            target, _options(example_project, kind=endpoint.EndpointKind.ASYNC, instance_count=2)
        )
        captured = endpoint.deploy_arguments(target, _options(example_project, data_capture_percent=25))
    config = serverless["serverless_inference_config"]
    assert isinstance(config, ServerlessInferenceConfig)
    assert (config.memory_size_in_mb, config.max_concurrency) == (3072, 5)
    assert "instance_type" not in serverless and "data_capture_config" not in serverless
    assert isinstance(asynchronous["async_inference_config"], AsyncInferenceConfig)
    assert asynchronous["async_inference_config"].output_path == "s3://my-bucket/titanic-byoc/async-output/"
    assert asynchronous["initial_instance_count"] == 2
    capture = captured["data_capture_config"]
    assert isinstance(capture, DataCaptureConfig)
    assert (capture.sampling_percentage, capture.destination_s3_uri) == (
        25,
        "s3://my-bucket/titanic-byoc/data-capture/",
    )
    assert captured["tags"] == [{"Key": "project", "Value": "titanic-byoc"}]


OPERATIONS = {
    "create-model": "CreateModel",
    "create-endpoint-config": "CreateEndpointConfig",
    "create-endpoint": "CreateEndpoint",
    "create-transform-job": "CreateTransformJob",
}


def printed_requests(
    capsys: pytest.CaptureFixture[str], main: Any, argv: list[str]
) -> dict[str, dict[str, Any]]:
    """A command's `--dry-run`: each printed AWS CLI command's request by operation, checked by botocore."""
    assert main(["--model-data", MODEL_DATA, "--dry-run", *argv]) == 0
    model = boto3.client("sagemaker", region_name="us-east-1").meta.service_model
    requests = {}
    for line in capsys.readouterr().out.strip().split("\naws "):
        words = shlex.split(line.removeprefix("aws "))
        assert words[0] == "sagemaker" and words[2] == "--cli-input-json" and len(words) == 4
        request = json.loads(words[3])
        validate_parameters(request, model.operation_model(OPERATIONS[words[1]]).input_shape)
        requests[words[1]] = request
    return requests


def endpoint_requests(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, dict[str, Any]]:
    requests = printed_requests(capsys, deploy_command.main, argv)
    assert list(requests) == ["create-model", "create-endpoint-config", "create-endpoint"]
    return requests


@pytest.mark.usefixtures("nothing_listens")
def test_a_real_time_endpoint_with_data_capture(capsys: pytest.CaptureFixture[str]) -> None:
    requests = endpoint_requests(
        capsys, ["--bucket", "my-bucket", "--data-capture", "20", "--instance-count", "2"]
    )
    name = requests["create-endpoint"]["EndpointName"]
    assert name.startswith("titanic-byoc-")
    assert (
        requests["create-model"]["ModelName"]
        == requests["create-endpoint-config"]["EndpointConfigName"]
        == name
    )
    assert requests["create-model"]["PrimaryContainer"]["ModelDataUrl"] == MODEL_DATA
    (variant,) = requests["create-endpoint-config"]["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 2)
    capture = requests["create-endpoint-config"]["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["DestinationS3Uri"] == "s3://my-bucket/titanic-byoc/data-capture/"
    assert {option["CaptureMode"] for option in capture["CaptureOptions"]} == {"Input", "Output"}


@pytest.mark.usefixtures("nothing_listens")
def test_a_serverless_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    requests = endpoint_requests(capsys, ["--serverless", "--memory-size", "4096", "--max-concurrency", "3"])
    (variant,) = requests["create-endpoint-config"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 3}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant


@pytest.mark.usefixtures("nothing_listens")
def test_an_asynchronous_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    requests = endpoint_requests(capsys, ["--async", "--bucket", "my-bucket"])
    output = requests["create-endpoint-config"]["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"] == "s3://my-bucket/titanic-byoc/async-output/"
    assert output["S3FailurePath"] == "s3://my-bucket/titanic-byoc/async-output/failures/"
    assert requests["create-endpoint"]["Tags"] == [{"Key": "project", "Value": "titanic-byoc"}]


@pytest.mark.usefixtures("nothing_listens")
def test_a_batch_transform_job(capsys: pytest.CaptureFixture[str]) -> None:
    requests = printed_requests(capsys, batch_command.main, ["--bucket", "my-bucket"])
    assert list(requests) == ["create-model", "create-transform-job"]
    job = requests["create-transform-job"]
    assert job["ModelName"] == requests["create-model"]["ModelName"] == job["TransformJobName"]
    assert (
        job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        == "s3://my-bucket/titanic-byoc/batch-input/"
    )
    assert (job["TransformInput"]["SplitType"], job["TransformOutput"]["AssembleWith"]) == ("Line", "Line")
    output = f"s3://my-bucket/titanic-byoc/batch-output/{job['TransformJobName']}/"
    assert job["TransformOutput"]["S3OutputPath"] == output
    assert (job["BatchStrategy"], job["MaxPayloadInMB"]) == ("MultiRecord", 6)


def test_an_asynchronous_answer_is_read_from_s3(moto_aws: None, example_project: project.Project) -> None:
    """The S3 half runs on in-process moto; InvokeEndpointAsync (real-AWS-only) on a botocore Stubber."""
    layout = settings.S3Layout("async-bucket", example_project.prefix)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="async-bucket")
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    answer = json.dumps({"predictions": [ANSWERS["binary"]]}).encode()
    s3.put_object(Bucket="async-bucket", Key=layout.key("async-output", "answer.out"), Body=answer)
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint_async",
            {
                "OutputLocation": layout.async_output + "answer.out",
                "FailureLocation": layout.async_output + "f",
            },
        )
        predictions = predict.answer_async(
            s3, runtime, "e", "1,2\n", layout, timeout_seconds=5, poll_seconds=0
        )
        stub.assert_no_pending_responses()
    assert predictions == [ANSWERS["binary"]]
    sent = s3.list_objects_v2(Bucket="async-bucket", Prefix="titanic-byoc/async-input/")["Contents"]
    assert len(sent) == 1 and sent[0]["Key"].endswith(".csv")


def test_an_asynchronous_failure_is_reported(moto_aws: None, example_project: project.Project) -> None:
    layout = settings.S3Layout("async-bucket", example_project.prefix)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="async-bucket")
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    s3.put_object(Bucket="async-bucket", Key=layout.key("async-output", "failed"), Body=b"row 1: bad value")
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint_async",
            {
                "OutputLocation": layout.async_output + "never",
                "FailureLocation": layout.async_output + "failed",
            },
        )
        with pytest.raises(DeployError, match="the asynchronous request failed: row 1: bad value"):
            predict.answer_async(s3, runtime, "e", "1\n", layout, timeout_seconds=5, poll_seconds=0)


def test_the_server_reads_the_batch_input_as_header_less_rows_in_training_order(
    tmp_path: Path, example_project: project.Project
) -> None:
    """A model trained on the committed split: its manifest's input schema is what `serve` decodes with."""
    root = make_ml_root(tmp_path / "ml", {"recipe": "titanic", "n_estimators": "5"})
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    schema = artifact.load(root / "model").manifest.inputs
    labelled = rows.read_frame(VALIDATION_CSV.read_bytes(), VALIDATION_CSV.name)
    features, count = rows.features_only_csv(labelled, example_project.target)
    decoded = decode_csv(features.encode(), schema, example_project.target)
    assert decoded.rows == count == len(labelled)


def test_blank_lines_between_batches_are_not_predictions() -> None:
    assert batch_transform.prediction_lines("0,0.1\n1,0.9\n\n0,0.3\n\n") == ["0,0.1", "1,0.9", "0,0.3"]
