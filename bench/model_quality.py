"""Titanic model quality with the default hyperparameters, as the README reports it.

    python bench/model_quality.py [--repeats 10] [--folds 5]

1. The reference split: train on local_test's train.csv (stratified 80/20 of data/titanic.csv, seed 42) and
   score validation.csv, exactly as `train` does with those two channels.
2. Repeated stratified k-fold cross-validation on the whole file, with seeds 0..repeats-1: every fold learns
   its own recipe state from its training rows only and scores its held-out rows as a served model would
   (the `cv_folds` code path of `train`).
Runs on the host with the project's own code; takes about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))
sys.path.insert(0, str(REPOSITORY_ROOT / "tests"))

from byoc.contract import MLPaths  # noqa: E402
from byoc.training import cross_validate, plan, train  # noqa: E402

from testsupport import TITANIC_CSV, make_ml_root  # noqa: E402

REFERENCE_SOLUTION = {"validation_accuracy": 0.788, "validation_auc": 0.798}
RECIPE = {"recipe": "titanic"}


def quietly(function, *arguments):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*arguments)


def reference_split(scratch: Path) -> dict[str, float]:
    root = make_ml_root(scratch / "split", hyperparameters=RECIPE)
    return quietly(train, MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))["validation"]


def repeated_cv(scratch: Path, repeats: int, folds: int) -> dict[str, list[float]]:
    means: dict[str, list[float]] = {}
    for seed in range(repeats):
        root = make_ml_root(
            scratch / f"cv-{seed}",
            hyperparameters={**RECIPE, "cv_folds": str(folds), "random_state": str(seed)},
            channels={"train": [("titanic.csv", TITANIC_CSV.read_bytes())]},
        )
        the_plan = quietly(plan, MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
        the_plan.train_rows = the_plan.train.labelled
        for name, value in quietly(cross_validate, the_plan, 1).items():
            if name.endswith("_mean"):
                means.setdefault(name.removesuffix("_mean"), []).append(value)
    return means


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="byoc-quality-") as scratch:
        validation = reference_split(Path(scratch))
        cv = repeated_cv(Path(scratch), arguments.repeats, arguments.folds)
    print("| figure | this project | reference solution |")
    print("|---|---|---|")
    reference = REFERENCE_SOLUTION
    accuracy = validation["accuracy"]
    print(f"| reference split: validation accuracy | {accuracy:.4f} | {reference['validation_accuracy']} |")
    print(f"| reference split: validation AUC | {validation['auc']:.4f} | {reference['validation_auc']} |")
    for name in ("auc", "accuracy", "log_loss"):
        values = np.array(cv[name])
        print(
            f"| {arguments.repeats} x {arguments.folds}-fold CV {name}, whole file | "
            f"{values.mean():.4f} (repeats from {values.min():.4f} to {values.max():.4f}) | |"
        )
    print(json.dumps({"validation": validation, "cv_means_per_repeat": cv}))


if __name__ == "__main__":
    main()
