"""Titanic model quality with the default hyperparameters, and an estimate that holds the choice of them out.

    python bench/model_quality.py [--repeats 10] [--folds 5] [--outer-repeats 10] [--inner-repeats 2]
                                  [--output bench/results/model_quality.json]

1. The reference split: train on local_test's train.csv (stratified 80/20 of data/titanic.csv, seed 42) and
   score validation.csv, exactly as `train` does with those two channels.
2. Cross-validation as `train` does it (`cv_folds`), repeated with seeds 0..repeats-1 on the whole file: every
   fold learns its own recipe state from its training rows and scores its held-out rows as a served model
   would. The recipe's features and defaults were chosen on this file, so this figure flatters them.
3. Nested cross-validation, the honest estimate: outer repeated stratified 3-fold on the whole file (a third
   held out, as the competition's 418 test passengers are a third of 1309, their families partly in the
   891-row file). Inside each outer training part only, inner repeated stratified 3-fold cross-validation
   chooses one of CANDIDATES (lowest mean log loss); the choice is refitted on the whole outer training part
   and scores the outer held-out third, which took no part in the choice. For comparison only, every
   candidate fixed in advance is scored on the same thirds (picking the best of those would not be held out).
   The same inner choice on the whole file must pick the recipe's defaults (DEFAULT_DESIGN).
4. The lockbox: 297 rows (a stratified third, seed 1912) set aside before the recipe's present design was
   explored; the choice is made by the same inner procedure on the other 594 rows, and scored once here.
   It stays held out only while nobody changes the candidates or the procedure after reading it.
5. The woman-child-group rule (`woman_child_group.py`), learnt from exactly the same training part, on exactly
   the same held-out rows, with the paired differences (model minus rule) per fold.

Every model comes from the project's own code: the recipe's summarise/combine/learn/transform and LightGBM
with the parameters `train` passes; one fold is checked against `train`'s own `fit`, to identical scores.
Uses one CPU for about a minute and a half (5 minutes' wall time on a shared 2-CPU machine at load 8).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "program"))
sys.path.insert(0, str(REPOSITORY_ROOT / "tests"))
sys.path.insert(0, str(REPOSITORY_ROOT / "bench"))  # `common` and the rule, also for tests importing this

from common import RESULTS_DIR, BenchmarkError, run_and_report  # noqa: E402
from woman_child_group import woman_child_group_rule  # noqa: E402

from lightsage.contract.hyperparameters import parse_hyperparameters  # noqa: E402
from lightsage.contract.paths import MLPaths  # noqa: E402
from lightsage.model import boosting  # noqa: E402
from lightsage.recipes.titanic import FEATURE_NAMES, Titanic  # noqa: E402
from lightsage.tasks import Task, evaluate  # noqa: E402
from lightsage.training.fit import cross_validate, fit  # noqa: E402
from lightsage.training.main import train  # noqa: E402
from lightsage.training.memory import MemoryGuard  # noqa: E402
from lightsage.training.passes import typed_batches  # noqa: E402
from lightsage.training.plan import Plan, plan  # noqa: E402

from testsupport import TITANIC_CSV, make_ml_root  # noqa: E402

REFERENCE_SOLUTION = {"validation_accuracy": 0.788, "validation_auc": 0.798}
RECIPE = {"recipe": "titanic"}
OUTER_FOLDS = INNER_FOLDS = 3
LOCKBOX_SEED = 1912
LOCKBOX_SHARE = 1 / 3
CHOICE_METRIC = "log_loss"  # the inner choice: lowest mean log loss (a proper score, steadier than accuracy)
SHALLOW = {"num_leaves": 4, "max_depth": 2}
DEEP = {"num_leaves": 8, "max_depth": 4}  # version 3's tree shape
VERSION_3_FEATURES = (
    "pclass", "sex", "age", "is_boy", "fare_per_person", "family_size", "wcg_all_died", "wcg_all_survived",
)  # fmt: skip
WITH_FAMILY_SIZE = ("pclass", "sex", "is_boy", "family_size", "wcg_all_died", "wcg_all_survived")


@dataclass(frozen=True)
class Candidate:
    """One design: the features the model reads and the settings that differ from the recipe's defaults."""

    features: tuple[str, ...]
    settings: Mapping[str, Any]


