"""The `train` program: SageMaker config and channels in; a model artifact and metrics, or a clear failure.

The data path streams: the train channel is read in Arrow batches several times (to profile it, to let the
recipe learn, to compute features), so no pass holds the raw table. Features go into float32 chunks that
LightGBM bins into its Dataset, after which they are dropped.
"""

from __future__ import annotations

import difflib
import platform
import resource
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from types import FrameType
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.contract.paths import (
    ContractError,
    MLPaths,
    read_hyperparameters,
    read_input_data_config,
    read_resource_config,
    write_failure_reason,
)
from lightsage.contract.resources import available_cpus
from lightsage.data.channels import ChannelReader, DataError, RawBatch, channel_files
from lightsage.data.profile import TableProfile, TargetColumn, marker_lines
from lightsage.data.schema import ColumnValueError, InputSchema
from lightsage.data.values import is_missing_marker
from lightsage.model import artifact, boosting
from lightsage.recipes.base import Recipe, RecipeError, State, resolve
from lightsage.tasks import (
    CV_PREFIX,
    METRIC_SPLITS,
    METRICS,
    ClassValue,
    TargetError,
    Task,
    TaskChoice,
    choose_task,
    class_values,
    evaluate,
    metric_line,
)
from lightsage.training import memory, warm_start
from lightsage.training.checkpoints import CheckpointError, CheckpointStore
from lightsage.training.hosts import scaleout
from lightsage.training.hosts.cluster import Cluster, ClusterError
from lightsage.training.job import Job
from lightsage.training.memory import MemoryGuard, OutOfMemory
from lightsage.training.warm_start import WarmStartError

REPORTED_LIBRARIES = ("lightgbm", "scikit-learn", "pandas", "numpy", "pyarrow")
TRAIN_METRIC_ROWS = 200_000
# Below this many feature values, extra threads cost more than they save (thread start-up, OpenMP spinning).
CELLS_PER_EXTRA_THREAD = 2_000_000
COMBINE_EVERY = 16


class TrainingInterrupted(Exception):
    """SIGTERM arrived: SageMaker sends it on StopTrainingJob and on spot interruption."""


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)


@contextmanager
def timed(step: str) -> Iterator[None]:
    """Log how long a step of the job took, and the memory peak so far."""
    started = time.monotonic()
    yield
    log(f"{step}: {time.monotonic() - started:.1f} s (peak memory {peak_rss_mib():.0f} MiB)")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    versions.update({name: metadata.version(name) for name in REPORTED_LIBRARIES})
    return versions


# -- channels -----------------------------------------------------------------------------------------------


@dataclass
class Channel:
    """A channel's reader and every row's label (class code or value; NaN where the target is empty)."""

    name: str
    reader: ChannelReader
    labels: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.labels)


