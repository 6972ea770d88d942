"""The project settings file (`byoc.toml` at the repository root): one name, the data, the recipe, and the
lifecycle's quality gate.

Every AWS name derives from the project name: the ECR repository, the S3 key prefix, the SageMaker base job
name, the IAM role and operator policy names, and the `project` tag. BYOC_PROJECT_FILE names another settings
file; BYOC_PROJECT_NAME overrides the name in it.
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

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPOSITORY_ROOT / "byoc.toml"
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


def project_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ[FILE_VARIABLE]) if environ.get(FILE_VARIABLE) else DEFAULT_FILE


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Project:
    """The project from `path`, else BYOC_PROJECT_FILE, else byoc.toml; BYOC_PROJECT_NAME sets the name."""
    environ = os.environ if environ is None else environ
    path = path or project_file(environ)
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(
            f"no project settings file at {path}: create it (see byoc.toml in the repository) or point "
            f"{FILE_VARIABLE} at one"
        ) from None
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
    return Project(
        name=environ.get(NAME_VARIABLE, "").strip() or _string(project, "project", "name", path),
        source=source if source.is_absolute() else path.resolve().parent / source,
        target=_string(data, "data", "target", path),
        recipe=_string(training, "training", "recipe", path),
        hyperparameters=hyperparameters,
        threshold=(
            threshold_value(lifecycle["threshold"], f"{path}: [lifecycle] threshold")
            if "threshold" in lifecycle
            else None
        ),
    )
