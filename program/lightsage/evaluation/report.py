"""The evaluation report: one static HTML page people look at, its charts inline SVG (`charts`), no script and
nothing fetched. Classes: ROC and precision-recall curves, calibration, the confusion matrix; regression:
residuals against predictions, their histogram, predictions against actual values; every task: the headline
metrics, feature importance (gain) and, when there is one, the data baseline's columns.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as sk

from lightsage.contract.monitoring import QUALITY_METRICS_KEY
from lightsage.evaluation import charts
from lightsage.evaluation.contract import objective
from lightsage.evaluation.metrics import Scored
from lightsage.tasks import Task

CALIBRATION_BINS = 10
SCATTER_POINTS = 2_000
CURVE_CLASSES = 8
STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .note { color: #666; font-size: 13px; }
.bad { color: #b00; font-weight: bold; }
"""


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]], raw: bool = False) -> str:
    """An HTML table; `raw` cells are markup already."""
    head = "".join(f"<th>{_escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if raw else _escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _calibration(probabilities: np.ndarray, hits: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean predicted probability and observed frequency in equal-width probability bins with rows."""
    bins = np.minimum((probabilities * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    predicted, observed = [], []
    for index in range(CALIBRATION_BINS):
        chosen = bins == index
        if chosen.any():
            predicted.append(float(probabilities[chosen].mean()))
            observed.append(float(hits[chosen].mean()))
    return predicted, observed


def _one_vs_rest(scored: Scored) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if scored.task is Task.BINARY:
        return [(str(scored.classes[1]), scored.actual == 1, scored.scores)]
    return [
        (str(name), scored.actual == code, scored.scores[:, code])
        for code, name in enumerate(scored.classes[:CURVE_CLASSES])
    ]


def classification_charts(scored: Scored, statistics: Mapping[str, Any]) -> list[str]:
    roc, pr = [], []
    for name, positive, score in _one_vs_rest(scored):
        if positive.all() or not positive.any():
            continue
        false_positive, true_positive, _ = sk.roc_curve(positive, score)
        precision, recall, _ = sk.precision_recall_curve(positive, score)
        roc.append(charts.Series(name, false_positive.tolist(), true_positive.tolist()))
        pr.append(charts.Series(name, recall[::-1].tolist(), precision[::-1].tolist()))
    one_vs_rest = "" if scored.task is Task.BINARY else " (each class against the rest)"
    drawn = []
    if roc:
        drawn.append(
            charts.lines(f"ROC curve{one_vs_rest}", "false positive rate", "true positive rate", roc, True)
        )
        drawn.append(charts.lines(f"Precision-recall{one_vs_rest}", "recall", "precision", pr, steps=True))
    if scored.task is Task.BINARY:
        confidence, hits = scored.scores, scored.actual == 1
        label = f"P({scored.classes[1]})"
    else:
        confidence, hits = scored.scores.max(axis=1), scored.predicted == scored.actual
        label = "probability of the predicted class"
    predicted, observed = _calibration(confidence, hits.astype(float))
    drawn.append(
        charts.lines(
            "Calibration", label, "observed frequency", [charts.Series("model", predicted, observed)], True
        )
    )
    matrix = statistics[QUALITY_METRICS_KEY[scored.task]]["confusion_matrix"]
    names = list(matrix)
    counts = np.array([[matrix[actual][predicted] for predicted in names] for actual in names])
    drawn.append(charts.heatmap("Confusion matrix", counts, names, names))
    return drawn


def regression_charts(scored: Scored) -> list[str]:
    rows = len(scored.actual)
    chosen = np.arange(rows)
    if rows > SCATTER_POINTS:
        chosen = np.sort(np.random.default_rng(0).choice(rows, SCATTER_POINTS, replace=False))
    predicted, actual = scored.scores[chosen], scored.actual[chosen]
    residuals = scored.actual - scored.scores
    return [
        charts.scatter("Residuals", "predicted", "actual - predicted", predicted, actual - predicted, True),
        charts.histogram("Residuals' distribution", "actual - predicted", residuals),
        charts.scatter("Predicted against actual", "actual", "predicted", actual, predicted, False),
    ]


def _headline(task: Task, statistics: Mapping[str, Any]) -> str:
    values = statistics[QUALITY_METRICS_KEY[task]]
    goal = objective(task)
    rows = []
    for name, entry in values.items():
        if isinstance(entry, Mapping) and "value" in entry:
            marker = " (objective)" if name == goal.metric else ""
            rows.append((name + marker, entry["value"], entry["standard_deviation"]))
    return table(("metric", "value", "standard deviation (5 draws of 80 %)"), rows)


def _baseline_rows(baseline: Mapping[str, Any]) -> list[tuple[object, ...]]:
    rows = []
    for feature in baseline.get("features", []):
        numbers = feature.get("numerical_statistics")
        texts = feature.get("string_statistics")
        common = (numbers or texts or {}).get("common", {})
        present, missing = common.get("num_present", 0), common.get("num_missing", 0)
        if numbers and present:
            detail = (
                f"mean {numbers['mean']:.4g}, std {numbers['std_dev']:.4g}, "
                f"{numbers['min']:.4g} to {numbers['max']:.4g}"
            )
        elif texts:
            detail = f"{texts.get('distinct_count', 0):.0f} distinct values"
        else:
            detail = ""
        rows.append((feature["name"], feature["inferred_type"], present, missing, detail))
    return rows


def evaluation_report(
    description: Mapping[str, Any],
    scored: Scored,
    statistics: Mapping[str, Any],
    importance: Mapping[str, float],
    baseline: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
) -> str:
    """The report's HTML: what was evaluated, the metrics, the task's charts, importance and baseline."""
    about = table(("", ""), [(key, value) for key, value in description.items()])
    sections = [f"<h2>Model and data</h2>{about}"]
    sections += [f'<p class="note">{_escape(note)}</p>' for note in notes]
    sections.append(f"<h2>Metrics</h2>{_headline(scored.task, statistics)}")
    drawn = (
        regression_charts(scored)
        if scored.task is Task.REGRESSION
        else classification_charts(scored, statistics)
    )
    sections.append(f'<h2>Charts</h2><div class="charts">{"".join(drawn)}</div>')
    if importance:
        names = list(importance)
        sections.append(
            "<h2>Feature importance</h2>"
            + charts.bars("Feature importance (total gain)", names, [importance[n] for n in names], "gain")
        )
    if baseline is not None:
        sections.append(
            "<h2>Data baseline</h2>"
            + table(("column", "type", "present", "missing", "distribution"), _baseline_rows(baseline))
        )
    return page(f"Evaluation: {description.get('model', '')}", sections)