DEFAULT_DESIGN = "5 features, 4 leaves, depth 2"
CANDIDATES: dict[str, Candidate] = {
    "version 3: 8 features, 8 leaves, depth 4": Candidate(VERSION_3_FEATURES, DEEP),
    "8 features, 4 leaves, depth 2": Candidate(VERSION_3_FEATURES, SHALLOW),
    DEFAULT_DESIGN: Candidate(FEATURE_NAMES, SHALLOW),
    "6 features, 4 leaves, depth 2": Candidate(WITH_FAMILY_SIZE, SHALLOW),
    "6 features, 8 leaves, depth 4": Candidate(WITH_FAMILY_SIZE, DEEP),
    "6 features and the rule, 4 leaves, depth 2": Candidate((*WITH_FAMILY_SIZE, "wcg_rule"), SHALLOW),
}


def quietly(function: Callable[..., Any], *arguments: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*arguments)


def paths_of(root: Path) -> MLPaths:
    return MLPaths.from_environment({"BYOC_ML_ROOT": str(root)})


# -- 1 and 2: the reference split and cross-validation, through `train` -----------------------------------


def reference_split(scratch: Path) -> dict[str, float]:
    return quietly(train, paths_of(make_ml_root(scratch / "split", hyperparameters=RECIPE)))["validation"]


def whole_file_plan(scratch: Path, settings: Mapping[str, str]) -> Plan:
    root = make_ml_root(
        scratch,
        hyperparameters={**RECIPE, **settings},
        channels={"train": [("titanic.csv", TITANIC_CSV.read_bytes())]},
    )
    the_plan = quietly(plan, paths_of(root))
    the_plan.train_rows = the_plan.train.labelled
    return the_plan


def repeated_cv(scratch: Path, repeats: int, folds: int) -> dict[str, list[float]]:
    means: dict[str, list[float]] = {}
    for seed in range(repeats):
        the_plan = whole_file_plan(
            scratch / f"cv-{seed}", {"cv_folds": str(folds), "random_state": str(seed)}
        )
        for name, value in quietly(cross_validate, the_plan, 1, MemoryGuard()).items():
            if name.endswith("_mean"):
                means.setdefault(name.removesuffix("_mean"), []).append(value)
    return means


# -- the passengers, typed as `train` types them -------------------------------------------------------------


@dataclass(frozen=True)
class Passengers:
    frame: pd.DataFrame
    labels: np.ndarray
    the_plan: Plan

    def rows(self, positions: np.ndarray) -> pd.DataFrame:
        return self.frame.iloc[positions].reset_index(drop=True)


def passengers(scratch: Path) -> Passengers:
    the_plan = whole_file_plan(scratch / "passengers", {})
    batches = list(typed_batches(the_plan.train, the_plan.schema, the_plan.train_rows))
    frame = pd.concat([batch for batch, _ in batches], ignore_index=True)
    labels = np.concatenate([labels for _, labels in batches]).astype(float)
    if len(frame) != 891 or labels.sum() != 342:
        raise BenchmarkError(f"data/titanic.csv read as {len(frame)} rows, {labels.sum():.0f} survivors")
    return Passengers(frame, labels, the_plan)


# -- features of candidate designs --------------------------------------------------------------------------


def settings_of(candidate: Candidate | None = None, **changes: Any) -> dict[str, Any]:
    """The recipe's parsed defaults, with a candidate's settings."""
    raw = {
        key: str(value)
        for key, value in {**RECIPE, **(candidate.settings if candidate else {}), **changes}.items()
    }
    return parse_hyperparameters(raw, Titanic.hyperparameter_specs())


