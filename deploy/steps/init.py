"""Start a project in a folder of its own: check the table and the recipe as `train` will, then write the
project file (`lightsage_deploy.project.init`) and load it back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightsage.recipes.base import RecipeError, available_recipes, load_recipe
from lightsage.tasks import TargetError, TaskChoice, choose_task
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import metrics
from lightsage_deploy.project import init, project


@dataclass(frozen=True)
class NewProject:
    project: project.Project
    columns: list[str]
    rows: int
    task: TaskChoice


def check_recipe(name: str) -> list[str]:
    """The image's recipes, when `name` is one of them."""
    recipes = available_recipes()
    if name not in recipes:
        raise DeployError(f"--recipe {name}: the image has no such recipe; built in: {', '.join(recipes)}")
    return recipes


def init_project(
    folder: Path, data: Path, target: str, recipe: str = init.DEFAULT_RECIPE, name: str | None = None
) -> NewProject:
    """Check everything first, then write `folder`/byoc.toml: a failed check leaves nothing behind."""
    recipes = check_recipe(recipe)
    name = name or init.name_from_folder(folder.resolve())
    project.Project(name=name, source=data, target=target, recipe=recipe)  # the name's and target's rules
    if (folder / project.FILE_NAME).exists():
        raise DeployError(f"{folder / project.FILE_NAME} exists: {folder} is a project already")
    if not data.is_file():
        raise DeployError(f"--data {data}: no such file")
    columns = metrics.table_columns(data)
    if target not in columns:
        raise metrics.missing_column(data, target, columns)
    if len(columns) < 2:
        raise DeployError(f"{data} has no column but the target '{target}': nothing to learn from")
    recipe_class = load_recipe(recipe)
    try:
        recipe_class.check_columns(columns)
    except RecipeError as error:
        raise DeployError(f"{data}: {error}") from None
    profile = metrics.target_profile(data, target)
    try:
        choice = choose_task(profile, target, recipe_tasks=recipe_class.tasks, recipe=recipe)
    except TargetError as error:
        raise DeployError(f"{data}: {error}") from None
    path = init.write(
        folder, init.settings_text(name, init.source_setting(data, folder), target, recipe, recipes)
    )
    return NewProject(project=project.load(path, environ={}), columns=columns, rows=profile.rows, task=choice)
