"""Input columns: each one's name, kind (number or text), closed vocabulary and role, and the conversion of
raw values into typed columns under `lightsage.data.values`' rules. Training files and requests go through the
same functions, so a value means the same thing in both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lightsage.data.values import (
    ASCII_WHITESPACE,
    BadValue,
    canonical_choice,
    canonical_choices,
    choice_lookup,
    number_from_value,
    numbers_from_arrow,
    text_from_value,
    texts_from_arrow,
)
from lightsage.errors import UserError

Kind = Literal["number", "string"]
Role = Literal["feature", "ignored"]
KINDS: tuple[Kind, ...] = ("number", "string")
ROLES: tuple[Role, ...] = ("feature", "ignored")


class ColumnValueError(UserError, ValueError):
    """A value in a named column breaks the column's rule; `row` counts from 0 within the converted rows."""

    def __init__(self, column: str, bad: BadValue) -> None:
        super().__init__(f"column '{column}': {bad}")
        self.column = column
        self.row = bad.index
        self.value = bad.value
        self.expected = bad.expected
        self.count = bad.count


@dataclass(frozen=True)
class Column:
    """One input column. `choices` closes its vocabulary: text is matched ignoring case; numbers exactly."""

    name: str
    kind: Kind
    choices: tuple[Any, ...] = ()
    role: Role = "feature"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "type": self.kind, "role": self.role}
        if self.choices:
            entry["choices"] = list(self.choices)
        return entry

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Column:
        """A column as a manifest describes it; ValueError naming what a saved model can never hold."""
        if not isinstance(entry, Mapping):
            raise ValueError(f"not a column description: {entry!r}")
        kind, role, name = entry.get("type"), entry.get("role", "feature"), entry.get("name")
        if kind not in KINDS or role not in ROLES or not isinstance(name, str) or not name:
            raise ValueError(f"not a column description: {dict(entry)!r}")
        choices = entry.get("choices", [])
        if not isinstance(choices, list):
            raise ValueError(f"column '{name}': its closed vocabulary must be a list, found {choices!r}")
        column = cls(name=name, kind=kind, choices=tuple(choices), role=role)
        column.check_choices()
        return column

    def check_choices(self) -> None:
        """ValueError unless the closed vocabulary is distinct text (matched ignoring case) for a text column,
        or distinct finite numbers for a number column."""
        for choice in self.choices:
            if self.kind == "string":
                if not isinstance(choice, str) or not choice or choice.strip(ASCII_WHITESPACE) != choice:
                    raise ValueError(
                        f"column '{self.name}': a text column's closed vocabulary holds {choice!r}, "
                        "which is not trimmed, non-empty text"
                    )
            elif isinstance(choice, bool) or not isinstance(choice, int | float) or not math.isfinite(choice):
                raise ValueError(
                    f"column '{self.name}': a number column's closed vocabulary holds {choice!r}, "
                    "which is not a finite number"
                )
        keys = [choice.lower() if self.kind == "string" else float(choice) for choice in self.choices]
        repeated = sorted(
            {str(choice) for choice, key in zip(self.choices, keys, strict=True) if keys.count(key) > 1}
        )
        if repeated:
            raise ValueError(
                f"column '{self.name}': its closed vocabulary lists {', '.join(repeated)} more than once"
            )

    @cached_property
    def _lookup(self) -> dict[str, str]:
        return choice_lookup(self.choices) if self.kind == "string" else {}

    @cached_property
    def _number_choices(self) -> frozenset[float]:
        return frozenset(float(choice) for choice in self.choices) if self.kind == "number" else frozenset()

    def typed_array(self, values: pa.Array | pa.ChunkedArray | list[Any]) -> pa.Array:
        """Raw values (Arrow text from CSV, Arrow types from Parquet, or a list of JSON values) as float64 or
        trimmed text; ColumnValueError otherwise.

        The error names the first bad value as the scalar rule finds it, so both engines report alike.
        """
        original = values if isinstance(values, list) else None
        if original is not None:
            arrow = _flat_arrow_array(original)
            if arrow is None:
                return self._typed_one_by_one(original)
            values = arrow
        try:
            return self._vectorised(values)
        except BadValue as bad:
            self._typed_one_by_one(original if original is not None else values.to_pylist(), bad.count)
            raise ColumnValueError(self.name, bad) from None

    def _typed_one_by_one(self, values: list[Any], count: int = 1) -> pa.Array:
        typed = []
        for index, value in enumerate(values):
            try:
                typed.append(self.typed_value(value))
            except ColumnValueError as error:
                error.row, error.count = index, max(count, 1)
                raise
        return pa.array(typed, pa.float64() if self.kind == "number" else pa.string())

    def _vectorised(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if self.kind == "number":
            numbers = numbers_from_arrow(values)
            if self.choices:
                bad = ~np.isnan(numbers) & ~np.isin(numbers, np.array(sorted(self._number_choices)))
                if bad.any():
                    first = int(np.flatnonzero(bad)[0])
                    raise BadValue(first, values[first].as_py(), self.expectation, int(bad.sum()))
            return pa.array(numbers, pa.float64())
        texts = texts_from_arrow(values)
        if self.choices:
            texts = canonical_choices(texts, self.choices)
        return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts

    def typed_value(self, value: Any) -> float | str | None:
        """The scalar twin of typed_array, for single rows: a float (NaN when missing) or text (None)."""
        try:
            if self.kind == "number":
                number = number_from_value(value)
                if self.choices and not math.isnan(number) and number not in self._number_choices:
                    raise BadValue(0, value, self.expectation)
                return number
            text = text_from_value(value)
            return canonical_choice(text, self.choices, self._lookup) if self.choices else text
        except BadValue as bad:
            raise ColumnValueError(self.name, bad) from None

    @property
    def expectation(self) -> str:
        if self.choices:
            return "one of " + ", ".join(_choice_text(choice) for choice in self.choices)
        return "a number" if self.kind == "number" else "text"


_FLAT = (pa.types.is_null, pa.types.is_boolean, pa.types.is_integer, pa.types.is_floating, pa.types.is_string)


def _flat_arrow_array(values: list[Any]) -> pa.Array | None:
    """Arrow's own conversion of a list of JSON values, or None when they are of mixed or nested types."""
    try:
        array = pa.array(values, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    return array if any(check(array.type) for check in _FLAT) else None


def _choice_text(choice: Any) -> str:
    return str(int(choice)) if isinstance(choice, float) and choice.is_integer() else str(choice)


def number(name: str, choices: Iterable[float] = ()) -> Column:
    return Column(name, "number", tuple(choices))


def text(name: str, choices: Iterable[str] = ()) -> Column:
    return Column(name, "string", tuple(choices))


@dataclass(frozen=True)
class InputSchema:
    """The columns a model reads, in the training file's order (target excluded), with their roles."""

    columns: tuple[Column, ...]
    features: tuple[Column, ...] = field(init=False)
    positions: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(c for c in self.columns if c.role == "feature"))
        object.__setattr__(self, "positions", {c.name: i for i, c in enumerate(self.columns)})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.features)

    def typed_table(self, table: pa.Table | Mapping[str, Any], row_offset: int = 0) -> pa.Table:
        """The feature columns of `table`, typed; ColumnValueError rows count from `row_offset`.

        With several bad values, the error names the first row's, and in it the first column's, as
        `typed_record` does row by row.
        """
        arrays, errors = [], []
        for column in self.features:
            try:
                arrays.append(column.typed_array(table[column.name]))
            except ColumnValueError as error:
                errors.append(error)
        if errors:
            first = min(errors, key=lambda error: error.row)
            first.row += row_offset
            raise first
        return pa.Table.from_arrays(arrays, names=list(self.feature_names))

    def typed_record(self, record: Mapping[str, Any]) -> dict[str, float | str | None]:
        return {column.name: column.typed_value(record[column.name]) for column in self.features}

    def to_json(self) -> list[dict[str, Any]]:
        return [column.to_json() for column in self.columns]

    @classmethod
    def from_json(cls, entries: Sequence[Mapping[str, Any]]) -> InputSchema:
        if not isinstance(entries, list):
            raise ValueError(f"the input columns must be a list, found {type(entries).__name__}")
        columns = tuple(Column.from_json(entry) for entry in entries)
        names = [column.name for column in columns]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"column(s) listed twice: {', '.join(duplicated)}")
        if not any(column.role == "feature" for column in columns):
            raise ValueError("no feature column")
        return cls(columns)
