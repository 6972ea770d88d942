"""The S3 operations the deploy scripts share: URIs, a private bucket, small objects, the model archive."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from lightsage_deploy.aws.progress import UploadProgress
from lightsage_deploy.errors import DeployError, aws_error_code

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


def object_exists(s3: Any, uri: str) -> bool:
    bucket, key = parse_s3_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if aws_error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


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


def upload_file(s3: Any, path: Path, uri: str, content_type: str) -> None:
    """A managed (multipart for large files) upload that shows its progress on stderr."""
    bucket, key = parse_s3_uri(uri)
    progress = UploadProgress(path.name, path.stat().st_size)
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Callback=progress)
    progress.done()


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
    """A model.tar.gz: its member names, and the manifest.json and metrics.json `train` writes into it."""

    uri: str
    members: tuple[str, ...]
    manifest: dict[str, Any]
    metrics: dict[str, Any]


def _json_member(archive: tarfile.TarFile, name: str) -> dict[str, Any]:
    member = next((m for m in archive.getmembers() if m.name.removeprefix("./") == name), None)
    handle = archive.extractfile(member) if member is not None else None
    return json.loads(handle.read()) if handle is not None else {}


def read_model_archive(s3: Any, model_data_uri: str) -> ModelArchive:
    body = read_bytes(s3, model_data_uri)
    if len(body) > MODEL_ARCHIVE_LIMIT_BYTES:
        raise DeployError(f"{model_data_uri} is larger than {MODEL_ARCHIVE_LIMIT_BYTES} bytes")
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            members = tuple(member.name.removeprefix("./") for member in archive.getmembers())
            manifest = _json_member(archive, "manifest.json")
            metrics = _json_member(archive, "metrics.json")
    except (tarfile.TarError, OSError, json.JSONDecodeError) as error:
        raise DeployError(f"{model_data_uri} is not a readable model archive: {error}") from None
    return ModelArchive(uri=model_data_uri, members=members, manifest=manifest, metrics=metrics)
