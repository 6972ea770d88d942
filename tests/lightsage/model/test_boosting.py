"""LightGBM glue: float32 features, the chunked dataset, and the single-row fast path's equal answers."""

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lightsage.model.boosting import FeatureMatrix, RowScorer, as_features, dataset


def test_features_are_float32_and_saturate_instead_of_overflowing() -> None:
    features = as_features([[1.5, 1e300, -1e300, np.nan]])
    assert features.dtype == np.float32
    assert features[0, 1] == np.finfo(np.float32).max and features[0, 2] == -np.finfo(np.float32).max
    assert np.isnan(features[0, 3])


def test_a_dataset_from_chunks_equals_one_from_the_whole_matrix() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, 4)), rng.integers(0, 2, 3000).astype(float)
    matrix = FeatureMatrix(4)
    for start in range(0, 3000, 700):
        matrix.add(x[start : start + 700], y[start : start + 700])
    params = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1}
    chunked = lgb.train(params, dataset(matrix, params, ["a", "b", "c", "d"], ()), num_boost_round=5)
    names = ["a", "b", "c", "d"]
    whole = lgb.train(
        params, lgb.Dataset(as_features(x), y, feature_name=names, params=params), num_boost_round=5
    )
    assert chunked.model_to_string() == whole.model_to_string()
    with pytest.raises(ValueError, match="the recipe returned"):
        matrix.add(x[:2, :3], y[:2])


def boosters() -> dict[str, lgb.Booster]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 5))
    labels = {
        "binary": (x[:, 0] > 0),
        "multiclass": np.digitize(x[:, 1], [-0.5, 0.5]),
        "regression": x @ [1, 2, 0, 0, 1],
    }
    objectives = {
        "binary": {"objective": "binary"},
        "multiclass": {"objective": "multiclass", "num_class": 3},
        "regression": {"objective": "regression"},
    }
    return {
        task: lgb.train(
            {**objectives[task], "verbose": -1, "num_threads": 1},
            lgb.Dataset(x, labels[task].astype(float)),
            20,
        )
        for task in labels
    }


BOOSTERS = boosters()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(BOOSTERS)),
    arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.just(5)),
        elements=st.floats(-3, 3, width=32) | st.just(np.nan),
    ),
)
def test_the_single_row_fast_path_answers_exactly_as_predict(task: str, rows: np.ndarray) -> None:
    booster = BOOSTERS[task]
    assert np.array_equal(RowScorer(booster, 5).scores(rows), booster.predict(rows, num_threads=1))