def _target_missing(target: str, names: list[str], where: str) -> DataError:
    close = difflib.get_close_matches(target, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DataError(f"{where} has no target column '{target}'{hint}; its columns: {', '.join(names)}")


def profile_channel(
    reader: ChannelReader, target: str, columns: list[str] | None = None
) -> tuple[TableProfile, TargetColumn]:
    """One pass over the channel: the target's values, and what the named columns (all by default) hold."""
    if target not in reader.names:
        raise _target_missing(target, reader.names, f"channel '{reader.channel}'")
    observed = [name for name in (reader.names if columns is None else columns) if name != target]
    profile = TableProfile.empty(reader.names)
    target_column = TargetColumn(target)
    for batch in reader.batches([*observed, target]):
        profile.observe(batch, only=observed)
        target_column.observe(batch.table.column(target), batch.file.where, batch.first_row)
    return profile, target_column


def _value_error(batch: RawBatch, rows: np.ndarray | None, error: ColumnValueError) -> DataError:
    position = int(rows[error.row]) if rows is not None else error.row
    more = f" ({error.count} such values in rows {batch.first_row + 1} to {batch.first_row + batch.rows})"
    return DataError(
        f"{batch.file.where}, row {batch.first_row + position + 1}, column '{error.column}': "
        f"{error.value!r} is not {error.expected}" + (more if error.count > 1 else "")
    )


def typed_batches(
    channel: Channel, schema: InputSchema, selection: np.ndarray
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The selected rows of a channel, batch by batch: typed feature columns and their labels."""
    offset = 0
    for batch in channel.reader.batches(list(schema.feature_names)):
        chosen = selection[offset : offset + batch.rows]
        labels = channel.labels[offset : offset + batch.rows][chosen]
        offset += batch.rows
        if not chosen.any():
            continue
        rows = np.flatnonzero(chosen) if not chosen.all() else None
        table = batch.table.filter(pa.array(chosen)) if rows is not None else batch.table
        try:
            typed = schema.typed_table(table)
        except ColumnValueError as error:
            raise _value_error(batch, rows, error) from None
        # One pandas block per column, each Arrow column freed as it is converted: no consolidated copy.
        yield typed.to_pandas(split_blocks=True, self_destruct=True), labels


# -- the recipe's passes ------------------------------------------------------------------------------------

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(function: Callable[[Item], Result], items: Iterable[Item], workers: int) -> Iterator[Result]:
    """`function` of each item, in the items' order, on up to `workers` threads with as many items in flight.

    The recipe's batch work is Arrow and numpy, which release the GIL, so a second CPU computes the next batch
    while this one reads and stores. The first item runs alone: a recipe may build its lookups on first use.
    """
    iterator = iter(items)
    for first in iterator:
        yield function(first)
        break
    if workers <= 1:
        yield from map(function, iterator)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="recipe") as pool:
        pending: deque[Future[Result]] = deque()
        for item in iterator:
            pending.append(pool.submit(function, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def combine_all(recipe: Recipe, summaries: Iterable[State]) -> State | None:
    """One summary of many, combining as they arrive, oldest rows first (None for no summaries).

    levels[n] holds summaries of COMBINE_EVERY**n batches each, so every row is combined about
    log(batches) times; one running summary would combine the earliest rows again at every combine.
    """
    levels: list[list[State]] = []
    for summary in summaries:
        level = 0
        while True:
            if level == len(levels):
                levels.append([])
            levels[level].append(summary)
            if len(levels[level]) < COMBINE_EVERY:
                break
            summary, levels[level] = recipe.combine(levels[level]), []
            level += 1
    remaining = [summary for level in reversed(levels) for summary in level]
    return recipe.combine(remaining) if remaining else None


def learn_state(
    recipe: Recipe,
    channel: Channel,
    selection: np.ndarray,
    team: scaleout.Team | None = None,
    workers: int = 1,
) -> State:
    schema = recipe.schema
    if recipe.learned_from is not None:
        schema = InputSchema(
            tuple(column for column in schema.features if column.name in recipe.learned_from)
        )
    summaries = in_order(
        lambda batch: recipe.summarise(*batch), typed_batches(channel, schema, selection), workers
    )
    summary = combine_all(recipe, summaries)
    if summary is None:
        raise DataError(f"channel '{channel.name}' has no labelled rows to learn from")
    if team is not None:  # scale-out: every host's summary, combined in host order
        summary = team.combined(recipe, summary)
    return recipe.learn(summary)


def features_of(
    recipe: Recipe,
    channel: Channel,
    selection: np.ndarray,
    *,
    own_labels: bool,
    guard: MemoryGuard | None = None,
    still_needed: float = 0.0,
    workers: int = 1,
) -> boosting.FeatureMatrix:
    """Features of the selected rows; training rows pass their own labels to the recipe (leave-one-out).

    With a guard, each batch projects the whole matrix from the rows done so far, plus `still_needed` bytes
    for what follows, and stops the job as soon as that clearly cannot fit.
    """
    matrix = boosting.FeatureMatrix(len(recipe.feature_names()))
    total = int(selection.sum())

    def transformed(batch: tuple[pd.DataFrame, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        frame, labels = batch
        return recipe.transform(frame, labels if own_labels else None), labels

    for features, labels in in_order(transformed, typed_batches(channel, recipe.schema, selection), workers):
        matrix.add(features, labels)
        if guard is not None and matrix.rows:
            remaining = matrix.nbytes / matrix.rows * (total - matrix.rows)
            guard.check_fits(
                f"compute the features of channel '{channel.name}'",
                {"the remaining features": remaining, "what follows (LightGBM's dataset)": still_needed},
                f"channel '{channel.name}' ({memory.gib(channel.reader.size)}, {total:,} rows)",
            )
    return matrix


# -- training -----------------------------------------------------------------------------------------------


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

    @property
    def class_count(self) -> int:
        return len(self.classes)


def _raise_on_sigterm(started: float) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise TrainingInterrupted(
            f"training was stopped by {signal.Signals(signum).name} after {time.monotonic() - started:.1f} s "
            "(StopTrainingJob or a spot interruption); no model was saved"
        )

    signal.signal(signal.SIGTERM, handler)


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
    recipe_class, settings = resolve(raw)
    channels = read_input_data_config(paths)
    resources = read_resource_config(paths)
    target = settings["target"]
    log(
        f"host {resources.current_host} of {len(resources.hosts)}; "
        f"channels configured: {', '.join(sorted(channels)) or 'none'}"
    )
    log(f"recipe {recipe_class.name} (version {recipe_class.version}); hyperparameters: "
        + ", ".join(f"{key}={value}" for key, value in settings.items()))  # fmt: skip
    # scale-out: resolve and connect the other hosts (nothing to do on one host)
    peers = peers or Cluster()
    peers.join(resources, settings["network_port"], settings["network_timeout_seconds"], log)
    scaleout.check_settings(peers, settings)
    train_sharded = scaleout.sharded(channels, "train")

    train_reader = ChannelReader(channel_files(paths.channel_dir("train"), "train", log), log)
    recipe_class.check_columns(train_reader.names)
    with timed(f"profiled channel 'train' ({train_reader.size / 2**20:.0f} MiB)"):
        profile, target_column = profile_channel(
            train_reader, target, recipe_class.profiled_columns(train_reader.names)
        )
    if train_sharded:  # scale-out: each host profiled its own files; merge, so all infer the same
        profile, target_column = scaleout.merged_profile(peers, profile, target_column)
    for line in marker_lines("train", [*profile.columns.values(), target_column.profile]):
        log(line)
    target_profile = target_column.target_profile()
    choice = choose_task(target_profile, target, settings["task"], recipe_class.tasks, recipe_class.name)
    task = choice.task
    log(str(choice))
    classes = class_values(target_profile, task)
    train = Channel("train", train_reader, target_column.labels(task, classes))
    labelled = train.labelled
    if not labelled.all():
        log(f"channel 'train': dropping {int((~labelled).sum())} row(s) without a '{target}' value")
    schema = recipe_class.select_inputs(profile, target, settings, log)
    described = ", ".join(f"{value!r}" for value in classes[:10]) + (", ..." if len(classes) > 10 else "")
    log(f"{'classes ' + described if classes else 'numeric target'}; "
        f"{len(schema.features)} input column(s): {', '.join(schema.feature_names)}")  # fmt: skip

    validation_dir = paths.channel_dir("validation")
    if validation_dir.exists():
        validation = validation_channel(
            ChannelReader(channel_files(validation_dir, "validation", log), log),
            target,
            task,
            classes,
            schema,
        )
        return Plan(
            recipe_class, settings, task, classes, schema, train, labelled, validation, validation.labelled,
            "validation channel", train_sharded, scaleout.sharded(channels, "validation"), choice,
        )  # fmt: skip
    fraction = settings["validation_fraction"]
    held_out = holdout(train.labels, labelled, task, fraction, settings["random_state"], classes)
    log(f"no 'validation' channel: holding out {int(held_out.sum())} of the train rows for validation")
    kind = "stratified " if task is not Task.REGRESSION else ""
    return Plan(
        recipe_class, settings, task, classes, schema, train, labelled & ~held_out, train, held_out,
        f"{kind}{fraction:.0%} hold-out of train (no validation channel)", train_sharded, train_sharded,
        choice,
    )  # fmt: skip


def validation_channel(
    reader: ChannelReader, target: str, task: Task, classes: list[ClassValue], schema: InputSchema
) -> Channel:
    missing = [name for name in schema.feature_names if name not in reader.names]
    if missing:
        raise DataError(f"channel 'validation' lacks column(s) the model reads: {', '.join(missing)}")
    _, target_column = profile_channel(reader, target, columns=[])
    for line in marker_lines("validation", [target_column.profile]):
        log(line)
    try:
        labels = target_column.labels(task, classes)
    except TargetError as error:
        raise DataError(f"channel 'validation': {error}") from None
    channel = Channel("validation", reader, labels)
    dropped = int((~channel.labelled).sum())
    if dropped:
        log(f"channel 'validation': dropping {dropped} row(s) without a '{target}' value")
    return channel


@dataclass
class Fitted:
    """A trained model, the rows to score it on: a sample of its training rows, and the validation rows."""

    recipe: Recipe
    booster: lgb.Booster
    best_iteration: int
    train_sample: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    resumed_from: int | None = None

    def evaluate(self, task: Task, rows: tuple[np.ndarray, np.ndarray], threads: int) -> dict[str, Any]:
        features, labels = rows
        return evaluate(
            task, labels, boosting.scores(self.booster, features, threads, self.best_iteration or None)
        )


def _memory_ahead(plan: Plan, recipe: Recipe, train_rows: int, valid_rows: int) -> dict[str, float]:
    """Lower bounds of the bytes the next steps hold at once: features, then LightGBM's dataset."""
    width = len(recipe.feature_names())
    outputs = plan.class_count if plan.task is Task.MULTICLASS else 1
    return {
        "training features (float32)": train_rows * width * 4.0,
        "validation features (float32)": valid_rows * width * 4.0,
        "LightGBM's dataset": boosting.dataset_bytes(train_rows, width, outputs),
    }


def fit(
    plan: Plan,
    train_rows: np.ndarray,
    valid_channel: Channel,
    valid_rows: np.ndarray,
    threads: int,
    guard: MemoryGuard,
    job: Job | None = None,
) -> Fitted:
    """Learn the recipe's state, compute features, and boost: one model from the selected rows.

    `job` (scale-out, spot, warm start): the other hosts, checkpoints, an earlier model; none for a CV fold.
    """
    settings = plan.settings
    job = job or Job.fold(settings, log)
    # warm start: the earlier model's recipe, state and columns; its training rows are new rows to it
    recipe = job.warm_recipe or plan.recipe_class(settings, plan.schema)
    ahead = _memory_ahead(plan, recipe, int(train_rows.sum()), int(valid_rows.sum()))
    detail = f"channel 'train' ({memory.gib(plan.train.reader.size)}, {int(train_rows.sum()):,} rows)"
    guard.check_fits("compute the features", ahead, detail)
    guard.enter("learning the recipe's state")
    if job.warm_recipe is None:
        with timed("recipe state learnt"):
            recipe.state = learn_state(recipe, plan.train, train_rows, job.team, threads)
    guard.check_fits("compute the features", ahead, detail + ", with the recipe's learnt state")
    names, categorical = recipe.feature_names(), recipe.categorical_features()
    params = boosting.parameters(settings, plan.task, plan.class_count, threads)
    params.update(job.team.cluster.lightgbm_parameters())  # scale-out: data-parallel learning over the hosts

    guard.enter("computing the training features")
    with timed("training features computed"):
        train_matrix = features_of(
            recipe, plan.train, train_rows, own_labels=job.warm_recipe is None, guard=guard,
            still_needed=ahead["LightGBM's dataset"] + ahead["validation features (float32)"],
            workers=threads,
        )  # fmt: skip
    if train_matrix.rows == 0:
        raise DataError("channel 'train' has no labelled rows to train on")
    train_labels = train_matrix.labels()
    weights = job.team.balanced_weights(settings, plan.task, train_labels, plan.class_count)
    train_sample = train_matrix.sample(TRAIN_METRIC_ROWS, settings["random_state"])
    start = job.begin(train_matrix, names)  # spot: resume from this job's checkpoint; or a warm start
    # scale-out: every host bins its rows on the same reference, so all grow the same trees
    reference = job.team.bin_reference(train_matrix, params, names, categorical, settings["random_state"])
    guard.enter("building LightGBM's dataset")
    with timed("LightGBM dataset built"):
        train_set = boosting.dataset(
            train_matrix, params, names, categorical, weights, reference, start.scores(train_matrix, threads)
        )
    train_matrix.clear()

    guard.enter("computing the validation features")
    with timed("validation features computed"):
        valid_matrix = features_of(
            recipe, valid_channel, valid_rows, own_labels=False, guard=guard, workers=threads
        )
    valid_matrix = job.team.validation(valid_matrix)  # scale-out: every host's, when they differ
    valid_features, valid_labels = valid_matrix.dense(), valid_matrix.labels()
    if len(valid_labels) == 0:
        raise DataError(f"channel '{valid_channel.name}' has no labelled rows to validate on")
    # Every feature is computed: a fresh recipe over the same state drops what the old one built to look
    # rows up (Titanic: an index of every group key), which boosting would otherwise carry.
    recipe = type(recipe)(recipe.settings, recipe.schema, recipe.state)
    # The validation set is scored every round only when early stopping needs it: scoring costs a sort of
    # the validation rows per round.
    stopping = settings["early_stopping_rounds"]
    valid_set = (
        boosting.dataset(
            valid_matrix, params, names, categorical, None, train_set, start.scores(valid_matrix, threads)
        )
        if stopping
        else None
    )
    valid_matrix.clear()

    rounds = start.rounds_left(settings["n_estimators"])
    guard.enter("boosting")
    try:
        with timed(f"boosted up to {rounds} rounds on {threads} thread(s)"):
            booster = job.boost(params, train_set, valid_set, start, rounds)
    except TrainingInterrupted as stop:  # spot: checkpoint the rounds done so far
        raise TrainingInterrupted(f"{stop}{job.checkpoint_on_stop()}") from None
    best = job.best_iteration()
    job.trained(booster, best)  # scale-out: every host grew the same model
    return Fitted(recipe, booster, best, train_sample, (valid_features, valid_labels), start.resumed_from)


def cross_validate(plan: Plan, threads: int, guard: MemoryGuard) -> dict[str, Any]:
    """k-fold scores on the train rows, each fold with its own recipe state, as a new model sees them."""
    folds = plan.settings["cv_folds"]
    positions = np.flatnonzero(plan.train_rows)
    codes = plan.train.labels[positions]
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=plan.settings["random_state"])
        if plan.task is not Task.REGRESSION
        else KFold(folds, shuffle=True, random_state=plan.settings["random_state"])
    )
    scores: dict[str, list[float]] = {}
    for fold_train, fold_test in splitter.split(np.zeros(len(positions)), codes):
        train_mask = np.zeros(len(plan.train.labels), dtype=bool)
        test_mask = np.zeros(len(plan.train.labels), dtype=bool)
        train_mask[positions[fold_train]] = True
        test_mask[positions[fold_test]] = True
        fitted = fit(plan, train_mask, plan.train, test_mask, threads, guard)
        for name, value in fitted.evaluate(plan.task, fitted.validation, threads).items():
            if name != "rows" and value is not None:
                scores.setdefault(name, []).append(float(value))
    summary: dict[str, Any] = {"folds": folds}
    for name, values in scores.items():
        summary[f"{name}_mean"] = float(np.mean(values))
        summary[f"{name}_std"] = float(np.std(values))
    return summary


