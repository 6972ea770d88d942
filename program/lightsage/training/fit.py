"""One model from the plan's rows: the recipe's state, features, LightGBM's datasets and boosting; and
k-fold cross-validation, each fold fitted the same way.

The memory guard checks before each large step that it fits; a stop (SIGTERM) during boosting writes a
checkpoint of the rounds done when the job keeps checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from lightsage.data.channels import DataError
from lightsage.evaluation.baseline import StatisticsBuilder
from lightsage.model import boosting
from lightsage.recipes.base import Recipe
from lightsage.tasks import Task, evaluate
from lightsage.training import memory
from lightsage.training.job import Job
from lightsage.training.memory import MemoryGuard, timed
from lightsage.training.passes import features_of, learn_state
from lightsage.training.plan import Channel, Plan
from lightsage.training.signals import TrainingInterrupted

TRAIN_METRIC_ROWS = 200_000
# Below this many feature values, extra threads cost more than they save (thread start-up, OpenMP spinning).
CELLS_PER_EXTRA_THREAD = 2_000_000


@dataclass
class Fitted:
    """A trained model, the rows to score it on: a sample of its training rows, and the validation rows."""

    recipe: Recipe
    booster: lgb.Booster
    best_iteration: int
    train_sample: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    resumed_from: int | None = None
    # the data baseline of the training rows (every host's), when asked for
    baseline: StatisticsBuilder | None = None

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
    with_baseline: bool = False,
) -> Fitted:
    """Learn the recipe's state, compute features, and boost: one model from the selected rows.

    `job` (scale-out, spot, warm start): the other hosts, checkpoints, an earlier model; none for a CV fold.
    `with_baseline`: also gather the data baseline of the training rows as their features are computed.
    """
    settings = plan.settings
    job = job or Job.fold(settings)
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
    baseline = StatisticsBuilder(recipe.schema.features) if with_baseline else None
    with timed("training features computed"):
        train_matrix = features_of(
            recipe, plan.train, train_rows, own_labels=job.warm_recipe is None, guard=guard,
            still_needed=ahead["LightGBM's dataset"] + ahead["validation features (float32)"],
            workers=threads, baseline=baseline,
        )  # fmt: skip
    if baseline is not None:
        baseline = job.team.statistics(baseline)  # scale-out: every host's rows
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
    return Fitted(
        recipe, booster, best, train_sample, (valid_features, valid_labels), start.resumed_from, baseline
    )


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
