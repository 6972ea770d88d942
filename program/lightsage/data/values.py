"""The one rule for reading a cell, used by `train` and `serve` alike.

A number is ASCII: an optional sign, digits with an optional decimal point, an optional exponent
(`-1.5e3`), with ASCII spaces or tabs around it. Nothing else is a number: not `2_2`, `0x10`,
Arabic-Indic or full-width digits, or `inf`. An empty cell is missing; so is, in a number column, one of the
MISSING_MARKERS (`NA`, `null`, `?`, ...: what R, pandas, spreadsheets and SQL dumps write for a missing
value). Text is trimmed of ASCII whitespace and is missing when nothing is left; markers in a text column
stay text (House Prices' `NA` means "no alley"). Each rule has two engines: a vectorised one over Arrow
arrays (files and large requests) and a scalar one over Python values (single rows). Property tests hold the
two to the same answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.errors import UserError

ASCII_WHITESPACE = " \t\r\n\f\v"
NUMBER_SYNTAX = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER_SYNTAX)
_ANCHORED_NUMBER = f"^{NUMBER_SYNTAX}$"
# What a number column reads as missing besides an empty cell, trimmed and ignoring ASCII case. Not `-`
# (spreadsheets write it for zero) nor `.`; anything else that is not a number stays an error.
MISSING_MARKERS = ("NA", "N/A", "NaN", "null", "None", "?", "#N/A", "<NA>", "\\N")
_MARKERS = frozenset(marker.lower() for marker in MISSING_MARKERS)
_MARKER_SET = pa.array(sorted(_MARKERS), pa.string())
_MARKER_BYTES = max(len(marker) for marker in _MARKERS)
_PROBED_CELLS = 100


class BadValue(UserError, ValueError):
    """A value breaks its column's rule; `index` is its position in the array or request."""

    def __init__(self, index: int, value: Any, expected: str, count: int = 1) -> None:
        super().__init__(f"{shown(value)} is not {expected}")
        self.index = index
        self.value = value
        self.expected = expected
        self.count = count


def shown(value: Any, limit: int = 80) -> str:
    """A value as an error message quotes it: repr, shortened."""
    text = (
        repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


NOT_FINITE = "a finite number (leave the field empty when unknown)"
NOT_TEXT_OR_FINITE = "text or a finite number"


# -- scalar engine ---------------------------------------------------------------------------------------


def is_missing_marker(text: str) -> bool:
    """Whether a number cell's text is one of the MISSING_MARKERS."""
    stripped = text.strip(ASCII_WHITESPACE)
    return stripped.isascii() and stripped.lower() in _MARKERS


def number_from_text(text: str) -> float:
    """A number cell: NaN when empty or a missing marker; BadValue(index 0) when it breaks the rule."""
    stripped = text.strip(ASCII_WHITESPACE)
    if not stripped:
        return math.nan
    if _NUMBER.fullmatch(stripped) is None:
        if is_missing_marker(stripped):
            return math.nan
        raise BadValue(0, text, "a number")
    number = float(stripped)
    if not math.isfinite(number):
        raise BadValue(0, text, "a finite number")
    return number


def number_from_value(value: Any) -> float:
    """A number from a JSON value or a cell: null and NaN are missing; booleans and infinities are not."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        return number_from_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(0, value, "a number")
    try:
        number = float(value)
    except OverflowError:
        raise BadValue(0, value, "a finite number") from None
    if math.isinf(number):
        raise BadValue(0, value, "a finite number (leave the field empty when unknown)")
    return number


def text_from_value(value: Any) -> str | None:
    """A text cell: trimmed, None when empty; JSON numbers and booleans read as their text."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadValue(
                    0, value, "text (it holds a lone surrogate, which UTF-8 cannot carry)"
                ) from None
        return value.strip(ASCII_WHITESPACE) or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise BadValue(0, value, NOT_TEXT_OR_FINITE)
        return repr(value)
    raise BadValue(0, value, "a string")


