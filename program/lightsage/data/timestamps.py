"""The one rule for reading a date or a timestamp in a text cell, and the numbers a model reads from it.

A date is written year first, so no value is ambiguous: `2013-01-31`, `2013/1/31` or a month `2013-01`; a
timestamp adds a time of day after `T` or a space, `08:30`, `08:30:15` or `08:30:15.250`, and may end with a
time zone: `Z`, `UTC`, `GMT`, `+01:00`, `+0100` or `+01`. That covers ISO 8601 as people and programs write
it, and what Parquet's date and timestamp columns read as (`2013-01-31 08:30:15.250000-0500`). Day-first and
month-first dates (`31/01/2013`, `01/31/2013`), month names and bare numbers are not dates by this rule.
Values outside the calendar (`2013-02-30`, `25:00`, `23:59:60`, year 0) are not dates either.

Each date gives its PARTS, as numbers: `year`, `month` (1-12), `day` (1-31), `weekday` (Monday 0 to Sunday
6) and `hour` (0-23) of the wall-clock time as written, and `days`: the time elapsed since 1970-01-01 00:00
UTC, in days with their fraction, of the instant (a value with a time zone is moved to UTC first; one without
is read as UTC). A date without a time of day is its midnight.

As in `lightsage.data.values`, the rule has two engines, vectorised over Arrow arrays and scalar over one
Python string; property tests hold them to the same numbers.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lightsage.data.values import BadValue

PARTS = ("year", "month", "day", "weekday", "hour", "days")
EXAMPLES = "2013-01-31, 2013-01-31 08:30, 2013-01-31T08:30:00+01:00"
EXPECTED = f"a date or timestamp written year first ({EXAMPLES})"
_SYNTAX = (
    r"^(?P<year>[0-9]{4})[-/](?P<month>[0-9]{1,2})"
    r"(?:[-/](?P<day>[0-9]{1,2})"
    r"(?:[Tt ](?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r" ?(?:(?P<utc>[Zz]|UTC|GMT)|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):?(?P<offset_minutes>[0-9]{2})?)?"
    r")?)?$"
)
_GROUPS = (
    "year", "month", "day", "hour", "minute", "second", "fraction", "utc", "sign", "offset_hours",
    "offset_minutes",
)  # fmt: skip
_PATTERN = re.compile(_SYNTAX.removeprefix("^").removesuffix("$"))
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TimestampReading:
    """A column read by the rule, never raising: each part as float64 (NaN where missing or not a date), where
    a present value is not a date, and where a date carries a time of day other than midnight (`2013-01-31`
    and Parquet's `2013-01-31 00:00:00.000000` say the same)."""

    parts: dict[str, np.ndarray]
    bad: np.ndarray
    timed: np.ndarray

    def first_bad(self, values: pa.Array | pa.ChunkedArray) -> BadValue:
        positions = np.flatnonzero(self.bad)
        return BadValue(int(positions[0]), values[int(positions[0])].as_py(), EXPECTED, len(positions))


# -- scalar engine ---------------------------------------------------------------------------------------


def timestamp_parts(text: str | None) -> tuple[float, ...] | None:
    """The PARTS of one trimmed text value (NaN for each when it is None); None when it is not a date."""
    if text is None:
        return (math.nan,) * len(PARTS)
    match = _PATTERN.fullmatch(text)
    if match is None:
        return None
    found = match.groupdict()
    year, month = int(found["year"]), int(found["month"])
    day = int(found["day"]) if found["day"] is not None else 1
    hour = int(found["hour"]) if found["hour"] is not None else 0
    minute = int(found["minute"]) if found["minute"] is not None else 0
    second = int(found["second"]) if found["second"] is not None else 0
    fraction = float("0." + found["fraction"]) if found["fraction"] is not None else 0.0
    offset = 0
    if found["sign"] is not None:
        offset_hours = int(found["offset_hours"])
        offset_minutes = int(found["offset_minutes"]) if found["offset_minutes"] is not None else 0
        if offset_hours > 23 or offset_minutes > 59:
            return None
        offset = (offset_hours * 60 + offset_minutes) * (-1 if found["sign"] == "-" else 1)
    if year < 1 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        return None
    seconds = hour * 3600.0 + minute * 60.0 + second + fraction - offset * 60.0
    days = (date.toordinal() - _EPOCH_ORDINAL) + seconds / _SECONDS_PER_DAY
    return (float(year), float(month), float(day), float(date.weekday()), float(hour), days)


# -- vectorised engine -----------------------------------------------------------------------------------


def _group(parts: pa.StructArray, name: str) -> pa.Array:
    """One capture group's text; Arrow gives an empty string where an optional group matched nothing."""
    return pc.struct_field(parts, [_GROUPS.index(name)])


def _present(parts: pa.StructArray, name: str) -> np.ndarray:
    return np.asarray(pc.not_equal(_group(parts, name), "").to_numpy(zero_copy_only=False), dtype=bool)


def _integers(parts: pa.StructArray, name: str, default: int) -> np.ndarray:
    digits = _group(parts, name)
    digits = pc.if_else(pc.equal(digits, ""), pa.scalar(str(default)), digits)
    return np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def read_timestamps(values: pa.Array | pa.ChunkedArray) -> TimestampReading:
    """The rule over an Arrow column of trimmed text (null where missing), as `timestamp_parts` reads each."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = pc.cast(values, pa.string()) if not pa.types.is_string(values.type) else values
    count = len(values)
    present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    matched = np.asarray(
        pc.match_substring_regex(values, _SYNTAX).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    parts = {name: np.full(count, np.nan) for name in PARTS}
    timed = np.zeros(count, dtype=bool)
    if not matched.any():
        return TimestampReading(parts, present & ~matched, timed)
    rows = np.flatnonzero(matched)
    found = pc.extract_regex(values.take(pa.array(rows)), _SYNTAX)
    year, month = _integers(found, "year", 0), _integers(found, "month", 0)
    day = _integers(found, "day", 1)
    hour, minute, second = (_integers(found, name, 0) for name in ("hour", "minute", "second"))
    fraction_text = pc.binary_join_element_wise("0.", _group(found, "fraction"), "")
    fraction = np.asarray(
        pc.cast(pc.if_else(pc.equal(fraction_text, "0."), "0", fraction_text), pa.float64()).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.float64,
    )
    signed = _present(found, "sign")
    offset_hours, offset_minutes = _integers(found, "offset_hours", 0), _integers(found, "offset_minutes", 0)
    negative = pc.equal(_group(found, "sign"), "-")
    sign = np.where(np.asarray(negative.to_numpy(zero_copy_only=False), dtype=bool), -1, 1)
    offset = np.where(signed, (offset_hours * 60 + offset_minutes) * sign, 0)
    month_start = (np.clip(year, 1, 9999) - 1970) * 12 + np.clip(month, 1, 12) - 1
    first_day = month_start.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_first_day = (month_start + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    valid = (
        (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= next_first_day - first_day)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (offset_hours <= 23)
        & (offset_minutes <= 59)
    )
    ordinal = first_day + day - 1
    seconds = hour * 3600.0 + minute * 60.0 + second + fraction - offset * 60.0
    computed = {
        "year": year.astype(np.float64),
        "month": month.astype(np.float64),
        "day": day.astype(np.float64),
        "weekday": ((ordinal + 3) % 7).astype(np.float64),  # 1970-01-01 was a Thursday
        "hour": hour.astype(np.float64),
        "days": ordinal + seconds / _SECONDS_PER_DAY,
    }
    good = rows[valid]
    for name in PARTS:
        parts[name][good] = computed[name][valid]
    after_midnight = (hour > 0) | (minute > 0) | (second > 0) | (fraction > 0)
    timed[good] = after_midnight[valid]
    dates = np.zeros(count, dtype=bool)
    dates[good] = True
    return TimestampReading(parts, present & ~dates, timed)
