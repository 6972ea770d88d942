"""One pass over a channel that learns what its columns hold: which are all numbers, integers, ascending
(row ids), how many are missing and distinct, which cells a number column reads as missing (`NA`, `null`, ...)
and which are not numbers at all, with their rows; and, for the target, its classes and every row's label.
Recipes that infer their columns read the profile; task inference reads the target's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.data.channels import RawBatch
from lightsage.data.values import (
    NOT_FINITE,
    BadValue,
    NumberReading,
    number_from_text,
    numbers_from_arrow,
    read_numbers,
    shown,
    texts_from_arrow,
)
from lightsage.tasks import MAX_CLASSES, ClassValue, TargetError, TargetProfile, Task

# Distinct values are counted in the first this many present values of each column (a sample, so a pass
# over a large file never holds millions of strings).
DISTINCT_SAMPLE = 100_000
# A column of numbers with a few values that are not numbers: fewer of those than numbers, and either at
# most this share of its values or at most this many distinct spellings. Such a column is named, not taken
# for text.
FEW_NON_NUMBERS_SHARE = 0.05
FEW_NON_NUMBER_SPELLINGS = 10
# Cells named in messages: the first this many of each kind, with their file and row.
NAMED_CELLS = 3

# (where, row, value as shown): where is like "channel 'train', file 'a.csv'"; rows count data rows from 1.
Cell = tuple[str, int, str]


def describe_cells(cells: Sequence[Cell], total: int) -> str:
    """`'x' (channel 'train', file 'a.csv', row 5), 'y' (row 9) and 3 more`."""
    parts, previous = [], None
    for where, row, value in cells:
        place = f"row {row}" if where in ("", previous) else f"{where}, row {row}"
        parts.append(f"{value} ({place})")
        previous = where
    more = total - len(cells)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _is_number_type(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


@dataclass(frozen=True)
class ColumnRead:
    """One batch of a column as the profile reads it: its cells in one array, and the number rule over them.
    Reading is the costly part of profiling and depends on nothing seen before, so any thread may do it."""

    values: pa.Array
    reading: NumberReading

    @classmethod
    def of(cls, values: pa.Array | pa.ChunkedArray) -> ColumnRead:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return cls(values, read_numbers(values))


@dataclass
class ColumnProfile:
    name: str
    present: int = 0
    missing: int = 0
    integer: bool = True
    ascending: bool = True
    last_number: float = -math.inf
    sampled: int = 0
    distinct: set[str] = field(default_factory=set)
    # cells read as numbers; missing markers read as missing, by spelling; values that are not numbers
    numbers: int = 0
    markers: dict[str, int] = field(default_factory=dict)
    marker_cells: list[Cell] = field(default_factory=list)
    non_numbers: int = 0
    non_number_spellings: dict[str, int] = field(default_factory=dict)
    non_number_cells: list[Cell] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.present + self.missing

    @property
    def observed(self) -> bool:
        return self.rows > 0

    @property
    def numeric(self) -> bool:
        """Every present value is a number or a missing marker (an empty column counts as numeric)."""
        return self.non_numbers == 0

    @property
    def marked_missing(self) -> int:
        return sum(self.markers.values())

    @property
    def distinct_share(self) -> float:
        """Distinct values per present value in the sample (1.0: every value differs)."""
        return len(self.distinct) / self.sampled if self.sampled else 0.0

    @property
    def all_distinct(self) -> bool:
        return (
            self.missing == 0 and not self.markers and self.sampled > 0 and len(self.distinct) == self.sampled
        )

    @property
    def few_non_numbers(self) -> bool:
        """Numbers with a few values that are not: a typo, a unit, a word for "unknown", an infinity."""
        if self.non_numbers == 0 or self.numbers <= self.non_numbers:
            return False
        share = self.non_numbers / (self.numbers + self.non_numbers)
        return share <= FEW_NON_NUMBERS_SHARE or len(self.non_number_spellings) <= FEW_NON_NUMBER_SPELLINGS

    def describe_non_numbers(self) -> str:
        """`2 values that are not numbers: 'unknown' (channel 'train', file 'a.csv', row 5), ...`."""
        count = self.non_numbers
        infinite = set(self.non_number_spellings) <= {"inf", "-inf"}
        text = f"{_plural(count, 'value')} that {'is' if count == 1 else 'are'} not a "
        text += ("finite number" if infinite else "number") + ": "
        text += describe_cells(self.non_number_cells, count)
        if len(self.non_number_spellings) > 1:
            ranked = sorted(self.non_number_spellings.items(), key=lambda item: (-item[1], item[0]))
            shown_ranked = ", ".join(f"{spelling} {times}" for spelling, times in ranked[:5])
            text += f" (of each: {shown_ranked}{', ...' if len(ranked) > 5 else ''})"
        return text

    def describe_markers(self) -> str:
        """`read 3 missing-value markers as missing ('NA' 2, 'null' 1): 'NA' (..., row 4), ...`."""
        ranked = sorted(self.markers.items(), key=lambda item: (-item[1], item[0]))
        counts = ", ".join(f"{spelling} {times}" for spelling, times in ranked)
        total = self.marked_missing
        return f"read {_plural(total, 'missing-value marker')} as missing ({counts}): " + describe_cells(
            self.marker_cells, total
        )

    def observe(self, values: pa.Array | pa.ChunkedArray, where: str = "", first_row: int = 0) -> None:
        """Count one batch of the column; `where` and `first_row` (0-based) place the cells it names."""
        self.add(ColumnRead.of(values), where, first_row)

    def add(self, read: ColumnRead, where: str = "", first_row: int = 0) -> None:
        """Count one batch of the column, as read (`ColumnRead.of`); batches are added in the rows' order."""
        values, reading = read.values, read.reading
        known = reading.numbers[~np.isnan(reading.numbers)]
        self.numbers += len(known)
        self._observe_numbers(known)
        if self.sampled >= DISTINCT_SAMPLE and not reading.markers.any() and not reading.bad.any():
            # every cell is a number or missing, and the distinct values are sampled: no text to look at
            self.present += len(known)
            self.missing += len(values) - len(known)
            return
        # a number column's bad cells are infinities: present, but kept out of the text statistics
        infinities = int(reading.bad.sum()) if _is_number_type(values.type) else 0
        texts = texts_from_arrow(_without(values, reading.bad) if infinities else values)
        present = int(pc.count(texts, mode="only_valid").as_py())
        self.present += present + infinities
        self.missing += len(texts) - present - infinities
        if reading.markers.any():
            self.marker_cells += _tally(
                self.markers, texts, reading.markers, where, first_row, len(self.marker_cells)
            )
        if reading.bad.any():
            self.non_numbers += int(reading.bad.sum())
            named = values if _is_number_type(values.type) else texts  # infinities, or text
            if len(self.non_number_spellings) <= FEW_NON_NUMBER_SPELLINGS:
                bad = named if reading.bad.all() else named.filter(pa.array(reading.bad))
                _count_into(self.non_number_spellings, bad, FEW_NON_NUMBER_SPELLINGS + 1)
            self.non_number_cells += _cells(named, reading.bad, where, first_row, len(self.non_number_cells))
        if self.sampled < DISTINCT_SAMPLE and present:
            sample = texts.drop_null().slice(0, DISTINCT_SAMPLE - self.sampled)
            self.distinct.update(pc.unique(sample).to_pylist())
            self.sampled += len(sample)

    def _observe_numbers(self, known: np.ndarray) -> None:
        if not len(known):
            return
        if self.integer and not np.all(np.mod(known, 1.0) == 0.0):
            self.integer = False
        if self.ascending:
            steps_up = bool(np.all(np.diff(known) > 0)) if len(known) > 1 else True
            self.ascending = steps_up and bool(known[0] > self.last_number)
        self.last_number = float(known[-1])

    # -- scale-out: every host's profile of its own files, merged in host order ---------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "missing": self.missing,
            "integer": self.integer,
            "ascending": self.ascending,
            "last_number": self.last_number if math.isfinite(self.last_number) else None,
            "sampled": self.sampled,
            "distinct": sorted(self.distinct),
            "numbers": self.numbers,
            "markers": self.markers,
            "marker_cells": self.marker_cells,
            "non_numbers": self.non_numbers,
            "non_number_spellings": self.non_number_spellings,
            "non_number_cells": self.non_number_cells,
        }

    @classmethod
    def merged(cls, name: str, parts: Sequence[Mapping[str, Any]]) -> ColumnProfile:
        """One column's statistics over every host's rows (`to_json` of each), hosts taken in order."""
        merged = cls(name)
        for part in parts:
            merged.present += part["present"]
            merged.missing += part["missing"]
            merged.integer = merged.integer and part["integer"]
            merged.ascending = merged.ascending and part["ascending"]
            if part["last_number"] is not None:
                merged.last_number = part["last_number"]
            merged.sampled += part["sampled"]
            merged.distinct.update(part["distinct"])
            merged.numbers += part["numbers"]
            merged.non_numbers += part["non_numbers"]
            for mine, theirs in (
                (merged.markers, part["markers"]),
                (merged.non_number_spellings, part["non_number_spellings"]),
            ):
                for spelling, count in theirs.items():
                    mine[spelling] = mine.get(spelling, 0) + count
            merged.marker_cells += [tuple(cell) for cell in part["marker_cells"]]  # type: ignore[misc]
            merged.non_number_cells += [tuple(cell) for cell in part["non_number_cells"]]  # type: ignore[misc]
        merged.marker_cells = merged.marker_cells[:NAMED_CELLS]
        merged.non_number_cells = merged.non_number_cells[:NAMED_CELLS]
        return merged