# -- vectorised engine -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberReading:
    """A column read by the number rule, never raising: float64 numbers (NaN where missing, a missing marker
    or not a number), where a missing marker was read, and where a value is not a (finite) number."""

    numbers: np.ndarray
    markers: np.ndarray
    bad: np.ndarray

    def first_bad(self, values: pa.Array | pa.ChunkedArray) -> BadValue:
        positions = np.flatnonzero(self.bad)
        first = int(positions[0])
        value = values[first].as_py()
        if isinstance(value, float):
            expected = NOT_FINITE
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip(ASCII_WHITESPACE)):
            expected = "a finite number"
        else:
            expected = "a number"
        return BadValue(first, value, expected, count=len(positions))


def _bool_array(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def read_numbers(values: pa.Array | pa.ChunkedArray) -> NumberReading:
    """The number rule over an Arrow column of text, numbers or nulls; other types are not numbers."""
    kind = values.type
    none = np.zeros(len(values), dtype=bool)
    if pa.types.is_null(kind):
        return NumberReading(np.full(len(values), np.nan), none, none)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = np.asarray(
            pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        infinite = np.isinf(numbers)
        return NumberReading(np.where(infinite, np.nan, numbers), none, infinite)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_dictionary(kind):
        return read_numbers(pc.cast(values, pa.string()))
    if not pa.types.is_string(kind):  # booleans, dates, times: present values are not numbers
        return NumberReading(np.full(len(values), np.nan), none, _bool_array(pc.is_valid(values)))
    return _read_number_texts(values)


def _read_number_texts(values: pa.Array | pa.ChunkedArray) -> NumberReading:
    """The number rule over text, by the cheapest way that gives every cell its own reading: Arrow's cast when
    every cell casts (it reads a finite number only where the rule reads one; a test holds it to that), else
    the rule over each distinct value when values repeat, else the rule cell by cell."""
    # A cast that fails costs about a microsecond a cell: try it only when the first cells are numbers.
    if _casts(_present(values.slice(0, _PROBED_CELLS))):
        cast = _cast(values)  # most number columns: no spaces, no empty cells
        if cast is None:
            cast = _cast(_present(values))
        if cast is not None:
            numbers = np.array(cast.to_numpy(zero_copy_only=False), dtype=np.float64)  # NaN where missing
            none = np.zeros(len(values), dtype=bool)
            odd = ~np.isfinite(numbers)
            if odd.any():  # a cell spelled nan or inf, or too large (1e999): the rule reads those
                odd &= _bool_array(cast.is_valid())
            if not odd.any():
                return NumberReading(numbers, none, none)
            positions = np.flatnonzero(odd)
            cells = _read_cells(pc.ascii_trim(values.take(positions), ASCII_WHITESPACE))
            markers, bad = none.copy(), none.copy()
            numbers[positions], markers[positions], bad[positions] = cells.numbers, cells.markers, cells.bad
            return NumberReading(numbers, markers, bad)
    return _read_distinct_texts(values)


def _present(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Trimmed text, with empty cells as nulls."""
    trimmed = pc.ascii_trim(texts, ASCII_WHITESPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _cast(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """Arrow's float64 of every cell, or None when a cell does not cast."""
    try:
        return pc.cast(texts, pa.float64())
    except pa.ArrowInvalid:
        return None


def _casts(texts: pa.Array | pa.ChunkedArray) -> bool:
    return _cast(texts) is not None


def _read_distinct_texts(texts: pa.Array | pa.ChunkedArray) -> NumberReading:
    """The rule once per distinct value when values repeat (a text column holds a few), else cell by cell."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    encoded = pc.dictionary_encode(texts)
    distinct = encoded.dictionary
    if 2 * len(distinct) > len(texts):
        return _read_cells(pc.ascii_trim(texts, ASCII_WHITESPACE))
    reading = _read_cells(pc.ascii_trim(distinct, ASCII_WHITESPACE))
    codes = encoded.indices.fill_null(len(distinct)).to_numpy()  # a null cell is missing
    return NumberReading(
        np.append(reading.numbers, np.nan)[codes],
        np.append(reading.markers, False)[codes],
        np.append(reading.bad, False)[codes],
    )


def _read_cells(trimmed: pa.Array | pa.ChunkedArray) -> NumberReading:
    """The rule cell by cell, over trimmed text."""
    none = np.zeros(len(trimmed), dtype=bool)
    well_formed = pc.match_substring_regex(trimmed, _ANCHORED_NUMBER)
    malformed = _bool_array(
        pc.and_kleene(pc.invert(well_formed), pc.invert(pc.equal(trimmed, ""))).fill_null(False)
    )
    result = _numbers_where(trimmed, _bool_array(well_formed.fill_null(False)))
    markers = none
    if malformed.any():  # only short cells can be markers: look at those alone (text columns are long)
        short = malformed & _bool_array(
            pc.less_equal(pc.binary_length(trimmed), _MARKER_BYTES).fill_null(False)
        )
        if short.any():
            positions = np.flatnonzero(short)
            found = pc.is_in(pc.ascii_lower(trimmed.take(positions)), value_set=_MARKER_SET).fill_null(False)
            markers = np.zeros(len(trimmed), dtype=bool)
            markers[positions[_bool_array(found)]] = True
    infinite = np.isinf(result)
    return NumberReading(np.where(infinite, np.nan, result), markers, (malformed & ~markers) | infinite)


def _numbers_where(trimmed: pa.Array | pa.ChunkedArray, well_formed: np.ndarray) -> np.ndarray:
    """float64 of the well-formed cells, NaN elsewhere; casting only those cells (text columns have none)."""
    if not well_formed.any():
        return np.full(len(trimmed), np.nan)
    if well_formed.all():
        return np.asarray(pc.cast(trimmed, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    result = np.full(len(trimmed), np.nan)
    result[well_formed] = pc.cast(trimmed.filter(pa.array(well_formed)), pa.float64()).to_numpy(
        zero_copy_only=False
    )
    return result


def numbers_from_arrow(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 numbers (NaN when missing) of an Arrow column of text, numbers or nulls; BadValue otherwise."""
    reading = read_numbers(values)
    if reading.bad.any():
        raise reading.first_bad(values)
    return reading.numbers


def texts_from_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An Arrow string column, trimmed, empty strings as nulls; numbers and booleans become their text."""
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "true", "false")
    if pa.types.is_floating(kind):
        texts: list[str | None] = []
        for index, value in enumerate(values.to_pylist()):
            try:
                texts.append(text_from_value(value))
            except BadValue as error:
                raise BadValue(index, value, error.expected) from None
        return pa.array(texts, pa.string())
    if pa.types.is_integer(kind):
        return pc.cast(values, pa.string())
    if not pa.types.is_string(kind):
        return texts_from_arrow(pc.cast(values, pa.string()))
    trimmed = pc.ascii_trim(values, ASCII_WHITESPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)


def choice_lookup(choices: Sequence[str]) -> dict[str, str]:
    """A closed vocabulary's accepted spellings: each choice, lower-cased, maps to its canonical form."""
    return {choice.lower(): choice for choice in choices}


def canonical_choices(
    values: pa.Array | pa.ChunkedArray, choices: Sequence[str]
) -> pa.Array | pa.ChunkedArray:
    """Trimmed text to the canonical spelling of a closed vocabulary, ignoring case; BadValue otherwise."""
    lookup = choice_lookup(choices)
    lowered = pc.utf8_lower(values)
    positions = pc.index_in(lowered, value_set=pa.array(list(lookup), pa.string()))
    bad = pc.and_kleene(pc.is_null(positions), pc.is_valid(values)).fill_null(False)
    bad_mask = np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)
    if bad_mask.any():
        positions = np.flatnonzero(bad_mask)
        first = int(positions[0])
        raise BadValue(first, values[first].as_py(), f"one of {', '.join(choices)}", count=len(positions))
    return pc.take(pa.array(list(lookup.values()), pa.string()), positions)


def canonical_choice(text: str | None, choices: Sequence[str], lookup: dict[str, str]) -> str | None:
    """The scalar twin of canonical_choices, with its lookup table built once by the caller."""
    if text is None:
        return None
    canonical = lookup.get(text.lower())
    if canonical is None:
        raise BadValue(0, text, f"one of {', '.join(choices)}")
    return canonical
