import numpy as np
import pandas as pd
import pytest

from byoc.features import FEATURE_NAMES, TitanicFeatures, surname_of, text_or_none, title_of

from testsupport import TITANIC_CSV


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    return pd.read_csv(TITANIC_CSV)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Heikkinen, Miss. Laina", "Miss"),
        ("Aubart, Mme. Leontine Pauline", "Mrs"),
        ("Reuchlin, Jonkheer. John George", "Noble"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Noble"),
        ("Uruchurtu, Don. Manuel E", "Noble"),
        ("Byles, Rev. Thomas Roussel Davids", "Officer"),
        ("Palsson, Master. Gosta Leonard", "Master"),
        ("No title here", "Other"),
        (None, None),
    ],
)
def test_title_of(name: str | None, title: str | None) -> None:
    assert title_of(name) == title


def test_missing_text_is_none() -> None:
    assert text_or_none(float("nan")) is None
    assert text_or_none("  ") is None
    assert text_or_none(" C85 ") == "C85"
    assert surname_of("Braund, Mr. Owen Harris") == "braund"


def test_output_has_one_column_per_feature_name(titanic: pd.DataFrame) -> None:
    features = TitanicFeatures().fit(titanic, titanic["Survived"])
    matrix = features.transform(titanic)
    assert matrix.shape == (len(titanic), len(FEATURE_NAMES))
    assert list(features.get_feature_names_out()) == list(FEATURE_NAMES)


def test_dataframe_and_dict_of_lists_give_identical_features(titanic: pd.DataFrame) -> None:
    features = TitanicFeatures().fit(titanic, titanic["Survived"])
    as_lists = {
        column: [None if pd.isna(value) else value for value in titanic[column]] for column in titanic.columns
    }
    np.testing.assert_array_equal(features.transform(titanic), features.transform(as_lists))


def test_engineered_values_for_a_known_passenger(titanic: pd.DataFrame) -> None:
    features = TitanicFeatures().fit(titanic, titanic["Survived"])
    row = features.transform(titanic.iloc[[1]])[0]
    values = dict(zip(FEATURE_NAMES, row, strict=True))
    assert values["sex"] == 1.0
    assert values["title"] == 1.0  # Mrs
    assert values["deck"] == 2.0  # C85 -> C
    assert values["has_cabin"] == 1.0
    assert values["family_size"] == 2.0
    assert values["embarked"] == 1.0  # C


def test_unseen_categories_and_missing_values_do_not_fail(titanic: pd.DataFrame) -> None:
    features = TitanicFeatures().fit(titanic, titanic["Survived"])
    odd = {
        "Pclass": [None], "Name": [None], "Sex": ["unknown"], "Age": [None], "SibSp": [None], "Parch": [None],
        "Ticket": ["NEW-TICKET"], "Fare": [None], "Cabin": ["Z9"], "Embarked": [None],
    }  # fmt: skip
    row = dict(zip(FEATURE_NAMES, features.transform(odd)[0], strict=True))
    assert row["sex"] == -1.0 and row["deck"] == -1.0
    assert np.isnan(row["age"]) and np.isnan(row["title"]) and np.isnan(row["embarked"])
    assert row["ticket_group_size"] == 1.0
    assert np.isnan(row["ticket_group_survival"])


def test_training_rows_never_see_their_own_label(titanic: pd.DataFrame) -> None:
    labels = titanic["Survived"].to_numpy()
    features = TitanicFeatures()
    training_matrix = features.fit_transform(titanic, labels)
    rates = training_matrix[:, FEATURE_NAMES.index("ticket_group_survival")]
    alone = titanic.groupby("Ticket")["Ticket"].transform("size").to_numpy() == 1
    assert np.isnan(rates[alone]).all()
    flipped = labels.copy()
    flipped[0] = 1 - flipped[0]
    rates_with_flipped_own_label = TitanicFeatures().fit_transform(titanic, flipped)[
        :, FEATURE_NAMES.index("ticket_group_survival")
    ]
    assert rates_with_flipped_own_label[0] == rates[0] or np.isnan(rates[0])


def test_new_rows_see_the_group_rate_of_training_members(titanic: pd.DataFrame) -> None:
    features = TitanicFeatures().fit(titanic, titanic["Survived"])
    ticket = "347082"  # the Andersson family: 7 members, none survived
    members = titanic[titanic["Ticket"] == ticket]
    row = features.transform(members.iloc[[0]])[0]
    assert row[FEATURE_NAMES.index("ticket_group_size")] == len(members)
    assert row[FEATURE_NAMES.index("ticket_group_survival")] == members["Survived"].mean()
