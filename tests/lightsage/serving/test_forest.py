"""Reading model.txt for compiled trees: which models may be compiled; probe rows that reach every split."""

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.serving import forest as forests
from lightsage.serving.forest import Forest, ForestTextError

from compiledsupport import booster_text, table


def test_the_facts_of_a_model_with_categories_and_missing_values() -> None:
    text = booster_text("multiclass", rounds=4, leaves=5)
    forest = Forest.from_text(text)
    booster = lgb.Booster(model_str=text)
    dumped = booster.dump_model()["tree_info"]
    assert (forest.objective, forest.outputs, forest.features) == ("multiclass", 3, 4)
    assert forest.trees == len(dumped) == 12
    assert forest.leaves == sum(tree["num_leaves"] for tree in dumped)
    assert forest.refusal() is None and forest.inlined
    assert set(forest.categories) <= {2, 3} and forest.categories
    assert set(forest.thresholds) <= {0, 1} and forest.thresholds


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"linear_tree": True}, "linear trees"),
        ({"zero_as_missing": True}, "zero as missing"),
        ({"objective": "poisson"}, "objective 'poisson'"),
        ({"boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1}, "averages"),
    ],
)
def test_models_compiled_trees_would_answer_wrongly_are_refused(params: dict, fragment: str) -> None:
    task = "regression"
    features, labels = table(task, rows=400, seed=3)
    if params.get("linear_tree"):
        features = features[:, :2]  # linear trees take no categorical features
    settings = {"objective": task, "verbose": -1, "num_leaves": 5, "min_data_in_leaf": 5, **params}
    if params.get("objective") == "poisson":
        labels = np.abs(labels)
    data = lgb.Dataset(features, labels, categorical_feature=[] if params.get("linear_tree") else [2, 3])
    forest = Forest.from_text(lgb.train(settings, data, 3).model_to_string())
    assert fragment in (forest.refusal() or "")


def test_a_model_beyond_the_leaf_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    forest = Forest.from_text(booster_text("binary", rounds=3, leaves=4))
    assert forest.refusal() is None
    monkeypatch.setattr(forests, "MAX_COMPILED_LEAVES", forest.leaves - 1)
    assert "leaves, more than" in (forest.refusal() or "")


def test_a_model_of_no_trees_is_refused() -> None:
    text = booster_text("regression", rounds=2, leaves=4)
    header = text[: text.index("Tree=0")]
    forest = Forest.from_text(header + "end of trees\n")
    assert forest.trees == 0 and forest.refusal() == "it has no trees"


def test_text_that_is_no_model_is_named() -> None:
    with pytest.raises(ForestTextError, match="no readable header"):
        Forest.from_text("hello\nworld\n")


def test_probe_rows_reach_every_threshold_and_its_float32_neighbours_and_every_category() -> None:
    forest = Forest.from_text(booster_text("binary", rounds=6, leaves=7))
    probes = forest.probe_rows()
    assert probes.dtype == np.float32 and probes.shape[1] == forest.features
    assert len(probes) >= forests.MIN_PROBE_ROWS
    for feature, thresholds in forest.thresholds.items():
        column = set(probes[:, feature].tolist())
        for threshold in thresholds.astype(np.float32):
            assert {float(threshold), float(np.nextafter(threshold, np.float32(np.inf)))} <= column
            assert float(np.nextafter(threshold, np.float32(-np.inf))) in column
        assert np.isnan(probes[:, feature]).any() and 0.0 in column
    for feature, codes in forest.categories.items():
        column = set(probes[:, feature].tolist())
        assert set(codes.tolist()) <= column and {-1.0, 2.0**31, 1e10} <= column


def test_probe_rows_are_capped_and_repeatable() -> None:
    forest = Forest.from_text(booster_text("regression", rounds=40, leaves=31))
    assert len(forest.probe_rows(limit=300)) == 300
    assert np.array_equal(forest.probe_rows(seed=1), forest.probe_rows(seed=1), equal_nan=True)
