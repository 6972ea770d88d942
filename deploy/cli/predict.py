"""Send rows to a running endpoint and print its answers (asynchronous endpoints: through S3).

examples:
  byoc predict --endpoint-name NAME          # the first 5 rows of the project's data, target removed
  byoc predict --endpoint-name NAME --payload rows.csv --rows 20
  byoc predict --endpoint-name NAME --async --bucket my-bucket

Rows go out as header-less text/csv in training column order; answers come back as JSON, one per row:
{"label": ..., "probability": p} (binary), {"label": ..., "probabilities": {...}} (multiclass) or
{"prediction": x} (regression). --async uploads the rows to s3://BUCKET/PREFIX/async-input/, invokes the
endpoint asynchronously and waits for its answer under .../async-output/. `python -m lightsage_deploy
predict` is the same command; `byoc deploy` creates an endpoint and predicts in one go.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import project
from lightsage_deploy.steps import predict

COMMAND = "predict"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_region_argument(parser)
    parser.add_argument("--endpoint-name", required=True, help="a running endpoint")
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="the endpoint is asynchronous (needs --bucket)",
    )
    cli.add_layout_arguments(parser)
    cli.add_row_arguments(parser)
    parser.set_defaults(local=False)  # a local endpoint lives only inside `byoc deploy --local`
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    csv_rows = cli.rows_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        if arguments.asynchronous:
            layout = cli.layout_from(arguments, the_project)
            predictions = predict.predict_async(target, arguments.endpoint_name, csv_rows, layout)
        else:
            predictions = predict.predict(target, arguments.endpoint_name, csv_rows)
    for line in predict.prediction_lines(csv_rows, predictions):
        print(line)
    return 0
