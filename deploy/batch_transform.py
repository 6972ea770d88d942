"""Score the validation rows with a batch transform job and show where the predictions landed.

    python -m deploy.batch_transform --bucket BUCKET --model-data s3://BUCKET/.../model.tar.gz [--role ARN]
    python -m deploy.batch_transform --local --model-data s3://titanic-byoc-local/.../model.tar.gz

Batch transform splits the input by line and sends lines without a header, so the job reads a features-only,
header-less copy of s3://BUCKET/PREFIX/validation/validation.csv (training column order, Survived removed)
that this script writes to s3://BUCKET/PREFIX/batch-input/ first. The answers, one `label,probability` line
per input row, land under s3://BUCKET/PREFIX/batch-output/. The model is deleted afterwards.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy import cli, settings
from deploy.endpoint import EndpointOptions, add_model_arguments, build_model, options_from, unique_name
from deploy.errors import DeployError, explain_aws_error
from deploy.s3 import list_keys, put_bytes, read_bytes

BATCH_INPUT_FILE = "validation-features.csv"
MAX_PAYLOAD_MB = 6


@dataclass(frozen=True)
class TransformResult:
    job_name: str
    input_uri: str
    input_rows: int
    output_uris: tuple[str, ...]
    output_lines: tuple[str, ...]


def features_only_csv(labelled_csv: str, target: str = settings.TARGET_COLUMN) -> tuple[str, int]:
    """Drop the header and the target column; keep every other column in order. Returns (text, rows)."""
    reader = csv.reader(io.StringIO(labelled_csv, newline=""))
    header = next(reader, None)
    if header is None or target not in header:
        raise DeployError(f"the validation file has no '{target}' column in its header: {header}")
    target_index = header.index(target)
    output = io.StringIO(newline="")
    writer = csv.writer(output, lineterminator="\n")
    rows = 0
    for row in reader:
        if not any(field.strip() for field in row):
            continue
        writer.writerow(row[:target_index] + row[target_index + 1 :])
        rows += 1
    return output.getvalue(), rows


def stage_batch_input(s3: Any, layout: settings.S3Layout) -> tuple[str, int]:
    """Write the header-less, features-only copy of the validation channel; return its prefix and rows."""
    labelled = read_bytes(s3, layout.validation + "validation.csv").decode("utf-8")
    features, rows = features_only_csv(labelled)
    put_bytes(s3, layout.batch_input + BATCH_INPUT_FILE, features.encode("utf-8"))
    return layout.batch_input, rows


def prediction_lines(body: str) -> list[str]:
    """The non-empty lines: with AssembleWith=Line, SageMaker adds a newline after every response."""
    return [line for line in body.splitlines() if line.strip()]


def run_transform(
    target: settings.DeployTarget, options: EndpointOptions, layout: settings.S3Layout, *, logs: bool = False
) -> TransformResult:
    """What the CLI does: stage input, create the model, run the job, read the output, delete the model."""
    from sagemaker.exceptions import UnexpectedStatusException

    s3 = target.client("s3")
    input_uri, input_rows = stage_batch_input(s3, layout)
    model = build_model(target, options)
    job_output = layout.uri("batch-output", options.name)
    # Local mode appends the job name to the output path by itself.
    output_path = layout.batch_output if target.is_local else job_output
    try:
        transformer = model.transformer(
            instance_count=1,
            instance_type=options.instance_type,
            strategy="MultiRecord",
            assemble_with="Line",
            output_path=output_path,
            accept="text/csv",
            max_payload=MAX_PAYLOAD_MB,
            tags=[dict(tag) for tag in settings.PROJECT_TAGS],
        )
        transformer.transform(
            input_uri,
            content_type="text/csv",
            split_type="Line",
            job_name=options.name,
            wait=True,
            logs=logs and not target.is_local,
        )
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


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("deploy.batch_transform", __doc__)
    cli.add_target_arguments(parser, serving=True)
    cli.add_layout_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--show", type=int, default=5, help="output lines to print (default: %(default)s)")
    parser.add_argument("--no-logs", action="store_true", help="do not stream the job's CloudWatch logs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    layout = cli.layout_from(arguments)
    with cli.target_from(arguments) as target:
        options = options_from(arguments, target, unique_name())
        result = run_transform(target, options, layout, logs=not arguments.no_logs)
    print(f"job:    {result.job_name}")
    print(f"input:  {result.input_uri}{BATCH_INPUT_FILE} ({result.input_rows} rows)")
    for uri in result.output_uris:
        print(f"output: {uri}")
    print(f"lines:  {len(result.output_lines)} (label,probability)")
    for line in result.output_lines[: arguments.show]:
        print(f"        {line}")
    return 0


if __name__ == "__main__":
    cli.run(main)
