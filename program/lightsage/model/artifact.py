"""The model artifact is data: LightGBM's own model text, the recipe's fitted state, and a manifest.

    /opt/ml/model/manifest.json             recipe (name, version, source: image or script mode, and the
                                            sha256 of its module), task, target, classes, inputs, features,
                                            and the sha256 of every other file the model is loaded from
    /opt/ml/model/model.txt                 the booster (lightgbm's text format)
    /opt/ml/model/recipe_state.json         what the recipe learnt (group statistics, category tables, ...)
    /opt/ml/model/recipe_state-N.parquet    the tables in that state, one Parquet file each
    /opt/ml/model/metrics.json              the training job's figures
    /opt/ml/model/statistics.json           the data baseline of the training rows (optional): Model Monitor's
    /opt/ml/model/constraints.json          statistics.json and constraints.json (lightsage.evaluation)

Loading parses JSON, Parquet and LightGBM text only: nothing in the model folder is unpickled or executed,
files this version does not know (such as an old `model.joblib`) are never opened, and only regular files
directly in the folder are read, never through a symbolic link (`lightsage.contract.folders`). Each file must
have the digest the manifest records, so files of different models, or a model half copied over another, are
refused; the digests catch mix-ups, not tampering (whoever can write the folder can rewrite the manifest).
Then the parts are checked against each other and the recipe checks its state, and a probe of typical rows
runs through the recipe and the booster: a model that loads answers requests.

The recipe's code is never in the model: it is the image's (`lightsage.recipes`), or the script-mode source
the endpoint is configured with (`lightsage.recipes.script`). A model trained in script mode loads only with
a source whose files have the digests its manifest records. For a recipe built into the image the recipe's
`version` is the contract: a different digest (another image's edit of the same version) is logged, not
refused, since the load check's probe still runs the recipe on the model's state.

Saving writes into a staging folder and renames the files in with SIGTERM blocked, so a job never leaves a
half-written model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lightsage.contract import folders
from lightsage.contract import hyperparameters as hp
from lightsage.contract.monitoring import BASELINE_FILES, CONSTRAINTS_FILE, STATISTICS_FILE
from lightsage.data.schema import Column, InputSchema
from lightsage.errors import UserError
from lightsage.model import markers
from lightsage.model.boosting import as_features
from lightsage.recipes.base import (
    SCRIPT,
    Recipe,
    RecipeError,
    RecipeSource,
    State,
    image_source,
    load_recipe,
)
from lightsage.recipes.script import Script
from lightsage.tasks import ClassValue, Task

logger = logging.getLogger(__name__)

FORMAT = "byoc-model"
FORMAT_VERSION = 4
# Version 1 kept the state's tables inside recipe_state.json, version 2 in Parquet files; neither recorded
# digests. Both still load, unchecked by digests (the log says so); version 3 escapes the state's keys;
# version 4 records the recipe's source (versions before it load as the image's recipes) and may hold the data
# baseline (an image that reads only up to 3 would refuse its digests' names).
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4)
FIRST_VERSION_WITH_DIGESTS = 3
FIRST_VERSION_WITH_RECIPE_SOURCE = 4
MANIFEST_FILE = "manifest.json"
BOOSTER_FILE = "model.txt"
STATE_FILE = "recipe_state.json"
METRICS_FILE = "metrics.json"
ARTIFACT_FILES = (MANIFEST_FILE, BOOSTER_FILE, STATE_FILE, METRICS_FILE, *BASELINE_FILES)
TABLE_FILE = re.compile(r"recipe_state-[1-9][0-9]*\.parquet")
OLD_FORMAT_FILES = ("model.joblib", "input_schema.json")
STAGING_PREFIX = ".staging-"
_TABLE_KEY = "__table__"
_TABLE_KINDS = ("arrow", "pandas")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Rows of typical values the load check sends through the recipe and the booster, besides an empty row.
PROBE_ROWS = 12
# A recipe's two paths must agree on them; float noise between scalar and vectorised math is no fault.
PROBE_TOLERANCE = 1e-6
_MIXED = "(copy all of one model's files together, or retrain)"


class ModelLoadError(UserError):
    """The model folder does not hold a usable model; the message says which file and why."""


class ModelFormatError(UserError, ValueError):
    """A manifest of another format, or of a format version this version of the image does not read."""


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_classes(classes: Any, task: Task) -> tuple[ClassValue, ...]:
    if not isinstance(classes, list):
        raise ValueError("'classes' must be a list")
    for value in classes:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"class {value!r} is not a number or a string")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"class {value!r} is not a finite number")
    if task is Task.REGRESSION and classes:
        raise ValueError("a regression model has no classes")
    # Answers key probabilities by a class's text: 1 and '1' (or 1 and 1.0) would be one key twice.
    seen: dict[Any, ClassValue] = {}
    for value in classes:
        for key in {value, str(value)}:
            if key in seen:
                earlier = seen[key]
                if type(earlier) is type(value) and earlier == value:
                    raise ValueError(f"'classes' lists {value!r} twice")
                raise ValueError(
                    f"'classes' lists {earlier!r} and {value!r}, one class twice (answers would carry "
                    "the same key twice)"
                )
            seen[key] = value
    return tuple(classes)


def _check_digests(files: Any) -> dict[str, str]:
    if not isinstance(files, dict):
        raise ValueError("'files' must map each file of the model to its sha256")
    for name, digest in files.items():
        if name not in (BOOSTER_FILE, STATE_FILE, *BASELINE_FILES) and TABLE_FILE.fullmatch(name) is None:
            raise ValueError(f"'files' names {name!r}, which is not a file a model is loaded from")
        if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
            raise ValueError(f"'files' gives {name} the digest {digest!r}, not 'sha256:' and 64 hex digits")
    for name in (BOOSTER_FILE, STATE_FILE):
        if name not in files:
            raise ValueError(f"'files' records no digest for {name}")
    recorded = [name for name in BASELINE_FILES if name in files]
    if recorded and len(recorded) != len(BASELINE_FILES):
        raise ValueError(
            f"'files' records {recorded[0]} without "
            f"{', '.join(set(BASELINE_FILES) - set(recorded))}: the data "
            "baseline is both files or neither"
        )
    return dict(files)


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
    format_version: int = FORMAT_VERSION
    # Each file the model is loaded from, with its "sha256:..." digest (`save` writes them from format 3).
    files: Mapping[str, str] = field(default_factory=dict)
    # Where the recipe's code came from (format 4); None in a manifest of an earlier format.
    recipe_source: RecipeSource | None = None

    def to_json(self) -> dict[str, Any]:
        recipe: dict[str, Any] = {"name": self.recipe, "version": self.recipe_version}
        if self.recipe_source is not None:
            recipe["source"] = self.recipe_source.to_json()
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "recipe": recipe,
            "task": self.task.value,
            "target": self.target,
            "classes": list(self.classes),
            "inputs": self.inputs.to_json(),
            "features": list(self.features),
            "categorical_features": list(self.categorical_features),
            "hyperparameters": dict(self.settings),
            "best_iteration": self.best_iteration,
            "libraries": dict(self.libraries),
            "files": dict(self.files),
        }

    @staticmethod
    def check_format(raw: Any) -> int:
        """The format version; ModelFormatError when this version cannot read it."""
        if not isinstance(raw, dict):
            raise ModelFormatError(f"it holds a {type(raw).__name__}, not a JSON object")
        version = raw.get("format_version")
        if (
            raw.get("format") != FORMAT
            or version not in READABLE_FORMAT_VERSIONS
            or isinstance(version, bool)
        ):
            raise ModelFormatError(
                f"format {raw.get('format')!r} version {version!r} is not {FORMAT!r} version "
                f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))}"
            )
        return int(version)

    @classmethod
    def from_json(cls, raw: Any) -> Manifest:
        """The manifest; ModelFormatError for a format this version does not read, ValueError (naming the
        entry) for one that no saved model holds."""
        version = cls.check_format(raw)
        recipe = raw.get("recipe")
        if not isinstance(recipe, dict) or not isinstance(recipe.get("name"), str):
            raise ValueError("'recipe' must name the recipe and its version")
        recipe_version = recipe.get("version")
        if isinstance(recipe_version, bool) or not isinstance(recipe_version, int):
            raise ValueError(f"recipe version {recipe_version!r} is not a whole number")
        recipe_source = None
        if version >= FIRST_VERSION_WITH_RECIPE_SOURCE:
            recipe_source = RecipeSource.from_json(recipe.get("source"))
        if raw.get("task") not in tuple(Task):
            raise ValueError(f"task {raw.get('task')!r} is not one of {', '.join(Task)}")
        task = Task(raw["task"])
        if not isinstance(raw.get("target"), str):
            raise ValueError("'target' must be the name of the target column")
        features, categorical = raw.get("features"), raw.get("categorical_features")
        if not _is_name_list(features) or not features:
            raise ValueError("'features' must list the feature names")
        repeated = sorted({name for name in features if features.count(name) > 1})
        if repeated:
            raise ValueError(f"'features' lists {', '.join(repeated)} more than once")
        if not _is_name_list(categorical) or len(set(categorical)) != len(categorical):
            raise ValueError("'categorical_features' must list distinct feature names")
        if not set(categorical) <= set(features):
            raise ValueError("'categorical_features' names features that 'features' does not list")
        best_iteration = raw.get("best_iteration")
        if isinstance(best_iteration, bool) or not isinstance(best_iteration, int) or best_iteration < 0:
            raise ValueError(f"best_iteration {best_iteration!r} is not a whole number of rounds")
        settings, libraries = raw.get("hyperparameters"), raw.get("libraries", {})
        if not isinstance(settings, dict) or not isinstance(libraries, dict):
            raise ValueError("'hyperparameters' and 'libraries' must be JSON objects")
        return cls(
            recipe=recipe["name"],
            recipe_version=recipe_version,
            task=task,
            target=raw["target"],
            classes=_check_classes(raw.get("classes"), task),
            inputs=InputSchema.from_json(raw.get("inputs")),
            features=tuple(features),
            categorical_features=tuple(categorical),
            settings=settings,
            best_iteration=best_iteration,
            libraries=libraries,
            format_version=version,
            files=_check_digests(raw.get("files")) if version >= FIRST_VERSION_WITH_DIGESTS else {},
            recipe_source=recipe_source,
        )


# -- reading the folder's files ---------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ModelFiles:
    """The model folder as `load` reads it: regular files only, each checked against the manifest's digest
    (when it records them), with the digest of every file read kept."""

    def __init__(self, folder: Path, expected: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.expected = expected
        self.digests: dict[str, str] = {}

    def read(self, name: str) -> bytes:
        path = self.folder / name
        try:
            data = folders.read_bytes(self.folder, name)
        except FileNotFoundError:
            raise _missing(self.folder, path) from None
        except folders.UnsafeFile as error:  # a link, a folder, a FIFO where a file must be
            raise ModelLoadError(f"{error.strerror}; copy the model's own files into the folder") from None
        except OSError as error:
            raise ModelLoadError(f"{path} cannot be read: {error}") from None
        digest = sha256(data)
        if self.expected is not None:
            recorded = self.expected.get(name)
            if recorded is None:
                raise ModelLoadError(f"{path} is not one of the files {MANIFEST_FILE} records a digest for")
            if recorded != digest:
                raise ModelLoadError(
                    f"{path} is not the file this model was saved with: its sha256 is not the one "
                    f"{MANIFEST_FILE} records, so the folder mixes files of different models {_MIXED}"
                )
        self.digests[name] = digest
        return data

    def text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ModelLoadError(f"{self.folder / name} is not UTF-8 text: {error}") from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.text(name))
        except json.JSONDecodeError as error:
            raise ModelLoadError(f"{self.folder / name} is not valid JSON: {error}") from None
        except RecursionError:
            raise ModelLoadError(f"{self.folder / name} is nested too deeply to be a model's JSON") from None

    def unread(self) -> list[str]:
        """Files the manifest records a digest for that loading did not read."""
        return sorted(set(self.expected or ()) - set(self.digests))


# -- recipe state: JSON, with its tables in Parquet files beside it ------------------------------------------


def is_artifact_file(name: str) -> bool:
    """Whether a file name is one of a model's files (a model archive may hold others, never read)."""
    return name in ARTIFACT_FILES or TABLE_FILE.fullmatch(name) is not None


