"""Titanic survival: the worked example. Raw passenger columns in, 5 features out.

Class, sex, boy (title Master), and the woman-child-group flags: whether the known women and boys of the
passenger's family (or, failing that, ticket) all died or all survived. Shallow trees on these few features
stay close to the woman-child-group rule and rank passengers by class within its answers. The design was
chosen by a protocol that holds the choice itself out (`bench/model_quality.py`): larger designs, with age,
fare per person or family size, scored no better in accuracy or log loss on passengers left out of the
choice. Training rows never count themselves in their groups (leave-one-out), so a training row sees its
groups as a new passenger would.

`transform` computes a batch with Arrow's string kernels and numpy, with no Python object per passenger;
`transform_row` computes one passenger with plain Python for fast single requests. A property test holds the
two to identical answers, so every string rule below is written twice, side by side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.contract.hyperparameters import TuningRange
from lightsage.data.keys import KeyIndex
from lightsage.data.schema import number, text
from lightsage.data.values import ASCII_WHITESPACE
from lightsage.recipes.base import Recipe, State
from lightsage.tasks import Task

SEX_CODES: dict[str, int] = {"male": 0, "female": 1}
BOY_TITLE = "Master"
FARE_KEY_LIMIT = 1e12
FEATURE_NAMES: tuple[str, ...] = (
    "pclass",
    "sex",
    "is_boy",
    "wcg_all_died",
    "wcg_all_survived",
)
GROUPS = ("wc_family", "wc_ticket")
_TITLE_SYNTAX = r",[ \t\r\n\f\v]*([^.]+)\."
_TITLE = re.compile(_TITLE_SYNTAX)
_SURNAME_SYNTAX = r"^([^,]*),"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
NAN = math.nan


# -- one passenger (plain Python) ------------------------------------------------------------------------


def is_boy(name: str | None) -> bool:
    """A boy is a passenger titled Master (the text between the first comma and the next full stop)."""
    match = _TITLE.search(name) if name is not None else None
    return match is not None and match.group(1).strip(ASCII_WHITESPACE) == BOY_TITLE


def surname_of(name: str | None) -> str:
    """Text before the first comma, trimmed, with ASCII letters lower-cased ('' when there is no comma)."""
    if name is None or "," not in name:
        return ""
    return name.split(",", 1)[0].strip(ASCII_WHITESPACE).translate(_ASCII_LOWER)


def _integer_key(value: float) -> str:
    return str(round(value)) if value == value else ""


def _fare_tenths(fare: float) -> float:
    """Fare in whole tenths, as numpy's rint gives it (Python's round also rounds half to even)."""
    return min(max(fare, -FARE_KEY_LIMIT), FARE_KEY_LIMIT) * 10.0


def family_key(name: str | None, ticket: str | None, fare: float, pclass: float) -> str:
    """A family travels together: same surname, class, ticket stem (all but its last character) and fare."""
    return (
        f"{surname_of(name)}|{_integer_key(pclass)}|{(ticket or '')[:-1]}|{_integer_key(_fare_tenths(fare))}"
    )


# -- a batch of passengers (Arrow and numpy) ---------------------------------------------------------------


def _strings(frame: pd.DataFrame, column: str) -> pa.ChunkedArray | pa.Array:
    return pa.array(frame[column].array, pa.string(), from_pandas=True)


def _extract(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    """The first capture group of the first match; null where nothing matches."""
    return pc.struct_field(pc.extract_regex(values, pattern.replace("(", "(?P<found>", 1)), [0])


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def boys(names: pa.Array | pa.ChunkedArray) -> np.ndarray:
    # The title regex is slow; only names that contain the word can be boys.
    candidates = np.flatnonzero(_mask(pc.match_substring(names, BOY_TITLE)))
    titles = pc.ascii_trim(_extract(names.take(candidates), _TITLE_SYNTAX), ASCII_WHITESPACE)
    boy = np.zeros(len(names), dtype=bool)
    boy[candidates] = _mask(pc.equal(titles, BOY_TITLE))
    return boy


def surnames(names: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.ascii_lower(pc.ascii_trim(_extract(names, _SURNAME_SYNTAX), ASCII_WHITESPACE)).fill_null("")


def _integer_keys(values: np.ndarray) -> pa.Array:
    present = ~np.isnan(values)
    texts = pc.cast(pa.array(np.rint(np.where(present, values, 0.0)).astype(np.int64)), pa.string())
    return pc.if_else(pa.array(present), texts, "")


def family_keys(
    names: pa.Array | pa.ChunkedArray,
    tickets: pa.Array | pa.ChunkedArray,
    fare: np.ndarray,
    pclass: np.ndarray,
) -> pa.Array:
    tenths = np.clip(fare, -FARE_KEY_LIMIT, FARE_KEY_LIMIT) * 10.0
    return pc.binary_join_element_wise(
        surnames(names),
        _integer_keys(pclass),
        pc.utf8_slice_codeunits(tickets.fill_null(""), 0, -1),
        _integer_keys(tenths),
        "|",
    )


def _codes(values: pa.Array | pa.ChunkedArray, codes: dict[str, int]) -> np.ndarray:
    """Each value's code; NaN where missing (closed vocabularies admit no other value)."""
    positions = pc.index_in(values, value_set=pa.array(list(codes), pa.string()))
    found = np.asarray(positions.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.where(found >= 0, np.array(list(codes.values()), dtype=float)[np.maximum(found, 0)], NAN)


@dataclass(frozen=True)
class Keyed:
    """Group keys of some rows of a batch (the others belong to no group of this kind)."""

    rows: np.ndarray
    keys: pa.Array | pa.ChunkedArray


class Groups:
    """Counts and survivor counts per group key, learnt from training rows."""

    def __init__(self, table: pa.Table | pd.DataFrame) -> None:
        table = _as_arrow(table)
        self.index = KeyIndex(table.column("key"))
        self.counts = table.column("count").to_numpy()
        self.survived = table.column("label_sum").to_numpy()

    def find(self, keyed: Keyed, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(survivors, members) of each of `rows` rows' group; zeros for unknown, missing or unkeyed rows."""
        found = self.index.positions(keyed.keys)
        known = found >= 0
        at = np.maximum(found, 0)
        survived, members = np.zeros(rows), np.zeros(rows)
        survived[keyed.rows] = np.where(known, self.survived[at], 0)
        members[keyed.rows] = np.where(known, self.counts[at], 0)
        return survived, members

    def find_one(self, key: str | None) -> tuple[float, float]:
        position = self.index.position(key)
        if position < 0:
            return 0.0, 0.0
        return float(self.survived[position]), float(self.counts[position])


def _whole(totals: np.ndarray) -> np.ndarray:
    """Sums of whole numbers in the smallest integer type that holds them all."""
    return totals.astype(np.int32 if totals.max(initial=0) < 2**31 else np.int64)


def _group_sums(keys: pa.Array | pa.ChunkedArray, counts: np.ndarray | None, sums: np.ndarray) -> pa.Table:
    """Counts (each row counts 1 when `counts` is None) and label sums per distinct key, null keys dropped.

    Arrow's dictionary encoding of chunked keys shares one dictionary across chunks, so the keys are never
    copied into one array.
    """
    encoded = pc.dictionary_encode(keys)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
    codes = np.concatenate(
        [np.asarray(chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)) for chunk in chunks]
        or [np.empty(0, dtype=np.int32)]
    )
    if encoded.null_count:
        present = codes >= 0
        codes, sums = codes[present], sums[present]
        counts = counts[present] if counts is not None else None
    size = len(dictionary)
    return pa.table(
        {
            "key": dictionary,
            "count": _whole(np.bincount(codes, weights=counts, minlength=size)),
            "label_sum": _whole(np.bincount(codes, weights=sums, minlength=size)),
        }
    )


def _as_arrow(table: pa.Table | pd.DataFrame) -> pa.Table:
    """Version 1 artifacts load the state's tables as pandas DataFrames."""
    return table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)


