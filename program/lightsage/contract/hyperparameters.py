"""Declarative hyperparameters: each one's type, default, valid range and tuning range, in one place.

SageMaker sends every value as a string, sometimes JSON-quoted. The core declares the hyperparameters every
recipe has (below); a recipe adds its own and may change defaults and tuning ranges
(`lightsage.recipes.base`). `deploy` reads the same declarations for its checks and for the tuner's ranges.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from lightsage.errors import UserError

REQUIRED: Any = object()
Scaling = Literal["Auto", "Linear", "Logarithmic"]


class HyperparameterError(UserError, ValueError):
    """A hyperparameter is unknown, missing or its value does not parse; the message names the key."""


@dataclass(frozen=True)
class TuningRange:
    """The range a hyperparameter tuning job searches (SageMaker's Continuous or Integer parameter)."""

    low: float
    high: float
    scaling: Scaling = "Auto"


def _always(value: Any) -> bool:
    return True


@dataclass(frozen=True)
class Hyperparameter:
    name: str
    kind: type
    default: Any
    description: str
    valid: Callable[[Any], bool] = _always
    requirement: str = ""
    choices: tuple[str, ...] = ()
    tuning: TuningRange | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _unit_interval(value: float) -> bool:
    return 0.0 < value <= 1.0


def _names(text: str) -> tuple[str, ...]:
    """A list of column names: a JSON list, or names separated by commas."""
    stripped = text.strip()
    if stripped.startswith("["):
        decoded = json.loads(stripped)
        if not isinstance(decoded, list) or not all(isinstance(item, str) for item in decoded):
            raise ValueError
        return tuple(item.strip() for item in decoded if item.strip())
    return tuple(item.strip() for item in stripped.split(",") if item.strip())


NAMES = tuple  # the kind of a hyperparameter that holds column names
TASKS = ("auto", "binary", "multiclass", "regression")
MAX_SEED = 2**31 - 1

CORE: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "recipe", str, REQUIRED, "The recipe: its columns, features and defaults (see `recipes/`)."
    ),
    Hyperparameter("target", str, REQUIRED, "Name of the label column."),
    Hyperparameter(
        "task",
        str,
        "auto",
        "binary, multiclass or regression; auto infers it from the target.",
        choices=TASKS,
    ),
    Hyperparameter(
        "random_state",
        int,
        42,
        "Seed for the model, the hold-out split and the CV folds.",
        lambda v: 0 <= v <= MAX_SEED,
        f"between 0 and {MAX_SEED}",
    ),
    Hyperparameter(
        "validation_fraction",
        float,
        0.2,
        "Share of train held out when there is no validation channel.",
        lambda v: 0.0 < v < 1.0,
        "in (0, 1)",
    ),
    Hyperparameter(
        "cv_folds",
        int,
        0,
        "When >= 2, also report k-fold scores on train (stratified for classification).",
        lambda v: v == 0 or 2 <= v <= 20,
        "0 or between 2 and 20",
    ),
    Hyperparameter(
        "early_stopping_rounds",
        int,
        0,
        "Stop when the validation metric has not improved for this many rounds; 0 never stops early.",
        lambda v: 0 <= v <= 100_000,
        "between 0 and 100000",
    ),
    Hyperparameter(
        "early_stopping_fraction",
        float,
        0.0,
        "With early_stopping_rounds, the share of the train rows held out for early stopping to watch "
        "(stratified by class, at most 100000 rows), so the validation rows stay an honest score; 0 watches "
        "the validation rows.",
        lambda v: 0.0 <= v <= 0.5,
        "between 0 and 0.5",
    ),
    Hyperparameter(
        "refit",
        bool,
        False,
        "After early stopping on early_stopping_fraction's rows, train again on every train row for the best "
        "number of rounds, scaled up by the rows held out (when the time budget has room for it).",
    ),
    Hyperparameter(
        "ensemble_folds",
        int,
        0,
        "When >= 2 with early_stopping_fraction: split train into this many folds, stop early on each in "
        "turn and average the models, each at its best round, into one model (in place of the refit); only "
        "when each fold holds at most 100000 rows, on one host, without a warm start, and when the time "
        "budget has room for every fold. Early stopping then watches one fold, not early_stopping_fraction's "
        "share.",
        lambda v: v == 0 or 2 <= v <= 10,
        "0 or between 2 and 10",
    ),
    Hyperparameter(
        "time_budget_seconds",
        float,
        0.0,
        "Boosting on one host stops after this many seconds plus time_budget_per_million_values per million "
        "feature values (rows x features), keeping its best round; both 0: no time budget.",
        lambda v: 0.0 <= v <= 1e7,
        "between 0 and 10000000",
    ),
    Hyperparameter(
        "time_budget_per_million_values",
        float,
        0.0,
        "Seconds of boosting added to time_budget_seconds per million feature values (rows x features).",
        lambda v: 0.0 <= v <= 1e6,
        "between 0 and 1000000",
    ),
    Hyperparameter(
        "checkpoint_interval",
        int,
        50,
        "Write a checkpoint to /opt/ml/checkpoints every this many rounds (and at least every "
        "checkpoint_seconds); 0 writes none.",
        lambda v: 0 <= v <= 100_000,
        "between 0 and 100000",
    ),
    Hyperparameter(
        "checkpoint_seconds",
        int,
        300,
        "Also write a checkpoint when this many seconds have passed since the last one.",
        lambda v: 10 <= v <= 86_400,
        "between 10 and 86400",
    ),
    Hyperparameter(
        "baseline",
        bool,
        True,
        "Also write the data baseline of the training rows (Model Monitor's statistics.json and "
        "constraints.json) into the model, for drift checks.",
    ),
    Hyperparameter(
        "network_port",
        int,
        12400,
        "TCP port LightGBM's hosts talk on when training across several instances (it and the next two).",
        lambda v: 1024 <= v <= 65000,
        "between 1024 and 65000",
    ),
    Hyperparameter(
        "network_timeout_seconds",
        int,
        300,
        "How long a host waits for its peers to connect, and for a peer's answer, before failing.",
        lambda v: 10 <= v <= 3600,
        "between 10 and 3600",
    ),
)