def table_files(folder: Path) -> list[Path]:
    """The state's Parquet tables in a model folder, by name."""
    return sorted(path for path in folder.iterdir() if TABLE_FILE.fullmatch(path.name))


def write_state(handle: IO[str], state: Any, folder: Path) -> list[str]:
    """The state as JSON: nested dicts and lists of JSON values, in which each pandas DataFrame or Arrow table
    becomes a Parquet file in `folder`, named in the JSON by `{"__table__": FILE, "kind": ...}`. Keys are
    escaped (`lightsage.model.markers`), so a key of the state (a column named `__table__`) never reads as a
    table. Returns the Parquet files' names."""
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
                handle.write(("," if position else "") + json.dumps(markers.escape(str(key))) + ":")
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


def read_state(value: Any, files: ModelFiles, format_version: int = FORMAT_VERSION) -> Any:
    """The state `write_state` wrote. Version 3 escapes keys and names a table only in its exact form;
    versions 1 and 2 took any object with a `__table__` key for a table (version 1's inline tables are read
    as pandas DataFrames)."""
    if isinstance(value, list):
        return [read_state(item, files, format_version) for item in value]
    if not isinstance(value, dict):
        return value
    if format_version < FIRST_VERSION_WITH_DIGESTS:
        if _TABLE_KEY in value:
            return _read_table(value, files)
        return {key: read_state(item, files, format_version) for key, item in value.items()}
    if any(markers.is_marker(key) for key in value):
        if set(value) != {_TABLE_KEY, "kind"} or value["kind"] not in _TABLE_KINDS:
            raise ModelLoadError(
                f"{files.folder / STATE_FILE} holds {json.dumps(value)[:200]}, which is not a table "
                f'reference ({{"{_TABLE_KEY}": "recipe_state-N.parquet", "kind": "arrow" or "pandas"}})'
            )
        return _read_table(value, files)
    return {markers.unescape(key): read_state(item, files, format_version) for key, item in value.items()}


