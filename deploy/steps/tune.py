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
`python -m lightsage_deploy.steps.tune` is the same command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lightsage.contract import hyperparameters as hp
from lightsage_deploy import project
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import hyperparameters, metrics
from lightsage_deploy.steps.train import (
    TrainingOptions,
    add_estimator_arguments,
    build_estimator,
    options_from,
    training_inputs,
)
from lightsage_deploy.targets import target as settings

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import HyperparameterTuner

COMMAND = "tune"
DEFAULT_MAX_JOBS = 20
DEFAULT_MAX_PARALLEL_JOBS = 2
TUNING_FINISHED = ("Completed", "Failed", "Stopped")


def parameter_range(spec: hp.Hyperparameter) -> Any:
    """The SDK's range for a declared TuningRange: integers as IntegerParameter, the rest as continuous."""
    from sagemaker.tuner import ContinuousParameter, IntegerParameter

    tuning = spec.tuning
    if tuning is None:
        raise DeployError(f"hyperparameter {spec.name!r} has no tuning range")
    if spec.kind is int:
        return IntegerParameter(int(tuning.low), int(tuning.high), scaling_type=tuning.scaling)
    return ContinuousParameter(tuning.low, tuning.high, scaling_type=tuning.scaling)


def hyperparameter_ranges(values: Mapping[str, str]) -> dict[str, Any]:
    ranges = {name: parameter_range(spec) for name, spec in hyperparameters.tuning_ranges(values).items()}
    if not ranges:
        raise DeployError(
            "nothing to tune: every tunable hyperparameter of the recipe is set to a fixed value"
        )
    return ranges


def build_tuner(
    estimator: Estimator, options: TrainingOptions, max_jobs: int, max_parallel_jobs: int
) -> HyperparameterTuner:
    from sagemaker.tuner import HyperparameterTuner

    if not 1 <= max_parallel_jobs <= max_jobs:
        raise DeployError(
            f"--max-parallel-jobs must be between 1 and --max-jobs ({max_jobs}), not {max_parallel_jobs}"
        )
    task = metrics.known_task(options.hyperparameters)
    if task is None:
        raise DeployError("a tuning job needs its task: build its options with options_for_tuning")
    objective = metrics.objective(task)
    return HyperparameterTuner(
        estimator,
        objective_metric_name=objective.name,
        objective_type=objective.direction,
        hyperparameter_ranges=hyperparameter_ranges(options.hyperparameters),
        metric_definitions=metrics.metric_definitions(task),
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        base_tuning_job_name=options.project.base_job_name,
        tags=options.project.tags,
    )


def options_for_tuning(
    arguments: argparse.Namespace, target: settings.DeployTarget, the_project: project.Project
) -> TrainingOptions:
    """`byoc train`'s options with the task settled: the objective metric depends on it, so when neither
    --task, the hyperparameters nor the recipe name it, it is inferred from the project's data source (as
    `train` infers it) and sent to every trial."""
    options = options_from(arguments, target, the_project)
    if metrics.known_task(options.hyperparameters) is not None:
        return options
    task = metrics.inferred_task(options.hyperparameters, the_project.source)
    print(
        f"task: {task} (inferred from {the_project.source.name} as `train` infers it; --task sets another)",
        file=sys.stderr,
    )
    return replace(options, hyperparameters={**options.hyperparameters, "task": task.value})


def start_tuning(tuner: HyperparameterTuner, options: TrainingOptions) -> str:
    tuner.fit(training_inputs(options.layout, options.content_type), wait=False)
    return str(tuner.latest_tuning_job.name)


def tuning_request(
    target: settings.DeployTarget, options: TrainingOptions, max_jobs: int, max_parallel_jobs: int
) -> dry_run.Request:
    """The CreateHyperParameterTuningJob request, built by the SDK and validated, not sent."""
    with dry_run.capture(target.boto_session) as captured:
        start_tuning(
            build_tuner(build_estimator(target, options), options, max_jobs, max_parallel_jobs), options
        )
    return dry_run.only(captured, "CreateHyperParameterTuningJob")


def describe_best(target: settings.DeployTarget, job_name: str) -> list[str]:
    client = target.sagemaker_session.sagemaker_client
    description = wait_for(
        lambda: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name),
        "HyperParameterTuningJobStatus",
        TUNING_FINISHED,
        f"tuning job {job_name}",
        detail=lambda described: ", ".join(
            f"{count} {state.lower()}"
            for state, count in described.get("TrainingJobStatusCounters", {}).items()
            if count
        ),
        poll_seconds=30,
    )
    lines = [f"status:   {description['HyperParameterTuningJobStatus']}"]
    best = description.get("BestTrainingJob")
    if best:
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        lines.append(
            f"best:     {best['TrainingJobName']} {objective.get('MetricName')}={objective.get('Value')}"
        )
        lines.append(f"settings: {json.dumps(best.get('TunedHyperParameters', {}), sort_keys=True)}")
    return lines


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, "lightsage_deploy.steps.tune", __doc__)
    parser.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, {settings.DEFAULT_REGION})"
    )
    cli.add_layout_arguments(parser)
    add_estimator_arguments(parser)
    parser.add_argument(
        "--max-jobs", type=int, default=DEFAULT_MAX_JOBS, help="trials in total (default: %(default)s)"
    )
    parser.add_argument(
        "--max-parallel-jobs",
        type=int,
        default=DEFAULT_MAX_PARALLEL_JOBS,
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
        options = options_for_tuning(arguments, target, the_project)
        if arguments.dry_run:
            request = tuning_request(target, options, arguments.max_jobs, arguments.max_parallel_jobs)
            print(request.cli_command())
            return 0
        tuner = build_tuner(
            build_estimator(target, options), options, arguments.max_jobs, arguments.max_parallel_jobs
        )
        job_name = start_tuning(tuner, options)
        print(
            f"tuning job: {job_name} ({arguments.max_jobs} trials, {arguments.max_parallel_jobs} at a time)"
        )
        if arguments.wait:
            print("\n".join(describe_best(target, job_name)))
    return 0


if __name__ == "__main__":
    cli.run(main)
