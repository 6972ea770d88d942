"""Run a SageMaker training job with the image (managed spot by default) and report what it cost and scored.

    python -m deploy.train_job --bucket BUCKET [--image-uri URI] [--role ARN] [--instance-type ml.m5.large]
                               [--hyperparameter num_leaves=16 ...] [--hyperparameters-file hp.json]
    python -m deploy.train_job --local --image-uri localhost:5000/titanic-byoc@sha256:...

Channels are s3://BUCKET/PREFIX/train/ and .../validation/ (see deploy.upload_data); the model lands under
s3://BUCKET/PREFIX/output/. The role comes from --role, then SAGEMAKER_ROLE_ARN, then
sagemaker.get_execution_role(). Hyperparameters from the file are overridden by --hyperparameter values;
both are checked against the image's own hyperparameter list before anything starts.
--local runs the same estimator in SageMaker local mode (no spot there) against the offline stand-ins.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byoc.hyperparameters import HyperparameterError, parse_hyperparameters
from deploy import cli, settings
from deploy.errors import DeployError
from deploy.push_image import default_image_uri
from deploy.s3 import ModelArchive, read_model_archive

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator

# `train` prints one line per metric, e.g. `validation:auc=0.853887;` (byoc.training.metric_line).
METRIC_SPLITS = ("train", "validation")
METRIC_NAMES = ("accuracy", "auc", "f1", "log_loss")
CV_METRIC_NAMES = ("auc_mean", "accuracy_mean")
METRIC_VALUE_PATTERN = r"([0-9]+(?:\.[0-9]+)?)"


def metric_definition(split: str, name: str) -> dict[str, str]:
    return {
        "Name": f"{split}:{name}",
        "Regex": f"{re.escape(split)}:{re.escape(name)}={METRIC_VALUE_PATTERN};",
    }


METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    *(metric_definition(split, name) for split in METRIC_SPLITS for name in METRIC_NAMES),
    *(metric_definition("cv", name) for name in CV_METRIC_NAMES),
)
OBJECTIVE_METRIC = "validation:auc"
DEFAULT_MAX_RUN_SECONDS = 3600
DEFAULT_MAX_WAIT_SECONDS = 7200
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")


def validate_role_arn(arn: str, source: str) -> str:
    if not ROLE_ARN.fullmatch(arn):
        raise DeployError(
            f"{source} {arn!r} is not an IAM role ARN: "
            "expected arn:aws:iam::<12-digit account>:role/<path/>name"
        )
    return arn


def role_for(target: settings.DeployTarget, explicit: str | None) -> str:
    """Local mode needs no real role: a dummy ARN unless one is given; real mode resolves one."""
    return settings.LOCAL_ROLE_ARN if target.is_local and not explicit else resolve_role(explicit)


def resolve_role(
    explicit: str | None,
    environ: Mapping[str, str] | None = None,
    execution_role: Callable[[], str] | None = None,
) -> str:
    """--role, then SAGEMAKER_ROLE_ARN, then sagemaker.get_execution_role() (works inside SageMaker)."""
    environ = os.environ if environ is None else environ
    if explicit:
        return validate_role_arn(explicit, "--role")
    if environ.get(settings.ROLE_VARIABLE):
        return validate_role_arn(environ[settings.ROLE_VARIABLE], settings.ROLE_VARIABLE)
    if execution_role is None:
        from sagemaker import get_execution_role

        execution_role = get_execution_role
    try:
        role = execution_role()
    except Exception as error:
        raise DeployError(
            "no SageMaker execution role: pass --role arn:aws:iam::ACCOUNT:role/NAME, or set "
            f"{settings.ROLE_VARIABLE}, or run where sagemaker.get_execution_role() works (a SageMaker "
            f"notebook or an assumed role); get_execution_role() said: {str(error).splitlines()[0]}"
        ) from None
    return validate_role_arn(role, "sagemaker.get_execution_role()")


def parse_hyperparameter_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """["num_leaves=16", "learning_rate=0.05"] -> {"num_leaves": "16", "learning_rate": "0.05"}."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key.strip():
            raise DeployError(f"--hyperparameter {assignment!r} is not KEY=VALUE")
        parsed[key.strip()] = value.strip()
    return parsed


def read_hyperparameters_file(path: Path) -> dict[str, str]:
    """A JSON object of hyperparameters; numbers and booleans become the strings SageMaker passes on."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"hyperparameters file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise DeployError(f"hyperparameters file {path} is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise DeployError(f"hyperparameters file {path} must hold a JSON object of name: value")
    parsed: dict[str, str] = {}
    for key, value in content.items():
        if isinstance(value, dict | list) or value is None:
            raise DeployError(f"hyperparameters file {path}: {key!r} must be a string, number or boolean")
        parsed[str(key)] = json.dumps(value) if isinstance(value, bool) else str(value)
    return parsed


def merge_hyperparameters(from_file: Mapping[str, str], from_cli: Mapping[str, str]) -> dict[str, str]:
    """The command line wins over the file; the result must parse as the image's hyperparameters."""
    merged = {**from_file, **from_cli}
    try:
        parse_hyperparameters(merged)
    except HyperparameterError as error:
        raise DeployError(str(error)) from None
    return merged