def _read_table(reference: dict[str, Any], files: ModelFiles) -> pd.DataFrame | pa.Table:
    name = reference[_TABLE_KEY]
    if isinstance(name, dict):  # format version 1
        return pd.DataFrame(name)
    if not isinstance(name, str) or TABLE_FILE.fullmatch(name) is None:
        raise ModelLoadError(
            f"{files.folder / STATE_FILE} names a table file {name!r} that a model never holds"
        )
    data = files.read(name)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as error:
        raise ModelLoadError(f"{files.folder / name} is not a readable Parquet file: {error}") from None
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
    model_dir: Path,
    manifest: Manifest,
    booster: lgb.Booster,
    state: State,
    metrics: Mapping[str, Any],
    baseline: Baseline | None = None,
) -> list[str]:
    """Write every artifact into a staging folder beside the model, then rename them in at once.

    The manifest records the sha256 of the booster, of every state file and of the data baseline's two files
    (when given). Returns the names of the files written; state tables and a baseline of a model saved there
    before are removed.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=model_dir))
    try:
        booster.save_model(str(staging / BOOSTER_FILE), num_iteration=manifest.best_iteration or None)
        with (staging / STATE_FILE).open("w", encoding="utf-8") as handle:
            tables = write_state(handle, state, staging)
        extra = []
        if baseline is not None:
            for name, document in (
                (STATISTICS_FILE, baseline.statistics),
                (CONSTRAINTS_FILE, baseline.constraints),
            ):
                (staging / name).write_text(json.dumps(document) + "\n", encoding="utf-8")
                extra.append(name)
        digests = {
            name: sha256((staging / name).read_bytes())
            for name in (BOOSTER_FILE, STATE_FILE, *tables, *extra)
        }
        document = {**manifest.to_json(), "files": digests}
        (staging / MANIFEST_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        names = [*tables, *extra, STATE_FILE, BOOSTER_FILE, METRICS_FILE, MANIFEST_FILE]  # the manifest last
        with _signals_blocked():
            for name in names:
                (staging / name).replace(model_dir / name)
            for stale in [*table_files(model_dir), *(model_dir / name for name in BASELINE_FILES)]:
                if stale.name not in names and folders.kind_of(stale) == "file":
                    stale.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def clear(model_dir: Path) -> list[str]:
    """Remove a model's files (and a staging folder a killed job left) from the folder; other files stay.

    `train` calls it first, so a job that fails leaves no earlier model behind for `serve` to serve. A link
    with a model file's name is removed itself, never what it points to. Returns the names removed.
    """
    if folders.kind_of(model_dir) != "folder":
        return []
    removed = []
    for entry in sorted(model_dir.iterdir()):
        if is_artifact_file(entry.name) and folders.kind_of(entry) != "folder":
            entry.unlink()
            removed.append(entry.name)
        elif entry.name.startswith(STAGING_PREFIX) and folders.kind_of(entry) == "folder":
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


# -- loading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The data baseline of the training rows: Model Monitor's statistics.json and constraints.json."""

    statistics: Mapping[str, Any]
    constraints: Mapping[str, Any]


