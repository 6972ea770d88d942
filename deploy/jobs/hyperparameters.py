"""The hyperparameters a job gets: the project's, a JSON file's, the command line's; checked as `train` does.

The image parses them with the selected recipe's declarations (`lightsage.recipes.base.resolve`); deploy runs
the same check before anything starts, and reads the recipe's tuning ranges from the same declarations.
`script` is the recipe a job ships in script mode (`lightsage_deploy.jobs.recipe_folder`), None for the
image's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightsage.contract import hyperparameters as hp
from lightsage.recipes.base import Recipe, recipe_for, resolve
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project.project import Project, hyperparameter_text


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """["num_leaves=16", "learning_rate=0.05"] -> {"num_leaves": "16", "learning_rate": "0.05"}."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key.strip():
            raise DeployError(f"--hyperparameter {assignment!r} is not KEY=VALUE")
        parsed[key.strip()] = value.strip()
    return parsed


def read_file(path: Path) -> dict[str, str]:
    """A JSON object of hyperparameters; numbers and booleans become the strings SageMaker passes on."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"hyperparameters file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise DeployError(f"hyperparameters file {path} is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise DeployError(f"hyperparameters file {path} must hold a JSON object of name: value")
    where = f"hyperparameters file {path}"
    return {str(key): hyperparameter_text(str(key), value, where) for key, value in content.items()}


def check(values: Mapping[str, str], script: type[Recipe] | None = None) -> dict[str, Any]:
    """Every hyperparameter typed by the selected recipe's declarations, as `train` will parse them."""
    try:
        return resolve(values, script=script)[1]
    except hp.HyperparameterError as error:
        raise DeployError(str(error)) from None


def merge(*layers: Mapping[str, str], script: type[Recipe] | None = None) -> dict[str, str]:
    """Later layers win (project, file, command line); the result must parse as `train` parses it."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    check(merged, script)
    return merged


def with_task(values: Mapping[str, str], task: str | None) -> dict[str, str]:
    """`--task X` is the hyperparameter task=X; a different task already set is an error."""
    if task is None:
        return dict(values)
    already = values.get("task")
    if already not in (None, "auto", task):
        raise DeployError(f"--task {task} contradicts the hyperparameter task={already}")
    return {**values, "task": task}


def for_job(
    project: Project,
    *,
    file: Path | None = None,
    assignments: Sequence[str] = (),
    task: str | None = None,
    script: type[Recipe] | None = None,
) -> dict[str, str]:
    """The project's hyperparameters, then the file's, then --hyperparameter, then --task; checked."""
    from_file = read_file(file) if file is not None else {}
    layered = with_task({**from_file, **parse_assignments(assignments)}, task)
    return merge(project.training_hyperparameters(), layered, script=script)


def recipe_of(values: Mapping[str, str], script: type[Recipe] | None = None) -> type[Recipe]:
    try:
        return recipe_for(values, script=script)
    except hp.HyperparameterError as error:
        raise DeployError(str(error)) from None


def tuning_ranges(
    values: Mapping[str, str], script: type[Recipe] | None = None
) -> dict[str, hp.Hyperparameter]:
    """The recipe's tunable hyperparameters, except those `values` sets: what is set stays fixed."""
    return {
        spec.name: spec
        for spec in recipe_of(values, script).hyperparameter_specs()
        if spec.tuning is not None and spec.name not in values
    }
