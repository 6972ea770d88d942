"""lightsage.training.rounds: the rows early stopping watches, the folds averaged, the refit and the time
budget; and, through `train`, that the validation rows choose nothing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from bench.tables import interaction_table
from lightsage.contract.paths import MLPaths
from lightsage.recipes.tabular import DEFAULTS
from lightsage.tasks import Task
from lightsage.training.main import train
from lightsage.training.rounds import HELD_OUT_MAX_ROWS, Budget, folds, held_out, refit_rounds

from testsupport import lightsage_log, make_ml_root

SETTINGS: dict[str, Any] = {
    "early_stopping_rounds": 20,
    "early_stopping_fraction": 0.1,
    "random_state": 7,
    "time_budget_seconds": 0.0,
    "time_budget_per_million_values": 0.0,
}


def labels_of(counts: list[int], seed: int = 0) -> np.ndarray:
    labels = np.concatenate([np.full(count, float(code)) for code, count in enumerate(counts)])
    return np.random.default_rng(seed).permutation(labels)


def test_the_held_out_rows_are_a_stratified_share_and_the_same_for_the_same_seed() -> None:
    labels = labels_of([600, 300, 100])
    chosen = held_out(SETTINGS, Task.MULTICLASS, labels)
    assert chosen is not None and len(chosen) == 100
    assert np.array_equal(chosen, np.sort(chosen))
    assert np.bincount(labels[chosen].astype(int)).tolist() == [60, 30, 10]
    again = held_out(SETTINGS, Task.MULTICLASS, labels)
    assert again is not None and np.array_equal(chosen, again)
    other = held_out({**SETTINGS, "random_state": 8}, Task.MULTICLASS, labels)
    assert other is not None and not np.array_equal(chosen, other)
    assert np.bincount(labels[other].astype(int)).tolist() == [60, 30, 10]


def test_regression_holds_out_a_seeded_random_share() -> None:
    values = np.random.default_rng(1).normal(size=500)
    chosen = held_out(SETTINGS, Task.REGRESSION, values)
    assert chosen is not None and len(chosen) == 50
    assert np.array_equal(chosen, held_out(SETTINGS, Task.REGRESSION, values))  # type: ignore[arg-type]


def test_no_rows_are_held_out_without_early_stopping_or_without_a_share() -> None:
    labels = labels_of([50, 50])
    assert held_out({**SETTINGS, "early_stopping_rounds": 0}, Task.BINARY, labels) is None
    assert held_out({**SETTINGS, "early_stopping_fraction": 0.0}, Task.BINARY, labels) is None


def test_a_large_table_holds_out_at_most_the_cap_and_a_tiny_one_at_least_a_row_per_class() -> None:
    large = labels_of([1_500_000, 500_000])
    chosen = held_out(SETTINGS, Task.BINARY, large)
    assert chosen is not None and len(chosen) == HELD_OUT_MAX_ROWS
    tiny = labels_of([4, 3, 3])
    chosen = held_out(SETTINGS, Task.MULTICLASS, tiny)
    assert chosen is not None and sorted(tiny[chosen].tolist()) == [0.0, 1.0, 2.0]


def test_a_class_with_a_single_row_is_held_out_at_random_not_refused() -> None:
    labels = labels_of([60, 39, 1])
    chosen = held_out(SETTINGS, Task.MULTICLASS, labels)
    assert chosen is not None and len(chosen) == 10


def test_the_refit_scales_the_best_rounds_by_the_rows_held_out() -> None:
    assert refit_rounds(90, 1000, 900) == 100
    assert refit_rounds(1, 1000, 900) == 2  # rounded up
    assert refit_rounds(0, 10, 9) == 1


def test_the_time_budget_grows_with_the_table_and_is_lifted_by_zeros_or_several_hosts() -> None:
    budget = {**SETTINGS, "time_budget_seconds": 30.0, "time_budget_per_million_values": 0.5}
    assert Budget.of(budget, 1_000, 10, 1).seconds == pytest.approx(30.005)
    assert Budget.of(budget, 10_000_000, 20, 1).seconds == pytest.approx(130.0)
    assert Budget.of(SETTINGS, 10_000_000, 20, 1).seconds is None
    assert Budget.of(budget, 10_000_000, 20, 2).seconds is None


def test_the_time_budget_ends_boosting_after_the_round_it_runs_out_in() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 3))
    data = lgb.Dataset(features, features[:, 0] + rng.normal(size=500))
    params = {"objective": "regression", "verbose": -1, "num_threads": 1}
    spent = Budget(1e-9)
    booster = lgb.train(params, data, num_boost_round=50, callbacks=[spent.start()])
    assert booster.current_iteration() == 1 and spent.stopped_at == 1 and spent.rounds == 1
    unlimited = Budget(None)
    booster = lgb.train(params, data, num_boost_round=50, callbacks=[unlimited.start()])
    assert booster.current_iteration() == 50 and unlimited.stopped_at is None and unlimited.rounds == 50


FOLDS = {**SETTINGS, "ensemble_folds": 5}


def test_the_folds_part_every_row_stratified_by_class_and_seeded() -> None:
    labels = labels_of([600, 300, 100])
    parts = folds(FOLDS, Task.MULTICLASS, labels)
    assert parts is not None and len(parts) == 5
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1_000))
    for part in parts:
        assert np.array_equal(part, np.sort(part))
        assert np.bincount(labels[part].astype(int)).tolist() == [120, 60, 20]
    again = folds(FOLDS, Task.MULTICLASS, labels)
    assert again is not None and all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = folds({**FOLDS, "random_state": 8}, Task.MULTICLASS, labels)
    assert other is not None and not np.array_equal(parts[0], other[0])


def test_a_class_too_rare_for_every_fold_gives_random_folds_and_regression_too() -> None:
    labels = labels_of([500, 3])
    parts = folds(FOLDS, Task.BINARY, labels)
    assert parts is not None and sorted(len(part) for part in parts) == [100, 100, 101, 101, 101]
    values = np.random.default_rng(1).normal(size=503)
    parts = folds(FOLDS, Task.REGRESSION, values)
    assert parts is not None and np.array_equal(np.sort(np.concatenate(parts)), np.arange(503))


def test_no_folds_without_the_setting_early_stopping_a_held_out_share_or_a_table_of_the_right_size() -> None:
    labels = labels_of([50, 50])
    assert folds(SETTINGS | {"ensemble_folds": 0}, Task.BINARY, labels) is None
    assert folds({**FOLDS, "early_stopping_rounds": 0}, Task.BINARY, labels) is None
    assert folds({**FOLDS, "early_stopping_fraction": 0.0}, Task.BINARY, labels) is None
    assert folds(FOLDS, Task.BINARY, labels_of([5, 4])) is None  # fewer than two rows per fold
    too_many = np.zeros(5 * HELD_OUT_MAX_ROWS + 1)
    assert folds(FOLDS, Task.REGRESSION, too_many[:-1]) is not None


def test_a_table_too_large_for_the_folds_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with lightsage_log(caplog) as logged:
        assert folds(FOLDS, Task.REGRESSION, np.zeros(5 * HELD_OUT_MAX_ROWS + 1)) is None
    said = "ensemble_folds=5 is not applied to 500,001 training rows (it needs 2 to 100,000 rows per fold)"
    assert any(said in line for line in logged)


# -- through `train` -----------------------------------------------------------------------------------------


def trained(root: Path, validation_seed: int = 2, **settings: str) -> tuple[dict[str, Any], Path]:
    channels = {
        "train": [("train.csv", interaction_table(1_500, seed=1).to_csv(index=False).encode())],
        "validation": [
            ("validation.csv", interaction_table(400, seed=validation_seed).to_csv(index=False).encode())
        ],
    }
    make_ml_root(root, {"recipe": "tabular", "target": "label", **settings}, channels)
    metrics = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return metrics, root / "model"


def trees(model_dir: Path) -> int:
    return lgb.Booster(model_file=str(model_dir / "model.txt")).current_iteration()


def test_the_validation_rows_choose_nothing_and_the_model_averages_one_model_per_fold(tmp_path: Path) -> None:
    metrics, model_dir = trained(tmp_path / "one")
    other, other_dir = trained(tmp_path / "other", validation_seed=3)
    assert (model_dir / "model.txt").read_text() == (other_dir / "model.txt").read_text()
    assert metrics["validation"] != other["validation"]
    rounds = metrics["rounds"]
    assert rounds["rows"] == 1_500 and rounds["held_out_rows"] == 1_500 // DEFAULTS["ensemble_folds"]
    assert rounds["refit_rounds"] is None and len(rounds["fold_rounds"]) == DEFAULTS["ensemble_folds"]
    assert rounds["fold_rounds"][0] == rounds["best_rounds"] and min(rounds["fold_rounds"]) >= 1
    assert trees(model_dir) == sum(rounds["fold_rounds"]) == metrics["best_iteration"]
    assert len(set(rounds["fold_rounds"])) > 1  # each fold's model stopped at its own best round


def test_without_folds_the_validation_rows_choose_nothing_and_the_refit_trains_the_scaled_rounds(
    tmp_path: Path,
) -> None:
    metrics, model_dir = trained(tmp_path / "one", ensemble_folds="0")
    other, other_dir = trained(tmp_path / "other", validation_seed=3, ensemble_folds="0")
    assert (model_dir / "model.txt").read_text() == (other_dir / "model.txt").read_text()
    assert metrics["validation"] != other["validation"]
    rounds = metrics["rounds"]
    held = round(DEFAULTS["early_stopping_fraction"] * 1_500)  # the tabular recipe's share
    assert rounds["rows"] == 1_500 and rounds["held_out_rows"] == held
    assert rounds["searched_rounds"] == rounds["best_rounds"] + 50  # the tabular recipe's patience
    assert rounds["refit_rounds"] == math.ceil(rounds["best_rounds"] * 1_500 / (1_500 - held))
    assert trees(model_dir) == rounds["refit_rounds"] == metrics["best_iteration"]


def test_without_the_refit_the_model_is_the_searchs_best(tmp_path: Path) -> None:
    metrics, model_dir = trained(tmp_path / "ml", refit="false", ensemble_folds="0")
    rounds = metrics["rounds"]
    assert rounds["refit_rounds"] is None and metrics["best_iteration"] == rounds["best_rounds"]
    assert trees(model_dir) == rounds["best_rounds"]


def test_a_spent_time_budget_ends_the_search_and_skips_the_refit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    budget = {"time_budget_seconds": "0.000001", "time_budget_per_million_values": "0"}
    with lightsage_log(caplog) as logged:
        metrics, model_dir = trained(tmp_path / "ml", **budget)
    rounds = metrics["rounds"]
    assert rounds["budget_stopped_at"] == 1 and rounds["searched_rounds"] == 1
    assert rounds["refit_rounds"] is None and trees(model_dir) == 1
    assert any("no averaged folds: the time budget" in line for line in logged)
    assert any("no refit: the time budget" in line for line in logged)
    assert any("time budget: 0 s of boosting" in line for line in logged)


def test_with_no_share_held_out_early_stopping_watches_the_validation_rows_as_before(tmp_path: Path) -> None:
    metrics, model_dir = trained(tmp_path / "one", early_stopping_fraction="0")
    _, other_dir = trained(tmp_path / "other", validation_seed=3, early_stopping_fraction="0")
    assert metrics["rounds"]["held_out_rows"] == 0 and metrics["rounds"]["refit_rounds"] is None
    assert (model_dir / "model.txt").read_text() != (other_dir / "model.txt").read_text()
    assert metrics["hyperparameters"]["early_stopping_fraction"] == 0.0
