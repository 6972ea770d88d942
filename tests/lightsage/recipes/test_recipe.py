"""Finding recipes by name: the hyperparameter, the image's default, and clear errors."""

import pytest

from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.data.profile import TableProfile
from lightsage.data.schema import InputSchema
from lightsage.recipes.base import (
    DEFAULT_RECIPE_VARIABLE,
    RecipeError,
    available_recipes,
    hyperparameter_table,
    load_recipe,
    recipe_for,
    resolve,
)

from testsupport import REPOSITORY_ROOT


def test_the_built_in_recipes_are_found_by_name() -> None:
    assert {"tabular", "titanic"} <= set(available_recipes())
    assert load_recipe("titanic").name == "titanic"
    assert load_recipe("tabular").name == "tabular"


def test_the_hyperparameter_wins_over_the_image_default() -> None:
    assert recipe_for({}, {DEFAULT_RECIPE_VARIABLE: "titanic"}).name == "titanic"
    assert recipe_for({"recipe": "tabular"}, {DEFAULT_RECIPE_VARIABLE: "titanic"}).name == "tabular"
    assert recipe_for({"recipe": '"tabular"'}, {}).name == "tabular"


def test_no_recipe_at_all_says_how_to_choose_one() -> None:
    with pytest.raises(
        HyperparameterError, match=r"no recipe: set the hyperparameter 'recipe'.*BYOC_DEFAULT_RECIPE"
    ):
        recipe_for({}, {})


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("nosuch", "unknown recipe 'nosuch'; available: "),
        ("../etc", "is not a recipe name"),
        ("Os.path", "not a recipe"),
    ],
)
def test_only_modules_of_the_recipes_package_can_be_named(name: str, fragment: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        recipe_for({"recipe": name}, {})
    assert fragment in str(caught.value)


def test_each_recipe_brings_its_own_hyperparameters_and_defaults() -> None:
    _, titanic = resolve({}, {DEFAULT_RECIPE_VARIABLE: "titanic"})
    assert (
        titanic["target"] == "Survived" and titanic["n_estimators"] == 300 and titanic["recipe"] == "titanic"
    )
    _, tabular = resolve({"recipe": "tabular", "target": "y", "ignore_columns": "a,b"}, {})
    assert tabular["ignore_columns"] == ("a", "b")
    assert (tabular["n_estimators"], tabular["learning_rate"], tabular["refit"]) == (10_000, 0.05, True)
    assert titanic["refit"] is False and titanic["early_stopping_fraction"] == 0.0
    with pytest.raises(HyperparameterError, match="unknown hyperparameter 'ignore_columns'"):
        resolve({"ignore_columns": "a"}, {DEFAULT_RECIPE_VARIABLE: "titanic"})
    with pytest.raises(HyperparameterError, match="hyperparameter 'target' is required"):
        resolve({"recipe": "tabular"}, {})


def test_a_table_without_the_recipes_columns_names_them_and_suggests_tabular() -> None:
    profile = TableProfile.empty(["mean radius", "target"])
    titanic = load_recipe("titanic")
    with pytest.raises(RecipeError) as caught:
        titanic.select_inputs(profile, "target", {})
    message = str(caught.value)
    assert "lacks column(s) recipe 'titanic' needs: Pclass, Name, Sex" in message
    assert "recipe=tabular" in message


def test_declared_columns_are_features_and_the_rest_are_kept_as_ignored_inputs() -> None:
    names = ["PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare",
             "Cabin",
             "Embarked", "Boat"]  # fmt: skip
    schema: InputSchema = load_recipe("titanic").select_inputs(TableProfile.empty(names), "Survived", {})
    assert schema.names == tuple(name for name in names if name != "Survived")
    assert [c.name for c in schema.columns if c.role == "ignored"] == ["PassengerId", "Boat"]


def test_the_reference_lists_every_hyperparameter_as_the_recipes_declare_them() -> None:
    reference = (REPOSITORY_ROOT / "docs" / "reference" / "hyperparameters.md").read_text()
    assert hyperparameter_table(available_recipes()) in reference