@dataclass(frozen=True)
class Model:
    """A loaded model: its manifest, booster and the recipe rebuilt from its saved state, the digest of each
    file it was loaded from, and its data baseline when it has one."""

    manifest: Manifest
    booster: lgb.Booster
    recipe: Recipe
    digests: Mapping[str, str]
    baseline: Baseline | None = None


def _missing(model_dir: Path, path: Path) -> ModelLoadError:
    present = folders.listing(model_dir)
    if any(name in present for name in OLD_FORMAT_FILES):
        return ModelLoadError(
            f"{model_dir} holds a model from an older version of this image ({', '.join(OLD_FORMAT_FILES)}), "
            "which this version does not load (it never unpickles): retrain the model with this image"
        )
    return ModelLoadError(
        f"{path} is missing (the model folder holds: {', '.join(present) or 'nothing'}); "
        "run `train` first or check the model artifact"
    )


def _manifest(files: ModelFiles) -> Manifest:
    path = files.folder / MANIFEST_FILE
    raw = files.json(MANIFEST_FILE)
    try:
        return Manifest.from_json(raw)
    except ModelFormatError as error:
        raise ModelLoadError(
            f"{path} is not a manifest this version reads ({error}): retrain the model with this image"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"{path} is not a valid manifest: {error}") from None


