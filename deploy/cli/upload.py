"""Split the project's labelled table into train and validation files; upload them as the two channels.

examples:
  byoc upload --bucket my-bucket --create-bucket
  byoc upload --bucket my-bucket --source more-rows.parquet
  byoc upload --local --create-bucket

The source and target come from the project (byoc.toml [data]); --source names another file with the same
columns. The split is `python -m lightsage.data.split`, stratified when the target is a class: the task the
jobs will be sent (the project's `task` hyperparameter, else its recipe's only task), else the one `train`
infers from the target (a recipe shipped in script mode, --recipe-dir or the project's recipe_dir, is loaded
to tell). The files keep the source's format (CSV with its header, or Parquet) and land as
s3://BUCKET/PREFIX/train/train.EXT and s3://BUCKET/PREFIX/validation/validation.EXT, with progress shown for
large files. --create-bucket creates a missing bucket with default SSE-S3 encryption and every public access
block on. `python -m lightsage_deploy upload` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lightsage_deploy.aws.progress import say
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import project
from lightsage_deploy.steps import upload

COMMAND = "upload"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    parser.add_argument("--create-bucket", action="store_true", help="create the bucket when it is missing")
    parser.add_argument("--source", type=Path, help="labelled CSV or Parquet (default: the project's)")
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default: %(default)s)")
    cli.add_recipe_folder_arguments(parser.add_argument_group("recipe"), "the jobs will ship")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.check_validation_fraction(arguments.validation_fraction)
    the_project = project.load()
    layout = cli.layout_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        uploaded = upload.upload_training_data(
            target,
            layout,
            arguments.source or the_project.data_source(),
            the_project.target,
            create_bucket=arguments.create_bucket,
            validation_fraction=arguments.validation_fraction,
            seed=arguments.seed,
            task=upload.project_task(the_project, arguments.recipe_dir, arguments.entry_point),
        )
    for line in upload.result_lines(uploaded, layout.bucket):
        say(line, sys.stdout)
    return 0