def thread_count(rows: int, features: int, cpus: int) -> int:
    """Every CPU for large data; fewer for small data, where threads only add overhead."""
    return max(1, min(cpus, (rows * features) // CELLS_PER_EXTRA_THREAD + 1))


def job_identity(the_plan: Plan) -> dict[str, Any]:
    """What the hosts must agree on, and what a checkpoint must match to be resumed (spot)."""
    return {
        "recipe": the_plan.recipe_class.name,
        "recipe_version": the_plan.recipe_class.version,
        "task": the_plan.task.value,
        "target": the_plan.settings["target"],
        "classes": list(the_plan.classes),
        "inputs": the_plan.schema.to_json(),
        "settings": dict(the_plan.settings),
    }


def prepare(paths: MLPaths, the_plan: Plan, peers: Cluster) -> Job:
    """Warm start, shares and agreement between the hosts, checkpoints: the job `fit` runs."""
    warm = warm_start.load(paths.channel_dir(warm_start.CHANNEL), log)
    if warm is not None:
        warm_start.check(
            warm, the_plan.recipe_class.name, the_plan.settings["target"], the_plan.task, the_plan.classes,
            the_plan.train.reader.names,
        )  # fmt: skip
        # The model's columns, state and recipe hyperparameters stay; the manifest records those.
        the_plan.schema = warm.model.manifest.inputs
        the_plan.settings = warm_start.kept_settings(
            warm, the_plan.recipe_class, the_plan.settings, set(read_hyperparameters(paths)), log
        )
    settings = the_plan.settings
    the_plan.train_rows = scaleout.own_rows(peers, the_plan.train_rows, the_plan.train_sharded)
    identity = job_identity(the_plan)
    team = scaleout.agree(
        peers,
        {**identity, "validation": the_plan.validation_source, "warm_start": warm.digest if warm else None},
        the_plan.train.labels[the_plan.train_rows],
        the_plan.class_count,
        int(the_plan.validation_rows.sum()),
        the_plan.validation_per_host,
    )
    return Job(team, settings, log, paths, identity, warm)


def train(paths: MLPaths, peers: Cluster | None = None) -> dict[str, Any]:
    """Plan, fit and save one model. While it runs, the failure file holds a provisional reason (what the job
    was doing and its memory), so a job killed from outside still leaves one; success removes it."""
    started = time.monotonic()
    start_clean(paths)
    peers = peers or Cluster()
    guard = MemoryGuard(report=lambda reason: write_failure_reason(paths, reason + "\n"))
    guard.enter("reading its channels")
    log(f"memory limit {memory.gib(guard.limit.bytes)} ({guard.limit.source})")
    with guard.watch():
        the_plan = plan(paths, peers)
        job = prepare(paths, the_plan, peers)  # scale-out, spot, warm start
        fitted, metrics = _fit_and_score(the_plan, guard, started, job)
    if peers.first:  # scale-out: only the first host writes the model and the metric lines
        save_model(paths, the_plan, fitted, metrics)
    else:
        log(f"trained as host {peers.hosts.rank + 1} of {peers.count}; the first host saves the model")
    paths.failure_file.unlink(missing_ok=True)
    peers.finish(log)
    return metrics


def start_clean(paths: MLPaths) -> None:
    """Before anything can fail: say when checkpoints will be resumed, and remove an earlier model from the
    model folder, so a job that fails leaves none behind for `serve` (SageMaker starts with an empty folder;
    a local /opt/ml keeps the last run's)."""
    store = CheckpointStore(paths.checkpoint_dir)
    if store.found():
        log(
            f"checkpoints found in {store.directory} ({', '.join(store.found())}): this job resumes from "
            "them if an earlier run of this same job (same data and hyperparameters) left them, and fails if "
            f"another job did; {store.fresh_start()}"
        )
    warm_start.check_separate(paths.channel_dir(warm_start.CHANNEL), paths.model_dir)
    removed = artifact.clear(paths.model_dir)
    if removed:
        log(
            f"removed the previous model from {paths.model_dir} ({', '.join(removed)}): a job that fails "
            "leaves no model behind"
        )


def _fit_and_score(
    the_plan: Plan, guard: MemoryGuard, started: float, job: Job
) -> tuple[Fitted, dict[str, Any]]:
    threads = thread_count(int(the_plan.train_rows.sum()), len(the_plan.schema.features), available_cpus())
    settings, task = the_plan.settings, the_plan.task
    log(
        f"training on {int(the_plan.train_rows.sum())} rows, "
        f"validating on {int(the_plan.validation_rows.sum())} "
        f"({the_plan.validation_source}), {threads} thread(s)"
    )
    fitted = fit(
        the_plan, the_plan.train_rows, the_plan.validation, the_plan.validation_rows, threads, guard, job
    )
    booster = fitted.booster
    names = list(fitted.recipe.feature_names())
    metrics: dict[str, Any] = {
        "task": task.value,
        "task_rule": the_plan.task_choice.explanation if the_plan.task_choice else None,
        "target": settings["target"],
        "classes": the_plan.classes,
        "recipe": {"name": the_plan.recipe_class.name, "version": the_plan.recipe_class.version},
        "train": fitted.evaluate(task, fitted.train_sample, threads),
        "validation": fitted.evaluate(task, fitted.validation, threads),
        "validation_source": the_plan.validation_source,
    }
    if settings["cv_folds"]:
        log(f"cross-validating with {settings['cv_folds']} folds on train")
        metrics["cross_validation"] = cross_validate(the_plan, threads, guard)
    metrics.update(
        iterations=booster.current_iteration(),
        best_iteration=fitted.best_iteration or booster.current_iteration(),
        hyperparameters=settings,
        features=names,
        feature_importance=dict(
            zip(
                names,
                booster.feature_importance("gain", iteration=fitted.best_iteration or None).round(3).tolist(),
                strict=True,
            )
        ),
        libraries=library_versions(),
        hosts=job.team.cluster.count,
        resumed_from_iteration=fitted.resumed_from,
        warm_start_iterations=job.warm.rounds if job.warm is not None else None,
        duration_seconds=round(time.monotonic() - started, 3),
        peak_rss_mib=peak_rss_mib(),
        memory=guard.figures(),
    )
    return fitted, metrics


def save_model(paths: MLPaths, the_plan: Plan, fitted: Fitted, metrics: dict[str, Any]) -> None:
    settings, task, names = the_plan.settings, the_plan.task, list(fitted.recipe.feature_names())
    manifest = artifact.Manifest(
        recipe=the_plan.recipe_class.name,
        recipe_version=the_plan.recipe_class.version,
        task=task,
        target=settings["target"],
        classes=tuple(the_plan.classes),
        inputs=the_plan.schema,
        features=tuple(names),
        categorical_features=tuple(fitted.recipe.categorical_features()),
        settings=settings,
        best_iteration=fitted.best_iteration,
        libraries=metrics["libraries"],
    )
    saved = artifact.save(paths.model_dir, manifest, fitted.booster, fitted.recipe.state, metrics)
    report(task, metrics)
    log(f"saved {', '.join(saved)} to {paths.model_dir}")
    log(f"took {metrics['duration_seconds']:.1f} s, peak memory {metrics['peak_rss_mib']:.0f} MiB")


def report(task: Task, metrics: Mapping[str, Any]) -> None:
    names = [entry.name for entry in METRICS[task]]
    if metrics.get("task_rule"):
        log(f"metrics of task {task} ({metrics['task_rule']})")
    for split in METRIC_SPLITS:
        values = metrics[split]
        summary = ", ".join(f"{name} {values[name]:.4f}" for name in names if values[name] is not None)
        log(f"{split} ({values['rows']} rows): {summary}")
    for split in METRIC_SPLITS:
        for name in names:
            if metrics[split][name] is not None:
                print(metric_line(split, name, metrics[split][name]), flush=True)
    for name, value in metrics.get("cross_validation", {}).items():
        if name.endswith("_mean"):
            print(metric_line(CV_PREFIX, name, value), flush=True)


# Errors whose message is the whole story (bad input, a stop, a lost peer): no traceback is printed for them.
EXPLAINED_ERRORS = (
    HyperparameterError,
    DataError,
    ContractError,
    RecipeError,
    TargetError,
    TrainingInterrupted,
    ClusterError,
    CheckpointError,
    WarmStartError,
    OutOfMemory,
)


def main() -> int:
    started = time.monotonic()
    memory.return_freed_blocks()
    paths = MLPaths.from_environment()
    peers = Cluster()  # scale-out: the other hosts, once joined; told why this one fails
    try:
        _raise_on_sigterm(started)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        train(paths, peers)
    except EXPLAINED_ERRORS as error:
        return fail(paths, str(error), peers, error)
    except Exception as error:
        return fail(paths, f"unexpected error: {type(error).__name__}: {error}", peers, error)
    finally:
        peers.close()
    return 0


def fail(
    paths: MLPaths, reason: str, peers: Cluster | None = None, error: BaseException | None = None
) -> int:
    """First line of the failure file is the reason SageMaker shows; an unexpected error's traceback goes to
    stderr.

    Every host writes its own failure file; the other hosts are told the reason (scale-out). A SIGTERM that
    arrives meanwhile (local mode stops every host once one ends) waits until the reason is written.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        if error is not None and not isinstance(error, EXPLAINED_ERRORS):
            traceback.print_exception(error, file=sys.stderr)
        print(f"[train] FAILED: {reason}", file=sys.stderr, flush=True)
        try:
            write_failure_reason(paths, reason + "\n")
        except OSError as failure:
            print(f"[train] could not write {paths.failure_file}: {failure}", file=sys.stderr, flush=True)
        if peers is not None:
            peers.abort(reason, error)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 1
