"""The tabular recipe: which columns it reads, its category tables, and its two feature paths."""

import datetime
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.channels import RawBatch
from lightsage.data.profile import TableProfile
from lightsage.data.schema import ColumnValueError, InputSchema
from lightsage.model.boosting import as_features
from lightsage.recipes.base import RecipeError, resolve
from lightsage.recipes.tabular import Tabular, named_like_id

from testsupport import lightsage_log


def profile_of(frame: pd.DataFrame) -> TableProfile:
    profile = TableProfile.empty(frame.columns)
    table = pa.Table.from_pandas(frame.astype(str).replace("nan", ""), preserve_index=False)
    profile.observe(RawBatch(None, 0, table), only=list(frame.columns))  # type: ignore[arg-type]
    return profile


def settings_for(**raw: str) -> dict:
    return resolve({"recipe": "tabular", "target": "y", **raw}, {})[1]


TABLE = pd.DataFrame(
    {
        "row_id": range(1, 41),
        "CustomerID": [7 * i % 41 for i in range(1, 41)],
        "rownames": [11 * i % 41 for i in range(1, 41)],  # R's row names, shuffled
        "name": [f"person {i}" for i in range(40)],
        "colour": ["red", "blue", "green", "red"] * 10,
        "size": [1.5, 2.0, np.nan, 3.25] * 10,
        "empty": [np.nan] * 40,
        "zip": [10001, 10002, 10003, 10001] * 10,
        "y": [0, 1] * 20,
    }
)


def test_columns_are_chosen_and_every_drop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with lightsage_log(caplog) as logged:
        schema = Tabular.select_inputs(profile_of(TABLE), "y", settings_for())
    kinds = {c.name: (c.kind, c.role) for c in schema.columns}
    assert kinds == {
        "row_id": ("number", "ignored"),
        "CustomerID": ("number", "ignored"),
        "rownames": ("number", "ignored"),
        "name": ("string", "ignored"),
        "colour": ("string", "feature"),
        "size": ("number", "feature"),
        "empty": ("number", "ignored"),
        "zip": ("number", "feature"),
    }
    assert any("'row_id': it holds distinct integers, like a row id" in line for line in logged)
    assert any("'name': its text is mostly unique" in line for line in logged)
    assert any("'empty': it is empty" in line for line in logged)


