"""Train, serve and predict with the image on this machine: `make demo` for your project, without AWS.

examples:
  byoc local
  byoc local --port 18090 --rows 10
  byoc local --hyperparameter n_estimators=50 --image my-team/lightsage:dev

Runs inside a project folder (see `byoc init`), with the image `byoc build` made. Splits the project's data
into train and validation as `byoc upload` does, into the job's /opt/ml tree in .byoc/local/ under the
project folder (git ignores it); runs `train` in the image without network, with the hyperparameters `byoc
train` would send (the project's, then --hyperparameter); serves the model on 127.0.0.1:PORT; predicts the
first --rows rows of the data without the target; prints the answer and the validation metrics; and stops
the server. The model stays in .byoc/local/model. `python -m lightsage_deploy local` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.jobs import hyperparameters
from lightsage_deploy.project import project
from lightsage_deploy.steps import local
from lightsage_deploy.steps.image import LOCAL_IMAGE
from lightsage_deploy.steps.train import DEFAULT_MAX_RUN_SECONDS

COMMAND = "local"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("--image", default=LOCAL_IMAGE, help="the image to run (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=local.DEFAULT_PORT, help="serve on 127.0.0.1:PORT (default: %(default)s)"
    )
    parser.add_argument(
        "--rows", type=int, default=local.DEFAULT_ROWS, help="rows to predict (default: %(default)s)"
    )
    parser.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable; wins over the project's",
    )
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default: %(default)s)")
    parser.add_argument(
        "--max-run", type=int, default=DEFAULT_MAX_RUN_SECONDS, help="seconds (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.check_validation_fraction(arguments.validation_fraction)
    the_project = project.load()
    options = local.LocalOptions(
        project=the_project,
        hyperparameters=hyperparameters.for_job(the_project, assignments=arguments.hyperparameter),
        image=arguments.image,
        port=arguments.port,
        rows=arguments.rows,
        validation_fraction=arguments.validation_fraction,
        seed=arguments.seed,
        max_run=arguments.max_run,
    )
    run = local.run_local(options)
    print(f"predictions for the first {arguments.rows} rows of {the_project.source.name}:")
    print(run.predictions.rstrip("\n"))
    print(run.validation_summary())
    print(f"model: {run.ml_root / 'model'}")
    return 0
