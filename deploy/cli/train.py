"""Run a SageMaker training job with the image (managed spot by default) and report what it cost and scored.

examples:
  byoc train --bucket my-bucket --image-uri 123456789012.dkr.ecr.us-east-1.amazonaws.com/NAME@sha256:...
  byoc train --bucket my-bucket --hyperparameter num_leaves=16 --hyperparameters-file hp.json
  byoc train --bucket my-bucket --instance-count 2 --instance-type ml.m5.xlarge --no-spot
  byoc train --bucket my-bucket --dry-run   # the `aws sagemaker create-training-job` command; sends nothing
  byoc train --local --image-uri localhost:5000/NAME@sha256:...
  byoc train --bucket my-bucket --recipe-dir recipe/ [--entry-point houses.py]   # script mode

Channels are s3://BUCKET/PREFIX/train/ and .../validation/ (see `byoc upload`); the model lands under
s3://BUCKET/PREFIX/output/, spot checkpoints under s3://BUCKET/PREFIX/checkpoints/JOB/. PREFIX, the base job
name and the tags come from the project (byoc.toml). The role comes from --role, then SAGEMAKER_ROLE_ARN,
then sagemaker.get_execution_role(). Hyperparameters: the project's, then the file's, then --hyperparameter;
all are checked against the image's recipe before anything starts. The task is the `task` hyperparameter
(or --task), else the recipe's only task, and is sent to the job; else `train` infers it from its train
channel, and the job gets the metric definitions of every task the recipe allows. --local runs the same
estimator in SageMaker local mode (no spot or checkpoints there) against the offline stand-ins.
Script mode: --recipe-dir (or the project's [training] recipe_dir) ships a recipe module with the job, no new
image needed; the SDK uploads the folder as s3://BUCKET/PREFIX/code/JOB/source/sourcedir.tar.gz (local mode
mounts it), and the job installs its requirements.txt. The module is loaded here first, to check the
hyperparameters against its recipe.
`python -m lightsage_deploy train` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import project
from lightsage_deploy.steps import train

COMMAND = "train"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    cli.add_estimator_arguments(parser)
    parser.add_argument(
        "--no-checkpoints", action="store_true", help="spot without checkpoints (restarts begin again)"
    )
    parser.add_argument(
        "--no-logs", action="store_true", help="show the job's status instead of its CloudWatch logs"
    )
    parser.add_argument(
        "--warm-start",
        metavar="MODEL_TAR_GZ_URI",
        help="continue an earlier job's model (its model.tar.gz on S3), given as the `model` channel",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.refuse_local_dry_run(arguments)
    the_project = project.load()
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        options = cli.training_options_from(arguments, target, the_project)
        if arguments.dry_run:
            print(train.training_request(target, options).cli_command())
            return 0
        summary = train.train(target, options, logs=not arguments.no_logs)
        archive = train.model_archive(target, summary)
    print("\n".join(train.format_summary(summary, archive)))
    return 0 if summary.status == "Completed" else 1
