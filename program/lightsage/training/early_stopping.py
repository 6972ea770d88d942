"""Early stopping on the validation metric that a checkpoint can carry across a restart.

It stops as `lightgbm.early_stopping(rounds, first_metric_only=True)` does: when the first metric of the
validation set (the task's objective metric) has not improved for `rounds` rounds, and the model keeps the
best round. LightGBM's own callback starts from nothing in a resumed job, so a best round before the
checkpoint would be forgotten; this one starts from the best round the checkpoint saved. Every host
evaluates the same validation rows, so every host stops at the same round.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb


@dataclass(frozen=True)
class Best:
    """The best round so far (0-based, counted over the whole model) and its validation score."""

    iteration: int
    score: float
    dataset: str
    metric: str
    maximize: bool

    def beaten_by(self, score: float) -> bool:
        return score > self.score if self.maximize else score < self.score

    def result(self) -> lgb.EvalResult:
        return lgb.EvalResult(self.dataset, self.metric, self.score, self.maximize)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Best:
        return cls(
            int(raw["iteration"]),
            float(raw["score"]),
            str(raw["dataset"]),
            str(raw["metric"]),
            bool(raw["maximize"]),
        )


class EarlyStopping:
    """A lightgbm.train callback; `best` is where a resumed job starts from, and what the model keeps.

    Unlike LightGBM's, it does not stop at the last round just to report the best one: a checkpoint (written
    after it, in the same round) then still covers the last round.
    """

    order = 30
    before_iteration = False

    def __init__(self, rounds: int, best: Best | None = None) -> None:
        self.rounds = rounds
        self.best = best

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        if not env.evaluation_result_list:
            raise ValueError("early stopping needs a validation set")
        dataset, metric, value, maximize = tuple(env.evaluation_result_list[0])[:4]
        if self.best is None or self.best.beaten_by(value):
            self.best = Best(env.iteration, float(value), dataset, metric, maximize)
        elif env.iteration - self.best.iteration >= self.rounds:
            raise lgb.EarlyStopException(self.best.iteration, [self.best.result()])

    @property
    def best_rounds(self) -> int:
        """The model's best length in rounds (all of them until early stopping has seen a round)."""
        return self.best.iteration + 1 if self.best is not None else 0
