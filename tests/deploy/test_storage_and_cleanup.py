"""S3 and cleanup against in-process moto (nothing leaves the process), SageMaker listings against stubs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from lightsage.tasks import Task
from lightsage_deploy import project
from lightsage_deploy.aws.progress import MIB, UploadProgress
from lightsage_deploy.aws.s3 import delete_prefix, list_keys, parse_s3_uri, put_bytes, read_model_archive
from lightsage_deploy.cli import upload as upload_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import channels
from lightsage_deploy.steps import cleanup
from lightsage_deploy.steps import upload as upload_data
from lightsage_deploy.targets import target as settings


def test_s3_uris_split_into_bucket_and_key() -> None:
    assert parse_s3_uri("s3://b/titanic-byoc/train/") == ("b", "titanic-byoc/train/")
    with pytest.raises(DeployError, match="is not an s3://BUCKET/KEY URI"):
        parse_s3_uri("https://b.s3.amazonaws.com/key")


@pytest.mark.usefixtures("moto_aws")
def test_upload_needs_create_bucket_for_a_new_bucket(example_project: project.Project) -> None:
    source, target_column = example_project.source, example_project.target
    with settings.open_target(local=False, region="eu-west-1") as target:
        layout = settings.S3Layout("titanic-unit", example_project.prefix)
        with pytest.raises(DeployError, match=r"bucket titanic-unit does not exist: .* --create-bucket"):
            upload_data.upload_training_data(target, layout, source, target_column)

        uploaded = upload_data.upload_training_data(target, layout, source, target_column, create_bucket=True)

        s3 = target.client("s3")
        assert uploaded.bucket_created and uploaded.stratified
        assert (uploaded.train_rows, uploaded.validation_rows) == (712, 179)
        assert s3.get_bucket_location(Bucket="titanic-unit")["LocationConstraint"] == "eu-west-1"
        assert s3.get_public_access_block(Bucket="titanic-unit")["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        assert sorted(list_keys(s3, layout.uri())) == [
            "titanic-byoc/train/train.csv",
            "titanic-byoc/validation/validation.csv",
        ]
        head = s3.head_object(Bucket="titanic-unit", Key="titanic-byoc/train/train.csv")
        assert head["ContentType"] == "text/csv"
        assert upload_data.upload_training_data(target, layout, source, target_column).bucket_created is False


@pytest.mark.usefixtures("moto_aws")
def test_a_parquet_regression_source_is_split_at_random_and_stays_parquet(tmp_path: Path) -> None:
    source = tmp_path / "houses.parquet"
    pd.DataFrame({"rooms": range(50), "price": [1000.5 * i for i in range(50)]}).to_parquet(
        source, index=False
    )
    with settings.open_target(local=False) as target:
        layout = settings.S3Layout("houses", "houses")
        uploaded = upload_data.upload_training_data(target, layout, source, "price", create_bucket=True)
        s3 = target.client("s3")
        assert not uploaded.stratified
        assert (uploaded.train_rows, uploaded.validation_rows) == (40, 10)
        head = s3.head_object(Bucket="houses", Key="houses/validation/validation.parquet")
        assert head["ContentType"] == "application/x-parquet"
    assert channels.channel_file_name("validation", source) == "validation.parquet"
    with (
        settings.open_target(local=False) as target,
        pytest.raises(DeployError, match="no target column 'nope'"),
    ):
        upload_data.upload_training_data(target, settings.S3Layout("houses", "h"), source, "nope")


def test_large_uploads_show_their_progress() -> None:
    shown = io.StringIO()
    progress = UploadProgress("big.csv", 100 * MIB, out=shown)
    for _ in range(10):
        progress(10 * MIB)
    progress.done()
    lines = shown.getvalue().splitlines()
    assert lines[0].startswith("uploading big.csv: 10% (10.0 of 100.0 MiB")
    assert len(lines) == 10 and lines[-1].startswith("uploaded big.csv: 100.0 MiB in ")
    small = io.StringIO()
    UploadProgress("small.csv", MIB, out=small)(MIB)
    assert small.getvalue() == ""


def _model_archive(metrics: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    members = (
        ("model.txt", b"x"),
        ("manifest.json", b'{"task": "binary"}'),
        ("metrics.json", json.dumps(metrics).encode()),
    )
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.usefixtures("moto_aws")
def test_the_model_archive_is_listed_and_its_metrics_read() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="unit-bucket")
    uri = "s3://unit-bucket/titanic-byoc/output/job/output/model.tar.gz"
    put_bytes(s3, uri, _model_archive({"validation": {"auc": 0.86}}), "application/gzip")
    archive = read_model_archive(s3, uri)
    assert archive.members == ("model.txt", "manifest.json", "metrics.json")
    assert archive.metrics["validation"]["auc"] == 0.86
    assert archive.manifest == {"task": "binary"}
    with pytest.raises(DeployError, match="does not exist"):
        read_model_archive(s3, "s3://unit-bucket/nothing.tar.gz")
    put_bytes(s3, "s3://unit-bucket/broken.tar.gz", b"not a tar")
    with pytest.raises(DeployError, match="is not a readable model archive"):
        read_model_archive(s3, "s3://unit-bucket/broken.tar.gz")


@pytest.mark.usefixtures("moto_aws")
def test_prefix_and_bucket_deletion() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="unit-bucket")
    for key in ("titanic-byoc/a", "titanic-byoc/b/c", "other/d"):
        s3.put_object(Bucket="unit-bucket", Key=key, Body=b"1")
    assert delete_prefix(s3, "s3://unit-bucket/titanic-byoc/") == 2
    assert list_keys(s3, "s3://unit-bucket/") == ["other/d"]
    assert cleanup.delete_bucket(s3, "unit-bucket") == 1
    assert cleanup.delete_bucket(s3, "unit-bucket") == 0


def _sagemaker() -> Any:
    return boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_cleanup_finds_only_names_that_start_with_the_base_name() -> None:
    client = _sagemaker()
    now = "2024-01-01T00:00:00Z"
    with Stubber(client) as stub:
        stub.add_response(
            "list_endpoints",
            {
                "Endpoints": [
                    {"EndpointName": name, "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/x",
                     "CreationTime": now, "LastModifiedTime": now, "EndpointStatus": "InService"}
                    for name in ("titanic-byoc-1", "my-titanic-byoc")
                ]
            },
            {"NameContains": "titanic-byoc"},
        )  # fmt: skip
        stub.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": "titanic-byoc"})
        stub.add_response(
            "list_models",
            {"Models": [{"ModelName": "titanic-byoc-1", "ModelArn": "arn:aws:sagemaker:us-east-1:1:model/x",
                         "CreationTime": now}]},
            {"NameContains": "titanic-byoc"},
        )  # fmt: skip
        found = cleanup.find_sagemaker_resources(client, "titanic-byoc")
    assert found == cleanup.SageMakerResources(["titanic-byoc-1"], [], ["titanic-byoc-1"])
    assert cleanup.find_sagemaker_resources(client, "x", ["e"]) == cleanup.SageMakerResources(
        ["e"], ["e"], ["e"]
    )


def test_cleanup_deletes_endpoints_first_and_skips_what_is_gone() -> None:
    client = _sagemaker()
    gone = "Could not find endpoint configuration"
    with Stubber(client) as stub:
        stub.add_response("delete_endpoint", {}, {"EndpointName": "e"})
        stub.add_client_error("delete_endpoint_config", "ValidationException", gone)
        stub.add_response("delete_model", {}, {"ModelName": "e"})
        deleted = cleanup.delete_sagemaker_resources(client, cleanup.SageMakerResources(["e"], ["e"], ["e"]))
        stub.assert_no_pending_responses()
    assert deleted == ["endpoint e", "model e"]


def test_a_missing_repository_is_not_an_error() -> None:
    ecr = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecr) as stub:
        stub.add_client_error("delete_repository", "RepositoryNotFoundException")
        assert cleanup.delete_ecr_repository(ecr, "titanic-byoc") is False


@pytest.mark.usefixtures("moto_aws", "houses_project")
def test_upload_splits_at_random_for_a_recipe_whose_only_task_is_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert upload_command.main(["--bucket", "houses-unit", "--create-bucket"]) == 0
    printed = capsys.readouterr().out
    assert "(32 rows, random split)" in printed
    assert "stratified" not in printed


@pytest.mark.usefixtures("moto_aws")
@pytest.mark.parametrize(
    ("task", "stratified"), [(None, True), (Task.MULTICLASS, True), (Task.REGRESSION, False)]
)
def test_the_split_follows_the_task_the_jobs_will_get(
    tmp_path: Path, task: Task | None, stratified: bool
) -> None:
    source = tmp_path / "years.csv"
    pd.DataFrame({"x": range(60), "years": [8, 10, 12, 16] * 15}).to_csv(source, index=False)
    with settings.open_target(local=False) as target:
        layout = settings.S3Layout("years", "years")
        uploaded = upload_data.upload_training_data(
            target, layout, source, "years", create_bucket=True, task=task
        )
    assert uploaded.stratified is stratified


class WriteRecorder(io.StringIO):
    """A stream that keeps each write apart, as a stream flushed by another thread may send them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.mark.usefixtures("moto_aws")
