"""Start a project: a folder with its own project file, made from a labelled table.

examples:
  byoc init credit --data credit.csv --target Status
  byoc init churn --data exports/churn.parquet --target churned --recipe tabular --name churn-model
  byoc init . --data houses.csv --target price

Writes DIR/byoc.toml (DIR is created when missing): the project name (--name, else DIR's name made
lower-case with '-' between words), the data file (relative to DIR), the target column, the recipe (default
tabular, which fits any table) and an empty [training.hyperparameters] table with commented examples. The
table is checked first, as `train` will read it: a readable CSV with a header or a Parquet file, with the
target column (a missing one is named with the closest columns), and a target `train` can learn from. An
existing project file is never overwritten. Then, inside DIR: `byoc build` and `byoc local`, and every other
command. `python -m lightsage_deploy init` is the same command.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.project import init
from lightsage_deploy.steps import init as init_step

COMMAND = "init"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("dir", type=Path, metavar="DIR", help="the project folder (created when missing)")
    parser.add_argument("--data", type=Path, required=True, help="the labelled table: CSV or Parquet")
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument(
        "--recipe", default=init.DEFAULT_RECIPE, help="a recipe built into the image (default: %(default)s)"
    )
    parser.add_argument("--name", help="the project name (default: from DIR)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    made = init_step.init_project(
        arguments.dir, arguments.data, arguments.target, arguments.recipe, arguments.name
    )
    the_project = made.project
    print(f"created {the_project.file}")
    print(f"project: {the_project.name}")
    print(f"data:    {the_project.source} ({made.rows} rows, {len(made.columns)} columns)")
    print(f"target:  {the_project.target}: {made.task}")
    print(f"recipe:  {the_project.recipe}")
    print(f"next:    cd {shlex.quote(str(arguments.dir))} && byoc build && byoc local")
    return 0
