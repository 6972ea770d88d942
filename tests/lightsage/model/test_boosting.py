"""LightGBM glue: float32 features, the chunked dataset, the histogram layout, and the single-row fast path's
equal answers."""

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lightsage.model.boosting import (
    FeatureMatrix,
    RowScorer,
    as_features,
    compact_labels,
    dataset,
    histogram_layout,
    raw_scores,
    row_layout_bytes,
    training_scores,
    without_datasets,
)


def test_features_are_float32_and_saturate_instead_of_overflowing() -> None:
    features = as_features([[1.5, 1e300, -1e300, np.nan]])
    assert features.dtype == np.float32
    assert features[0, 1] == np.finfo(np.float32).max and features[0, 2] == -np.finfo(np.float32).max
    assert np.isnan(features[0, 3])


@pytest.mark.parametrize(("width", "sizes"), [(4, (700, 700, 700, 899, 1)), (1, (1, 2999))])
def test_a_dataset_from_chunks_equals_one_from_the_whole_matrix(width: int, sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, width)), rng.integers(0, 2, 3000).astype(float)
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.05] = 0.0
    names = ["a", "b", "c", "d"][:width]
    params = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1}
    whole = lgb.Dataset(as_features(x), y, feature_name=names, params=params).construct()
    whole_validation = lgb.Dataset(as_features(x[:500]), y[:500], reference=whole).construct()

    def chunked(rows: np.ndarray, labels: np.ndarray, parts: tuple[int, ...]) -> FeatureMatrix:
        matrix = FeatureMatrix(width)
        for start, stop in zip(np.cumsum((0, *parts[:-1])), np.cumsum(parts), strict=True):
            matrix.add(rows[start:stop], labels[start:stop])
        return matrix

    train_set = dataset(chunked(x, y, sizes), params, names, ())
    validation_set = dataset(chunked(x[:500], y[:500], (499, 1)), params, names, (), reference=train_set)
    trained = lgb.train(params, train_set, 5, valid_sets=[validation_set], keep_training_booster=True)
    expected = lgb.train(params, whole, 5, valid_sets=[whole_validation], keep_training_booster=True)
    assert trained.model_to_string() == expected.model_to_string()
    assert np.array_equal(
        trained._Booster__inner_predict(data_idx=1), expected._Booster__inner_predict(data_idx=1)
    )
    with pytest.raises(ValueError, match="the recipe returned"):
        FeatureMatrix(width).add(x[:2, : width - 1], y[:2])


def binned(features: int, levels: int, rows: int = 5_000) -> lgb.Dataset:
    """A constructed Dataset of `features` columns of `levels` values each (0: continuous values)."""
    rng = np.random.default_rng(3)
    if levels:
        x = rng.integers(0, levels, size=(rows, features)).astype(float)
    else:
        x = rng.normal(size=(rows, features))
    params = {"objective": "regression", "verbose": -1, "num_threads": 1}
    return lgb.Dataset(as_features(x), x.sum(axis=1), params=params).construct()


@pytest.mark.parametrize(
    ("features", "levels", "threads", "by_rows"),
    [
        (5, 8, 2, True),  # 40 bins
        (20, 8, 2, True),  # 160 bins
        (21, 8, 2, False),  # more than 20 features
        (10, 0, 2, False),  # 2,550 bins
        (5, 8, 16, True),
        (5, 8, 17, False),  # more than 16 threads
    ],
)
def test_histograms_are_built_by_rows_only_for_few_features_bins_and_threads(
    features: int, levels: int, threads: int, by_rows: bool
) -> None:
    layout = histogram_layout(binned(features, levels), threads)
    assert layout == {"force_row_wise": by_rows, "force_col_wise": not by_rows}


def test_the_row_layout_holds_each_rows_bins_again() -> None:
    assert row_layout_bytes(binned(5, 8)) == 5_000 * 5  # 40 bins: one byte a value
    assert row_layout_bytes(binned(3, 0)) == 5_000 * 3 * 2  # 765 bins: two bytes a value


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


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("continued", [False, True], ids=["new", "continued"])
def test_the_training_rows_scores_kept_by_boosting_equal_predict(task: str, continued: bool) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 4))
    x[:, 3] = rng.integers(0, 12, 4000)
    x[rng.random(x.shape) < 0.08] = np.nan
    signal = np.nan_to_num(x[:, 0]) + 0.3 * np.nan_to_num(x[:, 3] % 3)
    labels = {"binary": signal > 0, "multiclass": np.digitize(signal, [-0.5, 0.5]), "regression": signal}
    params = {"objective": task, "verbose": -1, "seed": 1, "num_threads": 2, "bagging_fraction": 0.7}
    params |= {"bagging_freq": 1, "feature_fraction": 0.8}
    params |= {"num_class": 3} if task == "multiclass" else {}
    matrix = FeatureMatrix(4)
    for start in range(0, 4000, 1500):
        matrix.add(x[start : start + 1500], labels[task][start : start + 1500].astype(float))
    features = matrix.dense()
    earlier = None
    if continued:
        earlier = lgb.train(params, lgb.Dataset(features, matrix.labels(), params=params), 7)
    init = raw_scores(earlier, matrix, 2) if earlier is not None else None
    train_set = dataset(matrix, params, ["a", "b", "c", "d"], ["d"], init_score=init)
    booster = lgb.train(params, train_set, 9, init_model=earlier, keep_training_booster=True)
    assert booster.current_iteration() == (16 if continued else 9)
    assert np.array_equal(training_scores(booster), booster.predict(features, num_threads=2))
    released = without_datasets(booster)
    assert released.model_to_string() == booster.model_to_string()
    assert np.array_equal(released.predict(features), booster.predict(features))


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([0.0, 1.0, 2.0, np.nan], np.float32),  # class codes, a missing label
        ([326.0, 18823.0, -4.5, 0.25], np.float32),  # prices, halves and quarters
        ([0.1, 1.0], np.float64),  # 0.1 has no float32 of its own
        ([16_777_217.0], np.float64),  # 2**24 + 1
        ([1e40], np.float64),  # beyond float32's range
        ([], np.float32),
    ],
)
def test_labels_are_float32_only_when_that_changes_none(values: list[float], dtype: type) -> None:
    labels = np.array(values, dtype=np.float64)
    compact = compact_labels(labels)
    assert compact.dtype == dtype
    np.testing.assert_array_equal(compact.astype(np.float64), labels)
