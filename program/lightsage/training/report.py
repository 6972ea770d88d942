"""What a trained model reports: its metrics (`metrics.json`), the metric lines SageMaker's regexes read, and
the saved model folder.

Metric lines (`validation:auc=0.853887;`) are printed plainly on standard output: the deploy side's metric
definitions match them there.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.tasks import CV_PREFIX, METRIC_SPLITS, METRICS, Task, metric_line
from lightsage.training.fit import Fitted, cross_validate
from lightsage.training.job import Job
from lightsage.training.memory import MemoryGuard, peak_rss_mib
from lightsage.training.plan import Plan

logger = logging.getLogger(__name__)

REPORTED_LIBRARIES = ("lightgbm", "scikit-learn", "pandas", "numpy", "pyarrow")
# Below this many training rows per `min_child_samples`, a model without a split names that setting.
ROWS_PER_LEAF_MINIMUM = 10


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    versions.update({name: metadata.version(name) for name in REPORTED_LIBRARIES})
    return versions


def metrics_of(
    the_plan: Plan, fitted: Fitted, job: Job, guard: MemoryGuard, threads: int, started: float
) -> dict[str, Any]:
    """The fitted model's scores on its train sample and validation rows (and cross-validation's, when asked),
    and what made it: hyperparameters, features and their importance, libraries, hosts, time and memory."""
    settings, task = the_plan.settings, the_plan.task
    booster = fitted.booster
    names = list(fitted.recipe.feature_names())
    scores: dict[str, Any] = {
        "task": task.value,
        "task_rule": the_plan.task_choice.explanation if the_plan.task_choice else None,
        "target": settings["target"],
        "classes": the_plan.classes,
        "recipe": {"name": the_plan.recipe_class.name, "version": the_plan.recipe_class.version},
        "train": fitted.evaluate(task, fitted.train_sample),
        "validation": fitted.evaluate(task, fitted.validation),
        "validation_source": the_plan.validation_source,
    }
    _warn_without_split(fitted, settings)
    if settings["cv_folds"]:
        logger.info(f"cross-validating with {settings['cv_folds']} folds on train")
        scores["cross_validation"] = cross_validate(the_plan, threads, guard)
    scores.update(
        iterations=booster.current_iteration(),
        best_iteration=fitted.best_iteration or booster.current_iteration(),
        rounds=fitted.rounds.to_json() if fitted.rounds is not None else None,
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
    return scores


def _warn_without_split(fitted: Fitted, settings: Mapping[str, Any]) -> None:
    """A model whose trees never split gives every row the same answer: say so, and why it may be."""
    splits = fitted.booster.feature_importance("split", iteration=fitted.best_iteration or None)
    if splits.sum() > 0:
        return
    rows = fitted.rounds.rows if fitted.rounds is not None else len(fitted.train_sample[0])
    least = settings["min_child_samples"]
    if rows < ROWS_PER_LEAF_MINIMUM * least:
        why = (
            f"with {rows} training rows, min_child_samples={least} (the fewest rows a leaf may hold) leaves "
            f"little room to split: a table this small may do better with min_child_samples="
            f"{max(1, rows // ROWS_PER_LEAF_MINIMUM)}, or with more rows"
        )
    else:
        why = "no input column separates the training rows' labels: check that the inputs carry the target"
    logger.warning(
        f"the model has no split: each of its trees is one leaf, so it gives every row the same answer; {why}"
    )


def save_model(paths: MLPaths, the_plan: Plan, fitted: Fitted, metrics: dict[str, Any]) -> None:
    """The model folder (`lightsage.model.artifact`), then the metrics as log and metric lines."""
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
        recipe_source=the_plan.recipe_source,
    )
    baseline = None
    if fitted.baseline is not None:
        baseline = artifact.Baseline(fitted.baseline.statistics(), fitted.baseline.constraints())
        logger.info(
            f"data baseline of the {fitted.baseline.rows} training rows' "
            f"{len(fitted.baseline.columns)} input column(s) (statistics.json, constraints.json); "
            "hyperparameter baseline=false leaves it out"
        )
    saved = artifact.save(paths.model_dir, manifest, fitted.booster, fitted.recipe.state, metrics, baseline)
    report(task, metrics)
    logger.info(f"saved {', '.join(saved)} to {paths.model_dir}")
    logger.info(f"took {metrics['duration_seconds']:.1f} s, peak memory {metrics['peak_rss_mib']:.0f} MiB")


def report(task: Task, metrics: Mapping[str, Any]) -> None:
    """Each split's scores as a log line, then one metric line per score (cross-validation: the means)."""
    names = [entry.name for entry in METRICS[task]]
    if metrics.get("task_rule"):
        logger.info(f"metrics of task {task} ({metrics['task_rule']})")
    for split in METRIC_SPLITS:
        values = metrics[split]
        summary = ", ".join(f"{name} {values[name]:.4f}" for name in names if values[name] is not None)
        logger.info(f"{split} ({values['rows']} rows): {summary}")
    for split in METRIC_SPLITS:
        for name in names:
            if metrics[split][name] is not None:
                print(metric_line(split, name, metrics[split][name]), flush=True)
    for name, value in metrics.get("cross_validation", {}).items():
        if name.endswith("_mean"):
            print(metric_line(CV_PREFIX, name, value), flush=True)