def _differences(trained: RecipeSource, given: RecipeSource) -> str:
    def short(digest: str | None) -> str:
        return f"sha256 {digest.removeprefix('sha256:')[:12]}" if digest else "absent"

    return "; ".join(
        f"{name}: {short(trained.files.get(name))} when trained, {short(given.files.get(name))} here"
        for name in trained.differences(given)
    )


def _script_recipe(manifest: Manifest, source: RecipeSource, script: Script | None) -> type[Recipe]:
    """The script-mode recipe the model was trained with: the configured source, if it is that one."""
    if script is None:
        raise ModelLoadError(
            f"the model was trained with recipe '{manifest.recipe}' shipped in script mode "
            f"({source.program}), and the image has no such recipe: serve it with that source "
            f"(SAGEMAKER_PROGRAM={source.program} and SAGEMAKER_SUBMIT_DIRECTORY, which "
            "Model(entry_point=..., source_dir=...) sets)"
        )
    given = script.prepared.location
    if script.recipe.name != manifest.recipe:
        raise ModelLoadError(
            f"the model was trained with recipe '{manifest.recipe}', but the script-mode source "
            f"{given.program} in {given.submit_directory} defines recipe '{script.recipe.name}'"
        )
    if source.differences(script.source):
        raise ModelLoadError(
            f"the script-mode source {given.program} in {given.submit_directory} is not the one the model "
            f"was trained with ({_differences(source, script.source)}): serve the model with the source it "
            "was trained with, or retrain it with this one"
        )
    return script.recipe


def _recipe_class(manifest: Manifest, path: Path, script: Script | None = None) -> type[Recipe]:
    source = manifest.recipe_source
    if source is not None and source.origin == SCRIPT:
        recipe_class = _script_recipe(manifest, source, script)
    else:
        if script is not None:
            given = script.prepared.location
            raise ModelLoadError(
                f"the model was trained with the image's recipe '{manifest.recipe}', but a script-mode "
                f"source is configured ({given.program} in {given.submit_directory}, {given.given_by}): "
                "serve this model without it, or a model trained with that source"
            )
        try:
            recipe_class = load_recipe(manifest.recipe)
        except RecipeError as error:
            raise ModelLoadError(f"{path} names a recipe this image lacks: {error}") from None
        if source is not None and source.differences(image_source(recipe_class)):
            logger.info(
                f"recipe '{manifest.recipe}' version {manifest.recipe_version}: this image's "
                f"{source.program} differs from the one the model was trained with (another image's edit of "
                "the same version; the version is what must match)"
            )
    if recipe_class.version != manifest.recipe_version:
        where = "this image" if script is None else "the script-mode source"
        raise ModelLoadError(
            f"the model was trained with recipe '{manifest.recipe}' version {manifest.recipe_version}; "
            f"{where} has version {recipe_class.version}: retrain the model with {where}"
        )
    return recipe_class


