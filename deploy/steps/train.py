"""Run a SageMaker training job with the image (managed spot by default) and report what it cost and scored.

examples:
  byoc train --bucket my-bucket --image-uri 123456789012.dkr.ecr.us-east-1.amazonaws.com/NAME@sha256:...
  byoc train --bucket my-bucket --hyperparameter num_leaves=16 --hyperparameters-file hp.json
  byoc train --bucket my-bucket --instance-count 2 --instance-type ml.m5.xlarge --no-spot
  byoc train --bucket my-bucket --dry-run   # the `aws sagemaker create-training-job` command; sends nothing
  byoc train --local --image-uri localhost:5000/NAME@sha256:...

Channels are s3://BUCKET/PREFIX/train/ and .../validation/ (see `byoc upload`); the model lands under
s3://BUCKET/PREFIX/output/, spot checkpoints under s3://BUCKET/PREFIX/checkpoints/JOB/. PREFIX, the base job
name and the tags come from the project (byoc.toml). The role comes from --role, then SAGEMAKER_ROLE_ARN,
then sagemaker.get_execution_role(). Hyperparameters: the project's, then the file's, then --hyperparameter;
all are checked against the image's recipe before anything starts. The task is the `task` hyperparameter
(or --task), else the recipe's only task, and is sent to the job; else `train` infers it from its train
channel, and the job gets the metric definitions of every task the recipe allows. --local runs the same
estimator in SageMaker local mode (no spot or checkpoints there) against the offline stand-ins.
`python -m lightsage_deploy.steps.train` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightsage.tasks import METRICS, Task
from lightsage_deploy import project
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.aws.s3 import ModelArchive, read_model_archive
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.iam.roles import resolve_role, role_for
from lightsage_deploy.steps import hyperparameters, metrics
from lightsage_deploy.steps.image import default_image_uri
from lightsage_deploy.steps.upload import channel_content_type
from lightsage_deploy.targets import target as settings

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator

COMMAND = "train"
DEFAULT_MAX_RUN_SECONDS = 3600
DEFAULT_MAX_WAIT_SECONDS = 7200
TRAINING_FINISHED = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class TrainingOptions:
    project: project.Project
    image_uri: str
    role: str
    layout: settings.S3Layout
    instance_type: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    instance_count: int = 1
    use_spot: bool = True
    checkpoints: bool = True
    max_run: int = DEFAULT_MAX_RUN_SECONDS
    max_wait: int = DEFAULT_MAX_WAIT_SECONDS
    content_type: str = "text/csv"
    # An earlier job's model.tar.gz: the job continues that model (the `model` channel).
    warm_start: str | None = None


def build_estimator(
    target: settings.DeployTarget, options: TrainingOptions, *, checkpoint_s3_uri: str | None = None
) -> Estimator:
    """The one estimator every script uses (training and tuning). Local mode rejects spot and checkpoints.

    The job is sent the task the metric definitions assume, whenever one is assumed (`metrics.known_task`).
    """
    from sagemaker.estimator import Estimator

    if options.instance_count < 1:
        raise DeployError(f"--instance-count must be at least 1, not {options.instance_count}")
    spot = options.use_spot and not target.is_local
    if spot and options.max_wait < options.max_run:
        raise DeployError(
            f"--max-wait ({options.max_wait} s) must be at least --max-run ({options.max_run} s)"
        )
    optional: dict[str, Any] = {}
    if spot:
        optional.update(use_spot_instances=True, max_wait=options.max_wait)
    if checkpoint_s3_uri is not None and not target.is_local:
        optional.update(checkpoint_s3_uri=checkpoint_s3_uri)
    job_hyperparameters = metrics.with_known_task(options.hyperparameters)
    return Estimator(
        image_uri=options.image_uri,
        role=options.role,
        instance_count=options.instance_count,
        instance_type=options.instance_type,
        output_path=options.layout.output,
        base_job_name=options.project.base_job_name,
        hyperparameters=job_hyperparameters,
        metric_definitions=metrics.metric_definitions(*metrics.job_tasks(job_hyperparameters)),
        max_run=options.max_run,
        tags=options.project.tags,
        # A bring-your-own image has no Debugger hooks; profiling would only add a rule job.
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=target.sagemaker_session,
        **optional,
    )


def training_inputs(
    layout: settings.S3Layout, content_type: str, warm_start: str | None = None
) -> dict[str, Any]:
    from sagemaker.inputs import TrainingInput

    inputs = {
        "train": TrainingInput(layout.train, content_type=content_type),
        "validation": TrainingInput(layout.validation, content_type=content_type),
    }
    if warm_start is not None:
        inputs["model"] = TrainingInput(warm_start)
    return inputs


def warm_start_uri(value: str | None) -> str | None:
    """An earlier job's model.tar.gz on S3 (or, in local mode, a file:// path), refused with its value."""
    if value is None:
        return None
    if not value.startswith(("s3://", "file://")) or value.rstrip("/") in ("s3:", "file:"):
        raise DeployError(
            f"--warm-start {value!r} is not an s3:// URI (or file:// in local mode) of an earlier job's "
            "model.tar.gz, e.g. the 'model:' line `byoc train` printed"
        )
    return value


