"""One pass over a channel that learns what its columns hold: which are all numbers, integers, ascending
(row ids), how many are missing and distinct; and, for the target, its classes and every row's label.
Recipes that infer their columns read the profile; task inference reads the target's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from byoc.channels import RawBatch
from byoc.tasks import MAX_CLASSES, ClassValue, TargetError, TargetProfile, Task
from byoc.values import BadValue, numbers_from_arrow, texts_from_arrow

# Distinct values are counted in the first this many present values of each column (a sample, so a pass
# over a large file never holds millions of strings).
DISTINCT_SAMPLE = 100_000


@dataclass
class ColumnProfile:
    name: str
    present: int = 0
    missing: int = 0
    numeric: bool = True
    integer: bool = True
    ascending: bool = True
    last_number: float = -math.inf
    sampled: int = 0
    distinct: set[str] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return self.present + self.missing

    @property
    def observed(self) -> bool:
        return self.rows > 0

    @property
    def distinct_share(self) -> float:
        """Distinct values per present value in the sample (1.0: every value differs)."""
        return len(self.distinct) / self.sampled if self.sampled else 0.0

    @property
    def all_distinct(self) -> bool:
        return self.missing == 0 and self.sampled > 0 and len(self.distinct) == self.sampled

    def observe(self, values: pa.Array | pa.ChunkedArray) -> None:
        texts = texts_from_arrow(values)
        present = int(pc.count(texts, mode="only_valid").as_py())
        self.present += present
        self.missing += len(texts) - present
        if self.numeric and present:
            self._observe_numbers(values)
        if self.sampled < DISTINCT_SAMPLE and present:
            sample = texts.drop_null().slice(0, DISTINCT_SAMPLE - self.sampled)
            self.distinct.update(pc.unique(sample).to_pylist())
            self.sampled += len(sample)

    def _observe_numbers(self, values: pa.Array | pa.ChunkedArray) -> None:
        try:
            numbers = numbers_from_arrow(values)
        except BadValue:
            self.numeric = self.integer = self.ascending = False
            return
        known = numbers[~np.isnan(numbers)]
        if self.integer and not np.all(np.mod(known, 1.0) == 0.0):
            self.integer = False
        if self.ascending:
            steps_up = bool(np.all(np.diff(known) > 0)) if len(known) > 1 else True
            self.ascending = steps_up and (len(known) == 0 or known[0] > self.last_number)
        if len(known):
            self.last_number = float(known[-1])


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
        self.rows += batch.rows
        for name in only:
            self.columns[name].observe(batch.table.column(name))


class TargetColumn:
    """The target's text, every row kept, and its distinct values with counts (MAX_CLASSES + 1 at most)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: list[pa.Array] = []
        self.counts: dict[str, int] = {}
        self.profile = ColumnProfile(name)

    def observe(self, values: pa.Array | pa.ChunkedArray) -> None:
        texts = texts_from_arrow(values)
        texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
        # Parquet text may be large_string (pandas 3 writes its `str` columns so): keep every chunk one type.
        self.chunks.append(texts.cast(pa.string()))
        self.profile.observe(values)
        if len(self.counts) <= MAX_CLASSES:
            counted = pc.value_counts(texts.drop_null())
            for value, count in zip(
                counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
            ):
                self.counts[value] = self.counts.get(value, 0) + count

    def target_profile(self) -> TargetProfile:
        counts: dict[ClassValue, int] = {}
        numeric = self.profile.numeric and self.profile.present > 0
        for value, count in self.counts.items():
            key: ClassValue = _number_or_int(float(value)) if numeric else value
            counts[key] = counts.get(key, 0) + count
        return TargetProfile(
            counts=counts, numeric=numeric, missing=self.profile.missing, rows=self.profile.rows
        )

    def labels(self, task: Task, classes: list[ClassValue]) -> np.ndarray:
        """Every row's label as float64: class codes 0..k-1, or values for regression; NaN where missing.

        A value that is not one of `classes` raises TargetError naming it.
        """
        texts = pa.chunked_array(self.chunks, pa.string())
        numeric = self.profile.numeric and self.profile.present > 0
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
        shown = ", ".join(repr(known) for known in classes[:10])
        return TargetError(
            f"target column '{self.name}' holds {value!r}, which is not a class learnt from train ({shown})"
        )


def _number_or_int(value: float) -> ClassValue:
    return int(value) if value.is_integer() else value


def counts_of(labels: np.ndarray, classes: int) -> Mapping[int, int]:
    known = labels[~np.isnan(labels)].astype(int)
    return dict(enumerate(np.bincount(known, minlength=classes).tolist()))