def features_of(
    data: Passengers, train_positions: np.ndarray, score_positions: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate's features of the training rows (leave-one-out, as `train` computes them) and of the
    rows to score (as a served model would), from a recipe state learnt from the training rows only: the
    recipe's own, and those other candidates read (version 3's age, fare per person and family size; the
    rule's answer from the recipe's features)."""
    recipe = Titanic(settings_of(), data.the_plan.schema)
    train_frame, score_frame = data.rows(train_positions), data.rows(score_positions)
    train_labels = data.labels[train_positions]
    recipe.state = recipe.learn(recipe.combine([recipe.summarise(train_frame, train_labels)]))
    tables = []
    for frame, own_labels in ((train_frame, train_labels), (score_frame, None)):
        table = pd.DataFrame(recipe.transform(frame, own_labels), columns=list(FEATURE_NAMES))
        table["age"] = frame["Age"].to_numpy(dtype=float)
        table["family_size"] = frame["SibSp"].fillna(0.0) + frame["Parch"].fillna(0.0) + 1.0
        table["wcg_rule"] = (
            ((table["sex"] == 1) & (table["wcg_all_died"] == 0))
            | ((table["is_boy"] == 1) & (table["wcg_all_survived"] == 1))
        ).astype(float)
        tables.append(table)
    tables[0]["fare_per_person"], tables[1]["fare_per_person"] = fares_per_person(train_frame, score_frame)
    return tables[0], tables[1]


def fares_per_person(train_frame: pd.DataFrame, score_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Version 3's feature: the fare over the ticket's group size, the other training passengers with the
    same ticket plus oneself (a training row does not count itself twice)."""
    counts = train_frame["Ticket"].value_counts()
    on_ticket = [frame["Ticket"].map(counts).fillna(0.0).to_numpy() for frame in (train_frame, score_frame)]
    own = train_frame["Ticket"].notna().to_numpy(dtype=float)
    return (
        train_frame["Fare"].to_numpy(dtype=float) / (on_ticket[0] - own + 1.0),
        score_frame["Fare"].to_numpy(dtype=float) / (on_ticket[1] + 1.0),
    )


def probabilities(
    candidate: Candidate, train_table: pd.DataFrame, train_labels: np.ndarray, score_table: pd.DataFrame
) -> np.ndarray:
    """P(survived) of the rows to score, from a booster trained as `train` trains one (one thread)."""
    settings = settings_of(candidate)
    params = boosting.parameters(settings, Task.BINARY, 2, threads=1)
    names = list(candidate.features)
    matrix = boosting.FeatureMatrix(len(names))
    matrix.add(boosting.as_features(train_table[names].to_numpy()), train_labels)
    booster = lgb.train(
        params, boosting.dataset(matrix, params, names, ()), num_boost_round=settings["n_estimators"]
    )
    return boosting.scores(booster, boosting.as_features(score_table[names].to_numpy()), 1)


