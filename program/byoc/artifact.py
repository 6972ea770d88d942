"""The model artifact is data: LightGBM's own model text, the recipe's fitted state, and a manifest.

    /opt/ml/model/manifest.json             recipe (name, version), task, target, classes, inputs, features
    /opt/ml/model/model.txt                 the booster (lightgbm's text format)
    /opt/ml/model/recipe_state.json         what the recipe learnt (group statistics, category tables, ...)
    /opt/ml/model/recipe_state-N.parquet    the tables in that state, one Parquet file each
    /opt/ml/model/metrics.json              the training job's figures

Loading parses JSON, Parquet and LightGBM text only: nothing in the model folder is unpickled or executed,
and files this version does not know (such as an old `model.joblib`) are never opened. Saving writes into a
staging folder and renames the files in with SIGTERM blocked, so a job never leaves a half-written model.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from byoc.recipe import Recipe, RecipeError, State, load_recipe
from byoc.schema import InputSchema
from byoc.tasks import ClassValue, Task

FORMAT = "byoc-model"
FORMAT_VERSION = 2
# Version 1 kept the state's tables inside recipe_state.json; it still loads.
READABLE_FORMAT_VERSIONS = (1, 2)
MANIFEST_FILE = "manifest.json"
BOOSTER_FILE = "model.txt"
STATE_FILE = "recipe_state.json"
METRICS_FILE = "metrics.json"
ARTIFACT_FILES = (MANIFEST_FILE, BOOSTER_FILE, STATE_FILE, METRICS_FILE)
TABLE_FILE = re.compile(r"recipe_state-[1-9][0-9]*\.parquet")
OLD_FORMAT_FILES = ("model.joblib", "input_schema.json")
_TABLE_KEY = "__table__"


class ModelLoadError(RuntimeError):
    """The model folder does not hold a usable model; the message says which file and why."""


@dataclass(frozen=True)
class Manifest:
    recipe: str
    recipe_version: int
    task: Task
    target: str
    classes: tuple[ClassValue, ...]
    inputs: InputSchema
    features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    settings: Mapping[str, Any]
    best_iteration: int
    libraries: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "recipe": {"name": self.recipe, "version": self.recipe_version},
            "task": self.task.value,
            "target": self.target,
            "classes": list(self.classes),
            "inputs": self.inputs.to_json(),
            "features": list(self.features),
            "categorical_features": list(self.categorical_features),
            "hyperparameters": dict(self.settings),
            "best_iteration": self.best_iteration,
            "libraries": dict(self.libraries),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Manifest:
        if raw.get("format") != FORMAT or raw.get("format_version") not in READABLE_FORMAT_VERSIONS:
            raise ValueError(
                f"format {raw.get('format')!r} version {raw.get('format_version')!r} is not "
                f"{FORMAT!r} version {FORMAT_VERSION}"
            )
        classes = tuple(raw["classes"])
        if not all(isinstance(value, int | float | str) and not isinstance(value, bool) for value in classes):
            raise ValueError("classes must be numbers or strings")
        return cls(
            recipe=str(raw["recipe"]["name"]),
            recipe_version=int(raw["recipe"]["version"]),
            task=Task(raw["task"]),
            target=str(raw["target"]),
            classes=classes,
            inputs=InputSchema.from_json(raw["inputs"]),
            features=tuple(str(name) for name in raw["features"]),
            categorical_features=tuple(str(name) for name in raw["categorical_features"]),
            settings=dict(raw["hyperparameters"]),
            best_iteration=int(raw["best_iteration"]),
            libraries=dict(raw.get("libraries", {})),
        )


# -- recipe state: JSON, with its tables in Parquet files beside it ------------------------------------------


def is_artifact_file(name: str) -> bool:
    """Whether a file name is one of a model's files (a model archive may hold others, never read)."""
    return name in ARTIFACT_FILES or TABLE_FILE.fullmatch(name) is not None


