"""gunicorn's master imports lightgbm for its workers without scikit-learn, which serving does not use."""

from __future__ import annotations

import json
import subprocess
import sys

from lightsage.serving import workers

# A fresh interpreter: this test process has long imported lightgbm (and scikit-learn with it).
PROBE = """
import json, sys
from lightsage.serving.workers import on_starting
on_starting(None)
loaded = {name: name in sys.modules for name in ("lightgbm", "sklearn", "scipy.stats")}
import lightgbm, numpy
booster = lightgbm.train(
    {"objective": "binary", "verbose": -1, "min_data_in_leaf": 1},
    lightgbm.Dataset(numpy.arange(40.0).reshape(20, 2), label=[0, 1] * 10),
    num_boost_round=2,
)
import sklearn.metrics  # still importable for a script-mode recipe
predicted = len(booster.predict(numpy.zeros((3, 2))))
print(json.dumps({**loaded, "predicted": predicted, "sklearn_later": "sklearn" in sys.modules}))
"""


def test_the_master_imports_lightgbm_without_scikit_learn_and_it_stays_importable() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {
        "lightgbm": True,
        "sklearn": False,
        "scipy.stats": False,
        "predicted": 3,
        "sklearn_later": True,
    }


def test_an_earlier_import_of_lightgbm_is_left_alone() -> None:
    assert "lightgbm" in sys.modules  # imported by the test session
    workers.import_lightgbm_alone()
    assert sys.modules["sklearn"] is not None
