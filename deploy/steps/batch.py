"""Score the validation rows with a batch transform job and show where the answers landed.

examples:
  byoc batch --bucket my-bucket --model-data s3://my-bucket/PREFIX/output/JOB/output/model.tar.gz
  byoc batch --bucket my-bucket --training-job JOB --instance-type ml.m5.large
  byoc batch --bucket my-bucket --model-data s3://.../model.tar.gz --dry-run   # the AWS CLI commands
  byoc batch --local --model-data s3://NAME-local/PREFIX/output/JOB/output/model.tar.gz

Batch transform splits the input by line and sends lines without a header, so the job reads a features-only,
header-less copy of the validation channel (training column order, the project's target removed) that this
command writes to s3://BUCKET/PREFIX/batch-input/ first. The answers, one CSV line per input row
(`label,probability` for binary, `label,p_1,...,p_k` for multiclass, `value` for regression), land under
s3://BUCKET/PREFIX/batch-output/JOB/. The model is deleted afterwards. `python -m
lightsage_deploy.steps.batch` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lightsage_deploy import project
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.s3 import list_keys, put_bytes, read_bytes
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError, explain_aws_error
from lightsage_deploy.steps.endpoint import EndpointOptions, add_model_arguments, build_model, options_from
from lightsage_deploy.steps.rows import features_only_csv, read_frame
from lightsage_deploy.steps.upload import channel_file_name
from lightsage_deploy.targets import target as settings

COMMAND = "batch"
BATCH_INPUT_FILE = "validation-features.csv"
MAX_PAYLOAD_MB = 6


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
            print(
                f"warning: could not delete model {options.name}: {explain_aws_error(error)}", file=sys.stderr
            )
    output_uris = tuple(
        f"s3://{layout.bucket}/{key}" for key in list_keys(s3, job_output) if key.endswith(".out")
    )
    if not output_uris:
        raise DeployError(f"batch transform {options.name} finished but wrote nothing under {job_output}")
    lines = tuple(
        line for uri in output_uris for line in prediction_lines(read_bytes(s3, uri).decode("utf-8"))
    )
    return TransformResult(options.name, input_uri, input_rows, output_uris, lines)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, "lightsage_deploy.steps.batch", __doc__)
    cli.add_target_arguments(parser, serving=True)
    cli.add_layout_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--show", type=int, default=5, help="output lines to print (default: %(default)s)")
    parser.add_argument("--no-logs", action="store_true", help="do not stream the job's CloudWatch logs")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the AWS CLI commands that create the model and the transform job; send nothing",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.refuse_local_dry_run(arguments)
    the_project = project.load()
    layout = cli.layout_from(arguments, the_project)
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        name = settings.unique_name(the_project.base_job_name)
        options = options_from(arguments, target, the_project, name, placeholders=arguments.dry_run)
        if arguments.dry_run:
            for request in transform_requests(target, options, layout):
                print(request.cli_command())
            return 0
        result = run_transform(target, options, layout, logs=not arguments.no_logs)
    print(f"job:    {result.job_name}")
    print(f"input:  {result.input_uri}{BATCH_INPUT_FILE} ({result.input_rows} rows)")
    for uri in result.output_uris:
        print(f"output: {uri}")
    print(f"lines:  {len(result.output_lines)}")
    for line in result.output_lines[: arguments.show]:
        print(f"        {line}")
    return 0


if __name__ == "__main__":
    cli.run(main)
