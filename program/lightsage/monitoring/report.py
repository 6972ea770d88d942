"""The drift report: one static HTML page, each column's checks and, where drift was measured, the baseline's
and the traffic's distributions side by side (cumulative shares for numbers, value shares for text)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lightsage.evaluation import charts
from lightsage.evaluation.report import page, table
from lightsage.monitoring.drift import ColumnResult

CURVE_POINTS = 400


def _cell(result: ColumnResult, check: str) -> str:
    for outcome in result.outcomes:
        if outcome.check.value == check:
            mark = '<span class="bad">violation</span>' if outcome.violated else "ok"
            return f"{mark}: {html.escape(outcome.measured)} (limit {html.escape(outcome.threshold)})"
    return ""


def _chart(result: ColumnResult) -> str:
    kind, *data = result.chart
    if kind == "numbers":
        grid, first, second = (np.asarray(part) for part in data)
        keep = np.unique(np.linspace(0, len(grid) - 1, min(len(grid), CURVE_POINTS)).round().astype(int))
        series = [
            charts.Series("baseline", grid[keep].tolist(), first[keep].tolist()),
            charts.Series("traffic", grid[keep].tolist(), second[keep].tolist()),
        ]
        return charts.lines(f"{result.name}: cumulative share", result.name, "share at or below", series,
                            unit_square=False, steps=True)  # fmt: skip
    names, first, second = data
    rows = [(name, f"{a:.3f}", f"{b:.3f}") for name, a, b in zip(names, first, second, strict=True)]
    shares = table(("value", "baseline share", "traffic share"), rows)
    return f"<div><b>{html.escape(result.name)}</b>{shares}</div>"


def drift_report(about: Mapping[str, Any], results: Sequence[ColumnResult], notes: Sequence[str]) -> str:
    checks = ("missing_column_check", "completeness_check", "data_type_check", "baseline_drift_check",
              "categorical_values_check", "extra_column_check")  # fmt: skip
    rows = [
        (html.escape(result.name), html.escape(result.kind), result.rows, *(_cell(result, c) for c in checks),
         html.escape(result.note))
        for result in results
    ]  # fmt: skip
    header = ("column", "kind", "rows", *(c.removesuffix("_check").replace("_", " ") for c in checks), "note")
    violations = [
        (html.escape(v.feature_name), html.escape(v.constraint_check_type.value), html.escape(v.description))
        for result in results
        for v in result.violations
    ]
    sections = [
        "<h2>Traffic and baseline</h2>" + table(("", ""), list(about.items())),
        *(f'<p class="note">{html.escape(note)}</p>' for note in notes),
        "<h2>Violations</h2>"
        + (table(("column", "check", "description"), violations, raw=True) if violations else "<p>none</p>"),
        "<h2>Checks</h2>" + table(header, rows, raw=True),
        '<h2>Distributions</h2><div class="charts">'
        + "".join(_chart(result) for result in results if result.chart is not None)
        + "</div>",
    ]
    return page("Drift check", sections)
