"""The project settings file, `byoc.toml`: one name, the data, the recipe, and the lifecycle's quality gate.

`byoc` finds it as git finds its repository: in the current folder, else in the nearest folder above it;
BYOC_PROJECT_FILE names a file instead, and BYOC_PROJECT_NAME overrides the name in it. A relative path in the
file is relative to the file. Every AWS name derives from the project name: the ECR repository, the S3 key
prefix, the SageMaker base job name, the IAM role and operator policy names, and the `project` tag.

The recipe is one built into the image (`[training] recipe`), or a module the jobs ship in script mode:
`[training] recipe_dir` (a folder) and `entry_point` (the module in it; by default its only .py file), whose
recipe `recipe` then names (`lightsage_deploy.jobs.recipe_folder`).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightsage_deploy.errors import DeployError

FILE_NAME = "byoc.toml"
FILE_VARIABLE = "BYOC_PROJECT_FILE"
NAME_VARIABLE = "BYOC_PROJECT_NAME"
MAX_NAME_LENGTH = 40  # leaves room for "-sagemaker-execution" in a 64-character IAM role name
# Lower case because SageMaker lower-cases names inside ARNs; also a valid ECR repository and S3 key prefix.
_NAME = re.compile(r"[a-z0-9](-*[a-z0-9])*")
ROLE_SUFFIX = "-sagemaker-execution"
OPERATOR_POLICY_SUFFIX = "-operator"
LOCAL_ACCOUNT = "111111111111"


def hyperparameter_text(name: str, value: Any, where: str) -> str:
    """A hyperparameter as SageMaker passes it: a string; numbers as written, booleans as JSON."""
    if isinstance(value, dict | list) or value is None:
        raise DeployError(f"{where}: {name!r} must be a string, number or boolean")
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Project:
    name: str
    source: Path
    target: str
    recipe: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    # The settings file it was read from; None for a project made in code.
    file: Path | None = None
    # script mode: the folder of the recipe module the jobs ship, and that module's path in it
    recipe_dir: Path | None = None
    entry_point: str | None = None
    # [lifecycle] threshold: the value the task's objective metric must reach for `byoc pipeline` to register
    # the model (at least it for a metric to maximise, at most it for one to minimise); None when unset.
    threshold: float | None = None

    def __post_init__(self) -> None:
        if len(self.name) > MAX_NAME_LENGTH or not _NAME.fullmatch(self.name):
            raise DeployError(
                f"project name {self.name!r} must be lower-case letters, digits and '-' (not at either "
                f"end), at most {MAX_NAME_LENGTH} characters"
            )
        if not self.target.strip():
            raise DeployError("the project's data target (the label column) is empty")

    @property
    def folder(self) -> Path:
        """The project's folder: its settings file's, else the current folder."""
        return self.file.parent if self.file is not None else Path.cwd()

    def data_source(self) -> Path:
        """The labelled table, which must exist; the error names the setting that points at it."""
        if not self.source.is_file():
            where = f"{self.file}: " if self.file is not None else ""
            raise DeployError(f"the project's data file {self.source} does not exist ({where}[data] source)")
        return self.source

    @property
    def repository(self) -> str:
        return self.name

    @property
    def prefix(self) -> str:
        return self.name

    @property
    def base_job_name(self) -> str:
        return self.name

    @property
    def role_name(self) -> str:
        return self.name + ROLE_SUFFIX

    @property
    def operator_policy_name(self) -> str:
        return self.name + OPERATOR_POLICY_SUFFIX

    @property
    def tags(self) -> list[dict[str, str]]:
        return [{"Key": "project", "Value": self.name}]

    @property
    def model_package_group(self) -> str:
        """The model registry's group of the project's versions (`byoc pipeline` registers into it)."""
        return self.name

    @property
    def pipeline_name(self) -> str:
        return self.name

    @property
    def local_bucket(self) -> str:
        return f"{self.name}-local"

    @property
    def local_role_arn(self) -> str:
        return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{self.name}-local"

    def training_hyperparameters(self) -> dict[str, str]:
        """What every job gets unless the command line says otherwise: the recipe, the target, the table."""
        return {"recipe": self.recipe, "target": self.target, **self.hyperparameters}


def _table(content: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = content.get(key, {})
    if not isinstance(value, Mapping):
        raise DeployError(f"{path}: [{key}] must be a table")
    return value


def _string(table: Mapping[str, Any], section: str, key: str, path: Path) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeployError(f"{path}: [{section}] {key} must be a non-empty string")
    return value.strip()


def threshold_value(value: Any, where: str) -> float:
    """A gate threshold: a finite number (TOML integer or float; not a boolean, not text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DeployError(f"{where} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise DeployError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def project_file(environ: Mapping[str, str] | None = None, start: Path | None = None) -> Path:
    """BYOC_PROJECT_FILE when set, else byoc.toml in `start` (the current folder) or the closest folder
    above it."""
    environ = os.environ if environ is None else environ
    if environ.get(FILE_VARIABLE):
        return Path(environ[FILE_VARIABLE]).resolve()
    start = (start or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    raise DeployError(
        f"no project here: no {FILE_NAME} in {start} or any folder above it. Start one with `byoc init DIR "
        f"--data FILE --target COLUMN` and run byoc inside DIR, or point {FILE_VARIABLE} at a project file"
    )


def load(
    path: Path | None = None, environ: Mapping[str, str] | None = None, start: Path | None = None
) -> Project:
    """The project from `path`, else BYOC_PROJECT_FILE, else the byoc.toml `project_file` finds from `start`
    (the current folder); BYOC_PROJECT_NAME sets the name. Every error names the file."""
    environ = os.environ if environ is None else environ
    path = (path or project_file(environ, start)).resolve()
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(
            f"no project settings file at {path}: make one with `byoc init`, or point {FILE_VARIABLE} at one"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DeployError(f"cannot read the project settings file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise DeployError(f"{path} is not valid TOML: {error}") from None
    project = _table(content, "project", path)
    data = _table(content, "data", path)
    training = _table(content, "training", path)
    lifecycle = _table(content, "lifecycle", path)
    raw_hyperparameters = training.get("hyperparameters", {})
    if not isinstance(raw_hyperparameters, Mapping):
        raise DeployError(f"{path}: [training.hyperparameters] must be a table")
    where = f"{path} [training.hyperparameters]"
    hyperparameters = {
        str(key): hyperparameter_text(str(key), value, where) for key, value in raw_hyperparameters.items()
    }
    for reserved in ("recipe", "target"):
        if reserved in hyperparameters:
            raise DeployError(f"{where}: set {reserved!r} in [training] or [data], not here")
    source = Path(_string(data, "data", "source", path))
    recipe_dir = Path(_string(training, "training", "recipe_dir", path)) if "recipe_dir" in training else None
    entry_point = _string(training, "training", "entry_point", path) if "entry_point" in training else None
    if entry_point is not None and recipe_dir is None:
        raise DeployError(f"{path}: [training] entry_point names a module in recipe_dir: set recipe_dir too")
    try:
        return Project(
            name=environ.get(NAME_VARIABLE, "").strip() or _string(project, "project", "name", path),
            source=(path.parent / source).resolve(),
            target=_string(data, "data", "target", path),
            recipe=_string(training, "training", "recipe", path),
            hyperparameters=hyperparameters,
            file=path,
            recipe_dir=None if recipe_dir is None else (path.parent / recipe_dir).resolve(),
            entry_point=entry_point,
            threshold=(
                threshold_value(lifecycle["threshold"], f"{path}: [lifecycle] threshold")
                if "threshold" in lifecycle
                else None
            ),
        )
    except DeployError as error:
        raise DeployError(f"{path}: {error}") from None
