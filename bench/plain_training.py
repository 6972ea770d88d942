"""The plain script a user would write instead of `train`: the reference side of bench/training_overhead.py.

    python plain_training.py TRAIN_CSV VALIDATION_CSV TARGET PARAMS_JSON ROUNDS MODEL_TXT

pandas.read_csv, text columns as pandas categories (the validation file on the train file's categories),
lightgbm.train with the given parameters for ROUNDS rounds (no validation set, so no early stopping), R² on
the validation file, save_model. Prints one JSON line with R² and the rounds trained. It runs in the image,
so it uses the image's pandas and LightGBM.
"""

from __future__ import annotations

import json
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd


def main() -> None:
    train_csv, validation_csv, target, params_json, rounds, model_txt = sys.argv[1:7]
    train = pd.read_csv(train_csv)
    validation = pd.read_csv(validation_csv)
    for column in train.columns:
        if column != target and not pd.api.types.is_numeric_dtype(train[column]):
            train[column] = train[column].astype("category")
            validation[column] = pd.Categorical(validation[column], categories=train[column].cat.categories)
    labels, validation_labels = train.pop(target), validation.pop(target).to_numpy(dtype=float)
    booster = lgb.train(json.loads(params_json), lgb.Dataset(train, labels), num_boost_round=int(rounds))
    predicted = booster.predict(validation, num_threads=json.loads(params_json)["num_threads"])
    residual = np.sum((validation_labels - predicted) ** 2)
    r2 = 1.0 - residual / np.sum((validation_labels - validation_labels.mean()) ** 2)
    booster.save_model(model_txt)
    print(json.dumps({"r2": float(r2), "iterations": booster.current_iteration()}))


if __name__ == "__main__":
    main()
