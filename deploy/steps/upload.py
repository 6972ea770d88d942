"""Upload the training data: split the labelled table into train and validation, upload both channels.

The split is `lightsage.data.split`'s, stratified when the target is a class; the files keep the source's
format and land under s3://BUCKET/PREFIX/train/ and .../validation/, in a private bucket when one is created.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage.data.split import split_table
from lightsage.tasks import Task
from lightsage_deploy.aws.s3 import bucket_exists, create_private_bucket, upload_file
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters, recipe_folder
from lightsage_deploy.jobs.channels import channel_content_type
from lightsage_deploy.jobs.metrics import known_task
from lightsage_deploy.project.project import Project
from lightsage_deploy.targets import target as settings


@dataclass(frozen=True)
class UploadedData:
    train: str
    validation: str
    train_rows: int
    validation_rows: int
    stratified: bool
    bucket_created: bool


def ensure_bucket(s3: Any, bucket: str, region: str, create: bool) -> bool:
    """True when the bucket had to be created."""
    if bucket_exists(s3, bucket):
        return False
    if not create:
        raise DeployError(f"bucket {bucket} does not exist: create it, or pass --create-bucket")
    create_private_bucket(s3, bucket, region)
    return True


def upload_training_data(
    target: settings.DeployTarget,
    layout: settings.S3Layout,
    source: Path,
    label: str,
    *,
    create_bucket: bool = False,
    validation_fraction: float = 0.2,
    seed: int = 42,
    task: Task | None = None,
) -> UploadedData:
    """Split `source` (stratified for a class target: `task`'s, else the inferred one); upload both."""
    if not source.is_file():
        raise DeployError(f"{source} does not exist: pass --source, or set [data] source in the project file")
    s3 = target.client("s3")
    created = ensure_bucket(s3, layout.bucket, target.region, create_bucket)
    content_type = channel_content_type(source)
    with tempfile.TemporaryDirectory(prefix="byoc-split-") as scratch:
        try:
            files = split_table(source, Path(scratch), label, validation_fraction, seed, task)
        except SystemExit as error:  # lightsage.data.split reports unusable data this way
            raise DeployError(str(error.code)) from None
        upload_file(s3, files.train, layout.train + files.train.name, content_type)
        upload_file(s3, files.validation, layout.validation + files.validation.name, content_type)
    return UploadedData(
        train=layout.train,
        validation=layout.validation,
        train_rows=files.train_rows,
        validation_rows=files.validation_rows,
        stratified=files.stratified,
        bucket_created=created,
    )


def project_task(
    the_project: Project, recipe_dir: Path | None = None, entry_point: str | None = None
) -> Task | None:
    """The task the project's jobs will be sent, when it is known before any data is read: the split
    stratifies by it. A recipe folder (script mode) is `recipe_dir`, else the project's."""
    folder = recipe_folder.of_job(the_project, recipe_dir, entry_point)
    script = folder.recipe if folder is not None else None
    return known_task(hyperparameters.merge(the_project.training_hyperparameters(), script=script), script)


def result_lines(uploaded: UploadedData, bucket: str) -> list[str]:
    kind = "stratified" if uploaded.stratified else "random"
    created = [f"created bucket {bucket} (SSE-S3, public access blocked)"] if uploaded.bucket_created else []
    return [
        *created,
        f"train:      {uploaded.train} ({uploaded.train_rows} rows, {kind} split)",
        f"validation: {uploaded.validation} ({uploaded.validation_rows} rows)",
    ]
