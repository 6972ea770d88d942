"""The drift check: the traffic's columns against the model's data baseline, each with tests suited to its
kind and to the sample sizes, reported as Model Monitor's constraint violations.

Per column the baseline describes (and its constraints do not disable):
- missing_column_check: the traffic lacks the column (or `serve` refused requests for lacking it).
- completeness_check: the share of present values fell below the constraint's completeness by more than
  COMPLETENESS_TOLERANCE, and (Robust) significantly so: a one-sided binomial test at SIGNIFICANCE.
- data_type_check: fewer than datatype_check_threshold of the present values have the baseline's type (cells
  that are not numbers in a number column; numbers that are not whole in an Integral one).
- baseline_drift_check: numbers, the Kolmogorov-Smirnov distance between the traffic's distribution and the
  baseline's (its KLL sketch); text, the L-infinity distance between the shares of the baseline's frequent
  values (seen at least FREQUENT_COUNT times), all rarer and new values pooled as one, so free text and long
  tails compare only as far as the baseline knows them. A violation needs the distance above the threshold
  (comparison_threshold, categorical_comparison_threshold) and, with comparison_method Robust, the difference
  significant for the two sample sizes (Kolmogorov-Smirnov's critical distance, a chi-squared test).
- categorical_values_check: a column with a domain (its closed list of values) gets values outside it: fewer
  than domain_content_threshold of the values inside, and (Robust) more outside than the baseline's own rate
  of new values (Good-Turing: its values seen once) explains, by a Poisson test.
- extra_column_check: the traffic carries columns the model does not know (keys of captured JSON records).

So a window of traffic drawn from the baseline's own distribution gives no violation whatever its size: a
small window's chance differences are not significant, a large window's tiny ones are below the thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from lightsage.contract.monitoring import Check, InferredType
from lightsage.evaluation.baseline import (
    Constraints,
    FeatureConstraints,
    NumberStatistics,
    NumberSummary,
    Statistics,
    TextStatistics,
    TextSummary,
)
from lightsage.monitoring.traffic import Traffic

SIGNIFICANCE = 0.001
COMPLETENESS_TOLERANCE = 0.05
FREQUENT_COUNT = 5
OTHER = "(rarer and new values)"


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: Check
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type.value,
            "description": self.description,
        }


@dataclass(frozen=True)
class Outcome:
    """One check of one column: what it measured against what, and whether that is a violation."""

    check: Check
    measured: str
    threshold: str
    violated: bool
    description: str = ""


@dataclass
class ColumnResult:
    name: str
    kind: str
    rows: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    note: str = ""
    # for the report: (values, baseline cumulative shares, traffic cumulative shares), or category shares
    chart: Any = None

    @property
    def violations(self) -> list[Violation]:
        return [Violation(self.name, o.check, o.description) for o in self.outcomes if o.violated]


# -- distances and tests -------------------------------------------------------------------------------------


def _cumulative(items: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    totals = np.concatenate([[0.0], np.cumsum(weights)])
    return totals[np.searchsorted(items, grid, side="right")] / totals[-1]


def ks_distance(
    baseline: tuple[np.ndarray, np.ndarray], traffic: tuple[np.ndarray, np.ndarray]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The largest gap between two weighted distributions' cumulative shares, and both curves."""
    grid = np.union1d(baseline[0], traffic[0])
    first, second = _cumulative(*baseline, grid), _cumulative(*traffic, grid)
    return float(np.abs(first - second).max()), grid, first, second


def ks_critical(rows: int, baseline_rows: int, significance: float = SIGNIFICANCE) -> float:
    """The two-sample Kolmogorov-Smirnov distance that chance exceeds with probability `significance`."""
    return math.sqrt(-math.log(significance / 2) / 2) * math.sqrt(
        (rows + baseline_rows) / (rows * baseline_rows)
    )


def ks_p_value(distance: float, rows: int, baseline_rows: int) -> float:
    effective = rows * baseline_rows / (rows + baseline_rows)
    return float(stats.kstwobign.sf(distance * math.sqrt(effective)))


