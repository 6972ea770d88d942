"""Small charts as inline SVG text: lines (ROC, precision-recall, calibration, CDFs), horizontal bars
(feature importance, category shares), a heat map (confusion matrix) and a scatter plot (residuals).

Hand-written on purpose: a report needs a handful of plain charts, and a plotting library would add tens of
megabytes to the image for them. Every text is escaped; numbers are written with a few digits.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 420, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
FONT = 'font-family="sans-serif" font-size="11"'


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else _text(value)
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def _title(title: str, width: int) -> str:
    return (
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" {FONT} font-weight="bold">'
        f"{_text(title)}</text>"
    )


def _frame(title: str, x_label: str, y_label: str, x: Scale, y: Scale, width: int = WIDTH) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        _title(title, width),
        f'<rect x="{LEFT}" y="{TOP}" width="{width - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="none" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        x_value = x.low + fraction * (x.high - x.low)
        y_value = y.low + fraction * (y.high - y.low)
        parts.append(
            f'<text x="{x(x_value):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" {FONT}>'
            f"{_number(x_value)}</text>"
        )
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(y_value) + 4:.1f}" text-anchor="end" {FONT}>'
            f"{_number(y_value)}</text>"
        )
    parts.append(
        f'<text x="{(LEFT + width - RIGHT) / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" {FONT}>'
        f"{_text(x_label)}</text>"
    )
    parts.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2:.1f}" text-anchor="middle" {FONT} '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2:.1f})">{_text(y_label)}</text>'
    )
    return parts


def _legend(names: Sequence[str], width: int = WIDTH) -> list[str]:
    parts = []
    for position, name in enumerate(names[: len(COLOURS)]):
        y = TOP + 12 + 14 * position
        colour = COLOURS[position]
        parts.append(f'<rect x="{width - RIGHT - 118}" y="{y - 8}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{width - RIGHT - 104}" y="{y + 1}" {FONT}>{_text(name[:18])}</text>')
    return parts


@dataclass(frozen=True)
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]


def lines(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[Series],
    diagonal: bool = False,
    unit_square: bool = True,
    steps: bool = False,
) -> str:
    """Line charts on [0, 1] x [0, 1] (or the data's range), with an optional y = x reference."""
    if unit_square:
        x_low, x_high, y_low, y_high = 0.0, 1.0, 0.0, 1.0
    else:
        xs = np.concatenate([np.asarray(s.xs, dtype=float) for s in series])
        ys = np.concatenate([np.asarray(s.ys, dtype=float) for s in series])
        x_low, x_high = float(xs.min()), float(xs.max())
        y_low, y_high = min(0.0, float(ys.min())), float(ys.max())
    x = Scale(x_low, x_high, LEFT, WIDTH - RIGHT)
    y = Scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    parts = _frame(title, x_label, y_label, x, y)
    if diagonal:
        parts.append(
            f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" '
            'stroke="#bbb" stroke-dasharray="4 3"/>'
        )
    for position, one in enumerate(series):
        points = []
        previous_y = None
        for x_value, y_value in zip(one.xs, one.ys, strict=True):
            if steps and previous_y is not None:
                points.append(f"{x(x_value):.1f},{y(previous_y):.1f}")
            points.append(f"{x(x_value):.1f},{y(y_value):.1f}")
            previous_y = y_value
        colour = COLOURS[position % len(COLOURS)]
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
        )
    if len(series) > 1:
        parts += _legend([one.name for one in series])
    parts.append("</svg>")
    return "".join(parts)


