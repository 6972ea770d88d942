"""Any table with a header: no code needed.

Numeric columns stay numbers and text columns become LightGBM categories (the most frequent `max_categories`
values of each, coded by frequency; a value never seen in training, or beyond that number, reads as missing).
A numeric column named in `categorical_columns` becomes categories of its numbers, so 2, 2.0 and "2" are one
category whether the file or the request is CSV, JSON or Parquet. Missing values stay missing (in a number
column, `NA`, `null`, `?` and the other `lightsage.data.values` markers are missing values too). Columns that
look like row ids (distinct ascending integers, or distinct integers in a column named like an id) and text
that is mostly unique (names, free text, ids) are dropped, each with a log line; `categorical_columns` and
`ignore_columns` override the choice. A column of numbers with a few values that are not numbers (a word for
"unknown", a unit, an infinity) is neither taken for text nor dropped: the job fails naming the values and
their rows, and the three ways out.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.contract.hyperparameters import NAMES, Hyperparameter
from lightsage.data.profile import ColumnProfile, TableProfile
from lightsage.data.schema import Column, InputSchema
from lightsage.data.values import MISSING_MARKERS
from lightsage.recipes.base import Recipe, RecipeError, State

logger = logging.getLogger(__name__)

MOSTLY_UNIQUE_SHARE = 0.9
MOSTLY_UNIQUE_MIN_ROWS = 20
_ID_NAME = re.compile(r"(?:^|[_\s.-])(?:id|idx|index|uuid|guid)$", re.IGNORECASE)
_CAMEL_CASE_ID = re.compile(r"[a-z0-9](?:Id|ID)$")


def named_like_id(name: str) -> bool:
    return bool(_ID_NAME.search(name) or _CAMEL_CASE_ID.search(name))


def _unknown_columns(names: Sequence[str], table: Sequence[str], setting: str) -> None:
    unknown = [name for name in names if name not in table]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, table, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise RecipeError(
            f"hyperparameter '{setting}' names column(s) the table does not have: {', '.join(hints)}"
        )


def _why_dropped(column: ColumnProfile) -> str | None:
    """Why a column is no use as a feature, or None when it is."""
    if column.present == 0 or (column.numeric and column.numbers == 0):
        return "it is empty" + (" (every value is a missing-value marker)" if column.markers else "")
    if column.numeric:
        looks_like_id = (
            column.integer and column.all_distinct and (column.ascending or named_like_id(column.name))
        )
        return "it holds distinct integers, like a row id" if looks_like_id else None
    if column.sampled >= MOSTLY_UNIQUE_MIN_ROWS and column.distinct_share > MOSTLY_UNIQUE_SHARE:
        return "its text is mostly unique, like names or ids"
    return None


def _numbers_with_a_few_non_numbers(columns: Sequence[ColumnProfile]) -> str:
    """Why columns of numbers with a few other values are refused, and the three ways out."""
    described = "; ".join(
        f"column '{c.name}' holds numbers and {c.describe_non_numbers()}" for c in columns[:3]
    )
    names = ",".join(column.name for column in columns)
    return (
        f"{described}{'; ...' if len(columns) > 3 else ''}. Make such values numbers or leave them empty "
        f"(an empty cell, {', '.join(MISSING_MARKERS)} read as missing in a number column); or read the "
        f"column as text categories with categorical_columns={names}, or leave it out with "
        f"ignore_columns={names}"
    )


class Tabular(Recipe):
    name = "tabular"
    version = 1
    own_hyperparameters = (
        Hyperparameter(
            "categorical_columns", NAMES, (), "Columns to use as categories even when they hold numbers."
        ),
        Hyperparameter("ignore_columns", NAMES, (), "Columns the model does not read."),
        Hyperparameter(
            "max_categories",
            int,
            10_000,
            "Most categories kept per text column (the most frequent); the rest read as missing.",
            lambda value: 2 <= value <= 1_000_000,
            "between 2 and 1000000",
        ),
    )

    @classmethod
    def select_inputs(cls, profile: TableProfile, target: str, settings: Mapping[str, Any]) -> InputSchema:
        categorical, ignored = settings["categorical_columns"], settings["ignore_columns"]
        _unknown_columns(categorical, profile.names, "categorical_columns")
        _unknown_columns(ignored, profile.names, "ignore_columns")
        if target in ignored or target in categorical:
            raise RecipeError(f"the target '{target}' cannot be in categorical_columns or ignore_columns")
        unclear = [
            profile.columns[name]
            for name in profile.names
            if name not in (target, *ignored, *categorical) and profile.columns[name].few_non_numbers
        ]
        if unclear:
            raise RecipeError(_numbers_with_a_few_non_numbers(unclear))
        columns = []
        for name in profile.names:
            if name == target:
                continue
            column = profile.columns[name]
            kind = "number" if column.numeric else "string"
            reason = None if name in categorical else _why_dropped(column)
            if name in ignored:
                reason = "ignore_columns names it"
            if reason is not None:
                logger.info(f"recipe tabular: not using column '{name}': {reason}")
            columns.append(Column(name, kind, role="ignored" if reason else "feature"))
        if not any(column.role == "feature" for column in columns):
            raise RecipeError(
                f"no column is left to learn from (the table has: {', '.join(profile.names)}); "
                "check the target and ignore_columns"
            )
        return InputSchema(tuple(columns))

    # -- learning: category frequencies ----------------------------------------------------------------

    @property
    def _category_columns(self) -> list[str]:
        """Text columns, and numeric ones named in categorical_columns (their categories are numbers)."""
        named = self.settings["categorical_columns"]
        return [c.name for c in self.schema.features if c.kind == "string" or c.name in named]

    @property
    def learned_from(self) -> tuple[str, ...]:  # type: ignore[override]
        """The learning pass reads only the category columns."""
        return tuple(self._category_columns)

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        return {name: frame[name].value_counts(dropna=True) for name in self._category_columns}

    def combine(self, summaries: Sequence[State]) -> State:
        keep = 20 * self.settings["max_categories"]
        combined: State = {}
        for name in self._category_columns:
            counts = pd.concat([summary[name] for summary in summaries]).groupby(level=0).sum()
            combined[name] = counts.nlargest(keep) if len(counts) > keep else counts
        return combined

    def learn(self, summary: State) -> State:
        limit = self.settings["max_categories"]
        categories = {}
        for name in self._category_columns:
            counts = summary[name]
            values = counts.index.astype(float if self._is_number(name) else str)
            ordered = sorted(zip(values, counts.to_numpy(), strict=True), key=lambda p: (-p[1], p[0]))
            categories[name] = [value for value, _ in ordered[:limit]]
        return {"categories": categories}

    def check_state(self) -> None:
        """One category table per category column: distinct text, or distinct finite numbers, in order."""
        categories = self.state.get("categories")
        if not isinstance(categories, dict):
            raise ValueError("the state has no 'categories' object")
        expected = self._category_columns
        missing = [name for name in expected if name not in categories]
        if missing:
            raise ValueError(f"the state has no category table for column(s) {', '.join(missing)}")
        extra = [name for name in categories if name not in expected]
        if extra:
            raise ValueError(
                f"the state has category tables for {', '.join(extra)}, which the model does not read as "
                "categories (categorical_columns and the input columns' types decide which it does)"
            )
        limit = self.settings["max_categories"]
        for name in expected:
            values = categories[name]
            if not isinstance(values, list) or len(values) > limit:
                raise ValueError(f"the category table of column '{name}' is not a list of at most {limit}")
            number = self._is_number(name)
            for value in values:
                if number and (
                    isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                ):
                    raise ValueError(
                        f"the category table of number column '{name}' holds {value!r}, not a finite number"
                    )
                if not number and not isinstance(value, str):
                    raise ValueError(f"the category table of text column '{name}' holds {value!r}, not text")
            keys = [float(value) for value in values] if number else values
            if len(set(keys)) != len(keys):
                repeated = sorted(
                    {str(value) for value, key in zip(values, keys, strict=True) if keys.count(key) > 1}
                )
                raise ValueError(
                    f"the category table of column '{name}' lists {', '.join(repeated)} more than once"
                )

    def probe_values(self) -> dict[str, list[Any]]:
        """The most and the least frequent category of each category column."""
        return {name: [values[0], values[-1]] for name, values in self.state["categories"].items() if values}

    def _is_number(self, name: str) -> bool:
        return self.schema.features[self.schema.feature_names.index(name)].kind == "number"

    @cached_property
    def _indexes(self) -> dict[str, pd.Index]:
        return {
            name: pd.Index(values, dtype=float if self._is_number(name) else object)
            for name, values in self.state["categories"].items()
        }

    @cached_property
    def _texts(self) -> dict[str, pa.Array]:
        """Each text column's categories, in code order."""
        return {
            name: pa.array(values, pa.string())
            for name, values in self.state["categories"].items()
            if not self._is_number(name)
        }

    # -- features --------------------------------------------------------------------------------------

    def categorical_features(self) -> tuple[str, ...]:
        return tuple(self._category_columns)

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        columns = []
        for column in self.schema.features:
            values = frame[column.name]
            index = self._indexes.get(column.name)
            if index is None:
                columns.append(values.to_numpy(dtype=float))
            elif column.kind == "number":
                codes = index.get_indexer(values.to_numpy(dtype=float))
                columns.append(np.where(codes >= 0, codes, np.nan))
            else:  # Arrow's lookup: no Python string per cell
                codes = pc.index_in(
                    pa.array(values, pa.string(), from_pandas=True), value_set=self._texts[column.name]
                )
                columns.append(np.asarray(codes.to_numpy(zero_copy_only=False), dtype=float))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        features = []
        for column in self.schema.features:
            value = row[column.name]
            index = self._indexes.get(column.name)
            features.append(value if index is None else _position(index, value))
        return features


def _position(index: pd.Index, value: str | float | None) -> float:
    if value is None or value != value:
        return math.nan
    try:
        position = index.get_loc(value)
    except KeyError:
        return math.nan
    return float(position) if isinstance(position, int) else math.nan