def test_every_progress_and_result_line_is_written_whole_with_its_line_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results, progress = WriteRecorder(), WriteRecorder()
    monkeypatch.setattr("sys.stdout", results)
    monkeypatch.setattr("sys.stderr", progress)
    assert upload_command.main(["--bucket", "titanic-unit", "--create-bucket"]) == 0
    big = UploadProgress("big.csv", 20 * MIB)
    big(20 * MIB // 2)
    big.done()
    assert len(results.writes) == 3 and len(progress.writes) == 4
    for write in (*results.writes, *progress.writes):
        assert write.endswith("\n") and write.count("\n") == 1, write
    assert results.writes[-1] == "validation: s3://titanic-unit/titanic-byoc/validation/ (179 rows)\n"
    assert progress.writes[-2].startswith("uploading big.csv: 50%")


@pytest.mark.usefixtures("moto_aws")
def test_a_class_too_small_to_split_is_named_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "rare.csv"
    pd.DataFrame({"x": range(10), "y": ["a"] * 5 + ["b"] * 4 + ["rare"]}).to_csv(source, index=False)
    with (
        settings.open_target(local=False) as target,
        pytest.raises(
            DeployError, match=r"rare.csv: cannot split 10 rows stratified by the classes of 'y': .*rare"
        ),
    ):
        upload_data.upload_training_data(
            target, settings.S3Layout("rare", "rare"), source, "y", create_bucket=True
        )