def checkpoint_uri(target: settings.DeployTarget, options: TrainingOptions, job_name: str) -> str | None:
    """Spot jobs checkpoint to s3://BUCKET/PREFIX/checkpoints/JOB/ unless told not to (never locally)."""
    wanted = options.use_spot and options.checkpoints and not target.is_local
    return options.layout.checkpoints(job_name) if wanted else None


def prepare(target: settings.DeployTarget, options: TrainingOptions) -> tuple[Estimator, str]:
    """The job's name and its estimator (whose checkpoint folder is named after the job)."""
    job_name = settings.unique_name(options.project.base_job_name)
    estimator = build_estimator(target, options, checkpoint_s3_uri=checkpoint_uri(target, options, job_name))
    return estimator, job_name


def fit(estimator: Estimator, options: TrainingOptions, job_name: str, *, wait: bool) -> None:
    """Start the job on the two channels; with `wait`, stream its logs until it ends."""
    inputs = training_inputs(options.layout, options.content_type, options.warm_start)
    estimator.fit(inputs, job_name=job_name, wait=wait, logs="All" if wait else "None")


def training_request(target: settings.DeployTarget, options: TrainingOptions) -> dry_run.Request:
    """The CreateTrainingJob request `train` would send, built by the SDK and validated, not sent."""
    with dry_run.capture(target.boto_session) as captured:
        estimator, job_name = prepare(target, options)
        fit(estimator, options, job_name, wait=False)
    return dry_run.only(captured, "CreateTrainingJob")


@dataclass(frozen=True)
class TrainingSummary:
    job_name: str
    status: str
    model_data: str | None
    training_seconds: int | None
    billable_seconds: int | None
    final_metrics: dict[str, float]
    failure_reason: str | None = None

    @property
    def spot_saving(self) -> float | None:
        if not self.training_seconds or self.billable_seconds is None:
            return None
        return 1.0 - self.billable_seconds / self.training_seconds


def summarize(description: Mapping[str, Any]) -> TrainingSummary:
    """The parts of DescribeTrainingJob worth printing (local mode leaves out the times and metrics)."""
    return TrainingSummary(
        job_name=str(description.get("TrainingJobName", "")),
        status=str(description.get("TrainingJobStatus", "unknown")),
        model_data=description.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        training_seconds=description.get("TrainingTimeInSeconds"),
        billable_seconds=description.get("BillableTimeInSeconds"),
        final_metrics={
            str(metric["MetricName"]): float(metric["Value"])
            for metric in description.get("FinalMetricDataList", [])
        },
        failure_reason=description.get("FailureReason"),
    )


def train(target: settings.DeployTarget, options: TrainingOptions, *, logs: bool = True) -> TrainingSummary:
    """What the CLI does: fit on the two channels, wait (logs, or the status), describe the job."""
    from sagemaker.exceptions import UnexpectedStatusException

    follow_logs = logs or target.is_local  # local mode always runs in the foreground
    estimator, job_name = prepare(target, options)
    try:
        fit(estimator, options, job_name, wait=follow_logs)
    except UnexpectedStatusException:
        pass  # the job failed or stopped: the description below carries its FailureReason
    except RuntimeError as error:
        # Local mode: docker-compose reports the container's non-zero exit; its log is above.
        raise DeployError(f"local training failed ({error}); the container's log above says why") from None
    if not follow_logs:
        client = target.sagemaker_session.sagemaker_client
        wait_for(
            lambda: client.describe_training_job(TrainingJobName=job_name),
            "TrainingJobStatus",
            TRAINING_FINISHED,
            f"training job {job_name}",
            detail=lambda description: str(description.get("SecondaryStatus", "")),
        )
    return summarize(estimator.latest_training_job.describe())


def model_archive(target: settings.DeployTarget, summary: TrainingSummary) -> ModelArchive | None:
    """A completed job's model.tar.gz with its manifest and metrics (from S3 or the emulator)."""
    if summary.model_data is None or summary.status != "Completed":
        return None
    return read_model_archive(target.client("s3"), summary.model_data)


