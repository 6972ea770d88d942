"""Answers of /invocations: one record per input row, in input order, in JSON, CSV or JSON Lines.

Small answers are written in Python, row by row. Larger ones (BATCH_ROWS and more, without explanations) are
written with Arrow's string kernels, column by column, to the same text: numbers as Python's repr spells
them (`float_texts`; a property test holds the two paths to the same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.serving.negotiate import CSV, JSON_LINES_ALIASES
from lightsage.tasks import ClassValue, Task

# Answers of this many rows or more are written column by column with Arrow.
BATCH_ROWS = 64
# Arrow's shortest round-trip text of a float64 equals Python's repr for numbers that are not whole and whose
# magnitude lies in [1e-4, 1e10): Python switches to an exponent outside [1e-4, 1e16), Arrow outside its own
# bounds, and Arrow writes whole numbers without ".0".
_ARROW_LOW, _ARROW_HIGH = 1e-4, 1e10


def float_texts(values: np.ndarray) -> pa.Array:
    """Each float64 as repr() writes it, as an Arrow string array: Arrow's text where it is the same, repr's
    elsewhere (whole numbers, tiny and huge ones, infinities and NaN)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    texts = pc.cast(pa.array(values), pa.string())
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        same = (magnitude >= _ARROW_LOW) & (magnitude < _ARROW_HIGH) & (values != np.trunc(values))
    if same.all():
        return texts
    others = np.flatnonzero(~same)
    spelled = texts.to_numpy(zero_copy_only=False)
    spelled[others] = [repr(value) for value in values[others].tolist()]
    return pa.array(spelled, pa.string())


def _joined(texts: pa.Array, separator: str) -> str:
    """The texts joined into one string by Arrow."""
    if len(texts) == 0:
        return ""
    whole = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
    return pc.binary_join(whole, separator)[0].as_py()


