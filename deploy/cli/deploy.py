"""Deploy a model to an endpoint (real-time, serverless or asynchronous), predict a few rows, delete it.

examples:
  byoc deploy --model-data s3://BUCKET/PREFIX/output/JOB/output/model.tar.gz
  byoc deploy --training-job JOB --keep                       # leave it running (it costs money)
  byoc deploy --training-job JOB --bucket my-bucket --data-capture 100   # capture for Model Monitor
  byoc deploy --training-job JOB --serverless --memory-size 2048 --max-concurrency 5
  byoc deploy --training-job JOB --async --bucket my-bucket
  byoc deploy --model-data s3://.../model.tar.gz --serverless --dry-run  # the AWS CLI commands; sends nothing
  byoc deploy --local --model-data s3://NAME-local/PREFIX/output/JOB/output/model.tar.gz

Kinds: real-time (instances; optional data capture of requests and answers to
s3://BUCKET/PREFIX/data-capture/), serverless (memory size and max concurrency, no instances, no data capture)
and asynchronous (requests and answers go through S3: answers under s3://BUCKET/PREFIX/async-output/). Rows
default to the first rows of the project's data with the target removed (`byoc predict` explains the answers).
Afterwards the model, the endpoint and its config are deleted, unless --keep. SageMaker local mode (--local)
offers real-time endpoints only, without data capture: it has no serverless or asynchronous endpoints.

--approved deploys the newest Approved version of the project's model package group (`byoc models`; the
lookup passes SortOrder=Descending: the API lists oldest first by default); with --local, from moto's
registry on the offline stand-ins.

A guarded rollout (--update ENDPOINT) moves a live endpoint to a new model with SageMaker's deployment
guardrails: a blue/green update that shifts traffic all at once, as a --canary share of the fleet, or in
--linear steps, baking --bake seconds after each shift, and rolls back automatically when one of two
CloudWatch alarms it creates on the endpoint fires (its 5xx error rate above --max-error-rate, its p99 model
latency above --max-latency-ms; --alarm adds alarms of your own). Every request is checked against the API's
limits before the first is sent (a canary of at most 50 %, linear steps of 10 to 50 %, 1 to 10 alarms, waits
of at most 3600 s, an execution timeout longer than all the waiting). Local mode has no endpoint updates:
--dry-run prints the requests as AWS CLI commands instead.
  byoc deploy --update NAME --approved --canary 10 --bake 600
  byoc deploy --update NAME --model-data s3://.../model.tar.gz --linear 20 --bake 300
  byoc deploy --update NAME --approved --canary 10 --dry-run
`python -m lightsage_deploy deploy` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.cli import update
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import endpoint, predict, rollout
from lightsage_deploy.steps.endpoint import SERVERLESS_MEMORY_SIZES_MB, EndpointKind
from lightsage_deploy.targets import target as settings

COMMAND = "deploy"


def add_kind_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("endpoint kind (default: real-time)")
    kinds = group.add_mutually_exclusive_group()
    kinds.add_argument(
        "--serverless", dest="kind", action="store_const", const=EndpointKind.SERVERLESS,
        help="a serverless endpoint: no instances, billed per request",
    )  # fmt: skip
    kinds.add_argument(
        "--async", dest="kind", action="store_const", const=EndpointKind.ASYNC,
        help="an asynchronous endpoint: requests and answers through s3://BUCKET/PREFIX/async-*/",
    )  # fmt: skip
    parser.set_defaults(kind=EndpointKind.REALTIME)
    group.add_argument(
        "--instance-count", type=int, default=1, help="real-time and async: instances (default: %(default)s)"
    )
    group.add_argument(
        "--data-capture",
        type=int,
        default=0,
        metavar="PERCENT",
        help="real-time and async: capture this share of requests and answers to "
        "s3://BUCKET/PREFIX/data-capture/ for Model Monitor (default: off)",
    )
    group.add_argument(
        "--memory-size",
        type=int,
        default=2048,
        metavar="MB",
        help=f"serverless: {', '.join(map(str, SERVERLESS_MEMORY_SIZES_MB))} (default: %(default)s)",
    )
    group.add_argument(
        "--max-concurrency",
        type=int,
        default=5,
        help="serverless: concurrent requests (default: %(default)s)",
    )


def add_update_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("guarded rollout of a live endpoint")
    group.add_argument("--update", metavar="ENDPOINT", help="update this endpoint instead of creating one")
    shifts = group.add_mutually_exclusive_group()
    shifts.add_argument(
        "--canary",
        type=int,
        metavar="PERCENT",
        help="first shift this share of the fleet, bake, then the rest",
    )
    shifts.add_argument(
        "--linear",
        type=int,
        metavar="PERCENT",
        help="shift this share of the fleet at a time, baking between",
    )
    group.add_argument(
        "--bake",
        type=int,
        default=600,
        metavar="SECONDS",
        help="wait after each shift (default: %(default)s)",
    )
    group.add_argument(
        "--termination-wait",
        type=int,
        default=300,
        metavar="SECONDS",
        help="keep the old fleet this long after the last shift (default: %(default)s)",
    )
    group.add_argument(
        "--max-execution-timeout",
        type=int,
        metavar="SECONDS",
        help="the whole update's limit (default: all the waiting plus 1800 s to start the new fleet)",
    )
    group.add_argument(
        "--max-error-rate",
        type=float,
        default=0.01,
        help="roll back when the share of 5xx answers exceeds this (default: %(default)s)",
    )
    group.add_argument(
        "--max-latency-ms",
        type=float,
        default=500.0,
        help="roll back when the p99 model latency exceeds this (default: %(default)s)",
    )
    group.add_argument(
        "--alarm",
        action="append",
        default=[],
        metavar="NAME",
        help="another CloudWatch alarm to roll back on",
    )
    group.add_argument(
        "--variant-name",
        default=rollout.DEFAULT_VARIANT,
        help="with --dry-run: the endpoint's variant (default: %(default)s; else read from the endpoint)",
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser, serving=True)
    cli.add_layout_arguments(parser)
    cli.add_model_arguments(parser, approved=True)
    add_kind_arguments(parser)
    add_update_arguments(parser)
    parser.add_argument("--endpoint-name", help="default: PROJECT-<timestamp>")
    cli.add_row_arguments(parser)
    parser.add_argument(
        "--keep", action="store_true", help="leave the real endpoint running (it costs money)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the AWS CLI commands that create the endpoint; send nothing",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    if arguments.update:
        return update.main(arguments)
    if arguments.canary is not None or arguments.linear is not None or arguments.alarm:
        raise DeployError("--canary, --linear and --alarm shape a rollout: they go with --update ENDPOINT")
    cli.refuse_local_dry_run(arguments)
    the_project = project.load()
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        name = arguments.endpoint_name or settings.unique_name(the_project.base_job_name)
        options = cli.hosting_options_from(
            arguments, target, the_project, name, placeholders=arguments.dry_run
        )
        if arguments.dry_run:
            for request in endpoint.endpoint_requests(target, options):
                print(request.cli_command())
            return 0
        csv_rows = cli.rows_from(arguments, the_project)
        predictions = endpoint.serve_and_predict(target, options, csv_rows, keep=arguments.keep)
    for line in predict.prediction_lines(csv_rows, predictions):
        print(line)
    print(f"endpoint {options.name} kept: delete it with `byoc cleanup --name {options.name}`"
          if arguments.keep else f"deleted model, endpoint and endpoint config {options.name}")  # fmt: skip
    return 0