def validation_scores(archive: ModelArchive) -> str:
    """`auc 0.8539, accuracy 0.8212, ...` for the task the model was trained for, from metrics.json."""
    validation = archive.metrics.get("validation", {})
    task = Task(archive.metrics.get("task", Task.BINARY))
    return ", ".join(
        f"{entry.name} {validation[entry.name]:.4f}"
        for entry in METRICS[task]
        if validation.get(entry.name) is not None
    )


def format_summary(summary: TrainingSummary, archive: ModelArchive | None) -> list[str]:
    lines = [f"job:        {summary.job_name}", f"status:     {summary.status}"]
    if summary.failure_reason:
        lines.append(f"failure:    {summary.failure_reason}")
    if summary.billable_seconds is not None:
        lines.append(f"billable:   {summary.billable_seconds} s of {summary.training_seconds} s trained")
    if summary.spot_saving is not None:
        lines.append(f"spot saved: {summary.spot_saving:.0%}")
    for name, value in sorted(summary.final_metrics.items()):
        lines.append(f"metric:     {name} = {value:.4f}")
    if archive is not None and archive.metrics:
        rows = archive.metrics.get("validation", {}).get("rows")
        task = archive.metrics.get("task")
        lines.append(f"validation: {validation_scores(archive)} ({task}, {rows} rows, from metrics.json)")
    lines.append(f"model:      {summary.model_data}")
    return lines


def add_estimator_arguments(parser: argparse.ArgumentParser) -> None:
    """Estimator options, shared with lightsage_deploy.steps.tune."""
    group = parser.add_argument_group("training job")
    cli.add_image_and_role_arguments(group, "image to train with")
    group.add_argument(
        "--instance-count", type=int, default=1, help="instances per job (default: %(default)s)"
    )
    group.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable; wins over the file and the project's",
    )
    group.add_argument("--hyperparameters-file", type=Path, help="JSON object of hyperparameters")
    group.add_argument(
        "--task",
        choices=[task.value for task in Task],
        help="the task, sent as the hyperparameter task (default: the `task` hyperparameter, else the "
        "recipe's only task, else the one `train` infers from its train channel)",
    )
    group.add_argument("--no-spot", action="store_true", help="on-demand instead of managed spot training")
    group.add_argument(
        "--max-run", type=int, default=DEFAULT_MAX_RUN_SECONDS, help="seconds (default: %(default)s)"
    )
    group.add_argument(
        "--max-wait",
        type=int,
        default=DEFAULT_MAX_WAIT_SECONDS,
        help="spot: seconds, >= --max-run (default: %(default)s)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request as an AWS CLI command and send nothing (placeholders for a missing "
        "image or role)",
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, "lightsage_deploy.steps.train", __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    add_estimator_arguments(parser)
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


def options_from(
    arguments: argparse.Namespace, target: settings.DeployTarget, the_project: project.Project
) -> TrainingOptions:
    values = hyperparameters.for_job(
        the_project,
        file=arguments.hyperparameters_file,
        assignments=arguments.hyperparameter,
        task=arguments.task,
    )
    repository = cli.repository_from(arguments, the_project)
    if arguments.dry_run:
        role = resolve_role(
            arguments.role, execution_role=lambda: dry_run.placeholder_role(the_project.role_name)
        )
        image_uri = arguments.image_uri or dry_run.placeholder_image(target.region, repository)
    else:
        role = role_for(target, arguments.role, the_project)
        image_uri = arguments.image_uri or default_image_uri(target, repository, arguments.registry)
    return TrainingOptions(
        project=the_project,
        image_uri=image_uri,
        role=role,
        layout=cli.layout_from(arguments, the_project),
        instance_type=arguments.instance_type or target.default_instance_type,
        hyperparameters=values,
        instance_count=arguments.instance_count,
        use_spot=not arguments.no_spot,
        checkpoints=not getattr(arguments, "no_checkpoints", False),
        max_run=arguments.max_run,
        max_wait=arguments.max_wait,
        content_type=channel_content_type(the_project.source),
        warm_start=warm_start_uri(getattr(arguments, "warm_start", None)),
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.refuse_local_dry_run(arguments)
    the_project = project.load()
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        options = options_from(arguments, target, the_project)
        if arguments.dry_run:
            print(training_request(target, options).cli_command())
            return 0
        summary = train(target, options, logs=not arguments.no_logs)
        archive = model_archive(target, summary)
    print("\n".join(format_summary(summary, archive)))
    return 0 if summary.status == "Completed" else 1


if __name__ == "__main__":
    cli.run(main)
