"""The channel profile: numbers, missing-value markers and values that are not numbers, each counted and the
first ones named with their file and row, across batches and hosts; and the target's view of the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lightsage.data.channels import DataFile, RawBatch
from lightsage.data.profile import ColumnProfile, TableProfile, TargetColumn, marker_lines
from lightsage.tasks import TargetError, Task

FILE = DataFile(Path("a.csv"), "train", "a.csv", "csv", False)
WHERE = "channel 'train', file 'a.csv'"


def profile_of(texts: list[str | None], batch_rows: int = 4) -> ColumnProfile:
    """The profile of one text column read in batches of `batch_rows`, as `train` reads a CSV channel."""
    table = TableProfile.empty(["x"])
    for first in range(0, len(texts), batch_rows):
        batch = pa.table({"x": pa.array(texts[first : first + batch_rows], pa.string())})
        table.observe(RawBatch(FILE, first, batch), only=["x"])
    return table.columns["x"]


def test_missing_value_markers_keep_a_column_numeric_and_are_counted_with_their_rows() -> None:
    column = profile_of(["1", "NA", "2.5", "", " null ", "3", "NA", "?", "4", "N/A"])
    assert (column.numeric, column.numbers, column.non_numbers) == (True, 4, 0)
    assert column.markers == {"'NA'": 2, "'null'": 1, "'?'": 1, "'N/A'": 1}
    assert column.marker_cells == [(WHERE, 2, "'NA'"), (WHERE, 5, "'null'"), (WHERE, 7, "'NA'")]
    assert marker_lines("train", [column]) == [
        "channel 'train', column 'x': read 5 missing-value markers as missing ('NA' 2, '?' 1, 'N/A' 1, "
        "'null' 1): 'NA' (channel 'train', file 'a.csv', row 2), 'null' (row 5), 'NA' (row 7) and 2 more"
    ]


def test_batches_after_the_distinct_sample_count_the_same_as_the_batches_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # once the sample is full, a batch of numbers and empty cells is counted from its numbers alone; a batch
    # with a marker or a word is still read cell by cell
    texts = ["1", "2", "", "3", " 4 ", "", "5", "6", "7", " ", "8", "NA", "9", "x", "", "10"]
    full = profile_of(texts)
    monkeypatch.setattr("lightsage.data.profile.DISTINCT_SAMPLE", 3)
    sampled = profile_of(texts)
    assert sampled.sampled == 3
    for column in (full, sampled):
        assert (column.present, column.missing, column.numbers) == (12, 4, 10)
        assert (column.markers, column.non_number_spellings) == ({"'NA'": 1}, {"'x'": 1})
        assert (column.marker_cells, column.non_number_cells) == ([(WHERE, 12, "'NA'")], [(WHERE, 14, "'x'")])
        assert (column.integer, column.ascending) == (True, True)


@pytest.mark.parametrize(
    ("texts", "few"),
    [
        ([str(i) for i in range(99)] + ["unknown"], True),  # one word for "unknown"
        ([str(i) for i in range(60)] + ["unknown"] * 40, True),  # a sentinel, however often
        ([f"{i}.5" for i in range(970)] + [f"{i} kg" for i in range(30)], True),  # 3% of many spellings
        ([f"{i}.5" for i in range(900)] + [f"{i} kg" for i in range(100)], False),  # 10% of many spellings
        ([str(i) for i in range(40)] + ["unknown"] * 60, False),  # more words than numbers
        (
            ["113803", "A/5 21171", "PC 17599", "349909", "STON/O2. 3101282"] * 20,
            False,
        ),  # like Titanic's Ticket
        ([f"name {i}" for i in range(100)], False),  # text
        ([str(i) for i in range(100)], False),  # numbers
    ],
    ids=["one word", "a sentinel", "3% of many", "10% of many", "mostly words", "tickets", "text", "numbers"],
)
def test_numbers_with_a_few_non_numbers_are_told_apart_from_text(texts: list[str], few: bool) -> None:
    column = profile_of(texts, batch_rows=64)
    assert column.few_non_numbers is few
    assert column.numeric is (column.non_numbers == 0)


def test_the_values_that_are_not_numbers_are_named_with_their_rows_and_spellings() -> None:
    column = profile_of(["1", "2", "n.a.", "3", "4", "12kg", "5", "6", "n.a.", "7", "-", "8"])
    assert column.describe_non_numbers() == (
        "4 values that are not a number: 'n.a.' (channel 'train', file 'a.csv', row 3), '12kg' (row 6), "
        "'n.a.' (row 9) and 1 more (of each: 'n.a.' 2, '-' 1, '12kg' 1)"
    )


def test_parquet_infinities_are_values_that_are_not_finite_numbers() -> None:
    table = TableProfile.empty(["x"])
    parquet = DataFile(Path("p.parquet"), "train", "p.parquet", "parquet", False)
    values = pa.array([1.0, float("inf"), None, 2.0, float("-inf"), float("nan")] + [3.0] * 40)
    table.observe(RawBatch(parquet, 100, pa.table({"x": values})), only=["x"])
    column = table.columns["x"]
    assert (column.numbers, column.non_numbers, column.few_non_numbers) == (42, 2, True)
    assert column.describe_non_numbers() == (
        "2 values that are not a finite number: inf (channel 'train', file 'p.parquet', row 102), "
        "-inf (row 105) (of each: -inf 1, inf 1)"
    )
    assert column.missing == 2 and "inf" not in column.distinct


def test_the_target_reads_markers_as_missing_and_names_what_is_not_a_number() -> None:
    target = TargetColumn("y")
    target.observe(pa.array(["1.5", "NA", "2.5", "3", "null"]), WHERE, 0)
    profile = target.target_profile()
    assert (profile.counts, profile.numeric, profile.missing, profile.not_numbers) == (
        {1.5: 1, 2.5: 1, 3: 1},
        True,
        2,
        "",
    )
    assert np.array_equal(target.labels(Task.REGRESSION, []), [1.5, np.nan, 2.5, 3.0, np.nan], equal_nan=True)
    mixed = TargetColumn("y")
    mixed.observe(pa.array([str(i % 5) for i in range(50)] + ["unknown"]), WHERE, 0)
    assert mixed.target_profile().not_numbers == (
        "1 value that is not a number: 'unknown' (channel 'train', file 'a.csv', row 51)"
    )


@pytest.mark.parametrize("infinity", [float("inf"), float("-inf")])
def test_an_infinity_in_a_parquet_target_is_named_with_its_file_and_row(infinity: float) -> None:
    target = TargetColumn("y")
    with pytest.raises(TargetError) as caught:
        target.observe(pa.array([1.0, 2.0, infinity]), "channel 'train', file 'p.parquet'", 10)
    assert str(caught.value) == (
        f"channel 'train', file 'p.parquet', row 13, target column 'y': {infinity!r} is not a finite number "
        "(leave the field empty when unknown)"
    )


def test_hosts_merge_their_profiles_into_the_profile_of_all_rows() -> None:
    texts = ["1", "NA", "x", "2", "?", "y", "3", "x"] * 3
    whole = profile_of(texts)
    halves = [profile_of(texts[:12]), profile_of(texts[12:])]
    halves[1] = ColumnProfile.merged("x", [json.loads(json.dumps(halves[1].to_json()))])
    merged = ColumnProfile.merged("x", [json.loads(json.dumps(half.to_json())) for half in halves])
    # rows of the second half count from its own first row, as each host counts its own files
    assert merged.to_json() | {"marker_cells": [], "non_number_cells": []} == whole.to_json() | {
        "marker_cells": [],
        "non_number_cells": [],
    }
    assert merged.marker_cells == whole.marker_cells and merged.non_number_cells == whole.non_number_cells
