"""Split the project's labelled table into train and validation files; upload them as the two channels.

examples:
  byoc upload --bucket my-bucket --create-bucket
  byoc upload --bucket my-bucket --source more-rows.parquet
  byoc upload --local --create-bucket

The source and target come from the project (byoc.toml [data]); --source names another file with the same
columns. The split is `python -m lightsage.data.split`, stratified when the target is a class: the task the
jobs will be sent (the project's `task` hyperparameter, else its recipe's only task), else the one `train`
infers from the target. The files keep the source's format (CSV with its header, or Parquet) and land as
s3://BUCKET/PREFIX/train/train.EXT and s3://BUCKET/PREFIX/validation/validation.EXT, with progress shown for
large files. --create-bucket creates a missing bucket with default SSE-S3 encryption and every public access
block on. `python -m lightsage_deploy.steps.upload` is the same command.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage.data.split import split_table
from lightsage.tasks import Task
from lightsage_deploy import project
from lightsage_deploy.aws.progress import say
from lightsage_deploy.aws.s3 import bucket_exists, create_private_bucket, upload_file
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import hyperparameters
from lightsage_deploy.steps.metrics import PARQUET_SUFFIXES, known_task
from lightsage_deploy.targets import target as settings

COMMAND = "upload"
CSV_CONTENT_TYPE = "text/csv"
PARQUET_CONTENT_TYPE = "application/x-parquet"


def channel_content_type(source: Path) -> str:
    """The channels' ContentType: the split keeps the source's format."""
    return PARQUET_CONTENT_TYPE if source.name.lower().endswith(PARQUET_SUFFIXES) else CSV_CONTENT_TYPE


def channel_file_name(channel: str, source: Path) -> str:
    """What lightsage.data.split names a channel's file: train.csv, validation.parquet, ..."""
    return f"{channel}.parquet" if channel_content_type(source) == PARQUET_CONTENT_TYPE else f"{channel}.csv"


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


def result_lines(uploaded: UploadedData, bucket: str) -> list[str]:
    kind = "stratified" if uploaded.stratified else "random"
    created = [f"created bucket {bucket} (SSE-S3, public access blocked)"] if uploaded.bucket_created else []
    return [
        *created,
        f"train:      {uploaded.train} ({uploaded.train_rows} rows, {kind} split)",
        f"validation: {uploaded.validation} ({uploaded.validation_rows} rows)",
    ]


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, "lightsage_deploy.steps.upload", __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    parser.add_argument("--create-bucket", action="store_true", help="create the bucket when it is missing")
    parser.add_argument("--source", type=Path, help="labelled CSV or Parquet (default: the project's)")
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    if not 0.0 < arguments.validation_fraction < 1.0:
        raise DeployError(
            f"--validation-fraction must be between 0 and 1, not {arguments.validation_fraction}"
        )
    the_project = project.load()
    layout = cli.layout_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        uploaded = upload_training_data(
            target,
            layout,
            arguments.source or the_project.source,
            the_project.target,
            create_bucket=arguments.create_bucket,
            validation_fraction=arguments.validation_fraction,
            seed=arguments.seed,
            task=known_task(hyperparameters.merge(the_project.training_hyperparameters())),
        )
    for line in result_lines(uploaded, layout.bucket):
        say(line, sys.stdout)
    return 0


if __name__ == "__main__":
    cli.run(main)
