"""The task of a job, and what follows from it: the metric definitions and the tuner's objective.

`train` prints one line per metric (`lightsage.tasks.metric_line`, e.g. `validation:auc=0.853887;`) for the
task's metrics (`lightsage.tasks.METRICS`) on each split, and `cv:NAME_mean=...;` with cross-validation.

The deploy side and `train` use one task: whatever the deploy side assumes, it sends as the `task`
hyperparameter. It knows the task when the `task` hyperparameter (or --task) sets it, or when the recipe
allows only one task; then the job is sent that task and gets that task's metric definitions. When the
recipe allows several and `task` is auto, `train` infers the task from its train channel: the job is sent
no task and gets the metric definitions of every task the recipe allows (a line of another task never
appears, so its definition stays empty). Only tuning, whose objective metric depends on the task, infers it
before the job from the project's data source, with `train`'s rule, and sends it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from lightsage.data.channels import DataError, check_header
from lightsage.data.profile import TargetColumn
from lightsage.recipes.base import Recipe
from lightsage.tasks import (
    CV_PREFIX,
    METRIC_SPLITS,
    METRICS,
    OBJECTIVE_METRIC,
    Direction,
    TargetError,
    TargetProfile,
    Task,
    choose_task,
    metric,
    metric_regex,
)
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs.channels import is_parquet
from lightsage_deploy.jobs.hyperparameters import check, recipe_of


@dataclass(frozen=True)
class Objective:
    name: str
    direction: Direction


def metric_names(*tasks: Task) -> tuple[str, ...]:
    """Every metric `train` may print for any of the tasks, as `split:name`, each once."""
    names = [f"{split}:{entry.name}" for split in METRIC_SPLITS for task in tasks for entry in METRICS[task]]
    names += [f"{CV_PREFIX}:{entry.name}_mean" for task in tasks for entry in METRICS[task]]
    return tuple(dict.fromkeys(names))


def metric_definitions(*tasks: Task) -> list[dict[str, str]]:
    """SageMaker's metric_definitions: the regex of each metric line a job of any of the tasks prints."""
    definitions = []
    for name in metric_names(*tasks):
        split, _, metric_name = name.partition(":")
        definitions.append({"Name": name, "Regex": metric_regex(split, metric_name)})
    return definitions


def objective(task: Task) -> Objective:
    """What a tuning job optimises: the task's objective metric on the validation split, and its direction."""
    name = OBJECTIVE_METRIC[task]
    return Objective(f"validation:{name}", metric(task, name).direction)


def table_columns(source: Path) -> list[str]:
    """The column names of a CSV (its header, held to `train`'s rules) or Parquet file, read without reading
    its rows."""
    if not source.is_file():
        raise DeployError(f"the data source {source} does not exist")
    try:
        if is_parquet(source.name):
            return list(pq.read_schema(source).names)
        with pa_csv.open_csv(source) as reader:
            names = list(reader.schema.names)
        check_header(names, str(source))
        return names
    except (pa.ArrowException, OSError) as error:
        raise DeployError(
            f"cannot read {source} as {'Parquet' if is_parquet(source.name) else 'CSV'}: {error}"
        ) from None
    except DataError as error:
        raise DeployError(str(error)) from None


def missing_column(source: Path, column: str, names: list[str], role: str = "target column") -> DeployError:
    """A column the table lacks, with the names closest to it first."""
    close = [name for name in names if name.casefold() == column.casefold()]
    close += [name for name in difflib.get_close_matches(column, names, n=3, cutoff=0.6) if name not in close]
    hint = f" (did you mean {' or '.join(repr(name) for name in close)}?)" if close else ""
    return DeployError(f"{source} has no {role} '{column}'{hint}; its columns: {', '.join(names)}")


def read_target(source: Path, target: str) -> pa.ChunkedArray:
    """Only the target column of a CSV (as text, the way `train` reads CSV) or Parquet file."""
    names = table_columns(source)
    if target not in names:
        raise missing_column(source, target, names)
    try:
        if is_parquet(source.name):
            return pq.read_table(source, columns=[target]).column(target)
        options = pa_csv.ConvertOptions(include_columns=[target], column_types={target: pa.string()})
        return pa_csv.read_csv(source, convert_options=options).column(target)
    except (pa.ArrowException, OSError) as error:
        raise DeployError(f"cannot read {source}: {error}") from None


def target_profile(source: Path, target: str) -> TargetProfile:
    """What the target column of `source` holds, profiled as `train` profiles it."""
    column = TargetColumn(target)
    try:
        column.observe(read_target(source, target))
    except TargetError as error:
        raise DeployError(f"{source}: {error}") from None
    return column.target_profile()


def infer_from_source(
    source: Path, target: str, requested: str = "auto", recipe_tasks: tuple[Task, ...] = tuple(Task)
) -> Task:
    """The task `train` chooses for the values of `target` in `source` (`lightsage.tasks.choose_task`)."""
    try:
        return choose_task(target_profile(source, target), target, requested, recipe_tasks).task
    except TargetError as error:
        raise DeployError(f"{source}: {error}") from None


def known_task(hyperparameters: Mapping[str, str], script: type[Recipe] | None = None) -> Task | None:
    """The task the job will train, when it is known before any data is read: the `task` hyperparameter, else
    the recipe's only task (`lightsage.tasks.choose_task`, the rule `train` applies); None when the recipe
    allows several and `task` is auto. A task the recipe does not handle is refused here, before any job
    starts."""
    settings = check(hyperparameters, script)
    recipe = recipe_of(hyperparameters, script)
    if settings["task"] == "auto" and len(recipe.tasks) != 1:
        return None
    try:
        return choose_task(None, settings["target"], settings["task"], recipe.tasks, recipe.name).task
    except TargetError as error:
        raise DeployError(f"{error} (the `task` hyperparameter or --task)") from None


def with_known_task(hyperparameters: Mapping[str, str], script: type[Recipe] | None = None) -> dict[str, str]:
    """The hyperparameters with `task` set to the known task, so the job trains the task assumed here."""
    task = known_task(hyperparameters, script)
    return {**hyperparameters, "task": task.value} if task is not None else dict(hyperparameters)


def job_tasks(hyperparameters: Mapping[str, str], script: type[Recipe] | None = None) -> tuple[Task, ...]:
    """The tasks a job with these hyperparameters may train: the known one, else each the recipe allows."""
    task = known_task(hyperparameters, script)
    return (task,) if task is not None else tuple(recipe_of(hyperparameters, script).tasks)


def inferred_task(
    hyperparameters: Mapping[str, str], source: Path, script: type[Recipe] | None = None
) -> Task:
    """The known task, else the one `train` would infer from `source` (for tuning, which needs one)."""
    task = known_task(hyperparameters, script)
    if task is not None:
        return task
    try:
        return infer_from_source(
            source,
            check(hyperparameters, script)["target"],
            recipe_tasks=recipe_of(hyperparameters, script).tasks,
        )
    except DeployError as error:
        raise DeployError(
            f"cannot tell the task from the data ({error}): pass --task binary|multiclass|regression, or "
            "set task in the project's [training.hyperparameters]"
        ) from None
