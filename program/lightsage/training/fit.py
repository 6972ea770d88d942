"""One model from the plan's rows: the recipe's state, features, LightGBM's datasets and boosting; and
k-fold cross-validation, each fold fitted the same way.

The memory guard checks before each large step that it fits; a stop (SIGTERM) during boosting writes a
checkpoint of the rounds done when the job keeps checkpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from lightsage.data.channels import DataError
from lightsage.evaluation.baseline import StatisticsBuilder
from lightsage.model import boosting, ensemble
from lightsage.recipes.base import Recipe
from lightsage.tasks import Task, evaluate
from lightsage.training import memory, rounds
from lightsage.training.early_stopping import EarlyStopping
from lightsage.training.job import Job
from lightsage.training.memory import MemoryGuard, timed
from lightsage.training.passes import features_of, learn_state
from lightsage.training.plan import Channel, Plan
from lightsage.training.set_aside import SetAside
from lightsage.training.signals import TrainingInterrupted

logger = logging.getLogger(__name__)

TRAIN_METRIC_ROWS = 200_000
# Below this many feature values, extra threads cost more than they save (thread start-up, OpenMP spinning).
CELLS_PER_EXTRA_THREAD = 2_000_000


@dataclass
class Rounds:
    """How the rounds were chosen (metrics.json's `rounds`): training rows (on every host), rows held out for
    early stopping, rounds searched in this run and the best of them (this job's own, a warm start's not
    counted), the time budget and the round it stopped boosting at, the refit's rounds, and with
    `ensemble_folds` the best rounds of each fold's model (the first is the search's) that the model
    averages."""

    rows: int
    held_out_rows: int
    searched_rounds: int
    best_rounds: int
    budget_seconds: float | None
    budget_stopped_at: int | None
    refit_rounds: int | None = None
    fold_rounds: list[int] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fitted:
    """A trained model, and the labels and the model's output of the rows it is scored on: a sample of its
    training rows, and the validation rows."""

    recipe: Recipe
    booster: lgb.Booster
    best_iteration: int
    train_sample: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    resumed_from: int | None = None
    rounds: Rounds | None = None
    # the data baseline of the training rows (every host's), when asked for
    baseline: StatisticsBuilder | None = None

    @staticmethod
    def evaluate(task: Task, rows: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
        """Every metric of the task on (labels, the model's output)."""
        labels, scores = rows
        return evaluate(task, labels, scores)


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
    sample_positions = train_matrix.sample_positions(TRAIN_METRIC_ROWS, settings["random_state"])
    sample_labels = train_labels if sample_positions is None else train_labels[sample_positions]
    start = job.begin(train_matrix, names)  # spot: resume from this job's checkpoint; or a warm start
    # ensemble_folds: the search watches the first fold (one host, a model of this job's own)
    folds = None
    if settings["ensemble_folds"] >= 2 and rounds.holds_out(settings, train_labels):
        if job.team.many or job.warm is not None:
            logger.info(
                f"ensemble_folds={settings['ensemble_folds']} is not applied "
                f"{'with several hosts' if job.team.many else 'to a warm start'}: one model is searched, "
                "then refitted when refit is on"
            )
        else:
            folds = rounds.folds(settings, plan.task, train_labels)
    # else early stopping on rows held out of train (lightsage.training.rounds), gathered from every host
    held_out = folds[0] if folds is not None else rounds.held_out(settings, plan.task, train_labels)
    # The train metrics read the scores boosting keeps for the training rows when the model keeps every round
    # it grows on all of them; otherwise a sample's features are kept to be predicted afterwards.
    planned = start.rounds_left(settings["n_estimators"])
    keeps_every_round = held_out is None and not settings["early_stopping_rounds"] and planned > 0
    sample_features = (
        None if keeps_every_round else train_matrix.sample(TRAIN_METRIC_ROWS, settings["random_state"])[0]
    )
    if held_out is not None:
        params["metric"] = rounds.HELD_OUT_METRIC[plan.task]
    stop_matrix = train_matrix.rows_at(held_out) if held_out is not None else None
    refit = held_out is not None and settings["refit"]
    # a search resumed from a checkpoint continues that model; the refit and the other folds' models start
    # from the warm start's (or from nothing)
    restart_scores = (
        (job.warm_start_scores(train_matrix, threads),)
        if (refit or folds is not None) and start.resumed_from is not None
        else None
    )
    # scale-out: every host bins its rows on the same reference, so all grow the same trees
    reference = job.team.bin_reference(train_matrix, params, names, categorical, settings["random_state"])
    guard.enter("building LightGBM's dataset")
    with timed("LightGBM dataset built"):
        train_set = boosting.dataset(
            train_matrix, params, names, categorical, weights, reference, start.scores(train_matrix, threads)
        )
    train_matrix.clear()
    # LightGBM holds the labels now (as float32): from here on only their count is needed
    train_rows_count = len(train_labels)
    del train_labels

    guard.enter("computing the validation features")
    with timed("validation features computed"):
        valid_matrix = features_of(
            recipe, valid_channel, valid_rows, own_labels=False, guard=guard, workers=threads
        )
    valid_matrix = job.team.validation(valid_matrix)  # scale-out: every host's, when they differ
    valid_labels = valid_matrix.labels()
    if len(valid_labels) == 0:
        raise DataError(f"channel '{valid_channel.name}' has no labelled rows to validate on")
    valid_features = SetAside(valid_matrix)  # needed once boosting is done
    # Every feature is computed: a fresh recipe over the same state drops what the old one built to look
    # rows up (Titanic: an index of every group key), which boosting would otherwise carry.
    recipe = type(recipe)(recipe.settings, recipe.schema, recipe.state)
    # The rows early stopping watches are scored every round, and only then: scoring costs a sort of them
    # per round. They are held out of train, or else the validation rows.
    search_set, watched = train_set, None
    watched_rows = 0
    if held_out is not None and stop_matrix is not None:
        stop_matrix = job.team.everyones(stop_matrix, "rows held out for early stopping")
        watched_rows = stop_matrix.rows
        watched = boosting.dataset(
            stop_matrix, params, names, categorical, None, train_set, start.scores(stop_matrix, threads)
        )
        search_set = boosting.rows_without(train_set, held_out)
    elif settings["early_stopping_rounds"]:
        watched = boosting.dataset(
            valid_matrix, params, names, categorical, None, train_set, start.scores(valid_matrix, threads)
        )
    valid_matrix.clear()
    params.update(_histogram_layout(train_set, threads, guard))

    budget = rounds.Budget.of(settings, train_rows_count, len(names), job.team.cluster.count)
    guard.enter("boosting")
    try:
        with timed(f"boosted up to {planned} rounds on {threads} thread(s)"):
            booster = job.boost(params, search_set, watched, start, planned, budget.start())
        best = job.best_iteration()
        report = Rounds(
            rows=sum(job.team.train_rows) if job.team.many else train_rows_count,
            held_out_rows=watched_rows,
            searched_rounds=budget.rounds,
            best_rounds=best - start.base_rounds if best else 0,
            budget_seconds=budget.seconds,
            budget_stopped_at=budget.stopped_at,
        )
        averaged = None
        if folds is not None:
            averaged = _average_folds(
                params, train_set, folds, (booster, best), budget, report, settings, restart_scores
            )
        if averaged is not None:
            booster, best = averaged, 0
        elif refit:
            booster, best = _refit(job, params, train_set, booster, best, budget, report, restart_scores)
    except TrainingInterrupted as stop:  # spot: checkpoint the rounds done so far
        raise TrainingInterrupted(f"{stop}{job.checkpoint_on_stop()}") from None
    # The model's output for the metrics: on the training rows as boosting kept it, while the booster still
    # holds its Datasets, when the model was grown on every training row and keeps every round it grew (else
    # predicted on the sample); then, with the Datasets released, on the validation rows.
    sample_scores = None
    on_every_row = held_out is None or report.refit_rounds is not None
    if planned and on_every_row and best in (0, booster.current_iteration()):
        own = boosting.training_scores(booster)
        sample_scores = own if sample_positions is None else own[sample_positions]
        del own
    booster = boosting.without_datasets(booster)
    del train_set, search_set, watched
    if sample_scores is None:
        if sample_features is None:
            raise AssertionError("the training scores were expected from boosting, and no sample was kept")
        sample_scores = boosting.scores(booster, sample_features, threads, best or None)
    del sample_features
    valid_scores = boosting.scores(booster, valid_features.take_back(), threads, best or None)
    job.trained(booster, best)  # scale-out: every host grew the same model
    return Fitted(
        recipe,
        booster,
        best,
        (sample_labels, sample_scores),
        (valid_labels, valid_scores),
        start.resumed_from,
        report,
        baseline,
    )


def _histogram_layout(train_set: lgb.Dataset, threads: int, guard: MemoryGuard) -> dict[str, bool]:
    """Boosting's histogram layout (`boosting.histogram_layout`): by columns when the row layout's second copy
    of the binned rows would not fit in memory."""
    layout = boosting.histogram_layout(train_set, threads)
    if layout["force_row_wise"] and not guard.fits({"the row layout": boosting.row_layout_bytes(train_set)}):
        logger.info("histograms by columns: LightGBM's row layout, faster on this table, needs more memory")
        return {"force_row_wise": False, "force_col_wise": True}
    return layout


def _refit(
    job: Job,
    params: dict[str, Any],
    train_set: lgb.Dataset,
    searched: lgb.Booster,
    best: int,
    budget: rounds.Budget,
    report: Rounds,
    init_scores: tuple[np.ndarray | None] | None,
) -> tuple[lgb.Booster, int]:
    """The refit on every training row when the search allows it (`lightsage.training.rounds`); else the
    search's model and its best round. `init_scores`: the warm start's raw scores (or none) to restore
    when the search resumed from a checkpoint, whose scores the training rows then carry."""
    base = job.warm.rounds if job.warm is not None else 0
    best_rounds = (best or searched.current_iteration()) - base
    if best_rounds < 1:
        return searched, best
    count = rounds.refit_rounds(best_rounds, report.rows, report.rows - report.held_out_rows)
    pace = budget.used / max(1, report.searched_rounds) * report.rows / (report.rows - report.held_out_rows)
    if budget.stopped_at is not None or not budget.fits(pace * count):
        logger.info(
            f"no refit: the time budget ({budget.seconds:.0f} s) has no room for {count} more rounds; the "
            f"model is the search's, {best_rounds} rounds trained without the rows held out for it"
        )
        return searched, best
    _restore_init_scores(train_set, init_scores)
    if job.team.many:  # the search's network closes, and the refit's opens on a port of its own
        searched.free_network()
        params = {**params, **job.team.cluster.lightgbm_parameters(refit=True)}
    with timed(f"refitted {count} rounds on every training row"):
        booster = job.refit(params, train_set, count)
    report.refit_rounds = count
    return booster, 0


def _restore_init_scores(train_set: lgb.Dataset, init_scores: tuple[np.ndarray | None] | None) -> None:
    """Boosting from the start again after a search resumed from a checkpoint, whose scores the training
    rows then carry: the warm start's raw scores, or none (`init_scores` holds None)."""
    if init_scores is None:
        return
    if init_scores[0] is None:  # none at all, not zeros: LightGBM then starts from the labels' average
        train_set.set_field("init_score", None)
        train_set.init_score = None
    else:
        train_set.set_init_score(init_scores[0])


def _average_folds(
    params: dict[str, Any],
    train_set: lgb.Dataset,
    folds: list[np.ndarray],
    searched: tuple[lgb.Booster, int],
    budget: rounds.Budget,
    report: Rounds,
    settings: Mapping[str, Any],
    init_scores: tuple[np.ndarray | None] | None,
) -> lgb.Booster | None:
    """The average of one model per fold (`lightsage.training.rounds`), each boosted on the other folds'
    rows and stopped early on its own, the search's being the first; None when the time budget has no room
    for the other folds at the pace of the search (then the refit runs, if asked for). `init_scores`: as
    for `_refit`."""
    first = searched[1] or searched[0].current_iteration()
    needed = budget.used * (len(folds) - 1)
    if budget.stopped_at is not None or not budget.fits(needed):
        logger.info(
            f"no averaged folds: the time budget ({budget.seconds:.0f} s) has no room for "
            f"{len(folds) - 1} more searches of about {budget.used:.1f} s each"
        )
        return None
    _restore_init_scores(train_set, init_scores)
    models = [(searched[0], first)]
    with timed(f"boosted and averaged {len(folds)} models, one per fold"):
        for fold in folds[1:]:
            stopping = EarlyStopping(settings["early_stopping_rounds"])
            model = lgb.train(
                dict(params),
                boosting.rows_without(train_set, fold),
                num_boost_round=settings["n_estimators"],
                valid_sets=[boosting.rows_of(train_set, fold)],
                callbacks=[rounds.TimeBudget(budget), stopping],
            )
            models.append((model, stopping.best_rounds))
        booster = ensemble.averaged(models)
    report.fold_rounds = [count for _, count in models]
    return booster


def cross_validate(plan: Plan, threads: int, guard: MemoryGuard) -> dict[str, Any]:
    """k-fold scores on the train rows, each fold with its own recipe state, as a new model sees them."""
    folds = plan.settings["cv_folds"]
    positions = np.flatnonzero(plan.train_rows)
    codes = plan.train.labels[positions]
    from sklearn.model_selection import KFold, StratifiedKFold  # imported here: see lightsage.libraries

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
        for name, value in fitted.evaluate(plan.task, fitted.validation).items():
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
