"""House prices from a district, a room count and a floor area: a whole recipe in one small module.

It reads three declared columns (others in the table are ignored), learns one thing from the training rows
(each district's mean price per square metre, smoothed towards the overall mean by its own hyperparameter
`smoothing`) and gives LightGBM four features. Put it in `program/lightsage/recipes/houses.py`, or COPY it
into /opt/program/lightsage/recipes/ in a Dockerfile FROM the image (see the Dockerfile beside it), and train
with `recipe=houses`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lightsage.contract.hyperparameters import Hyperparameter
from lightsage.data.schema import Column, number, text
from lightsage.recipes.base import Recipe, State
from lightsage.tasks import Task


class Houses(Recipe):
    name = "houses"  # the module's file name, and the value of the `recipe` hyperparameter
    version = 1  # raise it when a saved state would mean something else: old models then refuse to load
    input_columns: ClassVar[tuple[Column, ...]] = (text("district"), number("rooms"), number("area"))
    default_target = "price"
    tasks: ClassVar[tuple[Task, ...]] = (Task.REGRESSION,)
    own_hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        Hyperparameter(
            "smoothing",
            float,
            20.0,
            "How many rows' worth of the overall price per m² each district's mean is pulled towards.",
            lambda value: value >= 0,
            ">= 0",
        ),
    )
    changed_defaults: ClassVar[Mapping[str, Any]] = {"n_estimators": 200, "learning_rate": 0.05}

    # -- learning: JSON summaries that add up across batches and hosts ---------------------------------

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        """Sum and count of price per m², per district and overall, in one batch of training rows."""
        per_m2 = labels / frame["area"].to_numpy(dtype=float)
        usable = np.isfinite(per_m2)
        districts = frame["district"].astype(object).to_numpy()
        known = usable & pd.notna(districts)
        table = pd.DataFrame({"district": districts[known], "per_m2": per_m2[known]})
        sums, counts = table.groupby("district")["per_m2"].sum(), table.groupby("district").size()
        return {
            "all": [float(per_m2[usable].sum()), int(usable.sum())],
            "districts": {str(name): [float(sums[name]), int(counts[name])] for name in sums.index},
        }

    def combine(self, summaries: Sequence[State]) -> State:
        combined: State = {"all": [0.0, 0], "districts": {}}
        for summary in summaries:
            combined["all"] = [combined["all"][0] + summary["all"][0], combined["all"][1] + summary["all"][1]]
            for district, (total, count) in summary["districts"].items():
                before = combined["districts"].get(district, [0.0, 0])
                combined["districts"][district] = [before[0] + total, before[1] + count]
        return combined

    def learn(self, summary: State) -> State:
        """Saved as recipe_state.json: the overall and each district's smoothed price per m²."""
        total, count = summary["all"]
        overall = total / count if count else 0.0
        weight = self.settings["smoothing"]
        return {
            "overall": overall,
            "districts": {
                district: (total + weight * overall) / (count + weight)
                for district, (total, count) in summary["districts"].items()
            },
        }

    # -- features: a batch with pandas, one row with plain floats; both give the same numbers ----------

    def feature_names(self) -> tuple[str, ...]:
        return ("rooms", "area", "district_per_m2", "estimate")

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        """A district that is missing or was never seen in training gets the overall price per m²."""
        districts = frame["district"].astype(object)
        per_m2 = districts.map(self.state["districts"]).astype(float).fillna(self.state["overall"])
        area = frame["area"].to_numpy(dtype=float)
        rooms = frame["rooms"].to_numpy(dtype=float)
        return np.column_stack([rooms, area, per_m2.to_numpy(), per_m2.to_numpy() * area])

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        per_m2 = self.state["districts"].get(row["district"], self.state["overall"])
        return [row["rooms"], row["area"], per_m2, per_m2 * row["area"]]
