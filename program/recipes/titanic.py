"""Titanic survival: the worked example. Raw passenger columns in, 18 features out.

The features: class, sex, age, siblings, parents, fare, title from the name, port, deck and cabin presence,
family size and travelling alone, ticket group size and fare per person, child flag, name length, and two
group survival rates learnt from training labels: the ticket group's, and that of the women and children
travelling in the same family. Training rows never see their own label in those rates (leave-one-out); new
passengers see their group's training members. `transform` computes them over a batch with pandas and numpy;
`transform_row` computes one passenger with plain floats for fast single requests. A property test holds the
two to identical answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from byoc.hyperparameters import TuningRange
from byoc.recipe import Recipe, State
from byoc.schema import number, text
from byoc.tasks import Task
from byoc.values import ASCII_WHITESPACE

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
WOMEN_AND_CHILDREN_TITLES = frozenset({"Mrs", "Miss", "Master"})
CHILD_AGE = 14.0
GROUPS = ("ticket", "family", "women_children_ticket")
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
_TITLE_SYNTAX = r",[ \t\r\n\f\v]*([^.]+)\."
_TITLE = re.compile(_TITLE_SYNTAX)
_SURNAME_SYNTAX = r"^([^,]*),"
NAN = math.nan


# -- one passenger ---------------------------------------------------------------------------------------


def title_of(name: str | None) -> str | None:
    if name is None:
        return None
    match = _TITLE.search(name)
    return "Other" if match is None else TITLE_GROUPS.get(match.group(1).strip(ASCII_WHITESPACE), "Other")


def surname_of(name: str | None) -> str:
    if name is None or "," not in name:
        return ""
    return name.split(",", 1)[0].strip(ASCII_WHITESPACE).lower()


def family_key(
    name: str | None, title: str | None, ticket: str | None, fare: float, pclass: float
) -> str | None:
    """Women and boys travelling together share a fate: group them by surname, class, ticket stem and fare."""
    if title not in WOMEN_AND_CHILDREN_TITLES:
        return None
    return f"{surname_of(name)}|{pclass:.0f}|{(ticket or '')[:-1]}|{fare:.1f}"


def women_children_ticket(title: str | None, ticket: str | None) -> str | None:
    return ticket if title in WOMEN_AND_CHILDREN_TITLES else None


def _code(value: str | None, codes: Mapping[str, int]) -> float:
    return NAN if value is None else float(codes.get(value, -1))


# -- a batch of passengers -------------------------------------------------------------------------------


def titles(names: pd.Series) -> pd.Series:
    found = names.str.extract(_TITLE_SYNTAX, expand=False).str.strip(ASCII_WHITESPACE)
    grouped = found.map(TITLE_GROUPS).fillna("Other").astype(object)
    return grouped.where(names.notna(), None)


def surnames(names: pd.Series) -> pd.Series:
    return names.str.extract(_SURNAME_SYNTAX, expand=False).str.strip(ASCII_WHITESPACE).str.lower().fillna("")


def _format(values: pd.Series, spec: str) -> pd.Series:
    return values.map(lambda value: format(value, spec)).astype(object)


def family_keys(frame: pd.DataFrame, title: pd.Series) -> pd.Series:
    names = frame["Name"]
    tickets = frame["Ticket"].fillna("").str[:-1]
    keys = (
        surnames(names).astype(object)
        + "|"
        + _format(frame["Pclass"], ".0f")
        + "|"
        + tickets.astype(object)
        + "|"
        + _format(frame["Fare"], ".1f")
    ).astype(object)
    return keys.where(title.isin(WOMEN_AND_CHILDREN_TITLES), None)


def _codes(values: pd.Series, codes: Mapping[str, int]) -> np.ndarray:
    mapped = values.map(codes).astype(float).fillna(-1.0).to_numpy()
    return np.where(values.isna().to_numpy(), NAN, mapped)


class GroupRates:
    """Label sums and counts per group key, learnt from training rows."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.index = pd.Index(table["key"].astype(str).to_numpy(dtype=object))
        self.counts = table["count"].to_numpy(dtype=float)
        self.sums = table["label_sum"].to_numpy(dtype=float)

    def positions(self, keys: pd.Series) -> np.ndarray:
        return self.index.get_indexer(keys.astype(object).where(keys.notna(), "\0missing").to_numpy())

    def sizes(self, keys: pd.Series) -> np.ndarray:
        found = self.positions(keys)
        return np.where(found >= 0, self.counts[np.maximum(found, 0)], 0.0)

    def rates(self, keys: pd.Series, own_labels: np.ndarray | None) -> np.ndarray:
        """Survival rate of the other known members of each row's group; NaN when there are none."""
        found = self.positions(keys)
        total = np.where(found >= 0, self.sums[np.maximum(found, 0)], 0.0)
        count = np.where(found >= 0, self.counts[np.maximum(found, 0)], 0.0)
        if own_labels is not None:
            inside = (found >= 0) & ~np.isnan(own_labels)
            total = total - np.where(inside, own_labels, 0.0)
            count = count - inside
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1.0), NAN)

    def position_of(self, key: str | None) -> int:
        if key is None:
            return -1
        try:
            position = self.index.get_loc(key)
        except KeyError:
            return -1
        return position if isinstance(position, int) else -1

    def size_of(self, key: str | None) -> float:
        position = self.position_of(key)
        return float(self.counts[position]) if position >= 0 else 0.0

    def rate_of(self, key: str | None) -> float:
        position = self.position_of(key)
        if position < 0 or self.counts[position] == 0:
            return NAN
        return float(self.sums[position] / self.counts[position])


