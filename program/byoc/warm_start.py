"""Warm start: continue training an earlier model, given as the optional `model` channel.

The channel holds an earlier job's model.tar.gz, or the files in it (manifest.json, model.txt,
recipe_state.json and its Parquet tables). The new trees are added to the earlier ones, so the earlier recipe
state and input columns stay: its category tables and group statistics are what give the earlier trees their
meaning. Before training, the job checks that the recipe and its version, the target, the task and the classes
are the model's, and that the training data has the model's input columns.

Training rows get their features as serving computes them for new rows (without their own labels). A recipe
whose state holds label statistics (titanic's group survival) should therefore be warm started on rows the
model has not learnt from: rows it learnt from would see their own labels in those statistics.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from byoc import artifact
from byoc.tasks import ClassValue, Task

CHANNEL = "model"

Log = Callable[[str], None]


class WarmStartError(ValueError):
    """The `model` channel holds no usable model, or one that does not fit this job."""


@dataclass(frozen=True)
class WarmStart:
    model: artifact.Model
    # Identifies the model in checkpoints: a resumed job must continue the same one.
    digest: str

    @property
    def rounds(self) -> int:
        return self.model.booster.current_iteration()


def _unpack(archive: Path, into: Path) -> None:
    """Only the model's own files, read as bytes: no member decides where anything is written."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                top_level = path.parent == PurePosixPath(".")
                if member.isfile() and top_level and artifact.is_artifact_file(path.name):
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        (into / path.name).write_bytes(extracted.read())
    except (tarfile.TarError, OSError, EOFError) as error:
        raise WarmStartError(
            f"channel 'model': {archive.name} is not a readable model archive: {error}"
        ) from None


def load(channel_dir: Path, log: Log) -> WarmStart | None:
    """The model in the `model` channel, or None when the job has no such channel."""
    if not channel_dir.is_dir():
        return None
    archives = sorted(channel_dir.glob("*.tar.gz"))
    staging = Path(tempfile.mkdtemp(prefix="warm-start-"))
    try:
        if archives:
            _unpack(archives[0], staging)
            model_dir = staging
        else:
            model_dir = channel_dir
        try:
            model = artifact.load(model_dir)
        except artifact.ModelLoadError as error:
            raise WarmStartError(f"channel 'model': {error}") from None
        digest = hashlib.sha256()
        for path in (
            model_dir / artifact.BOOSTER_FILE,
            model_dir / artifact.STATE_FILE,
            *artifact.table_files(model_dir),
        ):
            digest.update(path.read_bytes())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    source = archives[0].name if archives else "its files"
    log(
        f"warm start: continuing the {model.booster.current_iteration()}-round model in channel 'model' "
        f"({source}), recipe {model.manifest.recipe} version {model.manifest.recipe_version}"
    )
    return WarmStart(model, digest.hexdigest()[:32])


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