def table_files(folder: Path) -> list[Path]:
    """The state's Parquet tables in a model folder, by name."""
    return sorted(path for path in folder.iterdir() if TABLE_FILE.fullmatch(path.name))


def write_state(handle: IO[str], state: Any, folder: Path) -> list[str]:
    """The state as JSON: nested dicts and lists of JSON values, in which each pandas DataFrame or Arrow table
    becomes a Parquet file in `folder`, named in the JSON. Returns the Parquet files' names."""
    tables: list[str] = []

    def write(value: Any) -> None:
        if isinstance(value, pd.DataFrame | pa.Table):
            name = f"recipe_state-{len(tables) + 1}.parquet"
            arrow = value if isinstance(value, pa.Table) else pa.Table.from_pandas(value)
            pq.write_table(arrow, folder / name, compression="zstd")
            tables.append(name)
            kind = "arrow" if isinstance(value, pa.Table) else "pandas"
            handle.write(json.dumps({_TABLE_KEY: name, "kind": kind}))
        elif isinstance(value, Mapping):
            handle.write("{")
            for position, (key, item) in enumerate(value.items()):
                handle.write(("," if position else "") + json.dumps(str(key)) + ":")
                write(item)
            handle.write("}")
        elif isinstance(value, list | tuple):
            handle.write("[")
            for position, item in enumerate(value):
                handle.write("," if position else "")
                write(item)
            handle.write("]")
        else:
            handle.write(
                json.dumps(value.item() if isinstance(value, np.generic) else value, allow_nan=False)
            )

    write(state)
    return tables


def read_state(value: Any, folder: Path) -> Any:
    """The state `write_state` wrote (version 1's tables inside the JSON are read as pandas DataFrames)."""
    if isinstance(value, dict):
        if _TABLE_KEY in value:
            return _read_table(value, folder)
        return {key: read_state(item, folder) for key, item in value.items()}
    if isinstance(value, list):
        return [read_state(item, folder) for item in value]
    return value


def _read_table(reference: dict[str, Any], folder: Path) -> pd.DataFrame | pa.Table:
    name = reference[_TABLE_KEY]
    if isinstance(name, dict):
        return pd.DataFrame(name)
    if not isinstance(name, str) or TABLE_FILE.fullmatch(name) is None:
        raise ModelLoadError(f"{folder / STATE_FILE} names a table file {name!r} that a model never holds")
    path = folder / name
    if not path.is_file():
        raise _missing(folder, path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise ModelLoadError(f"{path} is not a readable Parquet file: {error}") from None
    return table if reference.get("kind") == "arrow" else table.to_pandas()


# -- saving -----------------------------------------------------------------------------------------------


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Keep SIGTERM/SIGINT from landing between the renames that publish the artifacts."""
    blocked = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def save(
    model_dir: Path, manifest: Manifest, booster: lgb.Booster, state: State, metrics: Mapping[str, Any]
) -> list[str]:
    """Write every artifact into a staging folder beside the model, then rename them in at once.

    Returns the names of the files written; state tables of a model saved there before are removed.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    try:
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        booster.save_model(str(staging / BOOSTER_FILE), num_iteration=manifest.best_iteration or None)
        with (staging / STATE_FILE).open("w", encoding="utf-8") as handle:
            tables = write_state(handle, state, staging)
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        names = [*tables, STATE_FILE, BOOSTER_FILE, METRICS_FILE, MANIFEST_FILE]  # the manifest last
        with _signals_blocked():
            for name in names:
                (staging / name).replace(model_dir / name)
            for stale in table_files(model_dir):
                if stale.name not in tables:
                    stale.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


# -- loading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A loaded model: its manifest, booster and the recipe rebuilt from its saved state."""

    manifest: Manifest
    booster: lgb.Booster
    recipe: Recipe


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path} is not valid JSON: {error}") from None