def _recipe_settings(recipe_class: type[Recipe], manifest: Manifest, path: Path) -> dict[str, Any]:
    """The manifest's hyperparameters, typed and checked as a job's are; the recipe's own must be there."""
    specs = recipe_class.hyperparameter_specs()
    missing = [spec.name for spec in recipe_class.own_hyperparameters if spec.name not in manifest.settings]
    if missing:
        raise ModelLoadError(
            f"{path} lacks recipe '{manifest.recipe}''s hyperparameter(s) {', '.join(missing)}"
        )
    known = {spec.name for spec in specs}
    try:
        typed = hp.parse_hyperparameters(
            {name: value for name, value in manifest.settings.items() if name in known}, specs
        )
    except hp.HyperparameterError as error:
        raise ModelLoadError(f"{path}: {error}") from None
    return {**manifest.settings, **typed}


def load(model_dir: Path, script: Script | None = None) -> Model:
    """The model in the folder, checked through; ModelLoadError naming the file and the reason otherwise.

    `script`: the script-mode recipe the endpoint (or job) is configured with, if any
    (`lightsage.recipes.script`); a model trained in script mode needs its own.
    """
    try:
        folders.check_folder(model_dir)
    except FileNotFoundError:
        raise _missing(model_dir, model_dir / MANIFEST_FILE) from None
    except folders.UnsafeFile as error:
        raise ModelLoadError(f"{error.strerror}; give the model's own folder") from None
    for name in (MANIFEST_FILE, BOOSTER_FILE, STATE_FILE):
        if folders.kind_of(model_dir / name) == "missing":
            raise _missing(model_dir, model_dir / name)
    manifest_path = model_dir / MANIFEST_FILE
    manifest = _manifest(ModelFiles(model_dir))
    recipe_class = _recipe_class(manifest, manifest_path, script)
    settings = _recipe_settings(recipe_class, manifest, manifest_path)
    checked = manifest.format_version >= FIRST_VERSION_WITH_DIGESTS
    if not checked:
        logger.warning(
            f"{manifest_path}: format version {manifest.format_version} records no digests, so this model's "
            "files are not checked against each other; retrain it with this image to have them checked"
        )
    files = ModelFiles(model_dir, manifest.files if checked else None)
    try:
        booster = lgb.Booster(model_str=files.text(BOOSTER_FILE))
    except (lgb.basic.LightGBMError, ValueError) as error:
        raise ModelLoadError(f"{model_dir / BOOSTER_FILE} is not a LightGBM model: {error}") from None
    try:
        state = read_state(files.json(STATE_FILE), files, manifest.format_version)
    except RecursionError:
        raise ModelLoadError(
            f"{model_dir / STATE_FILE} is nested too deeply to be a recipe's state"
        ) from None
    if not isinstance(state, dict):
        raise ModelLoadError(f"{model_dir / STATE_FILE} must hold a JSON object")
    baseline = None
    if STATISTICS_FILE in manifest.files:
        statistics, constraints = files.json(STATISTICS_FILE), files.json(CONSTRAINTS_FILE)
        for name, document in ((STATISTICS_FILE, statistics), (CONSTRAINTS_FILE, constraints)):
            if not isinstance(document, dict):
                raise ModelLoadError(f"{model_dir / name} must hold a JSON object")
        baseline = Baseline(statistics, constraints)
    if files.unread():
        raise ModelLoadError(
            f"{manifest_path} records {', '.join(files.unread())}, which {STATE_FILE} does not use: "
            f"the folder mixes files of different models {_MIXED}"
        )
    recipe = recipe_class(settings, manifest.inputs, state)
    check_consistent(manifest, booster, recipe, model_dir)
    return Model(manifest, booster, recipe, dict(files.digests), baseline)


