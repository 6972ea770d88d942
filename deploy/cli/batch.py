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
s3://BUCKET/PREFIX/batch-output/JOB/. The model is deleted afterwards. `python -m lightsage_deploy batch`
is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import project
from lightsage_deploy.steps import batch
from lightsage_deploy.targets import target as settings

COMMAND = "batch"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser, serving=True)
    cli.add_layout_arguments(parser)
    cli.add_model_arguments(parser)
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
        options = cli.hosting_options_from(
            arguments, target, the_project, name, placeholders=arguments.dry_run
        )
        if arguments.dry_run:
            for request in batch.transform_requests(target, options, layout):
                print(request.cli_command())
            return 0
        result = batch.run_transform(target, options, layout, logs=not arguments.no_logs)
    print(f"job:    {result.job_name}")
    print(f"input:  {result.input_uri}{batch.BATCH_INPUT_FILE} ({result.input_rows} rows)")
    for uri in result.output_uris:
        print(f"output: {uri}")
    print(f"lines:  {len(result.output_lines)}")
    for line in result.output_lines[: arguments.show]:
        print(f"        {line}")
    return 0
