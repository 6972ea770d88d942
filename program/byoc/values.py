"""The one rule for reading a cell, used by `train` and `serve` alike.

A number is ASCII: an optional sign, digits with an optional decimal point, an optional exponent
(`-1.5e3`), with ASCII spaces or tabs around it. Nothing else is a number: not `2_2`, `0x10`,
Arabic-Indic or full-width digits,
`inf` or `nan`. An empty cell is missing. Text is trimmed of ASCII whitespace and is missing when nothing is
left. Each rule has two engines: a vectorised one over Arrow arrays (files and large requests) and a scalar
one over Python values (single rows). Property tests hold the two to the same answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ASCII_WHITESPACE = " \t\r\n\f\v"
NUMBER_SYNTAX = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER_SYNTAX)
_ANCHORED_NUMBER = f"^{NUMBER_SYNTAX}$"


class BadValue(ValueError):
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


# -- scalar engine ---------------------------------------------------------------------------------------


def number_from_text(text: str) -> float:
    """A number cell: NaN when empty; BadValue(index 0) when it breaks the rule."""
    stripped = text.strip(ASCII_WHITESPACE)
    if not stripped:
        return math.nan
    if _NUMBER.fullmatch(stripped) is None:
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
            raise BadValue(0, value, "a string")
        return repr(value)
    raise BadValue(0, value, "a string")


# -- vectorised engine -----------------------------------------------------------------------------------


def _first_bad(bad: np.ndarray, values: pa.Array | pa.ChunkedArray, expected: str) -> BadValue:
    positions = np.flatnonzero(bad)
    first = int(positions[0])
    return BadValue(first, values[first].as_py(), expected, count=len(positions))


def numbers_from_arrow(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 numbers (NaN when missing) of an Arrow column of text, numbers or nulls; BadValue otherwise."""
    kind = values.type
    if pa.types.is_null(kind):
        return np.full(len(values), np.nan)
    if pa.types.is_boolean(kind):
        present = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
        if len(present):
            raise BadValue(int(present[0]), values[int(present[0])].as_py(), "a number", len(present))
        return np.full(len(values), np.nan)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        numbers = np.asarray(numbers, dtype=np.float64)
        infinite = np.isinf(numbers)
        if infinite.any():
            raise _first_bad(infinite, values, "a finite number (leave the field empty when unknown)")
        return numbers
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_dictionary(kind):
        return numbers_from_arrow(pc.cast(values, pa.string()))
    if not pa.types.is_string(kind):
        raise BadValue(0, values[0].as_py() if len(values) else None, "a number")
    trimmed = pc.ascii_trim(values, ASCII_WHITESPACE)
    well_formed = pc.match_substring_regex(trimmed, _ANCHORED_NUMBER)
    malformed = pc.and_kleene(pc.invert(well_formed), pc.invert(pc.equal(trimmed, ""))).fill_null(False)
    numbers = pc.cast(pc.if_else(well_formed, trimmed, pa.scalar(None, pa.string())), pa.float64())
    result = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
    bad = np.asarray(malformed.to_numpy(zero_copy_only=False), dtype=bool) | np.isinf(result)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        expected = "a finite number" if np.isinf(result[first]) else "a number"
        raise BadValue(first, values[first].as_py(), expected, count=int(bad.sum()))
    return result


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
        raise _first_bad(bad_mask, values, f"one of {', '.join(choices)}")
    return pc.take(pa.array(list(lookup.values()), pa.string()), positions)


def canonical_choice(text: str | None, choices: Sequence[str], lookup: dict[str, str]) -> str | None:
    """The scalar twin of canonical_choices, with its lookup table built once by the caller."""
    if text is None:
        return None
    canonical = lookup.get(text.lower())
    if canonical is None:
        raise BadValue(0, text, f"one of {', '.join(choices)}")
    return canonical