def bars(title: str, labels: Sequence[str], values: Sequence[float], x_label: str, limit: int = 20) -> str:
    """Horizontal bars, largest first, at most `limit` of them."""
    order = sorted(range(len(values)), key=lambda i: -values[i])[:limit]
    row = 18
    height = TOP + 12 + row * max(len(order), 1) + 30
    width = 560
    label_width = 170
    top = max((values[i] for i in order), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        _title(title, width),
    ]
    span = width - label_width - 80
    for slot, index in enumerate(order):
        y = TOP + 8 + row * slot
        length = max(values[index], 0.0) / top * span
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" {FONT}>'
            f"{_text(labels[index][:28])}</text>"
        )
        parts.append(
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" fill="#1f77b4"/>'
        )
        parts.append(
            f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" {FONT}>{_number(values[index])}</text>'
        )
    parts.append(
        f'<text x="{label_width + span / 2}" y="{height - 8}" text-anchor="middle" {FONT}>'
        f"{_text(x_label)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(title: str, matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str]) -> str:
    """A count matrix (a confusion matrix: rows actual, columns predicted), shaded by each row's share."""
    cells = len(columns)
    cell = max(22, min(56, 360 // max(cells, 1)))
    left, top = 110, 56
    width, height = left + cell * cells + 20, top + cell * len(rows) + 40
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        _title(title, width),
        f'<text x="{left + cell * cells / 2}" y="32" text-anchor="middle" {FONT}>predicted</text>',
        f'<text x="12" y="{top + cell * len(rows) / 2}" {FONT} transform="rotate(-90 12 '
        f'{top + cell * len(rows) / 2})" text-anchor="middle">actual</text>',
    ]
    for column, name in enumerate(columns):
        parts.append(
            f'<text x="{left + cell * column + cell / 2}" y="{top - 4}" text-anchor="middle" {FONT}>'
            f"{_text(str(name)[:8])}</text>"
        )
    for row, name in enumerate(rows):
        parts.append(
            f'<text x="{left - 6}" y="{top + cell * row + cell / 2 + 4}" text-anchor="end" {FONT}>'
            f"{_text(str(name)[:14])}</text>"
        )
        for column in range(cells):
            share = float(shares[row, column])
            shade = int(255 - 200 * share)
            ink = "#fff" if share > 0.6 else "#000"
            x, y = left + cell * column, top + cell * row
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({shade},{shade},255)" '
                'stroke="#fff"/>'
            )
            parts.append(
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" {FONT} fill="{ink}">'
                f"{int(matrix[row, column])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def scatter(title: str, x_label: str, y_label: str, xs: np.ndarray, ys: np.ndarray, zero_line: bool) -> str:
    """Points (at most a few thousand: the caller samples), with an optional y = 0 reference."""
    x_low, x_high = float(xs.min()), float(xs.max())
    y_low, y_high = float(ys.min()), float(ys.max())
    if zero_line:
        bound = max(abs(y_low), abs(y_high)) or 1.0
        y_low, y_high = -bound, bound
    x = Scale(x_low, x_high if x_high > x_low else x_low + 1, LEFT, WIDTH - RIGHT)
    y = Scale(y_low, y_high if y_high > y_low else y_low + 1, HEIGHT - BOTTOM, TOP)
    parts = _frame(title, x_label, y_label, x, y)
    if zero_line:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}" stroke="#bbb" '
            'stroke-dasharray="4 3"/>'
        )
    parts += [
        f'<circle cx="{x(float(a)):.1f}" cy="{y(float(b)):.1f}" r="2" fill="#1f77b4" fill-opacity="0.5"/>'
        for a, b in zip(xs, ys, strict=True)
    ]
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, x_label: str, values: np.ndarray, bins: int = 30) -> str:
    counts, edges = np.histogram(values, bins=bins)
    x = Scale(
        float(edges[0]),
        float(edges[-1]) if edges[-1] > edges[0] else float(edges[0]) + 1,
        LEFT,
        WIDTH - RIGHT,
    )
    y = Scale(0.0, float(counts.max()) or 1.0, HEIGHT - BOTTOM, TOP)
    parts = _frame(title, x_label, "rows", x, y)
    for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
        parts.append(
            f'<rect x="{x(low):.1f}" y="{y(count):.1f}" width="{max(x(high) - x(low) - 1, 0.5):.1f}" '
            f'height="{y(0) - y(count):.1f}" fill="#1f77b4"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
