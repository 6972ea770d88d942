"""Titanic feature engineering: one definition for training, batch and single-row serving.

The transformer takes columns (any mapping from raw column name to a sequence: a pandas DataFrame or a dict of
lists or arrays) and computes each passenger's features with plain Python floats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

NUMERIC_COLUMNS: tuple[str, ...] = ("Pclass", "Age", "SibSp", "Parch", "Fare")
TEXT_COLUMNS: tuple[str, ...] = ("Name", "Sex", "Ticket", "Cabin", "Embarked")
REQUIRED_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS + TEXT_COLUMNS

TITLE_GROUPS: dict[str, str] = {
    "Mr": "Mr",
    "Mrs": "Mrs",
    "Mme": "Mrs",
    "Miss": "Miss",
    "Mlle": "Miss",
    "Ms": "Miss",
    "Master": "Master",
    "Lady": "Noble",
    "the Countess": "Noble",
    "Countess": "Noble",
    "Sir": "Noble",
    "Don": "Noble",
    "Dona": "Noble",
    "Jonkheer": "Noble",
    "Dr": "Officer",
    "Rev": "Officer",
    "Col": "Officer",
    "Major": "Officer",
    "Capt": "Officer",
}
TITLE_CODES: dict[str, int] = {
    "Mr": 0,
    "Mrs": 1,
    "Miss": 2,
    "Master": 3,
    "Noble": 4,
    "Officer": 5,
    "Other": 6,
}
SEX_CODES: dict[str, int] = {"male": 0, "female": 1}
EMBARKED_CODES: dict[str, int] = {"S": 0, "C": 1, "Q": 2}
DECK_CODES: dict[str, int] = {deck: code for code, deck in enumerate("ABCDEFGT")}
FEATURE_NAMES: tuple[str, ...] = (
    "pclass",
    "sex",
    "age",
    "sibsp",
    "parch",
    "fare",
    "title",
    "embarked",
    "deck",
    "has_cabin",
    "family_size",
    "is_alone",
    "ticket_group_size",
    "fare_per_person",
    "is_child",
    "name_length",
    "ticket_group_survival",
    "women_children_group_survival",
)

WOMEN_AND_CHILDREN_TITLES = frozenset({"Mrs", "Miss", "Master"})
_TITLE_PATTERN = re.compile(r",\s*([^.]+)\.")
_CHILD_AGE = 14.0
NAN = float("nan")


def text_or_none(value: Any) -> str | None:
    """Missing text is None, '' or a float NaN (what pandas reads for an empty CSV field)."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def title_of(name: str | None) -> str | None:
    if name is None:
        return None
    match = _TITLE_PATTERN.search(name)
    if match is None:
        return "Other"
    return TITLE_GROUPS.get(match.group(1).strip(), "Other")


def surname_of(name: str | None) -> str | None:
    if name is None or "," not in name:
        return None
    return name.split(",", 1)[0].strip().lower()


def _code(value: str | None, mapping: Mapping[str, int]) -> float:
    return float(mapping.get(value, -1)) if value is not None else NAN


def _add_label(sums: dict[str, tuple[float, int]], key: str | None, label: float) -> None:
    if key is not None and label == label:
        total, count = sums.get(key, (0.0, 0))
        sums[key] = (total + label, count + 1)


def _group_rate(sums: Mapping[str, tuple[float, int]], key: str | None, own_label: float) -> float:
    """Survival rate of the other known members of the row's group; NaN when there are none."""
    total, count = sums.get(key, (0.0, 0)) if key is not None else (0.0, 0)
    if count > 0 and own_label == own_label:
        total, count = total - own_label, count - 1
    return total / count if count > 0 else NAN


def _women_children_keys(
    name: str | None, title: str | None, ticket: str | None, fare: float, pclass: float
) -> tuple[str | None, str | None]:
    """Women and boys travelling together share a fate: group them by family, and by ticket as a fallback.

    Adult men get no group (None): their survival barely depends on their group's.
    """
    if title not in WOMEN_AND_CHILDREN_TITLES:
        return None, None
    return f"{surname_of(name)}|{pclass:.0f}|{(ticket or '')[:-1]}|{fare:.1f}", ticket


def _numbers(column: Any) -> list[float]:
    return np.asarray(column, dtype=float).tolist()


def _text(column: Any) -> list[str | None]:
    return [text_or_none(value) for value in np.asarray(column, dtype=object).tolist()]


