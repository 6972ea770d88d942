"""Tune the LightGBM hyperparameters with a SageMaker tuning job on the task's objective metric.

examples:
  byoc tune --bucket my-bucket [--max-jobs 20] [--max-parallel-jobs 2] [--wait]
  byoc tune --bucket my-bucket --hyperparameter num_leaves=16   # num_leaves fixed, the rest searched
  byoc tune --bucket my-bucket --dry-run     # the `aws sagemaker create-hyper-parameter-tuning-job` command

Each trial is the estimator of `byoc train` (same image, channels, metric regexes, spot settings; spot trials
do not checkpoint, since every trial would share one checkpoint folder). The objective is the task's
(validation:auc maximised for binary, validation:log_loss minimised for multiclass, validation:rmse minimised
for regression). The task is --task or the `task` hyperparameter, else the recipe's only task, else the one
`train` would infer from the project's data source; every trial is sent it. The ranges are the recipe's
declared tuning ranges, less every hyperparameter that is set (by the project, the file or
--hyperparameter), which stays fixed. SageMaker local mode cannot tune:
--dry-run instead prints the request the SDK would send (checked against the API model) and sends nothing.
`python -m lightsage_deploy tune` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import project
from lightsage_deploy.steps import tune
from lightsage_deploy.steps.train import build_estimator

COMMAND = "tune"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_region_argument(parser)
    cli.add_layout_arguments(parser)
    cli.add_estimator_arguments(parser)
    parser.add_argument(
        "--max-jobs", type=int, default=tune.DEFAULT_MAX_JOBS, help="trials in total (default: %(default)s)"
    )
    parser.add_argument(
        "--max-parallel-jobs",
        type=int,
        default=tune.DEFAULT_MAX_PARALLEL_JOBS,
        help="trials at once (default: %(default)s)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for the tuning job (showing progress) and print the best trial",
    )
    # Tuning has no local mode; the shared option readers look at these.
    parser.set_defaults(local=False, registry=None, no_checkpoints=True)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        options, inferred = tune.with_tuning_task(
            cli.training_options_from(arguments, target, the_project), the_project.source
        )
        if inferred is not None:
            print(
                f"task: {inferred} (inferred from {the_project.source.name} as `train` infers it; "
                "--task sets another)",
                file=sys.stderr,
            )
        if arguments.dry_run:
            request = tune.tuning_request(target, options, arguments.max_jobs, arguments.max_parallel_jobs)
            print(request.cli_command())
            return 0
        tuner = tune.build_tuner(
            build_estimator(target, options), options, arguments.max_jobs, arguments.max_parallel_jobs
        )
        job_name = tune.start_tuning(tuner, options)
        print(
            f"tuning job: {job_name} ({arguments.max_jobs} trials, {arguments.max_parallel_jobs} at a time)"
        )
        if arguments.wait:
            print("\n".join(tune.describe_best(target, job_name)))
    return 0