class Titanic(Recipe):
    name = "titanic"
    version = 4
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
    learned_from = ("Pclass", "Name", "Sex", "Ticket", "Fare")
    tasks = (Task.BINARY,)
    changed_defaults: ClassVar[Mapping[str, Any]] = {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 4,
        "max_depth": 2,
        "min_child_samples": 10,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    }
    changed_tuning: ClassVar[Mapping[str, TuningRange | None]] = {
        "learning_rate": TuningRange(0.01, 0.2, "Logarithmic"),
        "num_leaves": TuningRange(2, 32),
        "max_depth": TuningRange(1, 5),
        "min_child_samples": TuningRange(5, 50),
        "colsample_bytree": TuningRange(0.5, 1.0),
        "reg_lambda": TuningRange(0.0, 10.0),
        "n_estimators": TuningRange(100, 800),
    }

    # -- learning --------------------------------------------------------------------------------------

    @staticmethod
    def _keys(frame: pd.DataFrame) -> tuple[dict[str, Keyed], np.ndarray, np.ndarray]:
        """The rows of each group kind with their keys (the groups hold only women and boys), and each row's
        boy and women-and-boys flags."""
        tickets, names = _strings(frame, "Ticket"), _strings(frame, "Name")
        boy = boys(names)
        women_and_boys = boy | _mask(pc.equal(_strings(frame, "Sex"), "female"))
        chosen = np.flatnonzero(women_and_boys)
        chosen_with_ticket = np.flatnonzero(women_and_boys & _mask(pc.is_valid(tickets)))
        family = family_keys(
            names.take(chosen),
            tickets.take(chosen),
            frame["Fare"].to_numpy(dtype=float)[chosen],
            frame["Pclass"].to_numpy(dtype=float)[chosen],
        )
        keys = {
            "wc_family": Keyed(chosen, family),
            "wc_ticket": Keyed(chosen_with_ticket, tickets.take(chosen_with_ticket)),
        }
        return keys, boy, women_and_boys

    def summarise(self, frame: pd.DataFrame, labels: np.ndarray) -> State:
        keys, _, _ = self._keys(frame)
        return {group: _group_sums(keyed.keys, None, labels[keyed.rows]) for group, keyed in keys.items()}

    def combine(self, summaries: Sequence[State]) -> State:
        combined: State = {}
        for group in GROUPS:
            parts = [_as_arrow(summary[group]) for summary in summaries]
            tables = pa.concat_tables(parts, promote_options="permissive")
            combined[group] = _group_sums(
                tables["key"], tables["count"].to_numpy(), tables["label_sum"].to_numpy()
            )
            del tables, parts
        return combined

    def learn(self, summary: State) -> State:
        return {group: _as_arrow(summary[group]) for group in GROUPS}

    def check_state(self) -> None:
        """Each group table: distinct text keys, whole counts of at least 1, survivor counts within them."""
        for group in GROUPS:
            table = self.state.get(group)
            if not isinstance(table, pa.Table | pd.DataFrame):
                raise ValueError(f"the state has no '{group}' table")
            try:
                table = _as_arrow(table)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
                raise ValueError(f"the '{group}' table mixes types in a column: {error}") from None
            names = table.column_names
            if not {"key", "count", "label_sum"} <= set(names):
                raise ValueError(
                    f"the '{group}' table has columns {names}; it needs key, count and label_sum"
                )
            key, count, label_sum = table.column("key"), table.column("count"), table.column("label_sum")
            if not (pa.types.is_string(key.type) or pa.types.is_large_string(key.type)):
                raise ValueError(f"the '{group}' table's keys are {key.type}, not text")
            for column, values in (("count", count), ("label_sum", label_sum)):
                if not pa.types.is_integer(values.type) or values.null_count:
                    raise ValueError(
                        f"the '{group}' table's {column} column is {values.type}, not whole numbers"
                    )
            if key.null_count or pc.count_distinct(key).as_py() != len(key):
                raise ValueError(f"the '{group}' table lists a key more than once, or an empty key")
            counts, sums = count.to_numpy(), label_sum.to_numpy()
            if len(counts) and (counts.min() < 1 or sums.min() < 0 or (sums > counts).any()):
                raise ValueError(
                    f"the '{group}' table has counts below 1 or survivor counts outside 0 to count"
                )

    def probe_values(self) -> dict[str, list[Any]]:
        """A ticket the ticket groups know, and names with and without the boy's title."""
        tickets = [
            _as_arrow(self.state[group]).column("key")[0].as_py()
            for group in ("wc_ticket",)
            if len(self.state[group])
        ]
        return {
            "Ticket": tickets,
            "Name": ["Palsson, Master. Gosta Leonard", "Allen, Miss. Elisabeth Walton"],
        }

    @cached_property
    def _groups(self) -> dict[str, Groups]:
        return {group: Groups(self.state[group]) for group in GROUPS}

    # -- features --------------------------------------------------------------------------------------

    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    def transform(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        """Features of a batch; `labels` (training rows) are taken out of each row's own groups."""
        keys, boy, women_and_boys = self._keys(frame)
        rows = len(frame)
        own_label = np.zeros(rows) if labels is None else np.nan_to_num(labels, nan=0.0)
        own_count = np.zeros(rows) if labels is None else np.ones(rows)
        survived, members = self._women_and_boys_group(keys, rows, own_count, own_label)
        columns = [
            frame["Pclass"].to_numpy(dtype=float),
            _codes(_strings(frame, "Sex"), SEX_CODES),
            boy.astype(float),
            (women_and_boys & (members > 0) & (survived == 0)).astype(float),
            (women_and_boys & (members > 0) & (survived == members)).astype(float),
        ]
        return np.column_stack(columns)

    def _women_and_boys_group(
        self, keys: dict[str, Keyed], rows: int, own_count: np.ndarray, own_label: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(survivors, members) of the other known women and boys of each row's family, else of its ticket.

        A training row (own_count 1) is itself a member of its groups and is taken out of them.
        """
        family_survived, family_members = self._groups["wc_family"].find(keys["wc_family"], rows)
        ticket_survived, ticket_members = self._groups["wc_ticket"].find(keys["wc_ticket"], rows)
        for keyed, survived, members in (
            (keys["wc_family"], family_survived, family_members),
            (keys["wc_ticket"], ticket_survived, ticket_members),
        ):
            members[keyed.rows] -= own_count[keyed.rows]
            survived[keyed.rows] -= own_label[keyed.rows]
        use_family = family_members > 0
        return (
            np.where(use_family, family_survived, ticket_survived),
            np.where(use_family, family_members, ticket_members),
        )

    def transform_row(self, row: Mapping[str, Any]) -> list[float]:
        """One new passenger's features (serving: the passenger is in no training group)."""
        groups = self._groups
        name, ticket, sex = row["Name"], row["Ticket"], row["Sex"]
        boy = is_boy(name)
        women_and_boys = boy or sex == "female"
        survived, members = 0.0, 0.0
        if women_and_boys:
            survived, members = groups["wc_family"].find_one(
                family_key(name, ticket, row["Fare"], row["Pclass"])
            )
            if members == 0:
                survived, members = groups["wc_ticket"].find_one(ticket)
        return [
            row["Pclass"],
            NAN if sex is None else float(SEX_CODES[sex]),
            1.0 if boy else 0.0,
            1.0 if women_and_boys and members > 0 and survived == 0 else 0.0,
            1.0 if women_and_boys and members > 0 and survived == members else 0.0,
        ]
