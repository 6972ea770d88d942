"""Typed hyperparameters: SageMaker sends every value as a string, sometimes JSON-quoted."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class HyperparameterError(ValueError):
    """A hyperparameter is unknown or its value does not parse; the message names the key."""


@dataclass(frozen=True)
class Hyperparameter:
    name: str
    kind: type
    default: Any
    description: str
    check: Callable[[Any], bool] = lambda value: True
    requirement: str = ""
    choices: tuple[str, ...] = ()


def _in_open_closed_unit_interval(value: float) -> bool:
    return 0.0 < value <= 1.0


SPECS: tuple[Hyperparameter, ...] = (
    Hyperparameter("target", str, "Survived", "Name of the label column (binary 0/1)."),
    Hyperparameter(
        "n_estimators", int, 300, "Boosting rounds.", lambda v: 1 <= v <= 100_000, "between 1 and 100000"
    ),
    Hyperparameter(
        "learning_rate", float, 0.03, "Shrinkage per round.", _in_open_closed_unit_interval, "in (0, 1]"
    ),
    Hyperparameter("num_leaves", int, 8, "Maximum leaves per tree.", lambda v: 2 <= v <= 131_072, ">= 2"),
    Hyperparameter(
        "max_depth",
        int,
        4,
        "Maximum tree depth; -1 means no limit.",
        lambda v: v == -1 or v >= 1,
        "-1 or >= 1",
    ),
    Hyperparameter("min_child_samples", int, 10, "Minimum rows in a leaf.", lambda v: v >= 1, ">= 1"),
    Hyperparameter(
        "subsample",
        float,
        0.8,
        "Row fraction sampled per bagging round.",
        _in_open_closed_unit_interval,
        "in (0, 1]",
    ),
    Hyperparameter(
        "subsample_freq", int, 1, "Bag every k rounds; 0 disables bagging.", lambda v: v >= 0, ">= 0"
    ),
    Hyperparameter(
        "colsample_bytree",
        float,
        0.8,
        "Feature fraction per tree.",
        _in_open_closed_unit_interval,
        "in (0, 1]",
    ),
    Hyperparameter("reg_lambda", float, 1.0, "L2 regularisation.", lambda v: v >= 0, ">= 0"),
    Hyperparameter("reg_alpha", float, 0.0, "L1 regularisation.", lambda v: v >= 0, ">= 0"),
    Hyperparameter("min_split_gain", float, 0.0, "Minimum gain to split.", lambda v: v >= 0, ">= 0"),
    Hyperparameter(
        "class_weight",
        str,
        "none",
        "'balanced' reweights classes by frequency.",
        choices=("none", "balanced"),
    ),
    Hyperparameter("random_state", int, 42, "Seed for the model, the hold-out split and the CV folds."),
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
        "When >= 2, also report stratified k-fold scores on train.",
        lambda v: v == 0 or 2 <= v <= 20,
        "0 or between 2 and 20",
    ),
)

SPECS_BY_NAME: dict[str, Hyperparameter] = {spec.name: spec for spec in SPECS}
LIGHTGBM_PARAMETERS: tuple[str, ...] = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "max_depth",
    "min_child_samples",
    "subsample",
    "subsample_freq",
    "colsample_bytree",
    "reg_lambda",
    "reg_alpha",
    "min_split_gain",
)
_TRUE_WORDS = {"true", "1", "yes"}
_FALSE_WORDS = {"false", "0", "no"}


def _is_ignored(key: str) -> bool:
    return key == "_tuning_objective_metric" or key.startswith("sagemaker_")


def _unquote(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(decoded, str):
            return decoded.strip()
    return text


def _parse_value(spec: Hyperparameter, raw: Any) -> Any:
    text = _unquote(raw if isinstance(raw, str) else json.dumps(raw))
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
        else:
            value = text
    except (ValueError, OverflowError):
        raise HyperparameterError(
            f"hyperparameter '{spec.name}': {raw!r} is not a valid {spec.kind.__name__}"
        ) from None
    if spec.choices and value not in spec.choices:
        raise HyperparameterError(
            f"hyperparameter '{spec.name}': {raw!r} is not one of {', '.join(spec.choices)}"
        )
    if not spec.check(value):
        raise HyperparameterError(f"hyperparameter '{spec.name}': {raw!r} must be {spec.requirement}")
    return value


def parse_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return every known hyperparameter, typed: defaults overridden by the parsed values in `raw`."""
    parsed = {spec.name: spec.default for spec in SPECS}
    for key, value in raw.items():
        if _is_ignored(key):
            continue
        spec = SPECS_BY_NAME.get(key)
        if spec is None:
            suggestion = difflib.get_close_matches(key, SPECS_BY_NAME, n=1)
            hint = f" (did you mean '{suggestion[0]}'?)" if suggestion else ""
            raise HyperparameterError(
                f"unknown hyperparameter '{key}'{hint}; valid hyperparameters: {', '.join(SPECS_BY_NAME)}"
            )
        parsed[key] = _parse_value(spec, value)
    return parsed