def _group_table(keys: pd.Series, labels: np.ndarray) -> pd.DataFrame:
    known = keys.notna().to_numpy()
    frame = pd.DataFrame({"key": keys[known].astype(str).to_numpy(), "label": labels[known]})
    grouped = frame.groupby("key", sort=True)["label"].agg(["size", "sum"]).reset_index()
    return grouped.rename(columns={"size": "count", "sum": "label_sum"})


class Titanic(Recipe):
    name = "titanic"
    version = 2
    input_columns = (
        number("Pclass", (1, 2, 3)),
        text("Name"),
        text("Sex", ("male", "female")),
        number("Age"),
        number("SibSp"),
        number("Parch"),
        text("Ticket"),
        number("Fare"),
        text("Cabin"),
        text("Embarked", ("S", "C", "Q")),
    )
    default_target = "Survived"
    tasks = (Task.BINARY,)
    changed_defaults = {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 8,
        "max_depth": 4,
        "min_child_samples": 10,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    }
    changed_tuning = {
        "learning_rate": TuningRange(0.01, 0.2, "Logarithmic"),
        "num_leaves": TuningRange(4, 64),
        "min_child_samples": TuningRange(5, 50),
        "colsample_bytree": TuningRange(0.5, 1.0),
        "reg_lambda": TuningRange(0.0, 10.0),
        "n_estimators": TuningRange(100, 800),
    }

    # -- learning --------------------------------------------------------------------------------------

    def _keys(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        title = titles(frame["Name"])
        tickets = frame["Ticket"]
        return {
            "ticket": tickets,
            "family": family_keys(frame, title),
            "women_children_ticket": tickets.where(title.isin(WOMEN_AND_CHILDREN_TITLES)),
        }

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        return {group: _group_table(keys, labels) for group, keys in self._keys(frame).items()}

    def combine(self, summaries: Sequence[State]) -> State:
        combined: State = {}
        for group in GROUPS:
            tables = pd.concat([summary[group] for summary in summaries], ignore_index=True)
            combined[group] = tables.groupby("key", sort=True)[["count", "label_sum"]].sum().reset_index()
        return combined

    @cached_property
    def _groups(self) -> dict[str, GroupRates]:
        return {group: GroupRates(self.state[group]) for group in GROUPS}

    # -- features --------------------------------------------------------------------------------------

    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        groups = self._groups
        names = frame["Name"]
        title = titles(names)
        keys = self._keys(frame)
        pclass, age, sibsp, parch, fare = (
            frame[c].to_numpy(dtype=float) for c in ("Pclass", "Age", "SibSp", "Parch", "Fare")
        )
        cabins = frame["Cabin"]
        family_size = np.nan_to_num(sibsp, nan=0.0) + np.nan_to_num(parch, nan=0.0) + 1.0
        group_size = np.where(
            keys["ticket"].notna(), np.maximum(groups["ticket"].sizes(keys["ticket"]), 1.0), 1.0
        )
        women_children = groups["family"].rates(keys["family"], labels)
        fallback = groups["women_children_ticket"].rates(keys["women_children_ticket"], labels)
        with np.errstate(invalid="ignore"):
            is_child = np.where(np.isnan(age), NAN, (age < CHILD_AGE).astype(float))
        columns = [
            pclass,
            _codes(frame["Sex"], SEX_CODES),
            age,
            sibsp,
            parch,
            fare,
            _codes(title, TITLE_CODES),
            _codes(frame["Embarked"], EMBARKED_CODES),
            _codes(cabins.str[0].str.upper(), DECK_CODES),
            cabins.notna().to_numpy(dtype=float),
            family_size,
            (family_size == 1.0).astype(float),
            group_size,
            fare / group_size,
            is_child,
            names.str.len().to_numpy(dtype=float, na_value=NAN),
            groups["ticket"].rates(keys["ticket"], labels),
            np.where(np.isnan(women_children), fallback, women_children),
        ]
        return np.column_stack(columns)

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        groups = self._groups
        pclass, age, sibsp, parch, fare = row["Pclass"], row["Age"], row["SibSp"], row["Parch"], row["Fare"]
        name, ticket, cabin = row["Name"], row["Ticket"], row["Cabin"]
        title = title_of(name)
        family_size = (sibsp if sibsp == sibsp else 0.0) + (parch if parch == parch else 0.0) + 1.0
        group_size = max(groups["ticket"].size_of(ticket), 1.0) if ticket is not None else 1.0
        women_children = groups["family"].rate_of(family_key(name, title, ticket, fare, pclass))
        if women_children != women_children:
            women_children = groups["women_children_ticket"].rate_of(women_children_ticket(title, ticket))
        return [
            pclass,
            _code(row["Sex"], SEX_CODES),
            age,
            sibsp,
            parch,
            fare,
            _code(title, TITLE_CODES),
            _code(row["Embarked"], EMBARKED_CODES),
            _code(cabin[0].upper() if cabin else None, DECK_CODES),
            1.0 if cabin is not None else 0.0,
            family_size,
            1.0 if family_size == 1.0 else 0.0,
            group_size,
            fare / group_size,
            float(age < CHILD_AGE) if age == age else NAN,
            float(len(name)) if name is not None else NAN,
            groups["ticket"].rate_of(ticket),
            women_children,
        ]