def _without(values: pa.Array, bad: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(~bad), values, pa.scalar(None, values.type)) if bad.any() else values


def _count_into(counts: dict[str, int], values: pa.Array, limit: int | None = None) -> None:
    """Add each value's count; with a limit, only the `limit` most frequent values of this batch."""
    counted = pc.value_counts(values.drop_null())
    if limit is not None and len(counted) > limit:
        frequent = np.argsort(-counted.field("counts").to_numpy(), kind="stable")[:limit]
        counted = counted.take(pa.array(frequent))
    for value, count in zip(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
    ):
        key = shown(value)
        counts[key] = counts.get(key, 0) + count


def _cells(texts: pa.Array, mask: np.ndarray, where: str, first_row: int, have: int) -> list[Cell]:
    """The first cells of `mask` to name, up to NAMED_CELLS in all (`have` are named already)."""
    wanted = NAMED_CELLS - have
    if wanted <= 0:
        return []
    positions = np.flatnonzero(mask)[:wanted]
    return [(where, first_row + int(p) + 1, shown(texts[int(p)].as_py())) for p in positions]


def _tally(
    counts: dict[str, int], texts: pa.Array, mask: np.ndarray, where: str, first_row: int, have: int
) -> list[Cell]:
    _count_into(counts, texts.filter(pa.array(mask)))
    return _cells(texts, mask, where, first_row, have)