def _rows(columns: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Each passenger as (Pclass, Sex, Age, SibSp, Parch, Fare, Name, Ticket, Cabin, Embarked), normalised."""
    return zip(
        _numbers(columns["Pclass"]), _text(columns["Sex"]), _numbers(columns["Age"]),
        _numbers(columns["SibSp"]), _numbers(columns["Parch"]), _numbers(columns["Fare"]),
        _text(columns["Name"]), _text(columns["Ticket"]), _text(columns["Cabin"]), _text(columns["Embarked"]),
        strict=True,
    )  # fmt: skip


def _row_count(columns: Mapping[str, Any]) -> int:
    return len(columns["Pclass"])


def _labels(y: Any, count: int) -> list[float]:
    """Training labels as floats; NaN for every row when fitting without labels."""
    return [NAN] * count if y is None else np.asarray(y, dtype=float).tolist()


class TitanicFeatures(TransformerMixin, BaseEstimator):
    """Turn raw passenger columns into a float matrix, one row at a time with plain Python floats.

    One definition serves training, batches and single rows: a one-row request costs a few microseconds
    instead of a dozen tiny numpy operations. Learns ticket group sizes and group survival from training rows.
    """

    def fit(self, columns: Mapping[str, Any], y: Any = None) -> TitanicFeatures:
        self._learn(_rows(columns), _labels(y, _row_count(columns)))
        return self

    def fit_transform(self, columns: Mapping[str, Any], y: Any = None, **fit_params: Any) -> np.ndarray:
        """Training rows must not see their own label in the group survival rates (leave-one-out)."""
        labels = _labels(y, _row_count(columns))
        self._learn(_rows(columns), labels)
        return self._matrix(columns, labels)

    def transform(self, columns: Mapping[str, Any]) -> np.ndarray:
        return self._matrix(columns, [NAN] * _row_count(columns))

    def _learn(self, rows: Iterable[tuple[Any, ...]], labels: list[float]) -> None:
        self.ticket_counts_: dict[str, int] = {}
        self.ticket_survival_: dict[str, tuple[float, int]] = {}
        self.family_survival_: dict[str, tuple[float, int]] = {}
        self.women_children_ticket_survival_: dict[str, tuple[float, int]] = {}
        for (pclass, _, _, _, _, fare, name, ticket, _, _), label in zip(rows, labels, strict=True):
            family_key, women_children_ticket = _women_children_keys(
                name, title_of(name), ticket, fare, pclass
            )
            if ticket is not None:
                self.ticket_counts_[ticket] = self.ticket_counts_.get(ticket, 0) + 1
            _add_label(self.ticket_survival_, ticket, label)
            _add_label(self.family_survival_, family_key, label)
            _add_label(self.women_children_ticket_survival_, women_children_ticket, label)
        self.n_features_out_ = len(FEATURE_NAMES)

    def _matrix(self, columns: Mapping[str, Any], own_labels: list[float]) -> np.ndarray:
        """Stream every row's features into one float array (no list of per-row lists held in memory)."""
        width = len(FEATURE_NAMES)
        values = chain.from_iterable(
            self._features(*row, label) for row, label in zip(_rows(columns), own_labels, strict=True)
        )
        return np.fromiter(values, dtype=float, count=len(own_labels) * width).reshape(len(own_labels), width)

    def _features(
        self, pclass: float, sex: str | None, age: float, sibsp: float, parch: float, fare: float,
        name: str | None, ticket: str | None, cabin: str | None, embarked: str | None, own_label: float,
    ) -> list[float]:  # fmt: skip
        title = title_of(name)
        family_size = (sibsp if sibsp == sibsp else 0.0) + (parch if parch == parch else 0.0) + 1.0
        group_size = float(max(self.ticket_counts_.get(ticket, 1), 1)) if ticket is not None else 1.0
        family_key, women_children_ticket = _women_children_keys(name, title, ticket, fare, pclass)
        women_children_rate = _group_rate(self.family_survival_, family_key, own_label)
        if women_children_rate != women_children_rate:
            women_children_rate = _group_rate(
                self.women_children_ticket_survival_, women_children_ticket, own_label
            )
        return [
            pclass,
            _code(sex, SEX_CODES),
            age,
            sibsp,
            parch,
            fare,
            _code(title, TITLE_CODES),
            _code(embarked, EMBARKED_CODES),
            _code(cabin[0].upper() if cabin else None, DECK_CODES),
            1.0 if cabin is not None else 0.0,
            family_size,
            1.0 if family_size == 1.0 else 0.0,
            group_size,
            fare / group_size,
            float(age < _CHILD_AGE) if age == age else NAN,
            float(len(name)) if name is not None else NAN,
            _group_rate(self.ticket_survival_, ticket, own_label),
            women_children_rate,
        ]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(FEATURE_NAMES, dtype=object)
