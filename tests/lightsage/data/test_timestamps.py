"""The one rule for dates and timestamps: what it reads, what it refuses, time zones, Parquet's types, and
the scalar and vectorised engines agreeing on every input."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.timestamps import PARTS, read_timestamps, timestamp_parts
from lightsage.data.values import texts_from_arrow


def both(text: str | None) -> tuple[float, ...] | None:
    """The scalar engine's parts, after checking the vectorised engine gives the same."""
    scalar = timestamp_parts(text)
    reading = read_timestamps(pa.array([text], pa.string()))
    if scalar is None:
        assert reading.bad.tolist() == [True]
        assert all(math.isnan(reading.parts[part][0]) for part in PARTS)
    else:
        assert reading.bad.tolist() == [False]
        assert np.array_equal([reading.parts[part][0] for part in PARTS], scalar, equal_nan=True)
    return scalar


def days_since_1970(value: datetime.datetime) -> float:
    moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    return (moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)).total_seconds() / 86_400


@pytest.mark.parametrize(
    ("text", "wall_clock"),
    [
        ("2013-01-31", datetime.datetime(2013, 1, 31)),
        ("2013/1/5", datetime.datetime(2013, 1, 5)),
        ("2013-01", datetime.datetime(2013, 1, 1)),
        ("2013-01-31 08:30", datetime.datetime(2013, 1, 31, 8, 30)),
        ("2013-01-31T08:30:15", datetime.datetime(2013, 1, 31, 8, 30, 15)),
        ("2013-01-31t08:30:15.250", datetime.datetime(2013, 1, 31, 8, 30, 15, 250_000)),
        ("2013-01-31 08:30:15,5", datetime.datetime(2013, 1, 31, 8, 30, 15, 500_000)),
        ("1969-12-31 23:00", datetime.datetime(1969, 12, 31, 23)),
        ("2012-02-29", datetime.datetime(2012, 2, 29)),
        ("0001-01-01", datetime.datetime(1, 1, 1)),
        ("9999-12-31 23:59:59.999999999", datetime.datetime(9999, 12, 31, 23, 59, 59, 999_999)),
    ],
)
def test_dates_and_timestamps_written_year_first_give_their_parts(
    text: str, wall_clock: datetime.datetime
) -> None:
    parts = both(text)
    assert parts is not None
    assert parts[:5] == (
        wall_clock.year,
        wall_clock.month,
        wall_clock.day,
        wall_clock.weekday(),
        wall_clock.hour,
    )
    assert parts[5] == pytest.approx(days_since_1970(wall_clock), abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "31/01/2013",  # day first
        "01/31/2013",  # month first
        "Jan 31 2013",
        "31 January 2013",
        "20130131",
        "2013",
        "13-01-31",
        "2013-13-01",
        "2013-02-29",  # not a leap year
        "2013-02-30",
        "2013-00-10",
        "2013-01-00",
        "0000-01-01",
        "2013-01-31 24:00",
        "2013-01-31 23:60",
        "2013-01-31 23:59:60",  # leap seconds are not read
        "2013-01-31T08",
        "2013-01-31T8:3",
        "2013-01-31 08:30+24:00",
        "2013-01-31 08:30+01:60",
        "2013-01-31+01:00",  # a zone needs a time
        "2013-01-31 08:30 CET",
        "٢٠١٣-٠١-٣١",  # Arabic-Indic digits
        "２０１３-０１-３１",
        "2013-01-31 08:30:15.1234567890",
        "2013-01-31\n",
        "",
        "yesterday",
    ],
)
def test_everything_else_is_not_a_date(text: str) -> None:
    assert both(text) is None


def test_a_missing_value_gives_missing_parts() -> None:
    parts = both(None)
    assert parts is not None and all(math.isnan(part) for part in parts)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2013-01-31T23:30:00-05:00", datetime.datetime(2013, 2, 1, 4, 30)),
        ("2013-01-31T23:30:00-0500", datetime.datetime(2013, 2, 1, 4, 30)),
        ("2013-01-31T23:30:00-05", datetime.datetime(2013, 2, 1, 4, 30)),
        ("2013-01-31 23:30 +05:30", datetime.datetime(2013, 1, 31, 18, 0)),
        ("2013-01-31T23:30:00Z", datetime.datetime(2013, 1, 31, 23, 30)),
        ("2013-01-31 23:30:00 UTC", datetime.datetime(2013, 1, 31, 23, 30)),
        ("2013-01-31 23:30:00GMT", datetime.datetime(2013, 1, 31, 23, 30)),
        ("2013-01-31 23:30:00", datetime.datetime(2013, 1, 31, 23, 30)),  # no zone: read as UTC
    ],
)
def test_a_time_zone_moves_the_instant_and_leaves_the_wall_clock_as_written(
    text: str, utc: datetime.datetime
) -> None:
    parts = both(text)
    assert parts is not None
    assert parts[:5] == (2013, 1, 31, 3, 23)  # Thursday 23:00, as written
    assert parts[5] == pytest.approx(days_since_1970(utc), abs=1e-9)


