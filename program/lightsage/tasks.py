"""Tasks: binary, multiclass or regression. Inferred from the target, each with its LightGBM objective and
metrics. Metric names, directions and the tuner's objective are defined here once; `train`'s metric lines,
`metrics.json`, `deploy`'s metric definitions and the tuner all read them from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from lightsage.errors import UserError

MAX_CLASSES = 100
MAX_INTEGER_CLASSES = 20
Direction = Literal["Maximize", "Minimize"]
ClassValue = int | float | str


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class TargetError(UserError, ValueError):
    """The target column cannot be learnt from; the message says why."""


@dataclass(frozen=True)
class Metric:
    name: str
    direction: Direction
    compute: Callable[[np.ndarray, np.ndarray], float]


def _labels_of(scores: np.ndarray) -> np.ndarray:
    return (scores >= 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)


# The metrics, in numpy: scikit-learn's give the same values (tests/lightsage/test_tasks.py holds them to
# it), but importing it costs `train` half a second and 60 MiB (lightsage.libraries).


def _auc(codes: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a positive row scores above a negative one, ties half."""
    positive = codes == 1
    positives = int(positive.sum())
    negatives = len(codes) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(scores, kind="stable")
    _, starts, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(starts + (counts + 1) / 2, counts)  # tied scores share their mean rank
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _log_loss(codes: np.ndarray, scores: np.ndarray) -> float:
    """Mean negative log of each row's probability of its own class, clipped to [eps, 1 - eps]."""
    probabilities = np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores
    own = probabilities[np.arange(len(codes)), codes.astype(int)]
    eps = np.finfo(np.float64).eps
    return float(np.mean(-np.log(np.clip(own, eps, 1 - eps))))


def _accuracy(codes: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean(codes == _labels_of(scores)))


def _f1_of(actual: np.ndarray, predicted: np.ndarray, label: float) -> float:
    """F1 of one class: 2 TP / (2 TP + FP + FN), 0 where the class is neither true nor predicted."""
    true_positives = int(np.count_nonzero((actual == label) & (predicted == label)))
    either = int(np.count_nonzero(actual == label)) + int(np.count_nonzero(predicted == label))
    return 2 * true_positives / either if either else 0.0


def _macro_f1(codes: np.ndarray, scores: np.ndarray) -> float:
    """Mean F1 over the classes that are true or predicted for some row."""
    predicted = _labels_of(scores)
    return float(np.mean([_f1_of(codes, predicted, label) for label in np.union1d(codes, predicted)]))


