"""Titanic feature engineering: one definition for training, batch and single-row serving.

The transformer works on columns (any mapping from raw column name to a sequence: a pandas DataFrame or a
dict of lists or arrays), so a one-row request costs a handful of small numpy operations instead of a
pandas round trip.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
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
CATEGORICAL_FEATURES: tuple[str, ...] = ("title", "embarked", "deck")

WOMEN_AND_CHILDREN_TITLES = frozenset({"Mrs", "Miss", "Master"})
_TITLE_PATTERN = re.compile(r",\s*([^.]+)\.")
_CHILD_AGE = 14.0


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


def _codes(values: Sequence[str | None], mapping: Mapping[str, int]) -> np.ndarray:
    return np.array(
        [mapping.get(value, -1) if value is not None else np.nan for value in values], dtype=float
    )


def _label_sums(keys: Sequence[str | None], labels: Sequence[float]) -> dict[str, tuple[float, int]]:
    sums: dict[str, tuple[float, int]] = {}
    for key, label in zip(keys, labels, strict=True):
        if key is not None and label == label:
            total, count = sums.get(key, (0.0, 0))
            sums[key] = (total + label, count + 1)
    return sums


def _group_rates(
    keys: Sequence[str | None], sums: Mapping[str, tuple[float, int]], own_labels: np.ndarray | None
) -> np.ndarray:
    """Survival rate of the other known members of each row's group; NaN when there are none."""
    rates = np.full(len(keys), np.nan)
    for index, key in enumerate(keys):
        total, count = sums.get(key, (0.0, 0)) if key is not None else (0.0, 0)
        if own_labels is not None and count > 0 and own_labels[index] == own_labels[index]:
            total, count = total - own_labels[index], count - 1
        if count > 0:
            rates[index] = total / count
    return rates


def _numeric(column: Any) -> np.ndarray:
    return np.asarray(column, dtype=float)


def _text(column: Any) -> list[str | None]:
    return [text_or_none(value) for value in np.asarray(column, dtype=object).tolist()]


class TitanicFeatures(TransformerMixin, BaseEstimator):
    """Turn raw passenger columns into a float matrix; learns ticket group sizes from the training rows."""

    def fit(self, columns: Mapping[str, Any], y: Any = None) -> TitanicFeatures:
        tickets = _text(columns["Ticket"])
        family_keys, women_children_tickets = self._women_children_keys(columns)
        self.ticket_counts_: dict[str, int] = dict(
            Counter(ticket for ticket in tickets if ticket is not None)
        )
        labels = [float("nan")] * len(tickets) if y is None else np.asarray(y, dtype=float).tolist()
        self.ticket_survival_: dict[str, tuple[float, int]] = _label_sums(tickets, labels)
        self.family_survival_: dict[str, tuple[float, int]] = _label_sums(family_keys, labels)
        self.women_children_ticket_survival_: dict[str, tuple[float, int]] = _label_sums(
            women_children_tickets, labels
        )
        self.n_features_out_ = len(FEATURE_NAMES)
        return self

    def fit_transform(self, columns: Mapping[str, Any], y: Any = None, **fit_params: Any) -> np.ndarray:
        """Training rows must not see their own label in the group survival rates (leave-one-out)."""
        self.fit(columns, y)
        own_labels = None if y is None else np.asarray(y, dtype=float)
        return self._transform(columns, own_labels)

    def transform(self, columns: Mapping[str, Any]) -> np.ndarray:
        return self._transform(columns, None)

    @staticmethod
    def _women_children_keys(columns: Mapping[str, Any]) -> tuple[list[str | None], list[str | None]]:
        """Women and boys travelling together share a fate: group them by family, and by ticket as a fallback.

        Adult men get no group (None): their survival barely depends on their group's.
        """
        family_keys: list[str | None] = []
        ticket_keys: list[str | None] = []
        for name, ticket, fare, pclass in zip(
            _text(columns["Name"]),
            _text(columns["Ticket"]),
            _numeric(columns["Fare"]),
            _numeric(columns["Pclass"]),
            strict=True,
        ):
            if title_of(name) not in WOMEN_AND_CHILDREN_TITLES:
                family_keys.append(None)
                ticket_keys.append(None)
                continue
            family_keys.append(f"{surname_of(name)}|{pclass:.0f}|{(ticket or '')[:-1]}|{fare:.1f}")
            ticket_keys.append(ticket)
        return family_keys, ticket_keys

    def _transform(self, columns: Mapping[str, Any], own_labels: np.ndarray | None) -> np.ndarray:
        pclass = _numeric(columns["Pclass"])
        age = _numeric(columns["Age"])
        sibsp = _numeric(columns["SibSp"])
        parch = _numeric(columns["Parch"])
        fare = _numeric(columns["Fare"])
        names = _text(columns["Name"])
        cabins = _text(columns["Cabin"])
        tickets = _text(columns["Ticket"])

        family_size = np.nan_to_num(sibsp) + np.nan_to_num(parch) + 1.0
        family_keys, women_children_tickets = self._women_children_keys(columns)
        women_children_rates = _group_rates(family_keys, self.family_survival_, own_labels)
        ticket_fallback = _group_rates(
            women_children_tickets, self.women_children_ticket_survival_, own_labels
        )
        women_children_rates = np.where(np.isnan(women_children_rates), ticket_fallback, women_children_rates)
        ticket_group_size = np.array(
            [max(self.ticket_counts_.get(ticket, 1), 1) if ticket is not None else 1 for ticket in tickets],
            dtype=float,
        )
        return np.column_stack(
            [
                pclass,
                _codes(_text(columns["Sex"]), SEX_CODES),
                age,
                sibsp,
                parch,
                fare,
                _codes([title_of(name) for name in names], TITLE_CODES),
                _codes(_text(columns["Embarked"]), EMBARKED_CODES),
                _codes([cabin[0].upper() if cabin else None for cabin in cabins], DECK_CODES),
                np.array([cabin is not None for cabin in cabins], dtype=float),
                family_size,
                (family_size == 1.0).astype(float),
                ticket_group_size,
                fare / ticket_group_size,
                np.where(np.isnan(age), np.nan, (age < _CHILD_AGE).astype(float)),
                np.array([len(name) if name is not None else np.nan for name in names], dtype=float),
                _group_rates(tickets, self.ticket_survival_, own_labels),
                women_children_rates,
            ]
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(FEATURE_NAMES, dtype=object)
