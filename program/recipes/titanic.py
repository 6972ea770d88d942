"""Titanic survival: the worked example. Raw passenger columns in, 18 features out.

The features: class, sex, age, siblings, parents, fare, title from the name, port, deck and cabin presence,
family size and travelling alone, ticket group size and fare per person, child flag, name length, and two
group survival rates learnt from training labels: the ticket group's, and that of the women and children
travelling in the same family. Training rows never see their own label in those rates (leave-one-out); new
passengers see their group's training members.

`transform` computes a batch with Arrow's string kernels and numpy, with no Python object per passenger;
`transform_row` computes one passenger with plain Python for fast single requests. A property test holds the
two to identical answers, so every string rule below is written twice, side by side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
TITLE_CODES: dict[str, int] = {"Mr": 0, "Mrs": 1, "Miss": 2, "Master": 3, "Noble": 4, "Officer": 5, "Other": 6}
WOMEN_AND_CHILDREN_CODES = frozenset({TITLE_CODES["Mrs"], TITLE_CODES["Miss"], TITLE_CODES["Master"]})
SEX_CODES: dict[str, int] = {"male": 0, "female": 1}
EMBARKED_CODES: dict[str, int] = {"S": 0, "C": 1, "Q": 2}
# A cabin's first letter, either case.
DECK_CODES: dict[str, int] = {deck: code for code, letters in enumerate("ABCDEFGT") for deck in (letters, letters.lower())}
CHILD_AGE = 14.0
FARE_KEY_LIMIT = 1e12
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
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
NAN = math.nan


# -- one passenger (plain Python) ------------------------------------------------------------------------


def title_code(name: str | None) -> float:
    if name is None:
        return NAN
    match = _TITLE.search(name)
    group = TITLE_GROUPS.get(match.group(1).strip(ASCII_WHITESPACE), "Other") if match else "Other"
    return float(TITLE_CODES[group])


def surname_of(name: str | None) -> str:
    """Text before the first comma, trimmed, with ASCII letters lower-cased ('' when there is no comma)."""
    if name is None or "," not in name:
        return ""
    return name.split(",", 1)[0].strip(ASCII_WHITESPACE).translate(_ASCII_LOWER)


def _pclass_key(pclass: float) -> str:
    return str(int(pclass)) if pclass == pclass else ""


def _fare_key(fare: float) -> str:
    """Fare in whole tenths: the same integer numpy's rint gives (both round half to even)."""
    return str(round(min(max(fare, -FARE_KEY_LIMIT), FARE_KEY_LIMIT) * 10.0)) if fare == fare else ""


def family_key(name: str | None, title: float, ticket: str | None, fare: float, pclass: float) -> str | None:
    """Women and boys travelling together share a fate: group them by surname, class, ticket stem and fare."""
    if title not in WOMEN_AND_CHILDREN_CODES:
        return None
    return f"{surname_of(name)}|{_pclass_key(pclass)}|{(ticket or '')[:-1]}|{_fare_key(fare)}"


def _code(value: str | None, codes: Mapping[str, int]) -> float:
    return NAN if value is None else float(codes.get(value, -1))


# -- a batch of passengers (Arrow and numpy) ---------------------------------------------------------------


def _strings(frame: pd.DataFrame, column: str) -> pa.ChunkedArray | pa.Array:
    return pa.array(frame[column], pa.string(), from_pandas=True)


