"""The one rule for cells: the scalar and vectorised engines agree on every input."""

import itertools
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.values import (
    MISSING_MARKERS,
    BadValue,
    canonical_choice,
    canonical_choices,
    choice_lookup,
    number_from_text,
    number_from_value,
    numbers_from_arrow,
    read_numbers,
    text_from_value,
    texts_from_arrow,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22", 22.0),
        (" 22 ", 22.0),
        ("\t-1.5e3", -1500.0),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("", math.nan),
        ("  ", math.nan),
    ],
)
def test_numbers_that_follow_the_rule(text: str, expected: float) -> None:
    value = number_from_text(text)
    assert value == expected or (math.isnan(value) and math.isnan(expected))


@pytest.mark.parametrize(
    "text",
    [
        "2_2",
        "٢٢",
        "２２",
        "0x10",
        "inf",
        "Infinity",
        "1e400",
        "1,5",
        "one",
        "1 2",
        "-",
        ".",
        "n.a.",
        "NA1",
        "ＮＡ",
    ],
)
def test_everything_else_is_not_a_number(text: str) -> None:
    with pytest.raises(BadValue):
        number_from_text(text)
    with pytest.raises(BadValue):
        numbers_from_arrow(pa.array(["1", text]))


MARKER_SPELLINGS = [*MISSING_MARKERS, "na", " n/a ", "NAN", "\tNull", "NONE", "#n/a", "<na>", "\\n"]


@pytest.mark.parametrize("marker", MARKER_SPELLINGS)
def test_missing_value_markers_are_missing_in_a_number_column_and_text_in_a_text_column(marker: str) -> None:
    assert math.isnan(number_from_text(marker))
    assert math.isnan(number_from_value(marker))  # a JSON request's string reads the same
    reading = read_numbers(pa.array(["1.5", marker, "", None]))
    assert reading.markers.tolist() == [False, True, False, False]
    assert not reading.bad.any()
    assert np.array_equal(reading.numbers, [1.5, np.nan, np.nan, np.nan], equal_nan=True)
    assert text_from_value(marker) == marker.strip()
    assert texts_from_arrow(pa.array([marker])).to_pylist() == [marker.strip()]


def test_a_reading_names_markers_and_values_that_are_not_numbers_of_every_arrow_type() -> None:
    reading = read_numbers(pa.array(["1", "NA", "x", "1e400", "?"]))
    assert reading.markers.tolist() == [False, True, False, False, True]
    assert reading.bad.tolist() == [False, False, True, True, False]
    floats = read_numbers(pa.array([1.0, float("inf"), None, float("-inf"), float("nan")]))
    assert floats.bad.tolist() == [False, True, False, True, False]
    assert np.isnan(floats.numbers[1:]).all()
    for not_numbers in (pa.array([True, None]), pa.array([0], pa.date32()), pa.array([0], pa.timestamp("s"))):
        assert read_numbers(not_numbers).bad.tolist()[0] is True
    with pytest.raises(BadValue, match="inf is not a finite number") as caught:
        numbers_from_arrow(pa.array([1.0, float("inf")]))
    assert caught.value.index == 1


def test_json_values_nan_is_missing_infinity_and_booleans_are_not_numbers() -> None:
    assert math.isnan(number_from_value(None))
    assert math.isnan(number_from_value(float("nan")))
    assert number_from_value(3) == 3.0
    for bad in (float("inf"), True, [1], {"a": 1}, 10**400):
        with pytest.raises(BadValue):
            number_from_value(bad)


def test_the_first_bad_value_is_named_with_its_position_and_count() -> None:
    with pytest.raises(BadValue) as caught:
        numbers_from_arrow(pa.array(["1", "x", "2", "y"]))
    assert (caught.value.index, caught.value.value, caught.value.count) == (1, "x", 2)


def test_text_is_trimmed_of_ascii_whitespace_and_empty_is_missing() -> None:
    assert text_from_value("  a b\t") == "a b"
    assert text_from_value(" \t") is None
    assert text_from_value(7) == "7"
    assert text_from_value(True) == "true"
    assert texts_from_arrow(pa.array([" a ", "", None, "\u2028b"])).to_pylist() == [
        "a",
        None,
        None,
        "\u2028b",
    ]


def test_closed_vocabularies_ignore_case_and_name_the_choices() -> None:
    choices = ("male", "female")
    assert canonical_choices(pa.array(["Male", None, "FEMALE"]), choices).to_pylist() == [
        "male",
        None,
        "female",
    ]
    assert canonical_choice("FeMale", choices, choice_lookup(choices)) == "female"
    with pytest.raises(BadValue, match="is not one of male, female") as caught:
        canonical_choices(pa.array(["male", "F"]), choices)
    assert caught.value.index == 1


