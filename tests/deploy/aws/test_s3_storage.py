"""S3 against in-process moto (nothing leaves the process): URIs, the model archive, deleting a prefix."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import boto3
import pytest

from lightsage_deploy.aws.s3 import delete_prefix, list_keys, parse_s3_uri, put_bytes, read_model_archive
from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import cleanup


def test_s3_uris_split_into_bucket_and_key() -> None:
    assert parse_s3_uri("s3://b/titanic-byoc/train/") == ("b", "titanic-byoc/train/")
    with pytest.raises(DeployError, match="is not an s3://BUCKET/KEY URI"):
        parse_s3_uri("https://b.s3.amazonaws.com/key")


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