def _extract(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    """The first capture group of the first match; null where nothing matches."""
    named = pattern.replace("(", "(?P<found>", 1)
    return pc.struct_field(pc.extract_regex(values, named), [0])


def _lookup(values: pa.Array | pa.ChunkedArray, codes: Mapping[str, int], missing_as_nan: bool = True) -> np.ndarray:
    """Each value's code, -1 for other values, NaN where missing."""
    positions = pc.index_in(values, value_set=pa.array(list(codes), pa.string()))
    found = np.asarray(positions.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    mapped = np.where(found >= 0, np.array(list(codes.values()), dtype=float)[np.maximum(found, 0)], -1.0)
    if missing_as_nan:
        missing = np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
        mapped[missing] = NAN
    return mapped


def title_codes(names: pa.Array | pa.ChunkedArray) -> np.ndarray:
    found = pc.ascii_trim(_extract(names, _TITLE_SYNTAX), ASCII_WHITESPACE)
    groups = {title: TITLE_CODES[group] for title, group in TITLE_GROUPS.items()}
    codes = _lookup(found, groups, missing_as_nan=False)
    codes[codes < 0] = TITLE_CODES["Other"]
    codes[np.asarray(pc.is_null(names).to_numpy(zero_copy_only=False), dtype=bool)] = NAN
    return codes


def surnames(names: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.ascii_lower(pc.ascii_trim(_extract(names, _SURNAME_SYNTAX), ASCII_WHITESPACE)).fill_null("")


def _integer_keys(values: np.ndarray) -> pa.Array:
    present = ~np.isnan(values)
    text_values = pc.cast(pa.array(np.where(present, values, 0).astype(np.int64)), pa.string())
    return pc.if_else(pa.array(present), text_values, "")


def family_keys(frame: pd.DataFrame, title: np.ndarray) -> pa.Array:
    names, tickets = _strings(frame, "Name"), _strings(frame, "Ticket")
    fare = frame["Fare"].to_numpy(dtype=float)
    tenths = np.rint(np.clip(fare, -FARE_KEY_LIMIT, FARE_KEY_LIMIT) * 10.0)
    stems = pc.utf8_slice_codeunits(tickets.fill_null(""), 0, -1)
    keys = pc.binary_join_element_wise(
        surnames(names), _integer_keys(frame["Pclass"].to_numpy(dtype=float)), stems, _integer_keys(tenths), "|"
    )
    women_children = np.isin(title, list(WOMEN_AND_CHILDREN_CODES))
    return pc.if_else(pa.array(women_children), keys, pa.scalar(None, pa.string()))


class GroupRates:
    """Label sums and counts per group key, learnt from training rows."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.index = pd.Index(np.asarray(table["key"], dtype=object))
        self.counts = np.asarray(table["count"], dtype=float)
        self.sums = np.asarray(table["label_sum"], dtype=float)

    def positions(self, keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return self.index.get_indexer(np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object))

    def sizes(self, found: np.ndarray) -> np.ndarray:
        return np.where(found >= 0, self.counts[np.maximum(found, 0)], 0.0)

    def rates(self, found: np.ndarray, own_labels: np.ndarray | None) -> np.ndarray:
        """Survival rate of the other known members of each row's group; NaN when there are none."""
        total = np.where(found >= 0, self.sums[np.maximum(found, 0)], 0.0)
        count = self.sizes(found)
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

    def size_of(self, position: int) -> float:
        return float(self.counts[position]) if position >= 0 else 0.0

    def rate_of(self, position: int) -> float:
        if position < 0 or self.counts[position] == 0:
            return NAN
        return float(self.sums[position] / self.counts[position])


def _group_sums(keys: pa.Array | pa.ChunkedArray, counts: np.ndarray, sums: np.ndarray) -> pa.Table:
    """Counts and label sums per distinct key (null keys dropped), by Arrow's dictionary encoding."""
    flat = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    encoded = pc.dictionary_encode(flat)
    size = len(encoded.dictionary)
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    present = codes >= 0
    return pa.table(
        {
            "key": encoded.dictionary,
            "count": np.bincount(codes[present], weights=counts[present], minlength=size),
            "label_sum": np.bincount(codes[present], weights=sums[present], minlength=size),
        }
    )


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
    changed_defaults: ClassVar[Mapping[str, Any]] = {
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
    changed_tuning: ClassVar[Mapping[str, TuningRange | None]] = {
        "learning_rate": TuningRange(0.01, 0.2, "Logarithmic"),
        "num_leaves": TuningRange(4, 64),
        "min_child_samples": TuningRange(5, 50),
        "colsample_bytree": TuningRange(0.5, 1.0),
        "reg_lambda": TuningRange(0.0, 10.0),
        "n_estimators": TuningRange(100, 800),
    }

    # -- learning --------------------------------------------------------------------------------------

    def _keys(self, frame: pd.DataFrame, title: np.ndarray) -> dict[str, pa.Array | pa.ChunkedArray]:
        tickets = _strings(frame, "Ticket")
        women_children = pa.array(np.isin(title, list(WOMEN_AND_CHILDREN_CODES)))
        return {
            "ticket": tickets,
            "family": family_keys(frame, title),
            "women_children_ticket": pc.if_else(women_children, tickets, pa.scalar(None, pa.string())),
        }

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        keys = self._keys(frame, title_codes(_strings(frame, "Name")))
        ones = np.ones(len(labels))
        return {group: _group_sums(keys[group], ones, labels) for group in GROUPS}

    def combine(self, summaries: Sequence[State]) -> State:
        combined: State = {}
        for group in GROUPS:
            tables = pa.concat_tables([_as_arrow(summary[group]) for summary in summaries])
            combined[group] = _group_sums(
                tables["key"], tables["count"].to_numpy(), tables["label_sum"].to_numpy()
            )
        return combined

    def learn(self, summary: State) -> State:
        return {group: _as_arrow(summary[group]).sort_by("key").to_pandas() for group in GROUPS}

    @cached_property
    def _groups(self) -> dict[str, GroupRates]:
        return {group: GroupRates(self.state[group]) for group in GROUPS}

    # -- features --------------------------------------------------------------------------------------

    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        groups = self._groups
        names, cabins = _strings(frame, "Name"), _strings(frame, "Cabin")
        title = title_codes(names)
        keys = self._keys(frame, title)
        found = {group: groups[group].positions(keys[group]) for group in GROUPS}
        pclass, age, sibsp, parch, fare = (
            frame[column].to_numpy(dtype=float) for column in ("Pclass", "Age", "SibSp", "Parch", "Fare")
        )
        family_size = np.nan_to_num(sibsp, nan=0.0) + np.nan_to_num(parch, nan=0.0) + 1.0
        has_ticket = np.asarray(pc.is_valid(keys["ticket"]).to_numpy(zero_copy_only=False), dtype=bool)
        group_size = np.where(has_ticket, np.maximum(groups["ticket"].sizes(found["ticket"]), 1.0), 1.0)
        women_children = groups["family"].rates(found["family"], labels)
        fallback = groups["women_children_ticket"].rates(found["women_children_ticket"], labels)
        with np.errstate(invalid="ignore"):
            is_child = np.where(np.isnan(age), NAN, (age < CHILD_AGE).astype(float))
        name_length = np.asarray(pc.utf8_length(names).to_numpy(zero_copy_only=False), dtype=float)
        columns = [
            pclass,
            _lookup(_strings(frame, "Sex"), SEX_CODES),
            age,
            sibsp,
            parch,
            fare,
            title,
            _lookup(_strings(frame, "Embarked"), EMBARKED_CODES),
            _lookup(pc.utf8_slice_codeunits(cabins, 0, 1), DECK_CODES),
            np.asarray(pc.is_valid(cabins).to_numpy(zero_copy_only=False), dtype=float),
            family_size,
            (family_size == 1.0).astype(float),
            group_size,
            fare / group_size,
            is_child,
            name_length,
            groups["ticket"].rates(found["ticket"], labels),
            np.where(np.isnan(women_children), fallback, women_children),
        ]
        return np.column_stack(columns)

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        groups = self._groups
        pclass, age, sibsp, parch, fare = row["Pclass"], row["Age"], row["SibSp"], row["Parch"], row["Fare"]
        name, ticket, cabin = row["Name"], row["Ticket"], row["Cabin"]
        title = title_code(name)
        women_children = title in WOMEN_AND_CHILDREN_CODES
        family_size = (sibsp if sibsp == sibsp else 0.0) + (parch if parch == parch else 0.0) + 1.0
        ticket_position = groups["ticket"].position_of(ticket)
        group_size = max(groups["ticket"].size_of(ticket_position), 1.0) if ticket is not None else 1.0
        family_rate = groups["family"].rate_of(groups["family"].position_of(family_key(name, title, ticket, fare, pclass)))
        if family_rate != family_rate:
            fallback_key = ticket if women_children else None
            family_rate = groups["women_children_ticket"].rate_of(groups["women_children_ticket"].position_of(fallback_key))
        return [
            pclass,
            _code(row["Sex"], SEX_CODES),
            age,
            sibsp,
            parch,
            fare,
            title,
            _code(row["Embarked"], EMBARKED_CODES),
            _code(cabin[0] if cabin else None, DECK_CODES),
            1.0 if cabin is not None else 0.0,
            family_size,
            1.0 if family_size == 1.0 else 0.0,
            group_size,
            fare / group_size,
            float(age < CHILD_AGE) if age == age else NAN,
            float(len(name)) if name is not None else NAN,
            groups["ticket"].rate_of(ticket_position),
            family_rate,
        ]


def _as_arrow(table: pa.Table | pd.DataFrame) -> pa.Table:
    return table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
