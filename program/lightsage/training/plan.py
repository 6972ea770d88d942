"""What `train` decides before the first tree: the recipe, the task and classes, the input columns, and which
rows train and which validate (a `validation` channel, or a hold-out of `train`).

Each channel is profiled in one streaming pass (`profile_channel`): its rows' labels are kept, its table is
not.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightsage.contract.paths import (
    MLPaths,
    read_hyperparameters,
    read_input_data_config,
    read_resource_config,
)
from lightsage.contract.resources import available_cpus
from lightsage.data.channels import ChannelReader, DataError, RawBatch, channel_files
from lightsage.data.parallel import in_order
from lightsage.data.profile import ColumnRead, TableProfile, TargetColumn, marker_lines, read_columns
from lightsage.data.schema import InputSchema
from lightsage.data.values import is_missing_marker
from lightsage.model import boosting
from lightsage.recipes import script as script_mode
from lightsage.recipes.base import Recipe, RecipeSource, image_source, resolve
from lightsage.tasks import ClassValue, TargetError, Task, TaskChoice, choose_task, class_values
from lightsage.training.hosts import scaleout
from lightsage.training.hosts.cluster import Cluster
from lightsage.training.memory import timed

logger = logging.getLogger(__name__)


@dataclass
class Channel:
    """A channel's reader and every row's label (class code or value; NaN where the target is empty)."""

    name: str
    reader: ChannelReader
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.labels = boosting.compact_labels(self.labels)

    @property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.labels)


def _target_missing(target: str, names: list[str], where: str) -> DataError:
    close = difflib.get_close_matches(target, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DataError(f"{where} has no target column '{target}'{hint}; its columns: {', '.join(names)}")


def profile_channel(
    reader: ChannelReader, target: str, columns: list[str] | None = None, workers: int = 1
) -> tuple[TableProfile, TargetColumn]:
    """One pass over the channel: the target's values, and what the named columns (all by default) hold.
    `workers` threads read the batches' cells while the profile counts the batches before them."""
    if target not in reader.names:
        raise _target_missing(target, reader.names, f"channel '{reader.channel}'")
    observed = [name for name in (reader.names if columns is None else columns) if name != target]
    profile = TableProfile.empty(reader.names)
    target_column = TargetColumn(target)

    def read(batch: RawBatch) -> tuple[RawBatch, dict[str, ColumnRead]]:
        return batch, read_columns(batch, [*observed, target])

    for batch, reads in in_order(read, reader.batches([*observed, target], ahead=True), workers):
        target_read = reads.pop(target)
        profile.add(batch, reads)
        target_column.add(target_read, batch.file.where, batch.first_row)
    return profile, target_column


@dataclass
class Plan:
    """Everything decided before the first tree: recipe, task, classes, columns and which rows go where."""

    recipe_class: type[Recipe]
    settings: dict[str, Any]
    task: Task
    classes: list[ClassValue]
    schema: InputSchema
    train: Channel
    train_rows: np.ndarray
    validation: Channel
    validation_rows: np.ndarray
    validation_source: str
    # scale-out: whether each host holds other rows (ShardedByS3Key) than the others
    train_sharded: bool = False
    validation_per_host: bool = False
    # the rule that chose the task, and how to choose another (`train` logs it beside the metrics)
    task_choice: TaskChoice | None = None
    # script mode: the recipe module the job ships (None: the recipe is the image's)
    script: script_mode.Script | None = None

    @property
    def class_count(self) -> int:
        return len(self.classes)

    @property
    def recipe_source(self) -> RecipeSource:
        return self.script.source if self.script is not None else image_source(self.recipe_class)


def holdout(
    labels: np.ndarray,
    labelled: np.ndarray,
    task: Task,
    fraction: float,
    seed: int,
    classes: list[ClassValue] | None = None,
) -> np.ndarray:
    """A hold-out mask over all rows: a stratified share of the labelled rows for classification."""
    positions = np.flatnonzero(labelled)
    if len(positions) == 0:  # scale-out: a sharded host without rows; the hosts' agreement names it
        return np.zeros(len(labels), dtype=bool)
    codes = labels[positions]
    stratify = codes if task is not Task.REGRESSION else None
    if stratify is not None:
        counts = np.bincount(codes.astype(int), minlength=len(classes or ()))
        _check_stratifiable(counts, classes or list(range(len(counts))), len(positions), fraction)
    if round(len(positions) * fraction) < 1:
        raise DataError(
            f"channel 'train' has {len(positions)} labelled rows: too few to hold out a validation split"
        )
    from sklearn.model_selection import train_test_split  # imported here: see lightsage.libraries

    _, held_out = train_test_split(positions, test_size=fraction, stratify=stratify, random_state=seed)
    mask = np.zeros(len(labels), dtype=bool)
    mask[held_out] = True
    return mask


