"""The data baseline: each input column's statistics and suggested constraints, in the shapes SageMaker Model
Monitor documents for statistics.json and constraints.json.

`StatisticsBuilder` takes typed batches (numbers as float64 with NaN where missing, text as strings with
nulls), as `train` and `serve` type them, in two steps: `part_of` sums up one batch (sorting and counting,
which release the GIL, so any thread may run it) and `add` folds the parts in, in order. It keeps per column:
counts of present and missing values, for numbers the mean, spread, range and a KLL quantile sketch (Apache
DataSketches, k = 2048: exact below 2,048 values, within about 0.2 % of rank beyond), for text the exact count
of each value up to TRACKED_VALUES distinct values, past that a HyperLogLog estimate of how many there are.
Builders merge (batches, hosts), so one pass over any size of table gives the files. `read_statistics` and
`read_constraints` read such files back, ours or any tool's in the documented shapes, checking each entry
they use.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import hll_sketch, hll_union, kll_doubles_sketch

from lightsage.contract.monitoring import DISABLED, ENABLED, FORMAT_VERSION, InferredType
from lightsage.data.schema import Column
from lightsage.errors import UserError

SKETCH_K = 2048
# DataSketches' KLL shrinks each level's capacity by 2/3 from the one above it.
SKETCH_C = 2.0 / 3.0
HISTOGRAM_BUCKETS = 10
# Distinct values of a text column counted exactly; past this many, only an estimate of how many there are.
TRACKED_VALUES = 10_000
# The most frequent values of a text column written as its categorical distribution.
WRITTEN_VALUES = 1_000
HLL_LG_K = 12
# A text column gets a domain (its closed list of values) when it has at most this many distinct values and
# none of them is rare: each seen at least DOMAIN_MIN_COUNT times, so a new value in traffic is a change.
DOMAIN_LIMIT = 100
DOMAIN_MIN_COUNT = 2


class BaselineError(UserError, ValueError):
    """A statistics.json or constraints.json that is not in the documented shape; names the file and entry."""


# -- accumulating -------------------------------------------------------------------------------------------


def _encoded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class NumberPart:
    """One batch of a number column, summed up: its present values sorted, their moments, and its counts."""

    ordered: np.ndarray
    missing: int
    not_numbers: int
    fractional: int = 0
    mean: float = 0.0
    squares: float = 0.0
    total: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray, not_numbers: int = 0) -> NumberPart:
        ordered = np.sort(values)
        present = ordered[: int(np.searchsorted(ordered, np.nan))]  # numpy sorts NaN last
        missing = len(values) - len(present) - not_numbers
        if len(present) == 0:
            return cls(present, missing, not_numbers)
        total = float(present.sum())
        mean = total / len(present)
        deviations = present - mean
        return cls(
            present,
            missing,
            not_numbers,
            int(np.count_nonzero(present != np.floor(present))),
            mean,
            float(np.square(deviations, out=deviations).sum()),  # not np.dot: BLAS would start its threads
            total,
        )


@dataclass(frozen=True)
class TextPart:
    """One batch of a text column, summed up: its distinct values with their counts."""

    values: pa.Array
    counts: pa.Array
    present: int
    missing: int

    @classmethod
    def of(cls, values: pa.Array | pa.ChunkedArray) -> TextPart:
        present = values.drop_null()
        counted = pc.value_counts(present)
        return cls(counted.field("values"), counted.field("counts"), len(present), len(values) - len(present))


@dataclass
class NumberSummary:
    """A number column so far; `not_numbers` and `fractional` count present cells that are not numbers, and
    numbers that are not whole (a drift check reads them; the baseline's own rows have none of the first)."""

    name: str
    present: int = 0
    missing: int = 0
    not_numbers: int = 0
    fractional: int = 0
    mean: float = 0.0
    squares: float = 0.0  # sum of squared deviations from the mean
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    sketch: kll_doubles_sketch = field(default_factory=lambda: kll_doubles_sketch(SKETCH_K))

    def observe(self, values: np.ndarray, not_numbers: int = 0) -> None:
        self.add(NumberPart.of(values, not_numbers))

    def add(self, part: NumberPart) -> None:
        self.missing += part.missing
        self.not_numbers += part.not_numbers
        if len(part.ordered) == 0:
            return
        self.fractional += part.fractional
        self._add(len(part.ordered), part.mean, part.squares)
        self.total += part.total
        self.low = min(self.low, float(part.ordered[0]))
        self.high = max(self.high, float(part.ordered[-1]))
        # Sorted values: the sketch's compactions sort what they hold, and sorting is cheapest done here, in
        # numpy, beforehand (about 3x fewer sketch cycles; its error bound holds for any order of values).
        self.sketch.update(part.ordered)

    def _add(self, count: int, mean: float, squares: float) -> None:
        """Chan's parallel update of the count, mean and squared deviations."""
        if count == 0:
            return
        combined = self.present + count
        delta = mean - self.mean
        self.mean += delta * count / combined
        self.squares += squares + delta * delta * self.present * count / combined
        self.present = combined

    def merge(self, other: NumberSummary) -> None:
        self.missing += other.missing
        self.not_numbers += other.not_numbers
        self.fractional += other.fractional
        self._add(other.present, other.mean, other.squares)
        self.total += other.total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.sketch.merge(other.sketch)

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "number",
            "present": self.present,
            "missing": self.missing,
            "not_numbers": self.not_numbers,
            "fractional": self.fractional,
            "mean": self.mean,
            "squares": self.squares,
            "total": self.total,
            "low": self.low if self.present else None,
            "high": self.high if self.present else None,
            "sketch": _encoded(self.sketch.serialize()),
        }

    @classmethod
    def from_wire(cls, name: str, wire: Mapping[str, Any]) -> NumberSummary:
        return cls(
            name,
            wire["present"],
            wire["missing"],
            wire["not_numbers"],
            wire["fractional"],
            wire["mean"],
            wire["squares"],
            wire["total"],
            math.inf if wire["low"] is None else wire["low"],
            -math.inf if wire["high"] is None else wire["high"],
            kll_doubles_sketch.deserialize(base64.b64decode(wire["sketch"])),
        )

    def weighted_items(self) -> tuple[np.ndarray, np.ndarray]:
        """The sketch's retained values, sorted, each with the number of values it stands for."""
        if self.sketch.is_empty():
            return np.empty(0), np.empty(0)
        pairs = np.array(list(self.sketch), dtype=np.float64)
        order = np.argsort(pairs[:, 0], kind="stable")
        return pairs[order, 0], pairs[order, 1]

    def levels(self) -> list[list[float]]:
        """The sketch as Model Monitor writes one: its levels, lowest first (level h's items weigh 2^h)."""
        grouped: dict[int, list[float]] = {}
        for item, weight in self.sketch:
            grouped.setdefault(round(math.log2(weight)), []).append(float(item))
        top = max(grouped, default=-1)
        return [sorted(grouped.get(level, [])) for level in range(top + 1)]

    @property
    def inferred_type(self) -> InferredType:
        if self.present == 0:
            return InferredType.UNKNOWN
        return InferredType.FRACTIONAL if self.fractional else InferredType.INTEGRAL

    def statistics(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"common": {"num_present": self.present, "num_missing": self.missing}}
        if self.present == 0:
            return entry
        items, weights = self.weighted_items()
        edges = np.linspace(self.low, self.high, HISTOGRAM_BUCKETS + 1)
        counts, _ = np.histogram(items, bins=edges, weights=weights)
        entry.update(
            mean=self.mean,
            sum=self.total,
            std_dev=math.sqrt(self.squares / self.present),
            min=self.low,
            max=self.high,
            distribution={
                "kll": {
                    "buckets": [
                        {"lower_bound": float(low), "upper_bound": float(high), "count": float(count)}
                        for low, high, count in zip(edges[:-1], edges[1:], counts, strict=True)
                    ],
                    "sketch": {"parameters": {"c": SKETCH_C, "k": float(SKETCH_K)}, "data": self.levels()},
                }
            },
        )
        return entry


