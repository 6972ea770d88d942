"""The lifecycle's quality gate: the task's objective metric against the project's threshold.

A version is registered only when the objective metric of `evaluate` reaches the threshold: at least it for a
metric to maximise (auc), at most it for one to minimise (log_loss, rmse). A threshold the metric can never
reach (an auc above 1, a loss below 0) or that is not a number is refused before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lightsage.evaluation.contract import objective
from lightsage.tasks import Direction, Task
from lightsage_deploy.errors import DeployError

# The values each metric can take.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "auc": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "f1": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "log_loss": (0.0, math.inf),
    "rmse": (0.0, math.inf),
    "mae": (0.0, math.inf),
    "r2": (-math.inf, 1.0),
}


@dataclass(frozen=True)
class Gate:
    task: Task
    threshold: float

    @property
    def metric(self) -> str:
        return objective(self.task).metric

    @property
    def direction(self) -> Direction:
        return objective(self.task).direction

    @property
    def json_path(self) -> str:
        """Where `evaluate` writes the metric in evaluation.json (the pipeline's JsonGet path)."""
        return objective(self.task).json_path

    @property
    def comparison(self) -> str:
        return ">=" if self.direction == "Maximize" else "<="

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.direction == "Maximize" else value <= self.threshold

    def __str__(self) -> str:
        return f"{self.metric} {self.comparison} {self.threshold:g}"


def gate_for(task: Task, threshold: object, where: str = "the threshold") -> Gate:
    """The gate of `task`'s objective metric; `threshold` must be a finite number the metric can reach."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise DeployError(f"{where} must be a finite number, not {threshold!r}")
    gate = Gate(task, float(threshold))
    low, high = METRIC_RANGES[gate.metric]
    if gate.direction == "Maximize" and gate.threshold > high:
        raise DeployError(
            f"{where} {gate.threshold:g} cannot be reached: the {task} objective {gate.metric} is at most "
            f"{high:g}, and a model passes when {gate}"
        )
    if gate.direction == "Minimize" and gate.threshold < low:
        raise DeployError(
            f"{where} {gate.threshold:g} cannot be reached: the {task} objective {gate.metric} is at least "
            f"{low:g}, and a model passes when {gate}"
        )
    return gate


def parse_threshold(text: str) -> float:
    """--threshold's value: a finite number, else a DeployError naming what was given."""
    try:
        value = float(text)
    except ValueError:
        raise DeployError(f"--threshold must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise DeployError(f"--threshold must be a finite number, not {text!r}")
    return value
