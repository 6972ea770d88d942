"""What a user of MLflow or MLServer writes instead of this image: the Titanic table trained natively with
LightGBM, saved for the peer, and the client-side conversion of request rows. Run by
bench/peer_benchmark.py inside each peer's own virtualenv (it imports nothing from this project):

    VENV/bin/python bench/peer_models.py mlflow|mlserver TITANIC_CSV OUT_DIR BODY.csv [BODY.csv ...]

Writes into OUT_DIR the peer's model (MLflow: `mlflow_model/`, the lightgbm flavour; MLServer:
`models/titanic/model.bst` with its model-settings.json), and for each request body (the raw passenger
columns, as the image takes them) the peer's own body (MLflow: CSV of numbers; MLServer: Open Inference
Protocol JSON) and the probabilities booster.predict gives for it. Prints one JSON line describing them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

# The user's encoding of the text columns: LightGBM, MLflow's schema and MLServer's numpy codec all want
# numbers. Embarked is a LightGBM categorical; Sex is 0/1.
SEX = {"male": 0.0, "female": 1.0}
EMBARKED = {"S": 0.0, "C": 1.0, "Q": 2.0}
FEATURES = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]
# The image's Titanic knobs (300 shallow trees), so each row costs the peers about what it costs the image.
PARAMETERS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 4,
    "max_depth": 2,
    "min_data_in_leaf": 10,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "seed": 42,
    "verbose": -1,
}
ROUNDS = 300


def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The client-side conversion every request needs: text categories as numbers, missing as NaN."""
    return pd.DataFrame(
        {
            "Pclass": pd.to_numeric(frame["Pclass"], errors="coerce").astype(float),
            "Sex": frame["Sex"].map(SEX).astype(float),
            "Age": pd.to_numeric(frame["Age"], errors="coerce").astype(float),
            "SibSp": pd.to_numeric(frame["SibSp"], errors="coerce").astype(float),
            "Parch": pd.to_numeric(frame["Parch"], errors="coerce").astype(float),
            "Fare": pd.to_numeric(frame["Fare"], errors="coerce").astype(float),
            "Embarked": frame["Embarked"].map(EMBARKED).astype(float),
        }
    )


def train(titanic_csv: Path) -> tuple[lgb.Booster, pd.DataFrame]:
    frame = pd.read_csv(titanic_csv)
    features = numbers(frame)
    data = lgb.Dataset(features, frame["Survived"], categorical_feature=["Embarked"])
    return lgb.train(PARAMETERS, data, ROUNDS), features


def save_mlflow(booster: lgb.Booster, features: pd.DataFrame, out: Path) -> Path:
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    path = out / "mlflow_model"
    signature = infer_signature(features, booster.predict(features))
    mlflow.lightgbm.save_model(booster, str(path), signature=signature, input_example=features.head(1))
    return path


def save_mlserver(booster: lgb.Booster, out: Path) -> Path:
    folder = out / "models" / "titanic"
    folder.mkdir(parents=True)
    booster.save_model(str(folder / "model.bst"))  # the runtime loads only this file name
    settings = {"name": "titanic", "implementation": "mlserver_lightgbm.LightGBMModel"}
    (folder / "model-settings.json").write_text(
        json.dumps({**settings, "parameters": {"uri": "./model.bst"}})
    )
    return out / "models"


def open_inference_body(values: np.ndarray) -> str:
    """MLServer's request: one FP64 tensor; a missing value is JSON null (a NaN literal is refused)."""
    data = [None if np.isnan(value) else value for value in values.ravel().tolist()]
    tensor = {"name": "input-0", "shape": list(values.shape), "datatype": "FP64", "data": data}
    return json.dumps({"inputs": [tensor]})


def main(argv: list[str]) -> int:
    peer, titanic_csv, out = argv[0], Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    booster, features = train(titanic_csv)
    model = save_mlflow(booster, features, out) if peer == "mlflow" else save_mlserver(booster, out)
    bodies = []
    for position, raw_body in enumerate(argv[3:]):
        rows = numbers(pd.read_csv(raw_body, keep_default_na=False, na_values=[""]))
        values = rows[FEATURES].to_numpy(dtype=float)
        body = out / f"body-{position}.{'csv' if peer == 'mlflow' else 'json'}"
        body.write_text(rows.to_csv(index=False) if peer == "mlflow" else open_inference_body(values))
        expected = out / f"expected-{position}.npy"
        np.save(expected, booster.predict(values, num_threads=1))
        bodies.append({"rows": len(rows), "body": str(body), "expected": str(expected)})
    versions = {"lightgbm": lgb.__version__, "numpy": np.__version__, "pandas": pd.__version__}
    print(
        json.dumps(
            {"model": str(model), "trees": booster.num_trees(), "bodies": bodies, "versions": versions}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