# LightGBM's own knobs under their scikit-learn names, with LightGBM's defaults.
LIGHTGBM: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "n_estimators",
        int,
        100,
        "Boosting rounds (the most; early stopping may use fewer).",
        lambda v: 1 <= v <= 100_000,
        "between 1 and 100000",
        tuning=TuningRange(50, 1000),
    ),
    Hyperparameter(
        "learning_rate",
        float,
        0.1,
        "Shrinkage per round.",
        _unit_interval,
        "in (0, 1]",
        tuning=TuningRange(0.01, 0.3, "Logarithmic"),
    ),
    Hyperparameter(
        "num_leaves",
        int,
        31,
        "Maximum leaves per tree.",
        lambda v: 2 <= v <= 131_072,
        "between 2 and 131072",
        tuning=TuningRange(4, 128),
    ),
    Hyperparameter(
        "max_depth",
        int,
        -1,
        "Maximum tree depth; -1 means no limit.",
        lambda v: v == -1 or v >= 1,
        "-1 or >= 1",
    ),
    Hyperparameter(
        "min_child_samples",
        int,
        20,
        "Minimum rows in a leaf.",
        lambda v: v >= 1,
        ">= 1",
        tuning=TuningRange(5, 100),
    ),
    Hyperparameter(
        "subsample", float, 1.0, "Row fraction sampled per bagging round.", _unit_interval, "in (0, 1]"
    ),
    Hyperparameter(
        "subsample_freq", int, 0, "Bag every k rounds; 0 disables bagging.", lambda v: v >= 0, ">= 0"
    ),
    Hyperparameter(
        "colsample_bytree",
        float,
        1.0,
        "Feature fraction per tree.",
        _unit_interval,
        "in (0, 1]",
        tuning=TuningRange(0.5, 1.0),
    ),
    Hyperparameter(
        "reg_lambda",
        float,
        0.0,
        "L2 regularisation.",
        lambda v: v >= 0,
        ">= 0",
        tuning=TuningRange(0.0, 10.0),
    ),
    Hyperparameter("reg_alpha", float, 0.0, "L1 regularisation.", lambda v: v >= 0, ">= 0"),
    Hyperparameter("min_split_gain", float, 0.0, "Minimum gain to split.", lambda v: v >= 0, ">= 0"),
    Hyperparameter(
        "max_bin",
        int,
        255,
        "Most histogram bins per feature.",
        lambda v: 2 <= v <= 65_535,
        "between 2 and 65535",
    ),
    Hyperparameter(
        "class_weight",
        str,
        "none",
        "'balanced' weighs each class by the inverse of its frequency (classification only).",
        choices=("none", "balanced"),
    ),
)

