"""Tune the LightGBM hyperparameters with a SageMaker tuning job that maximizes validation:auc.

    python -m deploy.tune --bucket BUCKET [--max-jobs 20] [--max-parallel-jobs 2] [--wait]
                          [--image-uri URI] [--role ARN] [--instance-type ml.m5.large] [--no-spot]
    python -m deploy.tune --bucket BUCKET --dry-run

Each trial is the estimator of deploy.train_job (same image, channels, metric regexes, spot settings);
fixed --hyperparameter values stay fixed. SageMaker local mode cannot tune: --dry-run instead prints the
CreateHyperParameterTuningJob request the SDK would send (checked against the API model), and sends nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse

from deploy import cli, settings
from deploy.errors import DeployError
from deploy.push_image import default_image_uri
from deploy.train_job import (
    METRIC_DEFINITIONS,
    OBJECTIVE_METRIC,
    TrainingOptions,
    add_estimator_arguments,
    build_estimator,
    merge_hyperparameters,
    parse_hyperparameter_assignments,
    read_hyperparameters_file,
    resolve_role,
    training_inputs,
)

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import HyperparameterTuner

DEFAULT_MAX_JOBS = 20
DEFAULT_MAX_PARALLEL_JOBS = 2
CREATE_TUNING_JOB = "CreateHyperParameterTuningJob"
DRY_RUN_ROLE = "arn:aws:iam::000000000000:role/dry-run-placeholder"
DRY_RUN_REGISTRY = "000000000000.dkr.ecr.{region}.amazonaws.com"


def hyperparameter_ranges() -> dict[str, Any]:
    from sagemaker.tuner import ContinuousParameter, IntegerParameter

    return {
        "learning_rate": ContinuousParameter(0.01, 0.2, scaling_type="Logarithmic"),
        "num_leaves": IntegerParameter(4, 64),
        "max_depth": IntegerParameter(3, 8),
        "min_child_samples": IntegerParameter(5, 50),
        "subsample": ContinuousParameter(0.6, 1.0),
        "colsample_bytree": ContinuousParameter(0.5, 1.0),
        "reg_lambda": ContinuousParameter(0.0, 10.0),
        "n_estimators": IntegerParameter(100, 800),
    }


def build_tuner(estimator: Estimator, max_jobs: int, max_parallel_jobs: int) -> HyperparameterTuner:
    from sagemaker.tuner import HyperparameterTuner

    if not 1 <= max_parallel_jobs <= max_jobs:
        raise DeployError(
            f"--max-parallel-jobs must be between 1 and --max-jobs ({max_jobs}), not {max_parallel_jobs}"
        )
    return HyperparameterTuner(
        estimator,
        objective_metric_name=OBJECTIVE_METRIC,
        objective_type="Maximize",
        hyperparameter_ranges=hyperparameter_ranges(),
        metric_definitions=[dict(definition) for definition in METRIC_DEFINITIONS],
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        base_tuning_job_name=settings.BASE_JOB_NAME,
        tags=[dict(tag) for tag in settings.PROJECT_TAGS],
    )


def start_tuning(tuner: HyperparameterTuner, layout: settings.S3Layout, *, wait: bool) -> str:
    tuner.fit(training_inputs(layout), wait=wait)
    return str(tuner.latest_tuning_job.name)


@contextmanager
def offline_boto_session(boto_session: Any, captured: dict[str, Any]) -> Iterator[None]:
    """Record the CreateHyperParameterTuningJob parameters and answer it locally; refuse any other request."""
    events = boto_session.events

    def record(params: Mapping[str, Any], **_: Any) -> None:
        captured.update(params)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        arn = "arn:aws:sagemaker:dry-run:000000000000:hyper-parameter-tuning-job/dry-run"
        return AWSResponse("", 200, {}, None), {"HyperParameterTuningJobArn": arn}

    def refuse(request: Any, **_: Any) -> None:
        raise DeployError(f"dry run: refused to send {request.method} {request.url}")

    handlers = [
        (f"before-parameter-build.sagemaker.{CREATE_TUNING_JOB}", record),
        (f"before-call.sagemaker.{CREATE_TUNING_JOB}", answer),
        ("before-send", refuse),
    ]
    for event, handler in handlers:
        events.register(event, handler)
    try:
        yield
    finally:
        for event, handler in handlers:
            events.unregister(event, handler)


def dry_run_request(
    tuner: HyperparameterTuner, layout: settings.S3Layout, captured: dict[str, Any]
) -> dict[str, Any]:
    """Run `tuner.fit` inside `offline_boto_session`: return the request botocore validated and never sent."""
    start_tuning(tuner, layout, wait=False)
    if not captured:
        raise DeployError("dry run: the tuner did not build a CreateHyperParameterTuningJob request")
    return captured


def describe_best(target: settings.DeployTarget, job_name: str) -> list[str]:
    description = target.sagemaker_session.sagemaker_client.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=job_name
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


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("deploy.tune", __doc__)
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
        "--wait", action="store_true", help="wait for the tuning job and print the best trial"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the tuning job request; call nothing")
    parser.set_defaults(local=False)  # tuning has no local mode; cli.layout_from reads the flag
    return parser


def options_from(arguments: argparse.Namespace, target: settings.DeployTarget) -> TrainingOptions:
    file_values = (
        read_hyperparameters_file(arguments.hyperparameters_file) if arguments.hyperparameters_file else {}
    )
    fixed = merge_hyperparameters(file_values, parse_hyperparameter_assignments(arguments.hyperparameter))
    if arguments.dry_run:
        role = resolve_role(arguments.role, execution_role=lambda: DRY_RUN_ROLE)
        image_uri = (
            arguments.image_uri
            or f"{DRY_RUN_REGISTRY.format(region=target.region)}/{arguments.repository}:latest"
        )
    else:
        role = resolve_role(arguments.role)
        image_uri = arguments.image_uri or default_image_uri(target, arguments.repository)
    return TrainingOptions(
        image_uri=image_uri,
        role=role,
        layout=cli.layout_from(arguments),
        instance_type=arguments.instance_type or settings.DEFAULT_INSTANCE_TYPE,
        hyperparameters=fixed,
        use_spot=not arguments.no_spot,
        max_run=arguments.max_run,
        max_wait=arguments.max_wait,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    captured: dict[str, Any] = {}
    with ExitStack() as stack:
        target = stack.enter_context(
            settings.open_target(local=False, region=arguments.region, sdk_telemetry=not arguments.dry_run)
        )
        if arguments.dry_run:
            # Before any client exists: botocore copies a session's hooks into each client it creates.
            stack.enter_context(offline_boto_session(target.boto_session, captured))
        options = options_from(arguments, target)
        tuner = build_tuner(build_estimator(target, options), arguments.max_jobs, arguments.max_parallel_jobs)
        if arguments.dry_run:
            request = dry_run_request(tuner, options.layout, captured)
            print(json.dumps(request, indent=2, sort_keys=True, default=str))
            return 0
        job_name = start_tuning(tuner, options.layout, wait=arguments.wait)
        print(
            f"tuning job: {job_name} ({arguments.max_jobs} trials, {arguments.max_parallel_jobs} at a time)"
        )
        if arguments.wait:
            print("\n".join(describe_best(target, job_name)))
    return 0


if __name__ == "__main__":
    cli.run(main)