def _check_stratifiable(counts: np.ndarray, classes: list[ClassValue], rows: int, fraction: float) -> None:
    """A stratified hold-out needs two rows of every class, and room for each class in the held-out rows."""
    listed = ", ".join(f"{value!r} {count}" for value, count in zip(classes, counts.tolist(), strict=True))
    listed = f"(rows per class: {listed})"
    small = [(value, int(count)) for value, count in zip(classes, counts, strict=True) if 0 < count < 2]
    if small:
        named = ", ".join(f"{value!r}" for value, _ in small[:5]) + (", ..." if len(small) > 5 else "")
        markers = [value for value, _ in small if isinstance(value, str) and is_missing_marker(value)]
        hint = (
            f" ({', '.join(repr(value) for value in markers)} reads as a missing label only in a number "
            "target: leave the cell empty for a row without a label)"
            if markers
            else ""
        )
        raise DataError(
            "channel 'train' is too small to hold out a stratified validation split: a single labelled row "
            f"of class {named} {listed}; every class needs at least 2 rows. Add rows of such a class, remove "
            f"its rows, or provide a 'validation' channel{hint}"
        )
    present = int((counts > 0).sum())
    if round(rows * fraction) < present:
        raise DataError(
            f"channel 'train' is too small to hold out a stratified validation split: validation_fraction="
            f"{fraction:g} of {rows} labelled rows holds out {round(rows * fraction)}, fewer than the "
            f"{present} classes {listed}; raise validation_fraction or provide a 'validation' channel"
        )


def plan(paths: MLPaths, peers: Cluster | None = None) -> Plan:
    raw = read_hyperparameters(paths)
    shipped = script_mode.from_hyperparameters(raw)  # script mode: the recipe module the job ships
    recipe_class, settings = resolve(raw, script=shipped.recipe if shipped is not None else None)
    channels = read_input_data_config(paths)
    resources = read_resource_config(paths)
    target = settings["target"]
    logger.info(
        f"host {resources.current_host} of {len(resources.hosts)}; "
        f"channels configured: {', '.join(sorted(channels)) or 'none'}"
    )
    logger.info(f"recipe {recipe_class.name} (version {recipe_class.version}); hyperparameters: "
        + ", ".join(f"{key}={value}" for key, value in settings.items()))  # fmt: skip
    # scale-out: resolve and connect the other hosts (nothing to do on one host)
    peers = peers or Cluster()
    peers.join(resources, settings["network_port"], settings["network_timeout_seconds"])
    scaleout.check_settings(peers, settings)
    train_sharded = scaleout.sharded(channels, "train")

    train_reader = ChannelReader(channel_files(paths.channel_dir("train"), "train"))
    recipe_class.check_columns(train_reader.names)
    with timed(f"profiled channel 'train' ({train_reader.size / 2**20:.0f} MiB)"):
        profile, target_column = profile_channel(
            train_reader, target, recipe_class.profiled_columns(train_reader.names), available_cpus()
        )
    if train_sharded:  # scale-out: each host profiled its own files; merge, so all infer the same
        profile, target_column = scaleout.merged_profile(peers, profile, target_column)
    for line in marker_lines("train", [*profile.columns.values(), target_column.profile]):
        logger.info(line)
    target_profile = target_column.target_profile()
    choice = choose_task(target_profile, target, settings["task"], recipe_class.tasks, recipe_class.name)
    task = choice.task
    logger.info(str(choice))
    classes = class_values(target_profile, task)
    train = Channel("train", train_reader, target_column.labels(task, classes))
    labelled = train.labelled
    if not labelled.all():
        logger.info(f"channel 'train': dropping {int((~labelled).sum())} row(s) without a '{target}' value")
    schema = recipe_class.select_inputs(profile, target, settings)
    described = ", ".join(f"{value!r}" for value in classes[:10]) + (", ..." if len(classes) > 10 else "")
    logger.info(f"{'classes ' + described if classes else 'numeric target'}; "
        f"{len(schema.features)} input column(s): {', '.join(schema.feature_names)}")  # fmt: skip

    validation_dir = paths.channel_dir("validation")
    if validation_dir.exists():
        validation = validation_channel(
            ChannelReader(channel_files(validation_dir, "validation")),
            target,
            task,
            classes,
            schema,
        )
        return Plan(
            recipe_class, settings, task, classes, schema, train, labelled, validation, validation.labelled,
            "validation channel", train_sharded, scaleout.sharded(channels, "validation"), choice, shipped,
        )  # fmt: skip
    fraction = settings["validation_fraction"]
    held_out = holdout(train.labels, labelled, task, fraction, settings["random_state"], classes)
    logger.info(
        f"no 'validation' channel: holding out {int(held_out.sum())} of the train rows for validation"
    )
    kind = "stratified " if task is not Task.REGRESSION else ""
    return Plan(
        recipe_class, settings, task, classes, schema, train, labelled & ~held_out, train, held_out,
        f"{kind}{fraction:.0%} hold-out of train (no validation channel)", train_sharded, train_sharded,
        choice, shipped,
    )  # fmt: skip


def validation_channel(
    reader: ChannelReader, target: str, task: Task, classes: list[ClassValue], schema: InputSchema
) -> Channel:
    missing = [name for name in schema.feature_names if name not in reader.names]
    if missing:
        raise DataError(f"channel 'validation' lacks column(s) the model reads: {', '.join(missing)}")
    _, target_column = profile_channel(reader, target, columns=[], workers=available_cpus())
    for line in marker_lines("validation", [target_column.profile]):
        logger.info(line)
    try:
        labels = target_column.labels(task, classes)
    except TargetError as error:
        raise DataError(f"channel 'validation': {error}") from None
    channel = Channel("validation", reader, labels)
    dropped = int((~channel.labelled).sum())
    if dropped:
        logger.info(f"channel 'validation': dropping {dropped} row(s) without a '{target}' value")
    return channel
