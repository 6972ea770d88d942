"""`train` imports lightgbm without scikit-learn, and scikit-learn only where it splits or scores rows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# A fresh interpreter: this test process has long imported lightgbm (and scikit-learn with it). It imports
# what the `train` executable imports, then scores.
PROBE = """
import json, sys
from lightsage.libraries import import_lightgbm_alone
import_lightgbm_alone()
import lightsage.training.main
imported = "sklearn" in sys.modules
from lightsage.tasks import Task, evaluate
import numpy
scored = evaluate(Task.REGRESSION, numpy.array([1.0, 2.0, 4.0]), numpy.array([1.0, 2.5, 3.5]))
print(json.dumps({"at_import": imported, "after_scoring": "sklearn" in sys.modules, "r2": scored["r2"]}))
"""


def test_train_imports_scikit_learn_only_once_it_scores() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["at_import"], outcome["after_scoring"]) == (False, True)
    assert outcome["r2"] == pytest.approx(1 - 0.5 / (14 / 3))