@dataclass(frozen=True)
class TrainingOptions:
    image_uri: str
    role: str
    layout: settings.S3Layout
    instance_type: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    use_spot: bool = True
    max_run: int = DEFAULT_MAX_RUN_SECONDS
    max_wait: int = DEFAULT_MAX_WAIT_SECONDS
    base_job_name: str = settings.BASE_JOB_NAME


def build_estimator(target: settings.DeployTarget, options: TrainingOptions) -> Estimator:
    """The one estimator every script uses (training and tuning). Local mode rejects spot and max_wait."""
    from sagemaker.estimator import Estimator

    spot = options.use_spot and not target.is_local
    if spot and options.max_wait < options.max_run:
        raise DeployError(
            f"--max-wait ({options.max_wait} s) must be at least --max-run ({options.max_run} s)"
        )
    spot_arguments: dict[str, Any] = (
        {"use_spot_instances": True, "max_wait": options.max_wait} if spot else {}
    )
    return Estimator(
        image_uri=options.image_uri,
        role=options.role,
        instance_count=1,
        instance_type=options.instance_type,
        output_path=options.layout.output,
        base_job_name=options.base_job_name,
        hyperparameters=dict(options.hyperparameters),
        metric_definitions=[dict(definition) for definition in METRIC_DEFINITIONS],
        max_run=options.max_run,
        tags=[dict(tag) for tag in settings.PROJECT_TAGS],
        # A bring-your-own image has no Debugger hooks; profiling would only add a rule job.
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=target.sagemaker_session,
        **spot_arguments,
    )


def training_inputs(layout: settings.S3Layout) -> dict[str, Any]:
    from sagemaker.inputs import TrainingInput

    return {
        "train": TrainingInput(layout.train, content_type="text/csv"),
        "validation": TrainingInput(layout.validation, content_type="text/csv"),
    }


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
    """What the CLI does: build the estimator, fit on the two channels, wait, describe the job."""
    from sagemaker.exceptions import UnexpectedStatusException

    estimator = build_estimator(target, options)
    try:
        estimator.fit(training_inputs(options.layout), wait=True, logs="All" if logs else "None")
    except UnexpectedStatusException:
        pass  # the job failed or stopped: the description below carries its FailureReason
    except RuntimeError as error:
        # Local mode: docker-compose reports the container's non-zero exit; its log is above.
        raise DeployError(f"local training failed ({error}); the container's log above says why") from None
    return summarize(estimator.latest_training_job.describe())


def model_archive(target: settings.DeployTarget, summary: TrainingSummary) -> ModelArchive | None:
    """The trained model.tar.gz with its metrics.json (read from S3 or the emulator), for a completed job."""
    if summary.model_data is None or summary.status != "Completed":
        return None
    return read_model_archive(target.client("s3"), summary.model_data)


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
        validation = archive.metrics.get("validation", {})
        scores = ", ".join(
            f"{name} {validation[name]:.4f}" for name in METRIC_NAMES if validation.get(name) is not None
        )
        lines.append(f"validation: {scores} ({validation.get('rows')} rows, from metrics.json)")
    lines.append(f"model:      {summary.model_data}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("deploy.train_job", __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    add_estimator_arguments(parser)
    parser.add_argument("--no-logs", action="store_true", help="do not stream the job's CloudWatch logs")
    return parser


def add_estimator_arguments(parser: argparse.ArgumentParser) -> None:
    """Estimator options, shared with deploy.tune."""
    group = parser.add_argument_group("training job")
    cli.add_image_and_role_arguments(group, "image to train with")
    group.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable; wins over the file",
    )
    group.add_argument("--hyperparameters-file", type=Path, help="JSON object of hyperparameters")
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


def options_from(arguments: argparse.Namespace, target: settings.DeployTarget) -> TrainingOptions:
    file_values = (
        read_hyperparameters_file(arguments.hyperparameters_file) if arguments.hyperparameters_file else {}
    )
    hyperparameters = merge_hyperparameters(
        file_values, parse_hyperparameter_assignments(arguments.hyperparameter)
    )
    role = role_for(target, arguments.role)
    return TrainingOptions(
        image_uri=arguments.image_uri or default_image_uri(target, arguments.repository, arguments.registry),
        role=role,
        layout=cli.layout_from(arguments),
        instance_type=arguments.instance_type or target.default_instance_type,
        hyperparameters=hyperparameters,
        use_spot=not arguments.no_spot,
        max_run=arguments.max_run,
        max_wait=arguments.max_wait,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    with cli.target_from(arguments) as target:
        options = options_from(arguments, target)
        summary = train(target, options, logs=not arguments.no_logs)
        archive = model_archive(target, summary)
    print("\n".join(format_summary(summary, archive)))
    return 0 if summary.status == "Completed" else 1


if __name__ == "__main__":
    cli.run(main)