UNIQUE_TEXT = "its text is mostly unique, like names or ids"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([f"{1000 + 37 * i:,}.50" for i in range(40)], "numbers written with a currency sign, thousands"),
        ([f"${5 * i}.25" for i in range(40)], "(such as '$0.25'): write them as plain numbers"),
        ([f"{i}.5%" for i in range(40)], "numbers written with a currency sign"),
        ([f"{50 + i},{i % 7}5" for i in range(40)], "(such as '50,05'): write them as plain numbers"),
        ([f"{1 + i % 28:02d}/{1 + i // 28:02d}/2020" for i in range(40)], "dates written day or month first"),
        ([f"{1 + i % 12}-{1 + i // 12}-21 08:30" for i in range(40)], "which read both ways: write them"),
        ([f"person {i}" for i in range(40)], UNIQUE_TEXT),
        ([f"{i},5" if i % 2 else f"word {i}" for i in range(40)], UNIQUE_TEXT),
    ],
)
def test_mostly_unique_text_names_numbers_and_dates_it_cannot_read(
    values: list[str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.DataFrame({"odd": values, "colour": ["red", "blue"] * 20, "y": [0, 1] * 20})
    with lightsage_log(caplog) as logged:
        schema = Tabular.select_inputs(profile_of(frame), "y", settings_for())
    assert schema.feature_names == ("colour",)
    assert any("not using column 'odd': " in line and reason in line for line in logged)


def test_categorical_and_ignore_columns_override_the_choice() -> None:
    settings = settings_for(categorical_columns="zip", ignore_columns="size")
    schema = Tabular.select_inputs(profile_of(TABLE), "y", settings)
    kinds = {c.name: (c.kind, c.role) for c in schema.columns}
    assert kinds["zip"] == ("number", "feature") and kinds["size"] == ("number", "ignored")
    assert Tabular(settings, schema).categorical_features() == ("colour", "zip")
    with pytest.raises(
        RecipeError,
        match=r"'ignore_columns' names column\(s\) the table does not have: 'colur' "
        r"\(did you mean 'colour'\?\)",
    ):
        Tabular.select_inputs(profile_of(TABLE), "y", settings_for(ignore_columns="colur"))
    with pytest.raises(RecipeError, match="no column is left to learn from"):
        Tabular.select_inputs(profile_of(TABLE[["name", "y"]]), "y", settings_for())


def test_id_names() -> None:
    id_like = ["id", "ID", "user_id", "PassengerId", "customerID", "row index", "rownames", "rowname"]
    id_like += ["row.names", "Row_Number", "rownum"]
    assert all(named_like_id(name) for name in id_like)
    not_id_like = ["paid", "idle", "valid", "width", "Holiday", "row", "rows", "arrow_num"]
    assert not any(named_like_id(name) for name in not_id_like)


def trained(frame: pd.DataFrame, **raw: str) -> Tabular:
    settings = settings_for(**raw)
    schema = Tabular.select_inputs(profile_of(frame), "y", settings)
    recipe = Tabular(settings, schema)
    types = [(c.name, pa.float64() if c.kind == "number" else pa.string()) for c in schema.features]
    typed = schema.typed_table(
        pa.table({c.name: frame[c.name].astype(str).replace("nan", "") for c in schema.features})
    )
    halves = [typed.slice(0, 20).to_pandas(), typed.slice(20).to_pandas()]
    summaries = [recipe.summarise(half, np.zeros(len(half))) for half in halves]
    recipe.state = recipe.learn(recipe.combine(summaries))
    recipe._types = pa.schema(types)  # type: ignore[attr-defined]
    return recipe


def test_categories_are_coded_by_frequency_and_capped() -> None:
    recipe = trained(TABLE, max_categories="2")
    assert recipe.state == {"categories": {"colour": ["red", "blue"]}, "frequencies": {}, "timestamps": {}}
    frame = pd.DataFrame(
        {
            "colour": pd.Series(["blue", "green", None, "red"], dtype="str"),
            "size": [1.0] * 4,
            "zip": [1.0] * 4,
        }
    )
    codes = recipe.transform(frame)[:, 0]
    assert codes[0] == 1.0 and codes[3] == 0.0 and math.isnan(codes[1]) and math.isnan(codes[2])
    assert recipe.categorical_features() == ("colour",)


ROW = st.fixed_dictionaries(
    {
        "colour": st.one_of(
            st.none(), st.sampled_from(["red", "blue", "green", "violet"]), st.text(max_size=3)
        ),
        "size": st.one_of(st.just(math.nan), st.floats(allow_nan=False, allow_infinity=False)),
        "zip": st.sampled_from([10001.0, 10002.0, math.nan, 1e300]),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=6))
def test_batch_and_single_row_features_are_identical(rows: list[dict]) -> None:
    recipe = trained(TABLE)
    frame = pa.Table.from_pylist(rows, schema=recipe._types).to_pandas()  # type: ignore[attr-defined]
    batch = as_features(recipe.transform(frame))
    single = as_features([recipe.transform_row(row) for row in rows])
    assert np.array_equal(batch, single, equal_nan=True)


def test_schema_round_trip_keeps_the_recipes_view() -> None:
    recipe = trained(TABLE)
    again = Tabular(recipe.settings, InputSchema.from_json(recipe.schema.to_json()), recipe.state)
    frame = pd.DataFrame({"colour": pd.Series(["red"], dtype="str"), "size": [2.0], "zip": [10001.0]})
    assert np.array_equal(again.transform(frame), recipe.transform(frame))


# -- dates, and the frequency of high-cardinality text ------------------------------------------------------

rng = np.random.default_rng(3)
DATED = pd.DataFrame(
    {
        "when": [
            f"2013-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+01:00" for i in range(60)
        ],
        "day": [f"2014-02-{1 + i % 28:02d}" for i in range(60)],
        "shop": [f"shop {i % 40}" for i in range(60)],
        "colour": ["red", "blue", "green"] * 20,
        "amount": rng.normal(size=60).round(3),
        "y": [0, 1] * 30,
    }
)


def test_date_columns_are_kept_and_read_as_dates_not_dropped_as_mostly_unique(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with lightsage_log(caplog) as logged:
        schema = Tabular.select_inputs(profile_of(DATED), "y", settings_for())
    assert schema.feature_names == ("when", "day", "shop", "colour", "amount")
    assert any("reading column 'when' as dates" in line for line in logged)
    recipe = trained(DATED, frequency_min_categories="30")
    assert recipe.state["timestamps"] == {"when": {"hour": True}, "day": {"hour": False}}
    assert recipe.feature_names() == (
        "when.year", "when.month", "when.day", "when.weekday", "when.hour", "when.days",
        "day.year", "day.month", "day.day", "day.weekday", "day.days",
        "shop", "shop.frequency", "colour", "amount",
    )  # fmt: skip
    assert recipe.categorical_features() == ("shop", "colour")
    row = {"when": "2013-01-31T23:30:00-05:00", "day": "2014-02-01", "shop": "shop 3", "colour": "red",
           "amount": 1.0}  # fmt: skip
    features = recipe.transform_row(row)
    # the wall clock as written: Thursday 23:00; the instant: 04:30 UTC on Friday 1 February
    assert features[:5] == [2013.0, 1.0, 31.0, 3.0, 23.0]
    assert features[5] == pytest.approx(15737 + 4.5 / 24)
    assert features[12] == 2.0  # 'shop 3' is in 2 of the 60 training rows


def test_the_date_reading_can_be_turned_off_per_column_and_for_every_column() -> None:
    named = trained(DATED, categorical_columns="day")
    assert named.state["timestamps"] == {"when": {"hour": True}}
    assert "day" in named.categorical_features()
    off = settings_for(timestamp_features="false")
    schema = Tabular.select_inputs(profile_of(DATED), "y", off)
    assert "when" not in schema.feature_names  # mostly unique text again
    assert "day" in schema.feature_names and Tabular(off, schema).categorical_features()[0] == "day"


def test_frequency_features_can_be_turned_off() -> None:
    recipe = trained(DATED, frequency_min_categories="0")
    assert recipe.state["frequencies"] == {}
    assert "shop.frequency" not in recipe.feature_names()


def test_a_derived_name_never_takes_another_columns_name() -> None:
    frame = DATED.assign(**{"day.year": 1.5})
    recipe = trained(frame)
    names = recipe.feature_names()
    assert len(set(names)) == len(names)
    assert "day.year_" in names and "day.year" in names


def test_mostly_dates_with_a_few_other_values_fail_naming_them_and_the_ways_out() -> None:
    frame = DATED.copy()
    frame.loc[[4, 9], "day"] = ["31/01/2014", "unknown"]
    with pytest.raises(RecipeError) as raised:
        Tabular.select_inputs(profile_of(frame), "y", settings_for())
    message = str(raised.value)
    assert "column 'day' holds dates and 2 other distinct value(s)" in message
    assert "'31/01/2014', 'unknown'" in message
    assert "categorical_columns=day" in message and "ignore_columns=day" in message
    # named as text, it is text
    Tabular.select_inputs(profile_of(frame), "y", settings_for(categorical_columns="day"))


def test_dates_mixed_with_text_beyond_the_profiles_sample_fail_when_learnt() -> None:
    settings = settings_for()
    schema = Tabular.select_inputs(profile_of(DATED), "y", settings)
    recipe = Tabular(settings, schema)
    first = DATED.drop(columns="y").head(30)
    second = DATED.drop(columns="y").tail(30).assign(day=["later"] * 30)
    summaries = [recipe.summarise(part, np.zeros(30)) for part in (first, second)]
    with pytest.raises(RecipeError, match=r"column 'day' mixes dates with other text: 30 of its 60 values"):
        recipe.learn(recipe.combine(summaries))


def test_a_value_that_is_not_a_date_is_refused_in_batches_and_single_rows() -> None:
    recipe = trained(DATED)
    row = {"when": "31/01/2013 10:00", "day": "2014-02-01", "shop": None, "colour": None, "amount": 1.0}
    with pytest.raises(
        ColumnValueError, match=r"column 'when': '31/01/2013 10:00' is not a date or timestamp"
    ):
        recipe.transform_row(row)
    frame = pa.Table.from_pylist([row], schema=recipe._types).to_pandas()  # type: ignore[attr-defined]
    with pytest.raises(
        ColumnValueError, match=r"column 'when': '31/01/2013 10:00' is not a date or timestamp"
    ):
        recipe.transform(frame)


def test_frequencies_count_training_rows_unseen_values_zero_missing_values_missing() -> None:
    recipe = trained(DATED, frequency_min_categories="30")
    frame = pd.DataFrame(
        {
            "when": pd.Series([None] * 3, dtype="str"),
            "day": pd.Series([None] * 3, dtype="str"),
            "shop": pd.Series(["shop 39", "shop 400", None], dtype="str"),
            "colour": pd.Series([None] * 3, dtype="str"),
            "amount": [1.0] * 3,
        }
    )
    frequency = recipe.transform(frame)[:, recipe.feature_names().index("shop.frequency")]
    assert frequency[0] == 1.0 and frequency[1] == 0.0 and math.isnan(frequency[2])


DATES = st.datetimes(
    min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 30, 23, 59, 59)
)
DATE_TEXT = st.one_of(
    st.none(),
    DATES.map(lambda value: value.isoformat()),
    DATES.map(lambda value: value.strftime("%Y-%m-%d %H:%M")),
    DATES.map(lambda value: value.strftime("%Y-%m-%d")),
    st.text(alphabet="0123456789-/: TZ+.", max_size=20),
)
DATED_ROW = st.fixed_dictionaries(
    {
        "when": DATE_TEXT,
        "day": DATE_TEXT,
        "shop": st.one_of(
            st.none(), st.sampled_from(["shop 1", "shop 39", "elsewhere"]), st.text(max_size=3)
        ),
        "colour": st.one_of(st.none(), st.sampled_from(["red", "blue", "violet"])),
        "amount": st.one_of(st.just(math.nan), st.floats(allow_nan=False, allow_infinity=False)),
    }
)


@settings(max_examples=120, deadline=None)
@given(st.lists(DATED_ROW, min_size=1, max_size=6))
def test_batch_and_single_row_features_are_identical_with_dates_and_frequencies(rows: list[dict]) -> None:
    """Rows whose dates are refused are refused by both paths, naming the same value."""
    recipe = trained(DATED, frequency_min_categories="30")
    frame = pa.Table.from_pylist(rows, schema=recipe._types).to_pandas()  # type: ignore[attr-defined]
    try:
        batch = as_features(recipe.transform(frame))
    except ColumnValueError as error:
        refused = [row for row in rows if _refused(recipe, row)]
        assert refused, error
        with pytest.raises(ColumnValueError):
            for row in rows:
                recipe.transform_row(row)
        return
    single = as_features([recipe.transform_row(row) for row in rows])
    assert np.array_equal(batch, single, equal_nan=True)


def _refused(recipe: Tabular, row: dict) -> bool:
    try:
        recipe.transform_row(row)
    except ColumnValueError:
        return True
    return False


def test_a_saved_state_with_broken_date_or_frequency_entries_is_refused() -> None:
    recipe = trained(DATED, frequency_min_categories="30")
    broken_states = [
        (
            {**recipe.state, "timestamps": {"shop": {"hour": False}}},
            "no category table for column.s. when, day",
        ),
        ({**recipe.state, "timestamps": {"amount": {"hour": False}}}, "reads column 'amount' as dates"),
        ({**recipe.state, "timestamps": {"when": {"hour": "yes"}}}, "date entry of column 'when'"),
        ({**recipe.state, "frequencies": {"shop": [1, 2]}}, "counts of column 'shop'"),
        ({**recipe.state, "frequencies": {"amount": [1]}}, "counts for column 'amount'"),
        ({key: value for key, value in recipe.state.items() if key != "timestamps"}, "no 'timestamps'"),
    ]
    for state, reason in broken_states:
        with pytest.raises(ValueError, match=reason):
            Tabular(recipe.settings, recipe.schema, state).check_state()
