"""`train` imports lightgbm without scikit-learn, and scikit-learn only where it splits rows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# A fresh interpreter: this test process has long imported lightgbm (and scikit-learn with it). It imports
# what the `train` executable imports, scores (as every job does), then holds rows out (as a job without a
# validation channel does).
PROBE = """
import json, sys
from lightsage.libraries import import_lightgbm_alone
import_lightgbm_alone()
import lightsage.training.main
imported = "sklearn" in sys.modules
import numpy
from lightsage.tasks import Task, evaluate
scored = evaluate(Task.REGRESSION, numpy.array([1.0, 2.0, 4.0]), numpy.array([1.0, 2.5, 3.5]))
after_scoring = "sklearn" in sys.modules
from lightsage.training.plan import holdout
held_out = holdout(numpy.arange(10.0), numpy.ones(10, dtype=bool), Task.REGRESSION, 0.2, 0)
print(json.dumps({
    "at_import": imported, "after_scoring": after_scoring, "r2": scored["r2"],
    "held_out": int(held_out.sum()), "after_holding_out": "sklearn" in sys.modules,
}))
"""


def test_train_imports_scikit_learn_only_where_it_splits_rows() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["at_import"], outcome["after_scoring"], outcome["after_holding_out"]) == (
        False,
        False,
        True,
    )
    assert outcome["r2"] == pytest.approx(1 - 0.5 / (14 / 3)) and outcome["held_out"] == 2
