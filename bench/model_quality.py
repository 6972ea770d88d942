"""Model quality with the default hyperparameters, as the README reports it.

    python bench/model_quality.py [--folds 5] [--seed 42]

Prints validation accuracy/AUC on the stratified 80/20 split (seed 42) that the reference solution used, and
stratified k-fold cross-validated AUC and accuracy on the whole file, next to the reference figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))

from byoc.hyperparameters import parse_hyperparameters  # noqa: E402
from byoc.model import build_pipeline, classification_metrics, cross_validated_metrics, positive_probabilities  # noqa: E402
from byoc.split import split_csv  # noqa: E402

REFERENCE = {"validation_accuracy": 0.788, "validation_auc": 0.798}
TARGETS = {"validation_accuracy": 0.82, "validation_auc": 0.85, "cv_auc_mean": 0.88}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/byoc-model-quality"))
    arguments = parser.parse_args()

    hyperparameters = parse_hyperparameters({"cv_folds": str(arguments.folds)})
    files = split_csv(REPOSITORY_ROOT / "data" / "titanic.csv", arguments.scratch, seed=arguments.seed)
    train, validation = pd.read_csv(files.train), pd.read_csv(files.validation)
    pipeline = build_pipeline(hyperparameters).fit(train.drop(columns=["Survived"]), train["Survived"])
    held_out = classification_metrics(
        validation["Survived"].to_numpy(),
        positive_probabilities(pipeline, validation.drop(columns=["Survived"])),
    )
    whole = pd.read_csv(REPOSITORY_ROOT / "data" / "titanic.csv")
    cross_validation = cross_validated_metrics(
        hyperparameters, whole.drop(columns=["Survived"]), whole["Survived"].to_numpy()
    )
    figures = {
        "validation_accuracy": held_out["accuracy"],
        "validation_auc": held_out["auc"],
        "cv_auc_mean": cross_validation["auc_mean"],
        "cv_auc_std": cross_validation["auc_std"],
        "cv_accuracy_mean": cross_validation["accuracy_mean"],
    }
    print("| figure | this project | reference | target |")
    print("|---|---|---|---|")
    for name, value in figures.items():
        reference = REFERENCE.get(name)
        target = TARGETS.get(name)
        print(
            f"| {name} | {value:.4f} | {reference if reference is not None else '-'} | "
            f"{'>= ' + str(target) if target is not None else '-'} |"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