NUMBERISH = st.text(alphabet="0123456789+-.eE _\t x٢２", max_size=8)
MARKERISH = st.sampled_from([*MARKER_SPELLINGS, "NA.", "N/A/", "nil", "İNA"])
ANY_TEXT = st.one_of(NUMBERISH, MARKERISH, st.text(max_size=6))


def _scalar_number(text: str) -> float | None:
    try:
        return number_from_text(text)
    except BadValue:
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(ANY_TEXT, min_size=1, max_size=6))
def test_number_engines_agree(texts: list[str]) -> None:
    scalar = [_scalar_number(text) for text in texts]
    try:
        vector = numbers_from_arrow(pa.array(texts)).tolist()
    except BadValue as bad:
        assert scalar[bad.index] is None and all(value is not None for value in scalar[: bad.index])
        return
    assert all(value is not None for value in scalar)
    assert np.array_equal(np.array(scalar, dtype=float), np.array(vector), equal_nan=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=6), st.integers(-(10**6), 10**6)), min_size=1, max_size=6)
)
def test_text_engines_agree(values: list[object]) -> None:
    column = [value if isinstance(value, str | type(None)) else str(value) for value in values]
    assert texts_from_arrow(pa.array(column, pa.string())).to_pylist() == [text_from_value(v) for v in column]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["S", "c", " q ", "x", "", "ß"])), min_size=1, max_size=5)
)
def test_choice_engines_agree(values: list[str | None]) -> None:
    choices = ("S", "C", "Q")
    lookup = choice_lookup(choices)
    texts = texts_from_arrow(pa.array(values, pa.string()))
    scalar: list[str | None] = []
    first_bad = None
    for index, value in enumerate(texts.to_pylist()):
        try:
            scalar.append(canonical_choice(value, choices, lookup))
        except BadValue:
            first_bad = index if first_bad is None else first_bad
    if first_bad is not None:
        with pytest.raises(BadValue) as caught:
            canonical_choices(texts, choices)
        assert caught.value.index == first_bad
    else:
        assert canonical_choices(texts, choices).to_pylist() == scalar


def _cell_reading(text: str | None) -> tuple[float, bool, bool]:
    """(number, missing marker, not a number) of one cell by the scalar rule."""
    if text is None:
        return math.nan, False, False
    try:
        number = number_from_text(text)
    except BadValue:
        return math.nan, False, True
    return number, math.isnan(number) and bool(text.strip(" \t\r\n\f\v")), False


REPEATED = st.lists(st.one_of(st.none(), ANY_TEXT), min_size=1, max_size=4).flatmap(
    lambda distinct: st.lists(st.sampled_from(distinct), min_size=1, max_size=12)
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.lists(st.one_of(st.none(), ANY_TEXT), min_size=1, max_size=6), REPEATED), st.booleans())
def test_a_reading_gives_every_cell_what_the_scalar_rule_gives(
    texts: list[str | None], chunked: bool
) -> None:
    """Whichever way read_numbers takes (Arrow's cast, the distinct values, cell by cell), each cell reads as
    number_from_text reads it."""
    column = (
        pa.chunked_array([texts[:1], texts[1:]], pa.string()) if chunked else pa.array(texts, pa.string())
    )
    reading = read_numbers(column)
    expected = [_cell_reading(text) for text in texts]
    assert np.array_equal(reading.numbers, [number for number, _, _ in expected], equal_nan=True)
    assert reading.markers.tolist() == [marker for _, marker, _ in expected]
    assert reading.bad.tolist() == [bad for _, _, bad in expected]


def test_arrows_float_cast_reads_a_finite_number_only_where_the_rule_reads_one() -> None:
    """read_numbers trusts Arrow's cast for columns where every cell casts: every string of up to three of
    these characters that Arrow casts to a finite number must be a number by the rule, with the same value."""
    alphabet = [
        "0",
        "7",
        "+",
        "-",
        ".",
        "e",
        "E",
        "n",
        "a",
        "i",
        "f",
        "x",
        "_",
        " ",
        "\t",
        "d",
        ",",
        "٢",
        "\u00a0",
    ]
    strings = ["".join(letters) for size in (1, 2, 3) for letters in itertools.product(alphabet, repeat=size)]
    for text in strings:
        try:
            number = pc.cast(pa.array([text]), pa.float64())[0].as_py()
        except pa.ArrowInvalid:
            continue
        if math.isfinite(number):
            assert number_from_text(text) == number, text
