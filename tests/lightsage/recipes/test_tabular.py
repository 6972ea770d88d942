"""The tabular recipe: which columns it reads, its category tables, and its two feature paths."""

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.channels import RawBatch
from lightsage.data.profile import TableProfile
from lightsage.data.schema import InputSchema
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
        "name": ("string", "ignored"),
        "colour": ("string", "feature"),
        "size": ("number", "feature"),
        "empty": ("number", "ignored"),
        "zip": ("number", "feature"),
    }
    assert any("'row_id': it holds distinct integers, like a row id" in line for line in logged)
    assert any("'name': its text is mostly unique" in line for line in logged)
    assert any("'empty': it is empty" in line for line in logged)


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
    assert all(
        named_like_id(name) for name in ["id", "ID", "user_id", "PassengerId", "customerID", "row index"]
    )
    assert not any(named_like_id(name) for name in ["paid", "idle", "valid", "width", "Holiday"])


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
    assert recipe.state == {"categories": {"colour": ["red", "blue"]}}
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