def _r2(values: np.ndarray, scores: np.ndarray) -> float:
    """1 - residual / total sum of squares; a constant target gives 1.0 when every answer is exact, else 0."""
    if len(values) < 2:
        return math.nan
    residual = float(np.sum((values - scores) ** 2))
    total = float(np.sum((values - values.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


METRICS: dict[Task, tuple[Metric, ...]] = {
    Task.BINARY: (
        Metric("auc", "Maximize", _auc),
        Metric("accuracy", "Maximize", _accuracy),
        Metric("f1", "Maximize", lambda y, p: _f1_of(y, _labels_of(p), 1)),
        Metric("log_loss", "Minimize", _log_loss),
    ),
    Task.MULTICLASS: (
        Metric("accuracy", "Maximize", _accuracy),
        Metric("macro_f1", "Maximize", _macro_f1),
        Metric("log_loss", "Minimize", _log_loss),
    ),
    Task.REGRESSION: (
        Metric("rmse", "Minimize", lambda y, p: float(math.sqrt(np.mean((y - p) ** 2)))),
        Metric("mae", "Minimize", lambda y, p: float(np.mean(np.abs(y - p)))),
        Metric("r2", "Maximize", _r2),
    ),
}
# The metric a tuning job optimises and early stopping watches, per task.
OBJECTIVE_METRIC: dict[Task, str] = {Task.BINARY: "auc", Task.MULTICLASS: "log_loss", Task.REGRESSION: "rmse"}
# LightGBM's objective and its name for the objective metric.
LIGHTGBM_OBJECTIVE: dict[Task, str] = {
    Task.BINARY: "binary",
    Task.MULTICLASS: "multiclass",
    Task.REGRESSION: "regression",
}
LIGHTGBM_METRIC: dict[Task, str] = {
    Task.BINARY: "auc",
    Task.MULTICLASS: "multi_logloss",
    Task.REGRESSION: "rmse",
}
METRIC_SPLITS = ("train", "validation")
CV_PREFIX = "cv"


def metric(task: Task, name: str) -> Metric:
    return next(candidate for candidate in METRICS[task] if candidate.name == name)


def objective(task: Task) -> Metric:
    return metric(task, OBJECTIVE_METRIC[task])


def all_metric_names() -> tuple[str, ...]:
    """Every metric name of every task, each once, in a stable order."""
    return tuple(dict.fromkeys(entry.name for metrics in METRICS.values() for entry in metrics))


def metric_line(split: str, name: str, value: float) -> str:
    """One metric per line, no tabs, in the form a SageMaker metric_definitions regex reads."""
    return f"{split}:{name}={value:.6f};"


def metric_regex(split: str, name: str) -> str:
    """The regex SageMaker reads `metric_line(split, name, value)` with (values may be negative, e.g. r2)."""
    return f"{split}:{name}=(-?[0-9]+(?:\\.[0-9]+)?);"


def evaluate(task: Task, codes: np.ndarray, scores: np.ndarray) -> dict[str, float | int | None]:
    """Every metric of the task; `codes` are class codes (or values), `scores` the model's raw output."""
    codes = np.asarray(codes, dtype=np.float64)  # training may hold them as float32
    values: dict[str, float | int | None] = {}
    for entry in METRICS[task]:
        value = entry.compute(codes, scores)
        values[entry.name] = None if math.isnan(value) else value
    values["rows"] = len(codes)
    return values


@dataclass(frozen=True)
class TargetProfile:
    """What the target column holds: its distinct values with counts, whether all are numbers.

    `not_numbers` names the values that are not numbers when the rest are (`2 values that are not a number:
    'unknown' (..., row 5), ...`), else it is empty.
    """

    counts: Mapping[ClassValue, int]
    numeric: bool
    missing: int
    rows: int
    not_numbers: str = ""


@dataclass(frozen=True)
class TaskChoice:
    """The task, the rule that chose it, and how to choose another ('' when the task was set)."""

    task: Task
    rule: str
    override: str = ""

    @property
    def explanation(self) -> str:
        return self.rule + (f"; {self.override}" if self.override else "")

    def __str__(self) -> str:
        return f"task {self.task} ({self.explanation})"


def _is_integer(value: ClassValue) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _describe(values: Sequence[ClassValue], limit: int = 5) -> str:
    shown = ", ".join(repr(value) for value in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _not_numbers_error(profile: TargetProfile, target: str) -> TargetError:
    return TargetError(
        f"target column '{target}' holds numbers and {profile.not_numbers}. Make each a number, or leave it "
        "empty (a row without a label is dropped; NA, null and ? read as empty in a number column); if the "
        "values are class names, set task=multiclass"
    )


def infer_task(profile: TargetProfile, target: str, requested: str = "auto", asked_by: str = "") -> Task:
    """binary for two values; multiclass for a few strings or integers; regression for other numbers.

    A requested task is checked against the target; `asked_by` names who asked in the error (default
    `task=<requested>`).
    """
    return _inferred(profile, target, requested, asked_by).task


def _inferred(profile: TargetProfile, target: str, requested: str = "auto", asked_by: str = "") -> TaskChoice:
    present = profile.rows - profile.missing
    if present == 0:
        raise TargetError(
            f"target column '{target}' has no values: every one of its {profile.rows} rows is empty"
        )
    distinct = sorted(profile.counts, key=_sort_key)
    count = len(distinct)
    asked_by = asked_by or f"task={requested}"
    if requested == "regression":
        if profile.not_numbers:
            raise TargetError(
                f"{asked_by} needs a numeric target, but '{target}' holds {profile.not_numbers}"
            )
        if not profile.numeric:
            text = [value for value in distinct if isinstance(value, str)]
            raise TargetError(
                f"{asked_by} needs a numeric target, but '{target}' holds text such as {_describe(text)}"
            )
        if count < 2:
            raise TargetError(
                f"target column '{target}' has one value only ({distinct[0]!r}): nothing to learn"
            )
        return TaskChoice(Task.REGRESSION, f"{asked_by} is set")
    if requested == "auto" and profile.not_numbers:
        raise _not_numbers_error(profile, target)
    if count < 2:
        raise TargetError(
            f"target column '{target}' has one class only ({distinct[0]!r} in all {present} labelled rows): "
            "a model needs at least two classes to learn from"
        )
    if requested == "binary":
        if count != 2 and profile.not_numbers:
            raise _not_numbers_error(profile, target)
        if count != 2:
            raise TargetError(
                f"{asked_by} needs exactly two classes, but '{target}' has {count}: {_describe(distinct)}"
            )
        return TaskChoice(Task.BINARY, f"{asked_by} is set")
    if requested == "multiclass":
        if count > MAX_CLASSES:
            raise TargetError(
                f"target column '{target}' has {count} classes; at most {MAX_CLASSES} are supported"
            )
        return TaskChoice(Task.MULTICLASS, f"{asked_by} is set")
    return _by_the_values(profile, target, distinct)


def _by_the_values(profile: TargetProfile, target: str, distinct: list[ClassValue]) -> TaskChoice:
    """task=auto: the documented rule, with the reason it gives and how to override it."""
    count = len(distinct)
    if count == 2:
        other = "task=regression" if profile.numeric else "task=multiclass"
        return TaskChoice(
            Task.BINARY,
            f"target '{target}' holds two distinct values ({_describe(distinct)})",
            f"set {other} for another task",
        )
    integers = profile.numeric and all(_is_integer(value) for value in distinct)
    if profile.numeric and not (integers and count <= MAX_INTEGER_CLASSES):
        kind = (
            f"more than {MAX_INTEGER_CLASSES} distinct integers" if integers else "numbers, not all integers"
        )
        return TaskChoice(
            Task.REGRESSION,
            f"target '{target}' holds {kind} ({count} distinct values)",
            "if they are class codes, set task=multiclass",
        )
    if count > MAX_CLASSES:
        raise TargetError(
            f"target column '{target}' holds {count} distinct text values, too many classes "
            f"(at most {MAX_CLASSES}): "
            f"is '{target}' the right column? ({_describe(distinct)})"
        )
    if integers:
        return TaskChoice(
            Task.MULTICLASS,
            f"target '{target}' holds {count} distinct integers ({_describe(distinct)}); at most "
            f"{MAX_INTEGER_CLASSES} distinct integers are read as classes",
            "if they are amounts (counts, years, scores), set task=regression",
        )
    return TaskChoice(
        Task.MULTICLASS, f"target '{target}' holds text: {count} classes ({_describe(distinct)})"
    )


ALL_TASKS: tuple[Task, ...] = (Task.BINARY, Task.MULTICLASS, Task.REGRESSION)


def choose_task(
    profile: TargetProfile | None,
    target: str,
    requested: str = "auto",
    recipe_tasks: Sequence[Task] = ALL_TASKS,
    recipe: str = "",
) -> TaskChoice:
    """The one task of a job, for `train` and the deploy side alike.

    `task=...` when set; else the recipe's only task when it has one; else inferred from the target's
    values (`profile`). Given a profile, the chosen task is checked against the target (a TargetError names
    what does not fit); without one (the deploy side before any data is read) a set or only task is returned
    as is, and inference raises TargetError. A task the recipe does not handle is a TargetError.
    """
    handled = ", ".join(recipe_tasks)
    named = f"recipe '{recipe}'" if recipe else "the recipe"
    if requested != "auto":
        task = Task(requested)
        if task not in recipe_tasks:
            raise TargetError(f"task {task}: {named} handles {handled} targets only")
        return (
            _inferred(profile, target, requested)
            if profile is not None
            else TaskChoice(task, f"task={task} is set")
        )
    if len(recipe_tasks) == 1:
        only = recipe_tasks[0]
        asked_by = f"{named} ({only} targets only)"
        if profile is not None:
            _inferred(profile, target, only.value, asked_by)
        return TaskChoice(only, f"{named} handles {only} targets only")
    if profile is None:
        raise TargetError(
            f"the task is inferred from the values of target '{target}', and none were read: "
            "set task=binary|multiclass|regression"
        )
    choice = _inferred(profile, target)
    if choice.task not in recipe_tasks:
        raise TargetError(
            f"{named} handles {handled} targets; '{target}' is {choice.task} ({choice.rule}): set task to "
            f"one of {handled} if the target can be read so, or choose another recipe"
        )
    return choice


def _sort_key(value: ClassValue) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def class_values(profile: TargetProfile, task: Task) -> list[ClassValue]:
    """The classes in sorted order (empty for regression); integers stay integers."""
    if task is Task.REGRESSION:
        return []
    values = sorted(profile.counts, key=_sort_key)
    return [int(value) if isinstance(value, float) and value.is_integer() else value for value in values]


def class_weights(codes: np.ndarray, classes: int, counts: np.ndarray | None = None) -> np.ndarray:
    """Per-row weights n / (classes * count of the row's class), as scikit-learn's class_weight='balanced'.

    `counts` are the class counts of all training rows when `codes` are only some of them (one host's).
    """
    if counts is None:
        counts = np.bincount(codes.astype(int), minlength=classes)
    totals = np.asarray(counts, dtype=float)
    weights = totals.sum() / (classes * np.maximum(totals, 1.0))
    return weights[codes.astype(int)]
