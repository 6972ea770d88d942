"""The peer: our trained artifact as an MLflow pyfunc model, served by `mlflow models serve`.

An MLflow "model from code": `mlflow.pyfunc.save_model(python_model=<this file>, artifacts={"byoc_model":
MODEL_DIR})` copies this file and the model folder into the pyfunc folder; the server runs this file and
serves the object passed to `set_model`. It needs `program/` on PYTHONPATH (for `byoc` and `recipes`) and runs
in MLflow's own virtualenv (bench/requirements-mlflow.txt), never in the image.

MLflow parses the request (its CSV is `pandas.read_csv`) and encodes the answer; in between, this model does
what the image's server does after decoding: the manifest's InputSchema types the columns, then
`lightsage.serving.predictor.Predictor` computes the recipe's features and calls the booster (one thread per
worker, as in the image). The answer is P(positive class) per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pyarrow as pa
from mlflow.models import set_model

from lightsage.model import artifact
from lightsage.serving.decode import Decoded
from lightsage.serving.predictor import Predictor


class ByocModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.predictor = Predictor(artifact.load(Path(context.artifacts["byoc_model"])))

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        # No type hints here on purpose: MLflow 3 validates and converts inputs by predict's hints.
        table = pa.Table.from_pandas(model_input, preserve_index=False)
        typed = self.predictor.schema.typed_table(table)
        scores: np.ndarray = self.predictor.scores(Decoded(typed.num_rows, table=typed))
        return scores


set_model(ByocModel())