def _missing(model_dir: Path, path: Path) -> ModelLoadError:
    present = sorted(entry.name for entry in model_dir.iterdir()) if model_dir.is_dir() else []
    if any(name in present for name in OLD_FORMAT_FILES):
        return ModelLoadError(
            f"{model_dir} holds a model from an older version of this image ({', '.join(OLD_FORMAT_FILES)}), "
            "which this version does not load (it never unpickles): retrain the model with this image"
        )
    return ModelLoadError(
        f"{path} is missing (the model folder holds: {', '.join(present) or 'nothing'}); "
        "run `train` first or check the model artifact"
    )


def load(model_dir: Path) -> Model:
    for name in (MANIFEST_FILE, BOOSTER_FILE, STATE_FILE):
        if not (model_dir / name).is_file():
            raise _missing(model_dir, model_dir / name)
    manifest_path = model_dir / MANIFEST_FILE
    try:
        manifest = Manifest.from_json(_read_json(manifest_path))
    except ModelLoadError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(
            f"{manifest_path} is not a manifest this version reads ({error}): "
            "retrain the model with this image"
        ) from None
    try:
        recipe_class = load_recipe(manifest.recipe)
    except RecipeError as error:
        raise ModelLoadError(f"{manifest_path} names a recipe this image lacks: {error}") from None
    if recipe_class.version != manifest.recipe_version:
        raise ModelLoadError(
            f"the model was trained with recipe '{manifest.recipe}' version {manifest.recipe_version}; "
            "this image "
            f"has version {recipe_class.version}: retrain the model with this image"
        )
    try:
        booster = lgb.Booster(model_str=(model_dir / BOOSTER_FILE).read_text(encoding="utf-8"))
    except (lgb.basic.LightGBMError, UnicodeDecodeError, ValueError) as error:
        raise ModelLoadError(f"{model_dir / BOOSTER_FILE} is not a LightGBM model: {error}") from None
    state = read_state(_read_json(model_dir / STATE_FILE), model_dir)
    if not isinstance(state, dict):
        raise ModelLoadError(f"{model_dir / STATE_FILE} must hold a JSON object")
    recipe = recipe_class(manifest.settings, manifest.inputs, state)
    check_consistent(manifest, booster, recipe, model_dir)
    return Model(manifest, booster, recipe)


def check_consistent(manifest: Manifest, booster: lgb.Booster, recipe: Recipe, model_dir: Path) -> None:
    """Refuse a model whose parts disagree, at load time rather than on the first request."""
    where = f"{model_dir}: "
    expected_outputs = len(manifest.classes) if manifest.task is Task.MULTICLASS else 1
    if manifest.task is not Task.REGRESSION and len(manifest.classes) < 2:
        raise ModelLoadError(where + f"a {manifest.task} model needs at least two classes in manifest.json")
    if booster.num_model_per_iteration() != expected_outputs:
        raise ModelLoadError(
            where
            + f"model.txt predicts {booster.num_model_per_iteration()} value(s) per row; a {manifest.task} "
            f"model with {len(manifest.classes)} classes needs {expected_outputs}"
        )
    if booster.num_feature() != len(manifest.features):
        raise ModelLoadError(
            where + f"model.txt reads {booster.num_feature()} features; "
            f"manifest.json lists {len(manifest.features)}"
        )
    try:
        names = tuple(recipe.feature_names())
        probe = recipe.transform(_missing_row(manifest.inputs))
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        raise ModelLoadError(
            where
            + f"recipe_state.json does not fit recipe '{manifest.recipe}': {type(error).__name__}: {error}"
        ) from None
    if names != manifest.features or probe.shape != (1, len(names)):
        raise ModelLoadError(
            where + f"recipe '{manifest.recipe}' computes features {list(names)} (shape {probe.shape}); "
            f"manifest.json lists {list(manifest.features)}"
        )


def _missing_row(schema: InputSchema) -> pd.DataFrame:
    """One row with every value missing, typed as requests are."""
    columns = {
        c.name: pa.nulls(1, pa.float64() if c.kind == "number" else pa.string()) for c in schema.features
    }
    return pa.table(columns).to_pandas()