@dataclass
class TableProfile:
    names: list[str]
    columns: dict[str, ColumnProfile]
    rows: int = 0

    @classmethod
    def empty(cls, names: Iterable[str]) -> TableProfile:
        names = list(names)
        return cls(names, {name: ColumnProfile(name) for name in names})

    def observe(self, batch: RawBatch, only: Iterable[str]) -> None:
        self.add(batch, read_columns(batch, only))

    def add(self, batch: RawBatch, reads: Mapping[str, ColumnRead]) -> None:
        """One batch, its columns as read (`read_columns`); batches are added in the rows' order."""
        self.rows += batch.rows
        where = batch.file.where if batch.file is not None else ""
        for name, read in reads.items():
            self.columns[name].add(read, where, batch.first_row)


def read_columns(batch: RawBatch, names: Iterable[str]) -> dict[str, ColumnRead]:
    """The named columns of a batch, as the profile reads them (any thread may)."""
    return {name: ColumnRead.of(batch.table.column(name)) for name in names}


class TargetColumn:
    """The target's text, every row kept, and its distinct values with counts (MAX_CLASSES + 1 at most)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: list[pa.Array] = []
        self.counts: dict[str, int] = {}
        self.profile = ColumnProfile(name)

    def observe(self, values: pa.Array | pa.ChunkedArray, where: str = "", first_row: int = 0) -> None:
        """Count one batch; an infinity in a number column (Parquet) is refused, naming its file and row."""
        self.add(ColumnRead.of(values), where, first_row)

    def add(self, read: ColumnRead, where: str = "", first_row: int = 0) -> None:
        """Count one batch, as read (`ColumnRead.of`); batches are added in the rows' order."""
        values = read.values
        if _is_number_type(values.type) and read.reading.bad.any():
            bad = read.reading.first_bad(values)
            place = f"{where}, " if where else ""
            raise TargetError(
                f"{place}row {first_row + bad.index + 1}, target column '{self.name}': "
                f"{shown(bad.value)} is not {NOT_FINITE}"
            )
        texts = texts_from_arrow(values)
        texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
        # Parquet text may be large_string (pandas 3 writes its `str` columns so): keep every chunk one type.
        self.chunks.append(texts.cast(pa.string()))
        self.profile.add(read, where, first_row)
        if len(self.counts) <= MAX_CLASSES:
            counted = pc.value_counts(texts.drop_null())
            for value, count in zip(
                counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
            ):
                self.counts[value] = self.counts.get(value, 0) + count

    @property
    def numeric(self) -> bool:
        """Every present value is a number or a missing marker, and there is at least one number."""
        return self.profile.numeric and self.profile.numbers > 0

    def target_profile(self) -> TargetProfile:
        counts: dict[ClassValue, int] = {}
        numeric = self.numeric
        for value, count in self.counts.items():
            key: ClassValue = value
            if numeric:
                number = number_from_text(value)
                if math.isnan(number):  # a missing marker
                    continue
                key = _number_or_int(number)
            counts[key] = counts.get(key, 0) + count
        column = self.profile
        return TargetProfile(
            counts=counts,
            numeric=numeric,
            missing=column.missing + (column.marked_missing if numeric else 0),
            rows=column.rows,
            not_numbers=column.describe_non_numbers() if column.few_non_numbers else "",
        )

    def labels(self, task: Task, classes: list[ClassValue]) -> np.ndarray:
        """Every row's label as float64: class codes 0..k-1, or values for regression; NaN where missing.

        A value that is not one of `classes` raises TargetError naming it.
        """
        texts = pa.chunked_array(self.chunks, pa.string())
        numeric = self.numeric
        if task is Task.REGRESSION or (numeric and all(isinstance(c, int | float) for c in classes)):
            try:
                numbers = numbers_from_arrow(texts)
            except BadValue as bad:
                raise TargetError(f"target column '{self.name}': {bad}") from None
            if task is Task.REGRESSION:
                return numbers
            known = np.array(classes, dtype=float)
            codes = np.searchsorted(known, numbers).clip(0, len(known) - 1)
            unknown = ~np.isnan(numbers) & (known[codes] != numbers)
            if unknown.any():
                raise self._unknown(numbers[np.flatnonzero(unknown)[0]], classes)
            return np.where(np.isnan(numbers), np.nan, codes.astype(float))
        positions = pc.index_in(texts, value_set=pa.array([str(value) for value in classes], pa.string()))
        unknown = pc.and_kleene(pc.is_null(positions), pc.is_valid(texts)).fill_null(False)
        unknown_mask = np.asarray(unknown.to_numpy(zero_copy_only=False), dtype=bool)
        if unknown_mask.any():
            raise self._unknown(texts[int(np.flatnonzero(unknown_mask)[0])].as_py(), classes)
        return np.asarray(positions.to_numpy(zero_copy_only=False), dtype=float)

    def _unknown(self, value: ClassValue, classes: list[ClassValue]) -> TargetError:
        value = _number_or_int(value) if isinstance(value, float) else value
        shown_classes = ", ".join(repr(known) for known in classes[:10])
        return TargetError(
            f"target column '{self.name}' holds {value!r}, which is not a class learnt from train "
            f"({shown_classes})"
        )


def marker_lines(channel: str, columns: Iterable[ColumnProfile]) -> list[str]:
    """One log line per number column that read missing-value markers as missing."""
    return [
        f"channel '{channel}', column '{column.name}': {column.describe_markers()}"
        for column in columns
        if column.markers and column.numeric and column.numbers
    ]


def _number_or_int(value: float) -> ClassValue:
    return int(value) if value.is_integer() else value


def counts_of(labels: np.ndarray, classes: int) -> Mapping[int, int]:
    known = labels[~np.isnan(labels)].astype(int)
    return dict(enumerate(np.bincount(known, minlength=classes).tolist()))