def pooled_shares(
    baseline: Mapping[str, int], baseline_present: int, traffic: Mapping[str, int], traffic_present: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts of the baseline's frequent values, the rest pooled as OTHER, on both sides."""
    frequent = sorted(
        (value for value, count in baseline.items() if count >= FREQUENT_COUNT), key=lambda v: -baseline[v]
    )
    first = np.array([baseline[value] for value in frequent] + [0], dtype=float)
    second = np.array([traffic.get(value, 0) for value in frequent] + [0], dtype=float)
    first[-1] = baseline_present - first[:-1].sum()
    second[-1] = traffic_present - second[:-1].sum()
    return [*frequent, OTHER], first, second


def _p(value: float) -> str:
    return f"{value:.2g}"


# -- the checks ------------------------------------------------------------------------------------------


def _completeness(result: ColumnResult, present: int, rows: int, constraint: FeatureConstraints) -> None:
    expected = constraint.completeness
    if expected is None or rows == 0:
        return
    observed = present / rows
    robust = constraint.config.comparison_method == "Robust"
    p_value = float(stats.binom.cdf(present, rows, expected)) if robust else 0.0
    below = observed < expected - COMPLETENESS_TOLERANCE
    violated = below and (not robust or p_value < SIGNIFICANCE)
    detail = f" (binomial test p = {_p(p_value)} on {rows} rows)" if robust else ""
    result.outcomes.append(
        Outcome(
            Check.COMPLETENESS,
            f"{observed:.4f}",
            f"{expected:.4f} - {COMPLETENESS_TOLERANCE}",
            violated,
            f"Data completeness {observed:.4f} is below the baseline's {expected:.4f} by more than "
            f"{COMPLETENESS_TOLERANCE}{detail}: {rows - present} of {rows} values are missing",
        )
    )


def _data_type(
    result: ColumnResult, kind: InferredType, summary: NumberSummary, refused: int, config: Any
) -> None:
    wrong = summary.not_numbers + refused
    what = "are not numbers"
    if kind is InferredType.INTEGRAL:
        wrong += summary.fractional
        what = "are not whole numbers (the baseline's are Integral)"
    values = summary.present + summary.not_numbers + refused
    if values == 0:
        return
    share = 1 - wrong / values
    threshold = config.datatype_check_threshold
    refusals = f", {refused} of them in requests `serve` refused" if refused else ""
    result.outcomes.append(
        Outcome(
            Check.DATA_TYPE,
            f"{share:.4f}",
            f"{threshold}",
            share < threshold,
            f"Data type match {share:.4f} is below the threshold {threshold}: "
            f"{wrong} of {values} values {what}"
            f"{refusals}",
        )
    )


def _number_drift(
    result: ColumnResult, baseline: NumberStatistics, summary: NumberSummary, config: Any
) -> None:
    items, weights = summary.weighted_items()
    if summary.present == 0 or len(baseline.items) == 0:
        result.note = "no values to compare"
        return
    distance, grid, first, second = ks_distance((baseline.items, baseline.weights), (items, weights))
    result.chart = ("numbers", grid, first, second)
    threshold = config.comparison_threshold
    robust = config.comparison_method == "Robust"
    critical = ks_critical(summary.present, baseline.present)
    violated = distance > threshold and (not robust or distance > critical)
    detail = (
        f"Kolmogorov-Smirnov on {summary.present} values against the baseline's {baseline.present} "
        f"(p = {_p(ks_p_value(distance, summary.present, baseline.present))}; distance significant at "
        f"{SIGNIFICANCE} above {critical:.4f})"
        if robust
        else f"Kolmogorov-Smirnov on {summary.present} values against the baseline's {baseline.present}"
    )
    result.outcomes.append(
        Outcome(
            Check.BASELINE_DRIFT,
            f"{distance:.4f}",
            f"{threshold}" + (f" and {critical:.4f}" if robust else ""),
            violated,
            f"{detail}. Baseline drift distance: {distance:.4f} exceeds threshold: {threshold}",
        )
    )


def _text_drift(result: ColumnResult, baseline: TextStatistics, summary: TextSummary, config: Any) -> None:
    if summary.present == 0:
        result.note = "no values to compare"
        return
    if summary.counts is None:
        result.note = "the traffic's values are too many to count: free text is not compared"
        return
    names, first, second = pooled_shares(baseline.counts, baseline.present, summary.counts, summary.present)
    if len(names) < 2 or first[:-1].sum() == 0:
        result.note = (
            f"no value of the baseline was seen {FREQUENT_COUNT} times or more: free text is not compared"
        )
        return
    shares_first, shares_second = first / first.sum(), second / second.sum()
    result.chart = ("categories", names, shares_first, shares_second)
    distance = float(np.abs(shares_first - shares_second).max())
    threshold = config.categorical_comparison_threshold
    robust = config.comparison_method == "Robust"
    kept = (first + second) > 0
    p_value = 1.0
    if robust and kept.sum() >= 2:
        p_value = float(stats.chi2_contingency(np.vstack([first[kept], second[kept]]))[1])
    violated = distance > threshold and (not robust or p_value < SIGNIFICANCE)
    worst = names[int(np.abs(shares_first - shares_second).argmax())]
    detail = (
        f"L-infinity over {len(names)} value groups (largest change: {worst!r}, "
        f"{shares_first[names.index(worst)]:.3f} -> {shares_second[names.index(worst)]:.3f})"
        + (f", chi-squared p = {_p(p_value)}" if robust else "")
    )
    result.outcomes.append(
        Outcome(
            Check.BASELINE_DRIFT,
            f"{distance:.4f}",
            f"{threshold}" + (f" and p < {SIGNIFICANCE}" if robust else ""),
            violated,
            f"{detail}. Baseline drift distance: {distance:.4f} exceeds threshold: {threshold}",
        )
    )


def _domain(
    result: ColumnResult,
    constraint: FeatureConstraints,
    baseline: TextStatistics | None,
    summary: TextSummary,
) -> None:
    domain = set(constraint.domain or ())
    if summary.present == 0 or summary.counts is None:
        return
    outside = {value: count for value, count in summary.counts.items() if value not in domain}
    count = sum(outside.values())
    share_in = 1 - count / summary.present
    threshold = constraint.config.domain_content_threshold
    robust = constraint.config.comparison_method == "Robust"
    singletons = sum(1 for c in baseline.counts.values() if c == 1) if baseline is not None else 0
    new_rate = singletons / baseline.present if baseline is not None and baseline.present else 0.0
    expected = new_rate * summary.present
    p_value = float(stats.poisson.sf(count - 1, expected)) if expected > 0 else (0.0 if count else 1.0)
    violated = share_in < threshold and (not robust or p_value < SIGNIFICANCE)
    examples = ", ".join(f"{value!r} ({n})" for value, n in sorted(outside.items(), key=lambda p: -p[1])[:5])
    result.outcomes.append(
        Outcome(
            Check.CATEGORICAL_VALUES,
            f"{share_in:.4f}",
            f"{threshold}",
            violated,
            f"{count} of {summary.present} values are not in the baseline's domain "
            f"({', '.join(sorted(domain)[:10])}): {examples}"
            + (f" (expected about {expected:.1f} new values; Poisson p = {_p(p_value)})" if robust else ""),
        )
    )


def compare(statistics: Statistics, constraints: Constraints, traffic: Traffic) -> list[ColumnResult]:
    """Every column's checks, in the baseline's order, then the traffic's extra columns."""
    results = []
    for name, constraint in constraints.features.items():
        baseline = statistics.features.get(name)
        kind = "number" if isinstance(baseline, NumberStatistics) else "text"
        result = ColumnResult(name, kind)
        results.append(result)
        if not constraint.config.evaluate_constraints:
            result.note = "not checked (evaluate_constraints is Disabled)"
            continue
        summary = traffic.statistics.summaries.get(name)
        lacking = traffic.missing_by_column.get(name, 0)
        if summary is None or (lacking and summary.present == 0):
            why = (
                f"{lacking} request(s) were refused for lacking it"
                if lacking
                else "the traffic has no such column"
            )
            result.outcomes.append(
                Outcome(Check.MISSING_COLUMN, "absent", "present", True, f"Column '{name}' is missing: {why}")
            )
            continue
        rows = summary.present + summary.missing
        result.rows = rows
        _completeness(result, summary.present, rows, constraint)
        if isinstance(summary, NumberSummary):
            kind_of = (
                constraint.inferred_type
                if constraint.inferred_type is not InferredType.UNKNOWN
                else (baseline.inferred_type if baseline is not None else InferredType.UNKNOWN)
            )
            if kind_of in (InferredType.INTEGRAL, InferredType.FRACTIONAL):
                _data_type(
                    result, kind_of, summary, traffic.refused_by_column.get(name, 0), constraint.config
                )
            if constraint.config.perform_comparison and isinstance(baseline, NumberStatistics):
                _number_drift(result, baseline, summary, constraint.config)
        else:
            text_baseline = baseline if isinstance(baseline, TextStatistics) else None
            if constraint.config.perform_comparison and text_baseline is not None:
                _text_drift(result, text_baseline, summary, constraint.config)
            if constraint.domain is not None:
                _domain(result, constraint, text_baseline, summary)
    for name, count in traffic.extra_columns.most_common():
        result = ColumnResult(name, "extra")
        result.outcomes.append(
            Outcome(
                Check.EXTRA_COLUMN,
                "present",
                "absent",
                True,
                f"Column '{name}' is not one the model knows: {count} request(s) carried it",
            )
        )
        results.append(result)
    return results


def violations(results: Sequence[ColumnResult]) -> list[Violation]:
    return [violation for result in results for violation in result.violations]
