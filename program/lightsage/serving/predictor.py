"""The predict seam: from decoded rows (lightsage.serving.decode) to the model's scores, which
lightsage.serving.encode writes out. The recipe's features, then the booster.

Single rows take the recipe's scalar `transform_row` when it has one; batches take its vectorised
`transform`. Both give float32 features, as training did. Small requests take LightGBM's single-row path;
batches take LightGBM's batch predict until the worker switches them to compiled trees
(lightsage.serving.compiled), which answer the same. Explanations always come from LightGBM.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lightsage.model.artifact import Model
from lightsage.model.boosting import RowScorer, as_features
from lightsage.serving.compiled import BatchTrees, LightGBMTrees
from lightsage.serving.decode import Decoded

# Requests up to this many rows use the recipe's row-by-row path when it has one.
ROW_PATH_MAX_ROWS = 16


class Predictor:
    def __init__(self, model: Model, threads: int = 1) -> None:
        self.model = model
        self.manifest = model.manifest
        self.schema = model.manifest.inputs
        self.threads = threads
        self.row_scorer = RowScorer(model.booster, len(model.manifest.features))
        self.batch_trees: BatchTrees = LightGBMTrees(model.booster, threads)
        self._arrow_schema = pa.schema(
            [(c.name, pa.float64() if c.kind == "number" else pa.string()) for c in self.schema.features]
        )

    def features(self, decoded: Decoded) -> np.ndarray:
        recipe = self.model.recipe
        if decoded.records is not None:
            if recipe.transform_row is not None and decoded.rows <= ROW_PATH_MAX_ROWS:
                return as_features([recipe.transform_row(record) for record in decoded.records])
            table = pa.Table.from_pylist(decoded.records, schema=self._arrow_schema)
        else:
            table = decoded.table
        return as_features(recipe.transform(table.to_pandas()))

    def scores(self, decoded: Decoded) -> np.ndarray:
        features = self.features(decoded)
        if len(features) <= ROW_PATH_MAX_ROWS:
            return self.row_scorer.scores(features)
        return self.batch_trees.predict(features)

    def use(self, trees: BatchTrees) -> None:
        """Answer batches with these trees from now on (a worker's switch to compiled trees)."""
        self.batch_trees = trees

    def explained(self, decoded: Decoded) -> tuple[np.ndarray, np.ndarray]:
        """Scores and each row's feature contributions (LightGBM's pred_contrib, base value last)."""
        features = self.features(decoded)
        booster = self.model.booster
        scores = np.asarray(booster.predict(features, num_threads=self.threads))
        return scores, np.asarray(booster.predict(features, pred_contrib=True, num_threads=self.threads))