class Encoder:
    """Writes a task's answers: one record per input row, in input order, in JSON, CSV or JSON Lines.

    With contributions (LightGBM's pred_contrib: one value per feature plus the base value, per class for
    multiclass, in raw score units: log-odds, per-class raw scores or target units), each answer also carries
    them, keyed by feature name.
    """

    def __init__(self, task: Task, classes: Sequence[ClassValue], features: Sequence[str] = ()) -> None:
        self.task = task
        self.classes = list(classes)
        self.label_json = [json.dumps(value) for value in classes]
        self.label_csv = [_csv_field(str(value)) for value in classes]
        self.class_keys = [json.dumps(str(value)) for value in classes]
        self.feature_keys = [json.dumps(name) for name in features]

    def records(self, scores: np.ndarray) -> list[str]:
        """Each row's answer as the text of a JSON object without its closing brace."""
        if self.task is Task.REGRESSION:
            return [f'{{"prediction": {value!r}' for value in scores.tolist()]
        if self.task is Task.BINARY:
            labels = (scores >= 0.5).astype(int).tolist()
            return [
                f'{{"label": {self.label_json[label]}, "probability": {probability!r}'
                for label, probability in zip(labels, scores.tolist(), strict=True)
            ]
        labels = scores.argmax(axis=1).tolist()
        return [
            f'{{"label": {self.label_json[label]}, "probabilities": {{'
            + ", ".join(f"{key}: {p!r}" for key, p in zip(self.class_keys, row, strict=True))
            + "}"
            for label, row in zip(labels, scores.tolist(), strict=True)
        ]

    def _per_class(self, contributions: np.ndarray) -> np.ndarray:
        """(rows, classes, features + 1): LightGBM lays a multiclass row out class after class."""
        return contributions.reshape(len(contributions), -1, len(self.feature_keys) + 1)

    def _explanations(self, contributions: np.ndarray) -> list[str]:
        def values(row: list[float]) -> str:
            return (
                "{"
                + ", ".join(f"{key}: {value!r}" for key, value in zip(self.feature_keys, row, strict=False))
                + "}"
            )

        if self.task is not Task.MULTICLASS:
            return [
                f', "contributions": {values(row)}, "base_value": {row[-1]!r}'
                for row in contributions.tolist()
            ]
        texts = []
        for row in self._per_class(contributions).tolist():
            per_class = ", ".join(
                f"{key}: {values(part)}" for key, part in zip(self.class_keys, row, strict=True)
            )
            bases = ", ".join(f"{key}: {part[-1]!r}" for key, part in zip(self.class_keys, row, strict=True))
            texts.append(f', "contributions": {{{per_class}}}, "base_value": {{{bases}}}')
        return texts

    def csv_lines(self, scores: np.ndarray) -> list[str]:
        if self.task is Task.REGRESSION:
            return [f"{value!r}" for value in scores.tolist()]
        if self.task is Task.BINARY:
            labels = (scores >= 0.5).astype(int).tolist()
            return [
                f"{self.label_csv[label]},{p!r}" for label, p in zip(labels, scores.tolist(), strict=True)
            ]
        labels = scores.argmax(axis=1).tolist()
        return [
            self.label_csv[label] + "," + ",".join(repr(p) for p in row)
            for label, row in zip(labels, scores.tolist(), strict=True)
        ]

    def _batch(self, scores: np.ndarray, accept: str) -> str:
        """The answer of many rows, the row-by-row path's text, built with Arrow's string kernels."""
        labels: np.ndarray | None = None
        if self.task is Task.REGRESSION:
            numbers = [float_texts(scores)]
        elif self.task is Task.BINARY:
            labels, numbers = (scores >= 0.5).astype(np.int32), [float_texts(scores)]
        else:
            labels, numbers = scores.argmax(axis=1).astype(np.int32), [float_texts(c) for c in scores.T]
        parts: list[pa.Array | str]
        if accept == CSV:
            parts = [] if labels is None else [pc.take(pa.array(self.label_csv), labels), ","]
            for position, texts in enumerate(numbers):
                parts += [",", texts] if position else [texts]
            return _joined(pc.binary_join_element_wise(*parts, ""), "\n") + "\n"
        if labels is None:
            parts = ['{"prediction": ', numbers[0], "}"]
        elif self.task is Task.BINARY:
            parts = [
                '{"label": ',
                pc.take(pa.array(self.label_json), labels),
                ', "probability": ',
                numbers[0],
                "}",
            ]
        else:
            parts = ['{"label": ', pc.take(pa.array(self.label_json), labels), ', "probabilities": {']
            for position, (key, texts) in enumerate(zip(self.class_keys, numbers, strict=True)):
                parts += [f"{', ' if position else ''}{key}: ", texts]
            parts.append("}}")
        records = pc.binary_join_element_wise(*parts, "")
        if accept in JSON_LINES_ALIASES:
            return _joined(records, "\n") + "\n"
        return '{"predictions": [' + _joined(records, ", ") + "]}"

    def encode(self, scores: np.ndarray, accept: str, contributions: np.ndarray | None = None) -> str:
        if contributions is None and len(scores) >= BATCH_ROWS:
            return self._batch(scores, accept)
        return self._rows(scores, accept, contributions)

    def _rows(self, scores: np.ndarray, accept: str, contributions: np.ndarray | None = None) -> str:
        """The answer built row by row in Python."""
        if accept == CSV:
            lines = self.csv_lines(scores)
            if contributions is not None:
                # Each feature's contribution, then the base value; class after class for multiclass.
                lines = [
                    line + "," + ",".join(repr(value) for value in row)
                    for line, row in zip(lines, contributions.tolist(), strict=True)
                ]
            return "".join(line + "\n" for line in lines)
        records = self.records(scores)
        if contributions is not None:
            records = [
                record + extra
                for record, extra in zip(records, self._explanations(contributions), strict=True)
            ]
        if accept in JSON_LINES_ALIASES:
            return "".join(record + "}\n" for record in records)
        return '{"predictions": [' + ", ".join(record + "}" for record in records) + "]}"


def _csv_field(text: str) -> str:
    if any(character in text for character in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text