def stratified_folds(
    labels: np.ndarray, folds: int, repeats: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    yield from splitter.split(np.zeros(len(labels)), labels)


def choose(data: Passengers, positions: np.ndarray, repeats: int, seed: int) -> tuple[str, dict[str, float]]:
    """The candidate with the lowest mean inner log loss, using the rows at `positions` only."""
    losses: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for inner_train, inner_test in stratified_folds(data.labels[positions], INNER_FOLDS, repeats, seed):
        train_positions, test_positions = positions[inner_train], positions[inner_test]
        train_table, test_table = features_of(data, train_positions, test_positions)
        for name, candidate in CANDIDATES.items():
            scored = probabilities(candidate, train_table, data.labels[train_positions], test_table)
            losses[name].append(evaluate(Task.BINARY, data.labels[test_positions], scored)[CHOICE_METRIC])
    means = {name: float(np.mean(values)) for name, values in losses.items()}
    return min(means, key=means.__getitem__), means


@dataclass(frozen=True)
class HeldOut:
    """One design's scores on one held-out part, and the rule's on the same rows."""

    model: dict[str, float]
    rule: dict[str, float]
    model_right: np.ndarray
    rule_right: np.ndarray


def held_out(
    data: Passengers, train_positions: np.ndarray, test_positions: np.ndarray, names: Sequence[str]
) -> dict[str, HeldOut]:
    """The named designs' scores on the held-out rows, and the rule's, all learnt from the training rows."""
    train_table, test_table = features_of(data, train_positions, test_positions)
    labels = data.labels[test_positions]
    known = np.zeros(len(data.labels), dtype=bool)
    known[train_positions] = True
    ruled = woman_child_group_rule(data.frame, data.labels, known)[test_positions]
    rule = evaluate(Task.BINARY, labels, ruled)
    parts = {}
    for name in names:
        scored = probabilities(CANDIDATES[name], train_table, data.labels[train_positions], test_table)
        model = evaluate(Task.BINARY, labels, scored)
        parts[name] = HeldOut(model, rule, (scored >= 0.5) == labels, ruled == labels)
    return parts


def nested_cv(
    data: Passengers, outer_repeats: int, inner_repeats: int
) -> tuple[list[str], list[HeldOut], dict[str, list[HeldOut]]]:
    """Per outer fold: the inner choice and its scores; and each design fixed in advance, to compare."""
    chosen_names, chosen_parts = [], []
    fixed: dict[str, list[HeldOut]] = {name: [] for name in CANDIDATES}
    folds = stratified_folds(data.labels, OUTER_FOLDS, outer_repeats, seed=0)
    for number, (outer_train, outer_test) in enumerate(folds):
        chosen, _ = choose(data, outer_train, inner_repeats, seed=1000 + number)
        parts = held_out(data, outer_train, outer_test, list(CANDIDATES))
        chosen_names.append(chosen)
        chosen_parts.append(parts[chosen])
        for name, part in parts.items():
            fixed[name].append(part)
        print(f"outer fold {number + 1}: chose {chosen!r}", file=sys.stderr)
    return chosen_names, chosen_parts, fixed


def lockbox_positions(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    everything = np.arange(len(labels))
    development, lockbox = train_test_split(
        everything, test_size=LOCKBOX_SHARE, stratify=labels, random_state=LOCKBOX_SEED
    )
    return np.sort(development), np.sort(lockbox)


def check_against_train(data: Passengers, scratch: Path) -> float:
    """The largest difference between this script's scores and `train`'s own `fit` for the recipe's
    defaults on one fold (a third held out); anything but zero stops the run."""
    train_positions, test_positions = next(stratified_folds(data.labels, OUTER_FOLDS, 1, seed=0))
    train_table, test_table = features_of(data, train_positions, test_positions)
    defaults = Candidate(FEATURE_NAMES, {})
    shipped = settings_of(CANDIDATES[DEFAULT_DESIGN])
    if CANDIDATES[DEFAULT_DESIGN].features != FEATURE_NAMES or shipped != settings_of():
        raise BenchmarkError(f"{DEFAULT_DESIGN!r} is not the recipe's features and defaults")
    ours = probabilities(defaults, train_table, data.labels[train_positions], test_table)
    the_plan = whole_file_plan(scratch / "check", {})
    train_mask = np.zeros(len(data.labels), dtype=bool)
    test_mask = np.zeros(len(data.labels), dtype=bool)
    train_mask[train_positions], test_mask[test_positions] = True, True
    fitted = quietly(fit, the_plan, train_mask, the_plan.train, test_mask, 1, MemoryGuard())
    theirs = boosting.scores(fitted.booster, fitted.validation[0], 1)
    difference = float(np.max(np.abs(ours - theirs)))
    if difference != 0.0:
        raise BenchmarkError(f"this script's scores differ from train's fit by up to {difference:.3g}")
    return difference


# -- the report ---------------------------------------------------------------------------------------------


def paired(parts: Sequence[HeldOut], metric: str, test_share: float = 1 / OUTER_FOLDS) -> dict[str, float]:
    """Model minus rule per held-out part: mean, spread, wins, and the standard error corrected for the
    overlap of repeated cross-validation's training parts (Nadeau and Bengio, 2003)."""
    differences = np.array([part.model[metric] - part.rule[metric] for part in parts])
    corrected = math.sqrt((1 / len(differences) + test_share / (1 - test_share)) * differences.var(ddof=1))
    return {
        "mean": float(differences.mean()),
        "std": float(differences.std(ddof=1)),
        "corrected_se": corrected,
        "wins": int((differences > 0).sum()),
        "ties": int((differences == 0).sum()),
        "losses": int((differences < 0).sum()),
    }


def summary(values: Sequence[float]) -> str:
    values = np.asarray(values)
    return (
        f"{values.mean():.4f} (std {values.std(ddof=1):.4f}, from {values.min():.4f} to {values.max():.4f})"
    )


def run(results: dict[str, Any], arguments: argparse.Namespace, scratch: Path) -> None:
    print("reference split and cross-validation through `train` ...", file=sys.stderr)
    results["reference_split"] = reference_split(scratch)
    results["cv_means_per_repeat"] = repeated_cv(scratch, arguments.repeats, arguments.folds)
    data = passengers(scratch)
    results["check_against_train_max_difference"] = check_against_train(data, scratch)
    chosen_on_file, means = choose(data, np.arange(len(data.labels)), arguments.inner_repeats, seed=999)
    results["choice_on_the_whole_file"] = {"chosen": chosen_on_file, "inner_log_loss": means}
    print("nested cross-validation ...", file=sys.stderr)
    chosen_names, parts, fixed = nested_cv(data, arguments.outer_repeats, arguments.inner_repeats)
    results["nested"] = [
        {"chosen": name, "model": part.model, "rule": part.rule}
        for name, part in zip(chosen_names, parts, strict=True)
    ]
    results["nested_paired"] = {metric: paired(parts, metric) for metric in ("accuracy", "auc")}
    results["fixed_designs"] = {
        name: {
            "accuracy": paired(designs, "accuracy"),
            "auc": float(np.mean([part.model["auc"] for part in designs])),
            "log_loss": float(np.mean([part.model["log_loss"] for part in designs])),
        }
        for name, designs in fixed.items()
    }
    development, lockbox = lockbox_positions(data.labels)
    chosen, _ = choose(data, development, arguments.inner_repeats, seed=LOCKBOX_SEED)
    box = held_out(data, development, lockbox, [chosen])[chosen]
    only_model = int((box.model_right & ~box.rule_right).sum())
    only_rule = int((box.rule_right & ~box.model_right).sum())
    discordant = only_model + only_rule
    results["lockbox"] = {
        "rows": len(lockbox),
        "chosen": chosen,
        "model": box.model,
        "rule": box.rule,
        "right_only_model": only_model,
        "right_only_rule": only_rule,
        "mcnemar_exact_p": binomtest(only_model, discordant).pvalue if discordant else 1.0,
    }
    results["load_average_at_end"] = os.getloadavg()


def quality_table(results: dict[str, Any]) -> list[str]:
    settings, validation, reference = results["settings"], results["reference_split"], REFERENCE_SOLUTION
    lines = [
        "| figure | this project | reference solution |",
        "|---|---|---|",
        f"| reference split: validation accuracy | {validation['accuracy']:.4f} "
        f"| {reference['validation_accuracy']} |",
        f"| reference split: validation AUC | {validation['auc']:.4f} | {reference['validation_auc']} |",
    ]
    for name in ("auc", "accuracy", "log_loss"):
        values = np.array(results["cv_means_per_repeat"][name])
        lines.append(
            f"| {settings['repeats']} x {settings['folds']}-fold CV {name}, whole file (choice not held out) "
            f"| {values.mean():.4f} (repeats from {values.min():.4f} to {values.max():.4f}) | |"
        )
    return lines


def difference_cell(difference: Mapping[str, float]) -> str:
    return (
        f"{difference['mean']:+.4f} (std {difference['std']:.4f}, corrected se "
        f"{difference['corrected_se']:.4f}; ahead in {difference['wins']}, tied {difference['ties']}, "
        f"behind {difference['losses']})"
    )


def nested_table(results: dict[str, Any]) -> list[str]:
    settings, nested = results["settings"], results["nested"]
    lines = [
        f"Nested CV: {settings['outer_repeats']} x {OUTER_FOLDS}-fold outer ({len(nested)} held-out thirds); "
        f"on each outer training part only, {settings['inner_repeats']} x {INNER_FOLDS}-fold inner CV "
        f"chooses the design with the lowest {CHOICE_METRIC}.",
        "",
        "| on the held-out third | the chosen design | woman-child-group rule | model - rule, by fold |",
        "|---|---|---|---|",
    ]
    for metric in ("accuracy", "auc"):
        model = summary([part["model"][metric] for part in nested])
        rule = summary([part["rule"][metric] for part in nested])
        lines.append(f"| {metric} | {model} | {rule} | {difference_cell(results['nested_paired'][metric])} |")
    lines.append(f"| log_loss | {summary([part['model']['log_loss'] for part in nested])} | | |")
    picks = pd.Series([part["chosen"] for part in nested]).value_counts()
    lines += [
        "",
        "| design | chosen in the outer folds | fixed in advance, on the same thirds: accuracy - rule | "
        "log_loss | chosen on the whole file by inner log_loss |",
        "|---|---|---|---|---|",
    ]
    choice = results["choice_on_the_whole_file"]
    for name in CANDIDATES:
        fixed = results["fixed_designs"][name]
        mark = " **chosen**" if name == choice["chosen"] else ""
        lines.append(
            f"| {name}{' (the recipe)' if name == DEFAULT_DESIGN else ''} | {int(picks.get(name, 0))} "
            f"| {difference_cell(fixed['accuracy'])} | {fixed['log_loss']:.4f} "
            f"| {choice['inner_log_loss'][name]:.4f}{mark} |"
        )
    verdict = "the recipe's defaults" if choice["chosen"] == DEFAULT_DESIGN else "NOT the recipe's defaults"
    lines += [
        "",
        f"The same inner choice on the whole file picks {choice['chosen']!r}: {verdict}. A design picked "
        "from the 'fixed in advance' column would not be held out; the nested figures above are.",
    ]
    return lines


def lockbox_table(results: dict[str, Any]) -> list[str]:
    box = results["lockbox"]
    return [
        f"Lockbox: {box['rows']} rows (a stratified third, seed {LOCKBOX_SEED}) never used for a choice; the "
        f"inner choice on the other rows picks {box['chosen']!r}.",
        "",
        "| on the lockbox | the chosen design | woman-child-group rule |",
        "|---|---|---|",
        f"| accuracy | {box['model']['accuracy']:.4f} | {box['rule']['accuracy']:.4f} |",
        f"| AUC | {box['model']['auc']:.4f} | {box['rule']['auc']:.4f} |",
        f"| passengers only this one gets right | {box['right_only_model']} | {box['right_only_rule']} |",
        "",
        f"Exact McNemar test of the lockbox accuracies: p = {box['mcnemar_exact_p']:.3f}.",
    ]


def report(results: dict[str, Any]) -> str:
    check = results["check_against_train_max_difference"]
    return "\n".join(
        [
            *quality_table(results),
            "",
            *nested_table(results),
            "",
            *lockbox_table(results),
            f"Every score here equals `train`'s own fit on a checked fold (largest difference {check:g}).",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=10, help="repeats of the k-fold CV through `train`")
    parser.add_argument("--folds", type=int, default=5, help="folds of the CV through `train`")
    parser.add_argument("--outer-repeats", type=int, default=10, help="repeats of the outer 3-fold split")
    parser.add_argument("--inner-repeats", type=int, default=2, help="repeats of the inner 3-fold choice")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "model_quality.json")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="byoc-quality-") as scratch:
        return run_and_report(
            arguments.output,
            {
                **{key: value for key, value in vars(arguments).items() if key != "output"},
                "load_average_at_start": os.getloadavg(),
            },
            lambda results: run(results, arguments, Path(scratch)),
            report,
        )


if __name__ == "__main__":
    sys.exit(main())
