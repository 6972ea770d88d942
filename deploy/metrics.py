"""The task of a job, and what follows from it: the metric definitions and the tuner's objective.

`train` prints one line per metric (`byoc.tasks.metric_line`, e.g. `validation:auc=0.853887;`) for the
task's metrics (`byoc.tasks.METRICS`) on each split, and `cv:NAME_mean=...;` with cross-validation. The task
is
the `task` hyperparameter when set, else the recipe's only task, else inferred from the project's data source
with the rule `train` applies to its train channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from byoc.profile import TargetColumn
from byoc.tasks import (
    CV_PREFIX,
    METRIC_SPLITS,
    METRICS,
    OBJECTIVE_METRIC,
    Direction,
    TargetError,
    Task,
    infer_task,
    metric,
    metric_regex,
)
from deploy.errors import DeployError
from deploy.hyperparameters import check, recipe_of

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


@dataclass(frozen=True)
class Objective:
    name: str
    direction: Direction


def metric_names(task: Task) -> tuple[str, ...]:
    """Every metric `train` may print for the task, as `split:name`."""
    names = [f"{split}:{entry.name}" for split in METRIC_SPLITS for entry in METRICS[task]]
    names += [f"{CV_PREFIX}:{entry.name}_mean" for entry in METRICS[task]]
    return tuple(names)


def metric_definitions(task: Task) -> list[dict[str, str]]:
    """SageMaker's metric_definitions: the regex of each metric line the task's job prints."""
    definitions = []
    for name in metric_names(task):
        split, _, metric_name = name.partition(":")
        definitions.append({"Name": name, "Regex": metric_regex(split, metric_name)})
    return definitions


def objective(task: Task) -> Objective:
    """What a tuning job optimises: the task's objective metric on the validation split, and its direction."""
    name = OBJECTIVE_METRIC[task]
    return Objective(f"validation:{name}", metric(task, name).direction)


def read_target(source: Path, target: str) -> pa.ChunkedArray:
    """Only the target column of a CSV (as text, the way `train` reads CSV) or Parquet file."""
    if not source.is_file():
        raise DeployError(f"the data source {source} does not exist")
    try:
        if source.name.lower().endswith(PARQUET_SUFFIXES):
            names = pq.read_schema(source).names
            if target in names:
                return pq.read_table(source, columns=[target]).column(target)
        else:
            options = pa_csv.ConvertOptions(include_columns=[target], column_types={target: pa.string()})
            with pa_csv.open_csv(source) as reader:
                names = reader.schema.names
            if target in names:
                return pa_csv.read_csv(source, convert_options=options).column(target)
    except (pa.ArrowException, OSError) as error:
        raise DeployError(f"cannot read {source}: {error}") from None
    raise DeployError(f"{source} has no target column '{target}' (its columns: {', '.join(names)})")


def infer_from_source(source: Path, target: str, requested: str = "auto") -> Task:
    column = TargetColumn(target)
    column.observe(read_target(source, target))
    try:
        return infer_task(column.target_profile(), target, requested)
    except TargetError as error:
        raise DeployError(f"{source}: {error}") from None


def task_of(hyperparameters: Mapping[str, str], source: Path) -> Task:
    """The `task` hyperparameter, else the recipe's only task, else the one `train` infers from `source`."""
    settings = check(hyperparameters)
    if settings["task"] != "auto":
        return Task(settings["task"])
    tasks = recipe_of(hyperparameters).tasks
    if len(tasks) == 1:
        return tasks[0]
    try:
        return infer_from_source(source, settings["target"])
    except DeployError as error:
        raise DeployError(
            f"cannot tell the task from the data ({error}): pass --task binary|multiclass|regression, or "
            "set task in the project's [training.hyperparameters]"
        ) from None
