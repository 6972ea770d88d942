"""A new project's settings file: the name from its folder, the data, the target and the recipe, and an empty
hyperparameters table with commented examples. It is written once: an existing project is never overwritten,
and what is written always loads back as the project it describes."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project

DEFAULT_RECIPE = "tabular"
_NOT_IN_NAMES = re.compile(r"[^a-z0-9]+")

TEMPLATE = """\
# The project `byoc` works on in this folder and every folder below it (made by `byoc init`).
# A relative path here is relative to this file.

[project]
# Lower-case letters, digits and '-', at most 40 characters. Every AWS name derives from it: the ECR
# repository, the S3 key prefix, the SageMaker job, model and endpoint names, the IAM role
# (NAME-sagemaker-execution) and the `project` tag.
name = {name}

[data]
# The labelled table, CSV with a header or Parquet. `byoc local` and `byoc upload` split it into the train
# and validation channels.
source = {source}
target = {target}

[training]
# The recipe the image trains with; `tabular` fits any table. Built into the image: {recipes}.
recipe = {recipe}

[training.hyperparameters]
# Sent with every job (`byoc local`, `byoc train`, `byoc tune`); `--hyperparameter KEY=VALUE` wins. E.g.:
# task = "binary"                   # binary, multiclass or regression (default: inferred from the target)
# n_estimators = 500
# learning_rate = 0.05
# num_leaves = 31
# early_stopping_rounds = 50
# ignore_columns = "customer_id"    # tabular: columns the model does not read
# categorical_columns = "region"    # tabular: number columns to use as categories
"""


def name_from_folder(folder: Path) -> str:
    """The folder's name as a project name: 'Credit Risk_2024' -> 'credit-risk-2024', 'Données' ->
    'donnees'."""
    ascii_name = unicodedata.normalize("NFKD", folder.name).encode("ascii", "ignore").decode().lower()
    name = _NOT_IN_NAMES.sub("-", ascii_name).strip("-")[: project.MAX_NAME_LENGTH].strip("-")
    if not name:
        raise DeployError(f"cannot make a project name of the folder name {folder.name!r}: pass --name NAME")
    return name


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(value, ensure_ascii=False)


def source_setting(source: Path, folder: Path) -> str:
    """The data path as the file stores it: relative to the project folder, so the two can move together."""
    try:
        return Path(os.path.relpath(source.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path reaches it
        return str(source.resolve())


def settings_text(name: str, source: str, target: str, recipe: str, recipes: list[str]) -> str:
    return TEMPLATE.format(
        name=toml_string(name),
        source=toml_string(source),
        target=toml_string(target),
        recipe=toml_string(recipe),
        recipes=", ".join(recipes),
    )


def write(folder: Path, text: str) -> Path:
    """Write `folder`/byoc.toml, creating the folder; refuse when a project file is there already."""
    path = folder / project.FILE_NAME
    if path.exists():
        raise DeployError(
            f"{path} exists: {folder} is a project already (edit that file, or pick another DIR)"
        )
    if folder.exists() and not folder.is_dir():
        raise DeployError(f"{folder} is a file, not a folder: pick another DIR")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as settings:  # "x": never replaces a file made meanwhile
            settings.write(text)
    except FileExistsError:
        raise DeployError(f"{path} exists: {folder} is a project already") from None
    except OSError as error:
        raise DeployError(f"cannot write {path}: {error}") from None
    return path
