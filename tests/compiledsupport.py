"""Small LightGBM models for the compiled-trees tests: two numeric features with missing values and exact
zeros, two categorical ones (codes 0..11, some missing), for each task."""

from typing import Any

import lightgbm as lgb
import numpy as np

TASKS = ("binary", "multiclass", "regression")
CATEGORICAL = [2, 3]


def table(task: str, rows: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    numbers = generator.normal(size=(rows, 2)) * [1.0, 50.0]
    numbers[generator.random((rows, 2)) < 0.1] = np.nan
    numbers[generator.random((rows, 2)) < 0.05] = 0.0
    codes = generator.integers(0, 12, size=(rows, 2)).astype(float)
    codes[generator.random((rows, 2)) < 0.05] = np.nan
    features = np.column_stack([numbers, codes])
    signal = (
        np.nan_to_num(numbers[:, 0])
        + 2.0 * np.isin(codes[:, 0], [1, 4, 7])
        - 1.5 * np.isin(codes[:, 1], [0, 5, 9, 11])
        - 0.02 * np.nan_to_num(numbers[:, 1])
    )
    if task == "binary":
        labels = (signal + generator.normal(size=rows) * 0.5 > 0.3).astype(float)
    elif task == "multiclass":
        labels = np.digitize(signal + generator.normal(size=rows) * 0.5, [-0.5, 0.8]).astype(float)
    else:
        labels = 100.0 + 10.0 * signal + generator.normal(size=rows)
    return features, labels


def booster(task: str, rounds: int = 20, leaves: int = 15, seed: int = 0, **params: Any) -> lgb.Booster:
    features, labels = table(task, seed=seed)
    settings: dict[str, Any] = {
        "objective": task,
        "num_leaves": leaves,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "verbose": -1,
        "seed": seed,
        **params,
    }
    if task == "multiclass":
        settings["num_class"] = 3
    return lgb.train(settings, lgb.Dataset(features, labels, categorical_feature=CATEGORICAL), rounds)


def booster_text(task: str, rounds: int = 20, leaves: int = 15, seed: int = 0, **params: Any) -> str:
    return booster(task, rounds, leaves, seed, **params).model_to_string()
