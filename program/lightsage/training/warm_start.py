"""Warm start: continue training an earlier model, given as the optional `model` channel.

The channel holds an earlier job's model.tar.gz, or the files in it (manifest.json, model.txt,
recipe_state.json and its Parquet tables), at its top level: `tar -C model -czf model.tar.gz .` packs a model
folder so. Only regular files are read, never through a symbolic link; the model is loaded and checked as
`serve` loads it (`lightsage.model.artifact`).

The new trees are added to the earlier ones, so what gives the earlier trees their meaning stays the earlier
model's: its recipe and version, target, task, classes, input columns, recipe state, and the recipe's own
hyperparameters (tabular: categorical_columns, ignore_columns, max_categories), which decide the columns and
features. That is the rule: a warm-started job keeps those; one that sets a different value fails, naming
it, and one that leaves a recipe hyperparameter unset takes the model's value, which the new manifest then
records. Everything else (LightGBM's knobs, n_estimators, early stopping, class_weight, validation and
seeds) applies to the new rounds.

Training rows get their features as serving computes them for new rows (without their own labels). A recipe
whose state holds label statistics (titanic's group survival) should therefore be warm started on rows the
model has not learnt from: rows it learnt from would see their own labels in those statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lightsage.contract import folders
from lightsage.errors import UserError
from lightsage.model import artifact
from lightsage.recipes.base import Recipe
from lightsage.recipes.script import Script
from lightsage.tasks import ClassValue, Task

logger = logging.getLogger(__name__)

CHANNEL = "model"
PACKING = "pack the model's files themselves, not their folder: tar -C model -czf model.tar.gz ."
SHOWN_MEMBERS = 8


class WarmStartError(UserError, ValueError):
    """The `model` channel holds no usable model, or one that does not fit this job."""


@dataclass(frozen=True)
class WarmStart:
    model: artifact.Model
    # Identifies the model in checkpoints: a resumed job must continue the same one.
    digest: str

    @property
    def rounds(self) -> int:
        return self.model.booster.current_iteration()


def _unpack(channel_dir: Path, archive: str, into: Path) -> None:
    """Only the model's own files at the archive's top level, read as bytes: no member decides where
    anything is written. An archive without them is named with what it holds instead."""
    members: list[str] = []
    found = False
    try:
        with (
            folders.open_file(channel_dir, archive) as handle,
            tarfile.open(fileobj=handle, mode="r:*") as tar,
        ):
            for member in tar.getmembers():
                members.append(member.name + ("/" if member.isdir() else ""))
                path = PurePosixPath(member.name)
                top_level = path.parent == PurePosixPath(".")
                if member.isfile() and top_level and artifact.is_artifact_file(path.name):
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        (into / path.name).write_bytes(extracted.read())
                        found = True
    except folders.UnsafeFile as error:
        raise WarmStartError(f"channel 'model': {error.strerror}") from None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise WarmStartError(f"channel 'model': {archive} is not a readable model archive: {error}") from None
    if not found:
        shown = ", ".join(members[:SHOWN_MEMBERS]) + (", ..." if len(members) > SHOWN_MEMBERS else "")
        raise WarmStartError(
            f"channel 'model': {archive} holds no model file at its top level "
            f"(it holds: {shown or 'nothing'}); {PACKING}"
        )


def check_separate(channel_dir: Path, model_dir: Path) -> None:
    """WarmStartError when the `model` channel is the model folder itself, which `train` empties first."""
    try:
        same = channel_dir.exists() and model_dir.exists() and channel_dir.samefile(model_dir)
    except OSError:
        same = False
    if same:
        raise WarmStartError(
            f"channel 'model' ({channel_dir}) is the model folder {model_dir}, which training empties before "
            "it writes the new model: copy the earlier model to another folder and give that folder instead"
        )


def load(channel_dir: Path, script: Script | None = None) -> WarmStart | None:
    """The model in the `model` channel, or None when the job has no such channel. `script`: the job's
    script-mode recipe, which a model trained in script mode needs (the same source)."""
    kind = folders.kind_of(channel_dir)
    if kind == "missing":
        return None
    if kind != "folder":
        raise WarmStartError(
            f"channel 'model': {channel_dir} is a {kind}, not a folder; give the model's own folder"
        )
    archives = [
        path.name
        for path in sorted(channel_dir.iterdir())
        if path.name.endswith(".tar.gz") and folders.kind_of(path) != "folder"
    ]  # a link among them is named as one when it is read
    staging = Path(tempfile.mkdtemp(prefix="warm-start-"))
    try:
        if archives:
            _unpack(channel_dir, archives[0], staging)
            model_dir = staging
        elif folders.kind_of(channel_dir / artifact.MANIFEST_FILE) == "missing":
            shown = ", ".join(folders.listing(channel_dir)[:SHOWN_MEMBERS]) or "nothing"
            raise WarmStartError(
                "channel 'model' holds neither a model.tar.gz nor a model's files at its top level "
                f"(it holds: {shown}); give an earlier job's model.tar.gz, or the files in it"
            )
        else:
            model_dir = channel_dir
        try:
            model = artifact.load(model_dir, script)
        except artifact.ModelLoadError as error:
            shown = str(error).replace(str(staging), f"{archives[0]} (unpacked)") if archives else str(error)
            raise WarmStartError(f"channel 'model': {shown}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    source = archives[0] if archives else "its files"
    logger.info(
        f"warm start: continuing the {model.booster.current_iteration()}-round model in channel 'model' "
        f"({source}), recipe {model.manifest.recipe} version {model.manifest.recipe_version}"
    )
    digest = hashlib.sha256(json.dumps(model.digests, sort_keys=True).encode()).hexdigest()
    return WarmStart(model, digest[:32])


def kept_settings(
    warm: WarmStart, recipe_class: type[Recipe], settings: Mapping[str, Any], given: Collection[str]
) -> dict[str, Any]:
    """This job's hyperparameters with the recipe's own taken from the earlier model (the rule above);
    WarmStartError naming each one this job sets to another value."""
    earlier = warm.model.recipe.settings
    own = [spec.name for spec in recipe_class.own_hyperparameters]
    changed = [
        f"{name} is {_shown(earlier[name])} in the model, {_shown(settings[name])} here"
        for name in own
        if name in given and settings[name] != earlier[name]
    ]
    if changed:
        raise WarmStartError(
            "channel 'model' holds a model this job cannot continue: "
            + "; ".join(changed)
            + ". A warm start keeps the model's columns and features, so its recipe hyperparameters stay; "
            "leave them unset (or set them as the model has), or train a new model without channel 'model'"
        )
    inherited = [name for name in own if name not in given and settings[name] != earlier[name]]
    if inherited:
        logger.info(
            "warm start: keeping the model's "
            + ", ".join(f"{name}={_shown(earlier[name])}" for name in inherited)
        )
    return {**settings, **{name: earlier[name] for name in own}}


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "(" + ", ".join(map(str, value)) + ")" if value else "(none)"
    return repr(value)


def check(
    warm: WarmStart,
    recipe: str,
    target: str,
    task: Task,
    classes: Sequence[ClassValue],
    columns: Sequence[str],
) -> None:
    """WarmStartError naming what differs between the earlier model and this job."""
    manifest = warm.model.manifest
    differences = []
    if manifest.recipe != recipe:
        differences.append(f"recipe '{manifest.recipe}' there, '{recipe}' here")
    if manifest.target != target:
        differences.append(f"target '{manifest.target}' there, '{target}' here")
    if manifest.task is not task:
        differences.append(f"task {manifest.task} there, {task} here")
    elif list(manifest.classes) != list(classes):
        differences.append(f"classes {list(manifest.classes)} there, {list(classes)} here")
    missing = [name for name in manifest.inputs.feature_names if name not in columns]
    if missing:
        differences.append(f"the training data lacks its input column(s) {', '.join(missing)}")
    if differences:
        raise WarmStartError(
            "channel 'model' holds a model this job cannot continue: " + "; ".join(differences)
        )