@dataclass
class TextSummary:
    """A text column so far: exact value counts while there are at most TRACKED_VALUES distinct values, else
    (`counts` None) a HyperLogLog sketch of the distinct values."""

    name: str
    present: int = 0
    missing: int = 0
    counts: dict[str, int] | None = field(default_factory=dict)
    distinct: hll_sketch | None = None

    def observe(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.add(TextPart.of(values))

    def add(self, part: TextPart) -> None:
        self.missing += part.missing
        self.present += part.present
        if self.counts is None:
            self._estimate(part.values.to_pylist())
            return
        for value, count in zip(part.values.to_pylist(), part.counts.to_pylist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count
        self._check_size()

    def _check_size(self) -> None:
        if self.counts is not None and len(self.counts) > TRACKED_VALUES:
            values, self.counts = list(self.counts), None
            self._estimate(values)

    def _estimate(self, values: Sequence[str]) -> None:
        if self.distinct is None:
            self.distinct = hll_sketch(HLL_LG_K)
        for value in values:
            self.distinct.update(value)

    def merge(self, other: TextSummary) -> None:
        self.present += other.present
        self.missing += other.missing
        if self.counts is not None and other.counts is not None:
            for value, count in other.counts.items():
                self.counts[value] = self.counts.get(value, 0) + count
            self._check_size()
            return
        if self.counts is not None:
            self._estimate(list(self.counts))
            self.counts = None
        assert self.distinct is not None
        if other.counts is not None:
            self._estimate(list(other.counts))
        else:
            assert other.distinct is not None
            union = hll_union(HLL_LG_K)
            union.update(self.distinct)
            union.update(other.distinct)
            self.distinct = union.get_result()

    @property
    def distinct_count(self) -> float:
        if self.counts is not None:
            return float(len(self.counts))
        assert self.distinct is not None
        return float(round(self.distinct.get_estimate()))

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "string",
            "present": self.present,
            "missing": self.missing,
            "counts": self.counts,
            "distinct": _encoded(self.distinct.serialize_compact()) if self.distinct is not None else None,
        }

    @classmethod
    def from_wire(cls, name: str, wire: Mapping[str, Any]) -> TextSummary:
        distinct = wire["distinct"]
        return cls(
            name,
            wire["present"],
            wire["missing"],
            dict(wire["counts"]) if wire["counts"] is not None else None,
            hll_sketch.deserialize(base64.b64decode(distinct)) if distinct is not None else None,
        )

    @property
    def inferred_type(self) -> InferredType:
        return InferredType.STRING if self.present else InferredType.UNKNOWN

    def frequent(self, limit: int = WRITTEN_VALUES) -> list[tuple[str, int]]:
        """The most frequent values with their counts, most frequent first (ties by value)."""
        if self.counts is None:
            return []
        return sorted(self.counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]

    def statistics(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "common": {"num_present": self.present, "num_missing": self.missing},
            "distinct_count": self.distinct_count,
        }
        if self.counts is not None and self.present:
            entry["distribution"] = {
                "categorical": {
                    "buckets": [{"value": value, "count": count} for value, count in self.frequent()]
                }
            }
        return entry

    def domain(self, choices: Sequence[Any]) -> list[str] | None:
        """The column's closed list of values: its declared choices, else the values seen when they are few
        and none is rare; None for an open column."""
        if choices:
            return [str(choice) for choice in choices]
        if self.counts is None or not self.counts or len(self.counts) > DOMAIN_LIMIT:
            return None
        if min(self.counts.values()) < DOMAIN_MIN_COUNT:
            return None
        return sorted(self.counts)


Summary = NumberSummary | TextSummary


@dataclass(frozen=True)
class BatchPart:
    """One typed batch summed up, column by column (`StatisticsBuilder.part_of`)."""

    rows: int
    columns: Mapping[str, NumberPart | TextPart]


class StatisticsBuilder:
    """Statistics of the named input columns, batch by batch; `statistics()` and `constraints()` write the
    Model Monitor documents."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        self.summaries: dict[str, Summary] = {
            column.name: NumberSummary(column.name) if column.kind == "number" else TextSummary(column.name)
            for column in self.columns
        }

    def observe(self, table: pa.Table, not_numbers: Mapping[str, int] | None = None) -> None:
        """One typed batch: a float64 column per number column and a string column per text column."""
        self.add(self.part_of(table, not_numbers))

    def part_of(self, table: pa.Table, not_numbers: Mapping[str, int] | None = None) -> BatchPart:
        """One typed batch summed up, for `add`; it reads nothing `add` changes, so any thread may call it."""
        columns: dict[str, NumberPart | TextPart] = {}
        for name, summary in self.summaries.items():
            values = table.column(name)
            if isinstance(summary, NumberSummary):
                numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
                columns[name] = NumberPart.of(numbers, (not_numbers or {}).get(name, 0))
            else:
                columns[name] = TextPart.of(values)
        return BatchPart(table.num_rows, columns)

    def add(self, part: BatchPart) -> None:
        """One batch's part; parts added in the rows' order give the same builder as observing the batches."""
        self.rows += part.rows
        for name, summary in self.summaries.items():
            summary.add(part.columns[name])  # type: ignore[arg-type]

    def merge(self, other: StatisticsBuilder) -> None:
        self.rows += other.rows
        for name, summary in self.summaries.items():
            summary.merge(other.summaries[name])  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        document = {"rows": self.rows, "columns": {n: s.to_wire() for n, s in self.summaries.items()}}
        return json.dumps(document).encode()

    def merged_with(self, parts: Sequence[bytes]) -> StatisticsBuilder:
        """A new builder holding every part (`to_bytes` of builders of the same columns), in order."""
        merged = StatisticsBuilder(self.columns)
        for part in parts:
            document = json.loads(part)
            other = StatisticsBuilder(self.columns)
            other.rows = document["rows"]
            for name, wire in document["columns"].items():
                kind = NumberSummary if wire["kind"] == "number" else TextSummary
                other.summaries[name] = kind.from_wire(name, wire)
            merged.merge(other)
        return merged

    def statistics(self) -> dict[str, Any]:
        features = []
        for column in self.columns:
            summary = self.summaries[column.name]
            entry: dict[str, Any] = {"name": column.name, "inferred_type": summary.inferred_type.value}
            key = "numerical_statistics" if isinstance(summary, NumberSummary) else "string_statistics"
            entry[key] = summary.statistics()
            features.append(entry)
        return {"version": FORMAT_VERSION, "dataset": {"item_count": self.rows}, "features": features}

    def constraints(self, config: MonitoringConfig | None = None) -> dict[str, Any]:
        features = []
        for column in self.columns:
            summary = self.summaries[column.name]
            entry: dict[str, Any] = {
                "name": column.name,
                "inferred_type": summary.inferred_type.value,
                "completeness": summary.present / self.rows if self.rows else 0.0,
            }
            if isinstance(summary, NumberSummary):
                if summary.present:
                    entry["num_constraints"] = {"is_non_negative": summary.low >= 0}
            else:
                domain = summary.domain(column.choices)
                if domain is not None:
                    entry["string_constraints"] = {"domains": domain}
            features.append(entry)
        return {
            "version": FORMAT_VERSION,
            "features": features,
            "monitoring_config": (config or MonitoringConfig()).to_json(),
        }


# -- the checks' settings -----------------------------------------------------------------------------------


COMPARISON_METHODS = ("Robust", "Simple")
CATEGORICAL_METHODS = ("LInfinity",)


@dataclass(frozen=True)
class MonitoringConfig:
    """constraints.json's `monitoring_config`, with the defaults this image suggests.

    datatype_check_threshold, domain_content_threshold: the share of a column's present values that must
    have the baseline's type, or lie in its domain. comparison_threshold (numbers) and
    categorical_comparison_threshold (text): the largest distance (Kolmogorov-Smirnov, L-infinity) between the
    baseline's distribution and the traffic's that is no drift. comparison_method Robust also requires the
    distance to be significant for the sample sizes; Simple compares the distance alone.
    """

    evaluate_constraints: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    perform_comparison: bool = True
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = "LInfinity"

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluate_constraints": _switch(self.evaluate_constraints),
            "emit_metrics": _switch(self.emit_metrics),
            "datatype_check_threshold": self.datatype_check_threshold,
            "domain_content_threshold": self.domain_content_threshold,
            "distribution_constraints": {
                "perform_comparison": _switch(self.perform_comparison),
                "comparison_threshold": self.comparison_threshold,
                "comparison_method": self.comparison_method,
                "categorical_comparison_threshold": self.categorical_comparison_threshold,
                "categorical_drift_method": self.categorical_drift_method,
            },
        }

    def overridden(self, raw: Any, where: str) -> MonitoringConfig:
        """This configuration with the entries of a `monitoring_config` object (or a feature's overrides)."""
        if not isinstance(raw, Mapping):
            raise BaselineError(f"{where} must be a JSON object, found {raw!r}")
        changes: dict[str, Any] = {}
        for key in ("evaluate_constraints", "emit_metrics"):
            if key in raw:
                changes[key] = _enabled(raw[key], f"{where}.{key}")
        for key in ("datatype_check_threshold", "domain_content_threshold"):
            if key in raw:
                changes[key] = _share(raw[key], f"{where}.{key}")
        distribution = raw.get("distribution_constraints", {})
        if not isinstance(distribution, Mapping):
            raise BaselineError(f"{where}.distribution_constraints must be a JSON object")
        inner = f"{where}.distribution_constraints"
        if "perform_comparison" in distribution:
            changes["perform_comparison"] = _enabled(distribution["perform_comparison"], inner)
        if "comparison_threshold" in distribution:
            changes["comparison_threshold"] = _share(distribution["comparison_threshold"], inner)
            changes.setdefault("categorical_comparison_threshold", changes["comparison_threshold"])
        if "categorical_comparison_threshold" in distribution:
            changes["categorical_comparison_threshold"] = _share(
                distribution["categorical_comparison_threshold"], inner
            )
        for key, allowed in (
            ("comparison_method", COMPARISON_METHODS),
            ("categorical_drift_method", CATEGORICAL_METHODS),
        ):
            if key in distribution:
                value = distribution[key]
                spelled = {"linf_robust": "Robust", "linf_simple": "Simple"}.get(value, value)
                if spelled not in allowed:
                    raise BaselineError(
                        f"{inner}.{key} is {value!r}: this image checks {' or '.join(allowed)}"
                    )
                changes[key] = spelled
        return replace(self, **changes)


def _switch(flag: bool) -> str:
    return ENABLED if flag else DISABLED


def _enabled(value: Any, where: str) -> bool:
    if value not in (ENABLED, DISABLED):
        raise BaselineError(f"{where} is {value!r}, not {ENABLED!r} or {DISABLED!r}")
    return value == ENABLED


def _share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise BaselineError(f"{where} is {value!r}, not a number between 0 and 1")
    return float(value)


# -- reading the files back ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberStatistics:
    """A number column of a statistics.json: counts, and its distribution as weighted sorted values."""

    name: str
    inferred_type: InferredType
    present: int
    missing: int
    items: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class TextStatistics:
    """A text column of a statistics.json: counts, and its most frequent values (empty when not written)."""

    name: str
    inferred_type: InferredType
    present: int
    missing: int
    distinct_count: float
    counts: Mapping[str, int]


FeatureStatistics = NumberStatistics | TextStatistics


@dataclass(frozen=True)
class Statistics:
    item_count: int
    features: Mapping[str, FeatureStatistics]


@dataclass(frozen=True)
class FeatureConstraints:
    name: str
    inferred_type: InferredType
    completeness: float | None
    is_non_negative: bool | None
    domain: tuple[str, ...] | None
    config: MonitoringConfig


@dataclass(frozen=True)
class Constraints:
    config: MonitoringConfig
    features: Mapping[str, FeatureConstraints]


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BaselineError(f"{where} must be a JSON object, found {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BaselineError(f"{where} must be a list, found {type(value).__name__}")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise BaselineError(f"{where} is {value!r}, not a count")
    return int(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BaselineError(f"{where} is {value!r}, not a finite number")
    return float(value)


def _type(value: Any, where: str) -> InferredType:
    try:
        return InferredType(value)
    except ValueError:
        raise BaselineError(
            f"{where} is {value!r}, not one of {', '.join(kind.value for kind in InferredType)}"
        ) from None


def _features(document: Any, where: str) -> list[tuple[str, Mapping[str, Any], str]]:
    root = _object(document, where)
    entries = []
    seen = set()
    for position, raw in enumerate(_list(root.get("features"), f"{where}: features")):
        entry = _object(raw, f"{where}: features[{position}]")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise BaselineError(f"{where}: features[{position}] has no name")
        if name in seen:
            raise BaselineError(f"{where}: feature '{name}' is listed twice")
        seen.add(name)
        entries.append((name, entry, f"{where}: feature '{name}'"))
    return entries


def read_statistics(document: Any, where: str) -> Statistics:
    """A statistics.json; BaselineError naming the entry that is not in the documented shape."""
    root = _object(document, where)
    dataset = _object(root.get("dataset", {}), f"{where}: dataset")
    features: dict[str, FeatureStatistics] = {}
    for name, entry, place in _features(document, where):
        kind = _type(entry.get("inferred_type"), f"{place}: inferred_type")
        if "numerical_statistics" in entry:
            features[name] = _number_statistics(name, kind, entry["numerical_statistics"], place)
        elif "string_statistics" in entry:
            features[name] = _text_statistics(name, kind, entry["string_statistics"], place)
        else:
            raise BaselineError(f"{place} has neither numerical_statistics nor string_statistics")
    item_count = _count(dataset.get("item_count", 0), f"{where}: dataset.item_count")
    return Statistics(item_count, features)


def _common(statistics: Mapping[str, Any], place: str) -> tuple[int, int]:
    common = _object(statistics.get("common"), f"{place}: common")
    return (
        _count(common.get("num_present"), f"{place}: common.num_present"),
        _count(common.get("num_missing"), f"{place}: common.num_missing"),
    )


def _number_statistics(name: str, kind: InferredType, raw: Any, place: str) -> NumberStatistics:
    statistics = _object(raw, f"{place}: numerical_statistics")
    present, missing = _common(statistics, place)
    items, weights = np.empty(0), np.empty(0)
    if present:
        kll = _object(
            _object(statistics.get("distribution"), f"{place}: distribution").get("kll"),
            f"{place}: distribution.kll",
        )
        data = _list(_object(kll.get("sketch"), f"{place}: kll.sketch").get("data"), f"{place}: sketch.data")
        parts, part_weights = [], []
        for level, raw_items in enumerate(data):
            values = [_number(value, f"{place}: sketch.data[{level}]") for value in _list(raw_items, place)]
            parts.append(np.asarray(values, dtype=np.float64))
            part_weights.append(np.full(len(values), 2.0**level))
        items, weights = np.concatenate(parts or [np.empty(0)]), np.concatenate(part_weights or [np.empty(0)])
        if len(items) == 0:
            raise BaselineError(f"{place}: its sketch holds no values, but num_present is {present}")
        order = np.argsort(items, kind="stable")
        items, weights = items[order], weights[order]
    return NumberStatistics(name, kind, present, missing, items, weights)


def _text_statistics(name: str, kind: InferredType, raw: Any, place: str) -> TextStatistics:
    statistics = _object(raw, f"{place}: string_statistics")
    present, missing = _common(statistics, place)
    distinct = _number(statistics.get("distinct_count", 0), f"{place}: distinct_count")
    counts: dict[str, int] = {}
    distribution = statistics.get("distribution")
    if distribution is not None:
        categorical = _object(_object(distribution, place).get("categorical"), f"{place}: categorical")
        for position, bucket in enumerate(_list(categorical.get("buckets"), f"{place}: categorical.buckets")):
            bucket = _object(bucket, f"{place}: buckets[{position}]")
            value = bucket.get("value")
            if not isinstance(value, str):
                raise BaselineError(f"{place}: buckets[{position}].value is {value!r}, not text")
            counts[value] = counts.get(value, 0) + _count(
                bucket.get("count"), f"{place}: buckets[{position}]"
            )
        if sum(counts.values()) > present:
            raise BaselineError(f"{place}: its buckets count more values than num_present ({present})")
    return TextStatistics(name, kind, present, missing, distinct, counts)


def read_constraints(document: Any, where: str) -> Constraints:
    """A constraints.json; BaselineError naming the entry that is not in the documented shape."""
    root = _object(document, where)
    config = MonitoringConfig().overridden(root.get("monitoring_config", {}), f"{where}: monitoring_config")
    features: dict[str, FeatureConstraints] = {}
    for name, entry, place in _features(document, where):
        kind = _type(entry.get("inferred_type", InferredType.UNKNOWN.value), f"{place}: inferred_type")
        completeness = entry.get("completeness")
        if completeness is not None:
            completeness = _share(completeness, f"{place}: completeness")
        non_negative = _object(entry.get("num_constraints", {}), f"{place}: num_constraints").get(
            "is_non_negative"
        )
        if non_negative is not None and not isinstance(non_negative, bool):
            raise BaselineError(
                f"{place}: num_constraints.is_non_negative is {non_negative!r}, not true/false"
            )
        domains = _object(entry.get("string_constraints", {}), f"{place}: string_constraints").get("domains")
        domain = None
        if domains is not None:
            values = _list(domains, f"{place}: string_constraints.domains")
            if not all(isinstance(value, str) for value in values):
                raise BaselineError(f"{place}: string_constraints.domains must list text values")
            domain = tuple(values)
        # The documentation spells the overrides in camelCase, the SDK in snake_case: both are read.
        overrides = entry.get("monitoringConfigOverrides", entry.get("monitoring_config_overrides", {}))
        feature_config = config.overridden(overrides or {}, f"{place}: monitoring config overrides")
        features[name] = FeatureConstraints(name, kind, completeness, non_negative, domain, feature_config)
    return Constraints(config, features)
