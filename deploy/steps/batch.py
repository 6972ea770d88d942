"""Batch transform: a features-only, header-less copy of the validation channel scored by a transform job,
its answers read back from S3, and the model deleted afterwards."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.s3 import list_keys, put_bytes, read_bytes
from lightsage_deploy.errors import DeployError, explain_aws_error
from lightsage_deploy.jobs.channels import channel_file_name
from lightsage_deploy.jobs.rows import features_only_csv, read_frame
from lightsage_deploy.project import project
from lightsage_deploy.steps.endpoint import EndpointOptions, build_model, refuse_dry_run_with_code
from lightsage_deploy.targets import target as settings

BATCH_INPUT_FILE = "validation-features.csv"
MAX_PAYLOAD_MB = 6
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransformResult:
    job_name: str
    input_uri: str
    input_rows: int
    output_uris: tuple[str, ...]
    output_lines: tuple[str, ...]


def stage_batch_input(s3: Any, layout: settings.S3Layout, the_project: project.Project) -> tuple[str, int]:
    """Write the header-less, features-only copy of the validation channel; return its prefix and rows."""
    name = channel_file_name("validation", the_project.source)
    labelled = read_frame(read_bytes(s3, layout.validation + name), name)
    features, rows = features_only_csv(labelled, the_project.target)
    put_bytes(s3, layout.batch_input + BATCH_INPUT_FILE, features.encode("utf-8"))
    return layout.batch_input, rows


def prediction_lines(body: str) -> list[str]:
    """The non-empty lines: with AssembleWith=Line, SageMaker adds a newline after every response."""
    return [line for line in body.splitlines() if line.strip()]


def start_transform(
    target: settings.DeployTarget,
    options: EndpointOptions,
    layout: settings.S3Layout,
    *,
    wait: bool,
    logs: bool = False,
) -> None:
    """Create the model and the transform job over s3://BUCKET/PREFIX/batch-input/; with `wait`, await it."""
    # Local mode appends the job name to the output path by itself.
    output_path = layout.batch_output if target.is_local else layout.uri("batch-output", options.name)
    transformer = build_model(target, options).transformer(
        instance_count=1,
        instance_type=options.instance_type,
        strategy="MultiRecord",
        assemble_with="Line",
        output_path=output_path,
        accept="text/csv",
        max_payload=MAX_PAYLOAD_MB,
        tags=options.project.tags,
    )
    transformer.transform(
        layout.batch_input,
        content_type="text/csv",
        split_type="Line",
        job_name=options.name,
        wait=wait,
        logs=logs and not target.is_local,
    )


def transform_requests(
    target: settings.DeployTarget, options: EndpointOptions, layout: settings.S3Layout
) -> list[dry_run.Request]:
    """The CreateModel and CreateTransformJob requests, built by the SDK and validated, not sent."""
    refuse_dry_run_with_code(options)
    with dry_run.capture(target.boto_session) as captured:
        start_transform(target, options, layout, wait=False)
    return captured


def run_transform(
    target: settings.DeployTarget, options: EndpointOptions, layout: settings.S3Layout, *, logs: bool = False
) -> TransformResult:
    """What the CLI does: stage input, create the model, run the job, read the output, delete the model."""
    from sagemaker.exceptions import UnexpectedStatusException

    s3 = target.client("s3")
    input_uri, input_rows = stage_batch_input(s3, layout, options.project)
    job_output = layout.uri("batch-output", options.name)
    try:
        start_transform(target, options, layout, wait=True, logs=logs)
    except (RuntimeError, UnexpectedStatusException) as error:
        raise DeployError(f"batch transform {options.name} failed: {error}") from None
    finally:
        try:
            target.sagemaker_session.delete_model(options.name)
        except (BotoCoreError, ClientError) as error:
            logger.warning("could not delete model %s: %s", options.name, explain_aws_error(error))
    output_uris = tuple(
        f"s3://{layout.bucket}/{key}" for key in list_keys(s3, job_output) if key.endswith(".out")
    )
    if not output_uris:
        raise DeployError(f"batch transform {options.name} finished but wrote nothing under {job_output}")
    lines = tuple(
        line for uri in output_uris for line in prediction_lines(read_bytes(s3, uri).decode("utf-8"))
    )
    return TransformResult(options.name, input_uri, input_rows, output_uris, lines)