def test_one_column_may_mix_the_forms_of_the_rule() -> None:
    values = ["2013-01-31", "2013-01-31 08:30", "2013-01-31T08:30:00+01:00", "2013/01/31", None]
    reading = read_timestamps(pa.array(values))
    assert not reading.bad.any()
    assert reading.parts["day"][:4].tolist() == [31.0] * 4


def test_bad_values_are_found_and_the_first_is_named() -> None:
    reading = read_timestamps(pa.array(["2013-01-31", "31/01/2013", None, "never"]))
    assert reading.bad.tolist() == [False, True, False, True]
    bad = reading.first_bad(pa.array(["2013-01-31", "31/01/2013", None, "never"]))
    assert (bad.index, bad.value, bad.count) == (1, "31/01/2013", 2)
    assert str(bad).startswith("'31/01/2013' is not a date or timestamp written year first")


def test_a_time_of_day_counts_only_when_it_is_not_midnight() -> None:
    reading = read_timestamps(pa.array(["2013-01-31", "2013-01-31 00:00:00.000000", "2013-01-31 00:00:01"]))
    assert reading.timed.tolist() == [False, False, True]


MOMENTS = pd.Series(pd.to_datetime(["2013-01-31 23:30:15.25", "1969-07-20 20:17:40", None], format="ISO8601"))


@pytest.mark.parametrize(
    "values",
    [
        pa.array(MOMENTS),
        pa.array(MOMENTS.astype("datetime64[s]")),
        pa.array(MOMENTS.astype("datetime64[ms]")),
        pa.array(MOMENTS.astype("datetime64[ns]")),
        pa.array(MOMENTS.dt.tz_localize("America/New_York")),
        pa.array(MOMENTS.dt.tz_localize("Europe/Paris")),
        pa.array(MOMENTS.dt.tz_localize("UTC")),
        pa.array(MOMENTS.dt.date),
    ],
    ids=["us", "s", "ms", "ns", "New York", "Paris", "UTC", "date32"],
)
def test_parquet_date_and_timestamp_types_read_as_their_wall_clock_and_instant(values: pa.Array) -> None:
    """Parquet columns reach the recipe as `lightsage.data.values` makes text of them."""
    reading = read_timestamps(texts_from_arrow(values))
    assert reading.bad.tolist() == [False, False, False]
    for row, moment in enumerate(values.to_pylist()[:2]):
        wall = (
            moment
            if isinstance(moment, datetime.datetime)
            else datetime.datetime.combine(moment, datetime.time())
        )
        assert reading.parts["year"][row] == wall.year and reading.parts["hour"][row] == wall.hour
        assert reading.parts["weekday"][row] == wall.weekday()
        assert reading.parts["days"][row] == pytest.approx(days_since_1970(wall), abs=1e-9)
    assert all(math.isnan(reading.parts[part][2]) for part in PARTS)


# -- the two engines -----------------------------------------------------------------------------------------

MOMENT = st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30))
ZONE = st.sampled_from(["", "Z", "z", " UTC", "GMT", "+01:00", "-0530", "+14", "-23:59", "+24:00"])
WRITTEN = st.one_of(
    st.builds(lambda moment, zone: moment.isoformat() + zone, MOMENT, ZONE),
    st.builds(lambda moment, zone: moment.strftime("%Y-%m-%d %H:%M") + zone, MOMENT, ZONE),
    MOMENT.map(lambda moment: moment.strftime("%Y/%m/%d")),
    MOMENT.map(lambda moment: moment.strftime("%Y-%m")),
    st.text(alphabet="0123456789-/:. TtZz+,UTCG", max_size=32),
    st.text(max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), WRITTEN), min_size=1, max_size=8))
def test_the_scalar_and_vectorised_engines_agree(values: list[str | None]) -> None:
    reading = read_timestamps(pa.array(values, pa.string()))
    for row, value in enumerate(values):
        scalar = timestamp_parts(value)
        assert reading.bad[row] == (scalar is None)
        expected = scalar if scalar is not None else (math.nan,) * len(PARTS)
        assert np.array_equal([reading.parts[part][row] for part in PARTS], expected, equal_nan=True)
