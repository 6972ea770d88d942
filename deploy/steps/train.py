"""The training job: one SDK Estimator (managed spot with checkpoints by default, or SageMaker local mode) on
the train and validation channels, its request for a dry run, and a summary of what it cost and scored.

Script mode: with a recipe folder the estimator ships it (`entry_point`, `source_dir`): the SDK packs it as
s3://BUCKET/PREFIX/code/JOB/source/sourcedir.tar.gz, or mounts it in local mode, and `train` loads the recipe
from there (`lightsage.recipes.script`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightsage.recipes.base import Recipe
from lightsage.tasks import METRICS, Task
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.aws.s3 import ModelArchive, read_model_archive
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import metrics
from lightsage_deploy.jobs.recipe_folder import RecipeFolder
from lightsage_deploy.project import project
from lightsage_deploy.targets import target as settings

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator

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
    # script mode: the recipe module the job ships
    recipe_folder: RecipeFolder | None = None

    @property
    def script(self) -> type[Recipe] | None:
        return self.recipe_folder.recipe if self.recipe_folder is not None else None


def build_estimator(
    target: settings.DeployTarget,
    options: TrainingOptions,
    *,
    checkpoint_s3_uri: str | None = None,
    session: Any = None,
) -> Estimator:
    """The one estimator every script uses (training, tuning and the pipeline's training step, which passes
    its pipeline `session`). Local mode rejects spot and checkpoints.

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
    if options.recipe_folder is not None:
        optional.update(
            entry_point=options.recipe_folder.entry_point,
            source_dir=str(options.recipe_folder.folder),
            code_location=options.layout.uri("code"),
        )
    job_hyperparameters = metrics.with_known_task(options.hyperparameters, options.script)
    return Estimator(
        image_uri=options.image_uri,
        role=options.role,
        instance_count=options.instance_count,
        instance_type=options.instance_type,
        output_path=options.layout.output,
        base_job_name=options.project.base_job_name,
        hyperparameters=job_hyperparameters,
        metric_definitions=metrics.metric_definitions(
            *metrics.job_tasks(job_hyperparameters, options.script)
        ),
        max_run=options.max_run,
        tags=options.project.tags,
        # A bring-your-own image has no Debugger hooks; profiling would only add a rule job.
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session or target.sagemaker_session,
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
    if options.recipe_folder is not None:
        raise DeployError(
            "--dry-run cannot show a job that ships a recipe folder: the SDK uploads the folder to S3 before "
            "it builds the request"
        )
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