# scikit-learn names -> LightGBM parameter names, for `lightgbm.train`.
LIGHTGBM_PARAMETER_NAMES: dict[str, str] = {
    "learning_rate": "learning_rate",
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "min_child_samples": "min_data_in_leaf",
    "subsample": "bagging_fraction",
    "subsample_freq": "bagging_freq",
    "colsample_bytree": "feature_fraction",
    "reg_lambda": "lambda_l2",
    "reg_alpha": "lambda_l1",
    "min_split_gain": "min_gain_to_split",
    "max_bin": "max_bin",
}

_TRUE_WORDS = {"true", "1", "yes"}
_FALSE_WORDS = {"false", "0", "no"}


def with_changes(
    specs: Iterable[Hyperparameter],
    defaults: Mapping[str, Any] | None = None,
    tuning: Mapping[str, TuningRange | None] | None = None,
) -> tuple[Hyperparameter, ...]:
    """`specs` with some defaults and tuning ranges replaced (how a recipe adapts the core's knobs)."""
    defaults = defaults or {}
    tuning = tuning or {}
    known = {spec.name for spec in specs}
    unknown = sorted((set(defaults) | set(tuning)) - known)
    if unknown:
        raise ValueError(f"no such hyperparameter(s) to change: {', '.join(unknown)}")
    changed = []
    for spec in specs:
        if spec.name in defaults:
            spec = replace(spec, default=defaults[spec.name])
        if spec.name in tuning:
            spec = replace(spec, tuning=tuning[spec.name])
        changed.append(spec)
    return tuple(changed)


def is_ignored(key: str) -> bool:
    """Keys SageMaker's tuner and SDK add on their own. Script mode's `sagemaker_program` and
    `sagemaker_submit_directory` are among them: `lightsage.recipes.script` reads those, not this parser."""
    return key == "_tuning_objective_metric" or key.startswith("sagemaker_")


def unquote(raw: str) -> str:
    """A value as given, or the string inside it when it is JSON-quoted (the SDK quotes its own keys)."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(decoded, str):
            return decoded.strip()
    return text


def parse_value(spec: Hyperparameter, raw: Any) -> Any:
    text = unquote(raw if isinstance(raw, str) else json.dumps(raw))
    try:
        if spec.kind is bool:
            lowered = text.lower()
            if lowered not in _TRUE_WORDS | _FALSE_WORDS:
                raise ValueError
            value: Any = lowered in _TRUE_WORDS
        elif spec.kind is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            value = int(number)
        elif spec.kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
        elif spec.kind is NAMES:
            value = _names(text)
        else:
            value = text
    except (ValueError, OverflowError, json.JSONDecodeError):
        expected = "list of column names" if spec.kind is NAMES else spec.kind.__name__
        raise HyperparameterError(
            f"hyperparameter '{spec.name}': {raw!r} is not a valid {expected}"
        ) from None
    if spec.choices and value not in spec.choices:
        raise HyperparameterError(
            f"hyperparameter '{spec.name}': {raw!r} is not one of {', '.join(spec.choices)}"
        )
    if not spec.valid(value):
        raise HyperparameterError(f"hyperparameter '{spec.name}': {raw!r} must be {spec.requirement}")
    return value


def parse_hyperparameters(raw: Mapping[str, Any], specs: Iterable[Hyperparameter]) -> dict[str, Any]:
    """Every hyperparameter in `specs`, typed: defaults overridden by the parsed values in `raw`."""
    by_name = {spec.name: spec for spec in specs}
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if is_ignored(key):
            continue
        spec = by_name.get(key)
        if spec is None:
            suggestion = difflib.get_close_matches(key, by_name, n=1)
            hint = f" (did you mean '{suggestion[0]}'?)" if suggestion else ""
            raise HyperparameterError(
                f"unknown hyperparameter '{key}'{hint}; valid hyperparameters: {', '.join(by_name)}"
            )
        parsed[key] = parse_value(spec, value)
    for name, spec in by_name.items():
        if name in parsed:
            continue
        if spec.required:
            raise HyperparameterError(f"hyperparameter '{name}' is required: {spec.description}")
        parsed[name] = spec.default
    return {name: parsed[name] for name in by_name}
