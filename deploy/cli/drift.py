"""Compare a window of traffic with the model's training baseline: a Processing job of the image's `drift`.

examples:
  byoc drift --local --data held-out.csv             # a CSV or Parquet file of requests (features)
  byoc drift --capture s3://BUCKET/PREFIX/data-capture/ENDPOINT/AllTraffic/2024/05/01/
  byoc drift --local --capture captured/             # a folder of data-capture JSON Lines
  byoc drift --version 3 --data last-week.parquet    # another version than the newest Approved one
  byoc drift --model-data s3://.../model.tar.gz --data last-week.csv

The model is the newest Approved version of the project's model package group (`byoc models`), else
--version or --model-data; the job gets its model and, when `byoc pipeline` registered one with it, its data
baseline. Each feature gets a test suited to its kind (numbers: distribution distance; text: unseen and
shifted categories; both: missing share). The job writes constraint_violations.json (Model Monitor's format)
and a report under s3://BUCKET/PREFIX/drift/JOB/, and its last line, printed here, is
`drift: N violation(s) in M feature(s): name, ...`. It needs no Model Monitor service: attach it to a
schedule of your own (EventBridge, or a pipeline trigger). --local runs it in SDK local mode on the offline
stand-ins. The raw AWS CLI: `aws sagemaker create-processing-job` with the image, ContainerEntrypoint
["drift"], the model under /opt/ml/processing/model and the traffic under /opt/ml/processing/traffic.
`python -m lightsage_deploy drift` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import drift

COMMAND = "drift"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    traffic = parser.add_argument_group("traffic").add_mutually_exclusive_group(required=True)
    traffic.add_argument("--data", type=Path, help="a CSV (with a header) or Parquet file of requests")
    traffic.add_argument(
        "--capture",
        metavar="S3URI|FOLDER",
        help="data-capture JSON Lines: an s3:// prefix, or a local folder",
    )
    model = parser.add_argument_group("model").add_mutually_exclusive_group()
    model.add_argument("--version", help="a registered version (number or latest; default: newest Approved)")
    model.add_argument("--model-data", help="s3:// URI of a model.tar.gz (no registered baseline)")
    group = parser.add_argument_group("job")
    cli.add_image_and_role_arguments(group, "image to run with --model-data")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    layout = cli.layout_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        if arguments.model_data:
            image_uri, role = cli.image_and_role_from(arguments, target, the_project)
            model = drift.DriftModel(image_uri, arguments.model_data, None, arguments.model_data)
        else:
            if arguments.image_uri:
                raise DeployError("a registered version runs with its own image: leave out --image-uri")
            model = drift.model_of_version(target.client("sagemaker"), the_project, arguments.version)
            role = cli.role_for(target, arguments.role, the_project)
        options = drift.DriftOptions(
            project=the_project,
            model=model,
            role=role,
            instance_type=arguments.instance_type or target.default_instance_type,
            layout=layout,
            data=arguments.data,
            capture=arguments.capture,
        )
        result = drift.run_drift(target, options)
    print(f"model:      {model.description}")
    for violation in result.violations:
        print(
            f"violation:  {violation.get('feature_name')}: {violation.get('constraint_check_type')}: "
            f"{violation.get('description')}"
        )
    print(f"results:    {result.output} ({drift.contract.VIOLATIONS_FILE}, report)")
    print(result.summary)
    return 0
