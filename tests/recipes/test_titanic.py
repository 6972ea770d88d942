"""The Titanic recipe: its batch and single-row feature paths agree on any passenger."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recipes.titanic import FEATURE_NAMES, family_key, is_boy, surname_of

from byoc import artifact
from byoc.boosting import as_features
from byoc.schema import InputSchema


@pytest.fixture(scope="module")
def titanic(trained_model_dir: Path) -> artifact.Model:
    return artifact.load(trained_model_dir)


def frame_of(schema: InputSchema, records: list[dict[str, object]]) -> pd.DataFrame:
    types = pa.schema(
        [(c.name, pa.float64() if c.kind == "number" else pa.string()) for c in schema.features]
    )
    return pa.Table.from_pylist(records, schema=types).to_pandas()


def same_features(left: np.ndarray, right: np.ndarray) -> bool:
    return np.array_equal(as_features(left), as_features(right), equal_nan=True)


def test_boys_surnames_and_family_keys() -> None:
    assert is_boy("Palsson, Master. Gosta Leonard") and is_boy("X,\tMaster . Y")
    assert not is_boy("Braund, Mr. Owen Harris") and not is_boy(None) and not is_boy("Master. No comma")
    assert surname_of("  Andersson , Miss. Ebba") == "andersson" and surname_of("Nocomma") == ""
    assert family_key("Asplund, Master. Edvin", "347077", 31.3875, 3.0) == "asplund|3|34707|314"
    assert family_key(None, None, math.nan, math.nan) == "|||"


def passenger(**values: object) -> dict[str, object]:
    row = {"Pclass": 3.0, "Name": "X, Mr. Y", "Sex": "male", "Age": 30.0, "SibSp": 0.0, "Parch": 0.0,
           "Ticket": None, "Fare": 8.0, "Cabin": None, "Embarked": "S"}  # fmt: skip
    row.update(values)
    return row


def test_training_rows_are_taken_out_of_their_own_groups(titanic: artifact.Model) -> None:
    recipe = titanic.recipe
    tickets = recipe.state["ticket"].to_pandas()
    ticket = tickets[tickets["count"] == 2].iloc[0]["key"]
    frame = frame_of(titanic.manifest.inputs, [passenger(Ticket=ticket, Fare=30.0)])
    fare_per_person = FEATURE_NAMES.index("fare_per_person")
    assert recipe.transform(frame)[0, fare_per_person] == 10.0
    assert recipe.transform(frame, np.array([1.0]))[0, fare_per_person] == 15.0
    families = recipe.state["wc_family"].to_pandas()
    known = families[(families["count"] == 1) & (families["label_sum"] == 1)].iloc[0]["key"]
    surname, pclass, stem, tenths = known.split("|")
    woman = passenger(
        Name=f"{surname.title()}, Mrs. A",
        Sex="female",
        Pclass=float(pclass),
        Ticket=(stem + "0") if stem else None,
        Fare=int(tenths) / 10 if tenths else math.nan,
    )
    survived = FEATURE_NAMES.index("wcg_all_survived")
    as_new = recipe.transform(frame_of(titanic.manifest.inputs, [woman]))[0, survived]
    assert as_new == 1.0


TEXT = st.one_of(
    st.none(), st.sampled_from(["", "a", "C85", "  b45 ", "ß", "PC 17599", "347082"]), st.text(max_size=8)
)
NAME = st.one_of(
    TEXT,
    st.sampled_from([
        "Braund, Mr. Owen Harris", "Andersson, Miss. Ebba Iris", "Asplund, Master. Edvin",
        "X,  the Countess. of Y",
        "Sage, Mrs. John", "no comma", ", Mr.", "A, B", "Palsson, Master. Gosta Leonard",
    ]),
)  # fmt: skip
NUMBER = st.one_of(
    st.just(math.nan), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, 2.0, 3.0, 7.25])
)
PASSENGER = st.fixed_dictionaries(
    {
        "Pclass": st.sampled_from([1.0, 2.0, 3.0, math.nan]),
        "Name": NAME,
        "Sex": st.sampled_from(["male", "female", None]),
        "Age": NUMBER,
        "SibSp": NUMBER,
        "Parch": NUMBER,
        "Ticket": st.one_of(TEXT, st.sampled_from(["347082", "CA 2343", "1601", "PC 17599", "113803"])),
        "Fare": NUMBER,
        "Cabin": TEXT,
        "Embarked": st.sampled_from(["S", "C", "Q", None]),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PASSENGER, min_size=1, max_size=5))
def test_batch_and_single_row_features_are_identical(titanic: artifact.Model, rows: list[dict]) -> None:
    recipe = titanic.recipe
    for row in rows:
        for name in ("Name", "Ticket", "Cabin"):
            value = row[name]
            row[name] = None if value is None else value.strip(" \t\r\n\f\v") or None
    batch = recipe.transform(frame_of(titanic.manifest.inputs, rows))
    single = np.array([recipe.transform_row(row) for row in rows], dtype=float)
    assert batch.shape == (len(rows), len(FEATURE_NAMES))
    assert same_features(batch, single)
