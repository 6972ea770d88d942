"""Columns: typed conversion of raw values, the same for files and requests; the schema's JSON form."""

import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.schema import Column, ColumnValueError, InputSchema, number, text

SCHEMA = InputSchema(
    (
        Column("Id", "number", role="ignored"),
        number("Pclass", (1, 2, 3)),
        text("Sex", ("male", "female")),
        number("Age"),
    )
)


def test_features_and_positions_follow_the_training_file_order() -> None:
    assert SCHEMA.names == ("Id", "Pclass", "Sex", "Age")
    assert SCHEMA.feature_names == ("Pclass", "Sex", "Age")
    assert SCHEMA.positions["Sex"] == 2


def test_typed_table_converts_and_normalises() -> None:
    raw = pa.table(
        {"Id": ["x"] * 3, "Pclass": ["1", " 3", ""], "Sex": ["Male", " female", ""], "Age": ["22", "", "0.5"]}
    )
    typed = SCHEMA.typed_table(raw).to_pydict()
    assert typed["Pclass"][:2] == [1.0, 3.0] and math.isnan(typed["Pclass"][2])
    assert typed["Sex"] == ["male", "female", None]
    assert typed["Age"][0] == 22.0 and math.isnan(typed["Age"][1])
    assert "Id" not in typed


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [("Pclass", "4", "one of 1, 2, 3"), ("Sex", "F", "one of male, female"), ("Age", "old", "a number")],
)
def test_a_bad_value_names_column_row_value_and_rule(column: str, value: str, expected: str) -> None:
    raw = {"Id": ["1", "2"], "Pclass": ["1", "1"], "Sex": ["male", "male"], "Age": ["1", "1"]}
    raw[column] = [raw[column][0], value]
    with pytest.raises(ColumnValueError) as caught:
        SCHEMA.typed_table(pa.table(raw), row_offset=10)
    assert (caught.value.column, caught.value.row, caught.value.value, caught.value.expected) == (
        column,
        11,
        value,
        expected,
    )
    with pytest.raises(ColumnValueError):
        SCHEMA.typed_record({"Pclass": "1", "Sex": "male", "Age": "1", column: value})


def test_json_form_round_trips_and_is_checked() -> None:
    assert InputSchema.from_json(SCHEMA.to_json()) == SCHEMA
    with pytest.raises(ValueError, match="listed twice"):
        InputSchema.from_json([{"name": "a", "type": "number"}, {"name": "a", "type": "string"}])
    with pytest.raises(ValueError, match="no feature column"):
        InputSchema.from_json([{"name": "a", "type": "number", "role": "ignored"}])
    with pytest.raises(ValueError, match="not a column description"):
        InputSchema.from_json([{"name": "a", "type": "date"}])


VALUES = st.one_of(
    st.none(), st.sampled_from(["1", "2", " 3 ", "4", "x", "", "male", "MALE", "f"]), st.integers(0, 4)
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"Pclass": VALUES, "Sex": VALUES, "Age": VALUES}), min_size=1, max_size=5)
)
def test_record_and_table_conversion_agree(records: list[dict[str, object]]) -> None:
    """Requests take the scalar path for single rows and the Arrow path for batches: same answers."""
    scalar, failed_at = [], None
    for index, record in enumerate(records):
        try:
            scalar.append(SCHEMA.typed_record(record))
        except ColumnValueError:
            failed_at = index
            break
    columns = {name: [record[name] for record in records] for name in ("Pclass", "Sex", "Age")}
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if v is None else str(v) for v in values])
    if failed_at is not None:
        with pytest.raises(ColumnValueError):
            SCHEMA.typed_table(pa.table(arrays))
        return
    typed = SCHEMA.typed_table(pa.table(arrays)).to_pylist()
    for expected, actual in zip(scalar, typed, strict=True):
        for name, value in expected.items():
            other = actual[name]
            both_missing = isinstance(value, float) and math.isnan(value) and math.isnan(other)
            assert value == other or both_missing
