"""The S3 operations the deploy scripts share: URIs, a private bucket, small objects, the model archive."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from deploy.errors import DeployError, aws_error_code

MODEL_ARCHIVE_LIMIT_BYTES = 512 * 1024 * 1024


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/key -> ("bucket", "some/key")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DeployError(f"{uri!r} is not an s3://BUCKET/KEY URI")
    return parsed.netloc, parsed.path.lstrip("/")


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = aws_error_code(error)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"access to bucket {bucket} is denied: bucket names are global, so it may belong to another "
                "account; pick another --bucket or check your permissions"
            ) from None
        raise
    return True


def create_private_bucket(s3: Any, bucket: str, region: str) -> None:
    """A bucket with default SSE-S3 (AES256) encryption and every public access block turned on."""
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def read_bytes(s3: Any, uri: str) -> bytes:
    bucket, key = parse_s3_uri(uri)
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if aws_error_code(error) in ("NoSuchKey", "404"):
            raise DeployError(f"{uri} does not exist") from None
        if aws_error_code(error) == "NoSuchBucket":
            raise DeployError(f"bucket {bucket} does not exist (for {uri})") from None
        raise


def put_bytes(s3: Any, uri: str, body: bytes, content_type: str = "text/csv") -> None:
    bucket, key = parse_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def list_keys(s3: Any, uri_prefix: str) -> list[str]:
    bucket, prefix = parse_s3_uri(uri_prefix)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(entry["Key"] for entry in page.get("Contents", []))
    return keys


def delete_prefix(s3: Any, uri_prefix: str) -> int:
    """Delete every object under the prefix; return how many were deleted."""
    bucket, _ = parse_s3_uri(uri_prefix)
    keys = list_keys(s3, uri_prefix)
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys)


@dataclass(frozen=True)
class ModelArchive:
    uri: str
    members: tuple[str, ...]
    metrics: dict[str, Any]


def read_model_archive(s3: Any, model_data_uri: str) -> ModelArchive:
    """List model.tar.gz and read the metrics.json that `train` writes into it."""
    body = read_bytes(s3, model_data_uri)
    if len(body) > MODEL_ARCHIVE_LIMIT_BYTES:
        raise DeployError(f"{model_data_uri} is larger than {MODEL_ARCHIVE_LIMIT_BYTES} bytes")
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            members = tuple(member.name.removeprefix("./") for member in archive.getmembers())
            metrics_member = next(
                (
                    member
                    for member in archive.getmembers()
                    if member.name.removeprefix("./") == "metrics.json"
                ),
                None,
            )
            metrics_file = archive.extractfile(metrics_member) if metrics_member is not None else None
            metrics = json.loads(metrics_file.read()) if metrics_file is not None else {}
    except (tarfile.TarError, OSError, json.JSONDecodeError) as error:
        raise DeployError(f"{model_data_uri} is not a readable model archive: {error}") from None
    return ModelArchive(uri=model_data_uri, members=members, metrics=metrics)
