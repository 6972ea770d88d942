"""Split the Titanic CSV into train and validation files and upload them as the training channels.

    python -m deploy.upload_data --bucket BUCKET [--prefix titanic-byoc] [--create-bucket]
    python -m deploy.upload_data --local --create-bucket

Writes s3://BUCKET/PREFIX/train/train.csv and s3://BUCKET/PREFIX/validation/validation.csv (the stratified
split of byoc.split, header row kept) and prints both channel URIs. --create-bucket creates a missing bucket
with default SSE-S3 encryption and every public access block on.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byoc.split import DEFAULT_SOURCE, split_csv
from deploy import cli, settings
from deploy.errors import DeployError
from deploy.s3 import bucket_exists, create_private_bucket, put_bytes


@dataclass(frozen=True)
class UploadedData:
    train: str
    validation: str
    train_rows: int
    validation_rows: int
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
    *,
    source: Path = DEFAULT_SOURCE,
    create_bucket: bool = False,
    validation_fraction: float = 0.2,
    seed: int = 42,
) -> UploadedData:
    if not source.is_file():
        raise DeployError(f"{source} does not exist: pass --source with the labelled Titanic CSV")
    s3 = target.client("s3")
    created = ensure_bucket(s3, layout.bucket, target.region, create_bucket)
    with tempfile.TemporaryDirectory(prefix="titanic-split-") as scratch:
        files = split_csv(source, Path(scratch), validation_fraction, seed, settings.TARGET_COLUMN)
        put_bytes(s3, layout.train + files.train.name, files.train.read_bytes())
        put_bytes(s3, layout.validation + files.validation.name, files.validation.read_bytes())
    return UploadedData(
        train=layout.train,
        validation=layout.validation,
        train_rows=files.train_rows,
        validation_rows=files.validation_rows,
        bucket_created=created,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("deploy.upload_data", __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    parser.add_argument("--create-bucket", action="store_true", help="create the bucket when it is missing")
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="labelled CSV (default: %(default)s)"
    )
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if not 0.0 < arguments.validation_fraction < 1.0:
        raise DeployError(
            f"--validation-fraction must be between 0 and 1, not {arguments.validation_fraction}"
        )
    layout = cli.layout_from(arguments)
    with cli.target_from(arguments) as target:
        uploaded = upload_training_data(
            target,
            layout,
            source=arguments.source,
            create_bucket=arguments.create_bucket,
            validation_fraction=arguments.validation_fraction,
            seed=arguments.seed,
        )
    if uploaded.bucket_created:
        print(f"created bucket {layout.bucket} (SSE-S3, public access blocked)")
    print(f"train:      {uploaded.train} ({uploaded.train_rows} rows)")
    print(f"validation: {uploaded.validation} ({uploaded.validation_rows} rows)")
    return 0


if __name__ == "__main__":
    cli.run(main)
