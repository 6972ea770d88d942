"""A recipe shipped with the job (script mode): a folder on this machine and the module in it, which the SDK
packs as the job's sourcedir.tar.gz (`Estimator(entry_point=..., source_dir=...)`) or as a model's code.

The folder is `--recipe-dir`, else the project's `[training] recipe_dir`; the module is `--entry-point` (or
`entry_point`), else the folder's only .py file. The deploy side loads the module here with the image's own
loader (`lightsage.recipes.script`) so that the hyperparameters, the task and the tuning ranges are checked
against the recipe before anything starts. Its requirements.txt is installed by the job, not here: a module
that imports one of them needs it on this machine too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightsage.recipes import script
from lightsage.recipes.base import Recipe
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project.project import Project


@dataclass(frozen=True)
class RecipeFolder:
    folder: Path
    entry_point: str
    recipe: type[Recipe]


def entry_point_of(folder: Path, given: str | None) -> str:
    """`given`, else the folder's only .py file at its top level."""
    if given:
        return given
    modules = sorted(path.name for path in folder.glob("*.py"))
    if len(modules) != 1:
        found = ", ".join(modules) or "none"
        raise DeployError(
            f"recipe folder {folder} holds {len(modules)} .py files at its top level ({found}): name the "
            "recipe module with --entry-point (or entry_point in the project's [training])"
        )
    return modules[0]


def load(folder: Path, entry_point: str | None = None) -> RecipeFolder:
    """The recipe in `folder`, loaded as the image loads it; DeployError naming what is wrong."""
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise DeployError(f"recipe folder {folder} does not exist or is not a folder")
    program = entry_point_of(folder, entry_point)
    try:
        loaded = script.from_folder(folder, program)
    except script.ScriptError as error:
        hint = ""
        if "is not installed" in str(error):
            hint = (
                f"; byoc loads the recipe on this machine to check the job's settings, so install its "
                f"requirements here too (pip install -r {folder / script.REQUIREMENTS_FILE})"
            )
        raise DeployError(f"recipe folder {folder}: {error}{hint}") from None
    return RecipeFolder(folder, program, loaded.recipe)


def of_job(
    project: Project, folder: Path | None = None, entry_point: str | None = None
) -> RecipeFolder | None:
    """The recipe folder the command line names, else the project's, else None (the image's recipe)."""
    if folder is not None:
        return load(folder, entry_point)
    if project.recipe_dir is not None:
        return load(project.recipe_dir, entry_point or project.entry_point)
    if entry_point is not None:
        raise DeployError("--entry-point names a module in the recipe folder: give --recipe-dir too")
    return None
