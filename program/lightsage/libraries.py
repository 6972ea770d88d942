"""How the image loads lightgbm: without scikit-learn, which `train` imports only where it splits rows, and
`serve` not at all."""

from __future__ import annotations

import importlib
import sys


def import_lightgbm_alone() -> None:
    """Import lightgbm with scikit-learn hidden while it does.

    lightgbm imports scikit-learn (and through it SciPy's statistics) whenever it is installed, only for its
    scikit-learn-style estimators; `train` and `serve` use LightGBM's Booster alone. Without them a process
    starts about half a second sooner and holds about 60 MiB less: `train` imports scikit-learn's splits only
    where it holds rows out or makes folds, and scores with lightsage.tasks' metrics. scikit-learn stays
    importable afterwards (a script-mode recipe may use it); lightgbm's LGBMClassifier and LGBMRegressor no
    longer work in these processes.
    """
    if "lightgbm" in sys.modules:
        return
    hidden = "sklearn" not in sys.modules
    if hidden:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        importlib.import_module("lightgbm")
    finally:
        if hidden:
            del sys.modules["sklearn"]
