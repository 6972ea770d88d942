"""How many rounds a model gets: early stopping on rows held out of train, the refit on every train row, and
the time budget.

With `early_stopping_fraction` > 0 (and `early_stopping_rounds` > 0) early stopping watches a share of the
training rows held out for it (stratified by class, seeded by `random_state`, at most HELD_OUT_MAX_ROWS), not
the validation rows, which stay an honest score of the model; it watches the task's loss (HELD_OUT_METRIC).
With `refit`, the model is then trained again on every training row for the best number of rounds, scaled up
by the share of rows the search held out (more rows take more rounds to fit as closely).

With `ensemble_folds` = k >= 2 the training rows are split into k folds (stratified by class, seeded), and
early stopping watches the first of them instead of `early_stopping_fraction`'s share. When the time budget
has room for k - 1 more such searches, each other fold is then held out in turn, and the model is the average
of the k models, each at its own best round (`lightsage.model.ensemble.averaged`): one model file, in which
every training row taught k - 1 of the models. Averaging pays on small tables, where one model's rounds and
splits vary most with the rows it sees; so the folds are used only when each holds at most HELD_OUT_MAX_ROWS
rows, on one host and without a warm start; otherwise, or when the budget has no room, the refit runs.

The time budget (`time_budget_seconds` plus `time_budget_per_million_values` for each million feature values,
training rows x features) bounds boosting on one host: when it runs out, boosting stops at the end of the
round and the model keeps its best round so far; the refit runs only when, at the pace of the search, it fits
in what is left. So the budget grows with the table, and a large table gets fewer rounds rather than hours.
With several hosts the budget is not applied: the hosts could not stop at the same round.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from lightsage.tasks import Task

logger = logging.getLogger(__name__)

# On rows held out of train, early stopping watches the loss being minimised: smoother than AUC on a few
# hundred rows, and the same ranking of rounds as RMSE for regression.
HELD_OUT_METRIC = {Task.BINARY: "binary_logloss", Task.MULTICLASS: "multi_logloss", Task.REGRESSION: "l2"}
# Early stopping needs enough rows to rank rounds, not a large table's all: scoring them is paid each round.
HELD_OUT_MAX_ROWS = 100_000


def holds_out(settings: Mapping[str, Any], labels: np.ndarray) -> bool:
    """Whether early stopping watches rows held out of train (else the validation rows, or nothing)."""
    return (
        bool(settings["early_stopping_rounds"])
        and settings["early_stopping_fraction"] > 0
        and len(labels) >= 2
    )


def held_out(settings: Mapping[str, Any], task: Task, labels: np.ndarray) -> np.ndarray | None:
    """Positions (sorted) of the training rows early stopping watches; None when it watches the validation
    rows (no early stopping, or early_stopping_fraction 0).

    A share of the rows, seeded, stratified by class when every class has two rows or more (else drawn at
    random); at least one row per class when stratified, and never every row.
    """
    if not holds_out(settings, labels):
        return None
    fraction = settings["early_stopping_fraction"]
    positions = np.arange(len(labels))
    stratify = None
    if task is not Task.REGRESSION:
        codes = labels.astype(int)
        counts = np.bincount(codes)
        stratify = codes if counts[counts > 0].min() >= 2 else None
    classes = len(np.unique(stratify)) if stratify is not None else 1
    count = min(max(round(fraction * len(labels)), classes), HELD_OUT_MAX_ROWS, len(labels) - classes)
    if count < 1:
        return None
    from sklearn.model_selection import train_test_split  # imported here: see lightsage.libraries

    _, chosen = train_test_split(
        positions, test_size=count, stratify=stratify, random_state=settings["random_state"]
    )
    return np.sort(chosen)


def folds(settings: Mapping[str, Any], task: Task, labels: np.ndarray) -> list[np.ndarray] | None:
    """The `ensemble_folds` folds of the training rows (positions, sorted), the first watched by the search;
    None when early stopping does not hold rows out of train, or the table is too small or too large for it.

    Stratified by class when every class has a row in each fold, else drawn at random; seeded.
    """
    count = settings["ensemble_folds"]
    if count < 2 or not holds_out(settings, labels):
        return None
    if len(labels) < 2 * count or len(labels) > count * HELD_OUT_MAX_ROWS:
        logger.info(
            f"ensemble_folds={count} is not applied to {len(labels):,} training rows (it needs 2 to "
            f"{HELD_OUT_MAX_ROWS:,} rows per fold): one model is searched, then refitted when refit is on"
        )
        return None
    positions = np.arange(len(labels))
    seed = settings["random_state"]
    from sklearn.model_selection import KFold, StratifiedKFold  # imported here: see lightsage.libraries

    if task is not Task.REGRESSION:
        codes = labels.astype(int)
        counts = np.bincount(codes)
        if counts[counts > 0].min() >= count:
            splits = StratifiedKFold(count, shuffle=True, random_state=seed).split(positions, codes)
            return [np.sort(fold) for _, fold in splits]
    return [np.sort(fold) for _, fold in KFold(count, shuffle=True, random_state=seed).split(positions)]


def refit_rounds(best_rounds: int, all_rows: int, searched_rows: int) -> int:
    """The rounds of the refit on every training row: the search's best, scaled up by the rows it held out."""
    return max(1, math.ceil(best_rounds * all_rows / max(1, searched_rows)))


@dataclass
class Budget:
    """The seconds boosting may take on this host (None: no budget), and how the search used them."""

    seconds: float | None
    started: float = field(default_factory=time.monotonic)
    rounds: int = 0
    stopped_at: int | None = None

    @classmethod
    def of(cls, settings: Mapping[str, Any], rows: int, features: int, hosts: int) -> Budget:
        base, per_million = settings["time_budget_seconds"], settings["time_budget_per_million_values"]
        if base <= 0 and per_million <= 0:
            return cls(None)
        seconds = base + per_million * rows * features / 1e6
        if hosts > 1:
            logger.info(
                f"time budget: not applied with {hosts} hosts (they could not stop at the same round); "
                "boosting ends at n_estimators or by early stopping"
            )
            return cls(None)
        logger.info(
            f"time budget: {seconds:.0f} s of boosting ({base:g} s + {per_million:g} s per million of the "
            f"{rows * features / 1e6:.1f} million feature values); time_budget_seconds=0 and "
            "time_budget_per_million_values=0 lift it"
        )
        return cls(seconds)

    def start(self) -> TimeBudget:
        """The callback that counts the rounds boosted and ends boosting when the budget runs out."""
        self.started, self.rounds = time.monotonic(), 0
        return TimeBudget(self)

    @property
    def used(self) -> float:
        return time.monotonic() - self.started

    def fits(self, seconds: float) -> bool:
        return self.seconds is None or self.used + seconds <= self.seconds


class TimeBudget:
    """A lightgbm.train callback, first in the list (lightgbm.train runs callbacks in the order given): counts
    the rounds, and ends boosting after the round in which the budget ran out. The model keeps early
    stopping's best round among the earlier ones, or every round when there is no early stopping."""

    before_iteration = False

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        self.budget.rounds += 1
        if self.budget.seconds is not None and self.budget.used >= self.budget.seconds:
            self.budget.stopped_at = env.iteration + 1
            raise lgb.EarlyStopException(env.iteration, env.evaluation_result_list or [])
