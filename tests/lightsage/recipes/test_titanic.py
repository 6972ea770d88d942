"""The Titanic recipe: its batch and single-row feature paths agree on any passenger."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsage.data.schema import InputSchema
from lightsage.model import artifact
from lightsage.model.boosting import as_features
from lightsage.recipes.titanic import FEATURE_NAMES, family_key, is_boy, surname_of

from testsupport import TRAIN_CSV


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


def training_rows(schema: InputSchema) -> tuple[pd.DataFrame, np.ndarray]:
    table = pd.read_csv(TRAIN_CSV)
    labels = table.pop("Survived").to_numpy(dtype=float)
    return frame_of(schema, table.astype(object).where(table.notna(), None).to_dict("records")), labels


def test_a_training_row_sees_its_groups_as_a_new_passenger_would(titanic: artifact.Model) -> None:
    """Leave-one-out: a training row's features are those a state learnt from every other row gives it."""
    recipe = titanic.recipe
    frame, labels = training_rows(titanic.manifest.inputs)
    learnt = type(recipe)(recipe.settings, recipe.schema)
    learnt.state = learnt.learn(learnt.summarise(frame, labels))
    as_training = learnt.transform(frame, labels)
    grouped = np.flatnonzero((as_training != learnt.transform(frame)).any(axis=1))
    assert len(grouped) > 100  # the rows whose own label is in their groups
    for row in (*grouped, *range(10)):
        others = np.arange(len(frame)) != row
        without = type(recipe)(recipe.settings, recipe.schema)
        without.state = without.learn(without.summarise(frame[others].reset_index(drop=True), labels[others]))
        assert same_features(without.transform(frame.iloc[[row]]), as_training[[row]]), row


def test_a_new_woman_takes_her_familys_fate(titanic: artifact.Model) -> None:
    recipe = titanic.recipe
    families = recipe.state["wc_family"].to_pandas()
    for survivors, died, survived in ((1, 0.0, 1.0), (0, 1.0, 0.0)):
        known = families[(families["count"] == 1) & (families["label_sum"] == survivors)].iloc[0]["key"]
        surname, pclass, stem, tenths = known.split("|")
        woman = passenger(
            Name=f"{surname.title()}, Mrs. A",
            Sex="female",
            Pclass=float(pclass),
            Ticket=(stem + "0") if stem else None,
            Fare=int(tenths) / 10 if tenths else math.nan,
        )
        features = recipe.transform(frame_of(titanic.manifest.inputs, [woman]))[0]
        assert features[FEATURE_NAMES.index("wcg_all_died")] == died
        assert features[FEATURE_NAMES.index("wcg_all_survived")] == survived


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
