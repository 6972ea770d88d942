"""lightsage.training.report: what a trained model reports, and the warning a model without a split gets."""

from __future__ import annotations

import numpy as np
import pytest

from lightsage.contract.paths import MLPaths
from lightsage.training.main import train

from testsupport import MLRootFactory, lightsage_log


def table(rows: int, signal: bool) -> bytes:
    """A regression table: `x` carries the target when `signal`, else it holds one value on every row."""
    generator = np.random.default_rng(7)
    x = generator.normal(size=rows) if signal else np.ones(rows)
    y = (3 * x if signal else 0) + generator.normal(size=rows)
    return ("x,y\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y, strict=True))).encode()


@pytest.mark.parametrize(
    ("rows", "signal", "said"),
    [
        (30, True, "with 24 training rows, min_child_samples=20 (the fewest rows a leaf may hold) leaves "
         "little room to split: a table this small may do better with min_child_samples=2, or with more "
         "rows"),
        (400, False, "no input column separates the training rows' labels"),
        (400, True, None),
    ],
    ids=["too few rows", "no signal", "a model that splits"],
)  # fmt: skip
def test_a_model_without_a_split_is_told_with_the_likely_reason(
    ml_root: MLRootFactory, caplog: pytest.LogCaptureFixture, rows: int, signal: bool, said: str | None
) -> None:
    root = ml_root(
        hyperparameters={"recipe": "tabular", "target": "y", "n_estimators": "20", "ensemble_folds": "0"},
        channels={"train": [("train.csv", table(rows, signal))]},
    )
    with lightsage_log(caplog) as messages:
        train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    warned = [message for message in messages if message.startswith("the model has no split")]
    if said is None:
        assert warned == []
    else:
        assert len(warned) == 1 and said in warned[0], warned
