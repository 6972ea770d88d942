"""lightsage.model.ensemble: several models of one dataset as one LightGBM model that gives their average."""

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.model.ensemble import averaged

PARAMS = {
    "binary": {"objective": "binary"},
    "multiclass": {"objective": "multiclass", "num_class": 3},
    "regression": {"objective": "regression"},
}


def table(task: str, rows: int = 900, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Numbers with missing values, and a category column (codes 0-5), as LightGBM reads them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    x[:, 3] = rng.integers(0, 6, rows)
    signal = x[:, 0] + np.where(x[:, 3] % 2 == 0, 1.0, -1.0) + rng.normal(scale=0.5, size=rows)
    x[rng.random(rows) < 0.1, 1] = np.nan
    if task == "regression":
        return x, signal
    if task == "binary":
        return x, (signal > 0).astype(float)
    return x, np.digitize(signal, [-1.0, 1.0]).astype(float)


def fold_models(task: str, rounds: tuple[int, ...]) -> tuple[list[tuple[lgb.Booster, int]], np.ndarray]:
    """One model per random three quarters of the rows of one binned dataset, each cut at its own rounds."""
    x, y = table(task)
    data = lgb.Dataset(x, y, categorical_feature=[3], params={"verbose": -1}).construct()
    rng = np.random.default_rng(1)
    models = []
    for number, count in enumerate(rounds):
        rows = np.sort(rng.choice(len(y), 3 * len(y) // 4, replace=False))
        params = {**PARAMS[task], "verbose": -1, "seed": number, "num_leaves": 7}
        models.append((lgb.train(params, data.subset(rows), 12), count))
    unseen, _ = table(task, rows=300, seed=2)
    unseen[:30, 1] = np.nan
    unseen[30:60, 3] = 9  # a category no model saw
    return models, unseen


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_averaged_model_gives_the_mean_of_the_models_outputs_and_explanations(task: str) -> None:
    models, unseen = fold_models(task, (5, 12, 0, 9))
    merged = averaged(models)

    def mean(**kind: bool) -> np.ndarray:
        return np.mean([m.predict(unseen, num_iteration=n or None, **kind) for m, n in models], axis=0)

    raw = merged.predict(unseen, raw_score=True)
    np.testing.assert_allclose(raw, mean(raw_score=True), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        merged.predict(unseen, pred_contrib=True), mean(pred_contrib=True), rtol=0, atol=1e-12
    )
    outputs = 3 if task == "multiclass" else 1
    assert merged.num_trees() == (5 + 12 + 12 + 9) * outputs
    assert merged.current_iteration() == 5 + 12 + 12 + 9


def test_the_averaged_model_is_an_ordinary_model_file_that_any_lightgbm_reads(tmp_path: Path) -> None:
    models, unseen = fold_models("multiclass", (4, 7))
    merged = averaged(models)
    merged.save_model(str(tmp_path / "model.txt"))
    text = (tmp_path / "model.txt").read_text()
    assert "tree_sizes=" in text and text.count("\nTree=") == (4 + 7) * 3
    again = lgb.Booster(model_file=str(tmp_path / "model.txt"))
    assert np.array_equal(again.predict(unseen), merged.predict(unseen))
    probabilities = np.mean([m.predict(unseen, num_iteration=n, raw_score=True) for m, n in models], axis=0)
    softmax = np.exp(probabilities) / np.exp(probabilities).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(again.predict(unseen), softmax, rtol=0, atol=1e-12)


def test_one_model_averages_to_itself_cut_at_its_rounds() -> None:
    models, unseen = fold_models("binary", (6,))
    (model, rounds), merged = models[0], averaged(models)
    assert merged.current_iteration() == 6
    assert np.array_equal(merged.predict(unseen), model.predict(unseen, num_iteration=rounds))


def test_models_of_different_features_are_not_averaged() -> None:
    x, y = table("binary")
    one = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), 3)
    other = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x[:, :3], y), 3)
    with pytest.raises(AssertionError, match="differ in their features or task"):
        averaged([(one, 0), (other, 0)])
    with pytest.raises(ValueError, match="no model"):
        averaged([])
