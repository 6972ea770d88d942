"""Answers of /invocations: one record per input row, in input order, in JSON, CSV or JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from lightsage.serving.negotiate import CSV, JSON_LINES_ALIASES
from lightsage.tasks import ClassValue, Task


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

    def encode(self, scores: np.ndarray, accept: str, contributions: np.ndarray | None = None) -> str:
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