def check_consistent(manifest: Manifest, booster: lgb.Booster, recipe: Recipe, model_dir: Path) -> None:
    """Refuse a model whose parts disagree, at load time rather than on the first request."""
    where = f"{model_dir}: "
    expected_outputs = len(manifest.classes) if manifest.task is Task.MULTICLASS else 1
    if manifest.task is not Task.REGRESSION and len(manifest.classes) < 2:
        raise ModelLoadError(where + f"a {manifest.task} model needs at least two classes in manifest.json")
    if manifest.task is Task.BINARY and len(manifest.classes) != 2:
        raise ModelLoadError(
            where + f"a binary model has two classes; manifest.json lists {len(manifest.classes)}"
        )
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
    declared = type(recipe).input_columns
    if declared is not None and manifest.inputs.features != tuple(declared):
        raise ModelLoadError(
            where
            + f"manifest.json describes the input columns {_described(manifest.inputs.features)}; recipe "
            f"'{manifest.recipe}' reads {_described(declared)}"
        )
    state_path = model_dir / STATE_FILE
    try:
        recipe.check_state()
        names = tuple(recipe.feature_names())
        categorical = tuple(recipe.categorical_features())
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise ModelLoadError(
            f"{state_path} does not fit recipe '{manifest.recipe}': {type(error).__name__}: {error}"
        ) from None
    if names != manifest.features:
        raise ModelLoadError(
            where + f"recipe '{manifest.recipe}' computes features {list(names)}; "
            f"manifest.json lists {list(manifest.features)}"
        )
    if categorical != manifest.categorical_features:
        raise ModelLoadError(
            where + f"recipe '{manifest.recipe}' reads the categorical features {list(categorical)}; "
            f"manifest.json lists {list(manifest.categorical_features)}"
        )
    _probe(manifest, booster, recipe, state_path)


def _described(columns: tuple[Column, ...]) -> str:
    return ", ".join(
        f"{column.name} ({column.kind}{': ' + '/'.join(map(str, column.choices)) if column.choices else ''})"
        for column in columns
    )


def probe_records(schema: InputSchema, recipe: Recipe) -> list[dict[str, Any]]:
    """An empty row, then rows of typical values, typed as requests are: each closed vocabulary's choices,
    the values the recipe names from its state, and a few plain numbers. Other text stays missing: what
    text a recipe expects, only it knows."""
    supplied = recipe.probe_values()
    candidates: dict[str, list[Any]] = {}
    for column in schema.features:
        if column.choices:
            values = list(column.choices)
        else:
            plain = [1.0, 0.0, 2.5] if column.kind == "number" else []
            values = [*supplied.get(column.name, ()), *plain] or [None]
        candidates[column.name] = [column.typed_value(value) for value in values]
    rows = min(PROBE_ROWS, max(len(values) for values in candidates.values()))
    empty = {column.name: math.nan if column.kind == "number" else None for column in schema.features}
    return [empty] + [
        {name: values[row % len(values)] for name, values in candidates.items()} for row in range(rows)
    ]


def _probe(manifest: Manifest, booster: lgb.Booster, recipe: Recipe, state_path: Path) -> None:
    """Typical rows through both of the recipe's paths and the booster, as requests go; any failure here
    would be a failure of every such request."""
    schema = manifest.inputs
    arrow_schema = pa.schema(
        [(c.name, pa.float64() if c.kind == "number" else pa.string()) for c in schema.features]
    )
    try:
        records = probe_records(schema, recipe)
        frame = pa.Table.from_pylist(records, schema=arrow_schema).to_pandas()
        batch = as_features(recipe.transform(frame))
        if batch.shape != (len(records), len(manifest.features)):
            raise ValueError(
                f"transform returned shape {batch.shape} for {len(records)} rows of {len(manifest.features)} "
                "features"
            )
        if recipe.transform_row is not None:
            one_by_one = as_features([recipe.transform_row(record) for record in records])
            differ = ~np.isclose(one_by_one, batch, rtol=PROBE_TOLERANCE, atol=0.0, equal_nan=True)
            if differ.any():
                row, feature = (int(position[0]) for position in np.nonzero(differ))
                raise ValueError(
                    f"transform_row and transform disagree on feature '{manifest.features[feature]}' of "
                    f"{records[row]} ({one_by_one[row, feature]} and {batch[row, feature]})"
                )
        scores = np.asarray(booster.predict(batch, num_threads=1))
        if not np.isfinite(scores).all():
            raise ValueError("model.txt answers a value that is not a finite number")
    except Exception as error:  # the recipe's code on the saved state: whatever fails is the model's fault
        raise ModelLoadError(
            f"{state_path} does not fit recipe '{manifest.recipe}': a probe of typical rows fails with "
            f"{type(error).__name__}: {error}"
        ) from None
