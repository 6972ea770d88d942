"""The recipe seam apart from Titanic: the README's example recipe (examples/houses/houses.py) is found by
name, selected by hyperparameter or by BYOC_DEFAULT_RECIPE, trains with its declared columns and its own
hyperparameter, saves what it learnt as JSON, and serves through `lightsage.serving.app.create_app` without
unpickling.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from lightsage import recipes
from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.recipes.base import Recipe, available_recipes, load_recipe, recipe_for, resolve
from lightsage.serving.app import create_app
from lightsage.tasks import Task, choose_task
from lightsage.training.main import main, train

from housessupport import DISTRICT_PRICES, EXAMPLE_DIR, channels, houses_table
from tabularsupport import wine
from testsupport import REPOSITORY_ROOT, make_ml_root


@pytest.fixture(scope="module")
def houses() -> Iterator[type[Recipe]]:
    """The example recipe, visible in the `recipes` package as if copied to
    program/lightsage/recipes/houses.py."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipes, "__path__", [*recipes.__path__, str(EXAMPLE_DIR)])
        try:
            yield load_recipe("houses")
        finally:
            sys.modules.pop("lightsage.recipes.houses", None)


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return houses_table(600, seed=1), houses_table(200, seed=2)


@pytest.fixture(scope="module")
def model_dir(
    houses: type[Recipe], tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = make_ml_root(
        tmp_path_factory.mktemp("houses") / "ml", {"recipe": "houses", "smoothing": "5"}, channels(*tables)
    )
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return root / "model"


def expected_state(frame: pd.DataFrame, smoothing: float) -> dict[str, Any]:
    """The example's state computed straight from the table with pandas, as the README describes it."""
    per_m2 = frame["price"] / frame["area"]
    overall = float(per_m2.mean())
    grouped = per_m2.groupby(frame["district"])
    return {
        "overall": overall,
        "districts": {
            name: (float(grouped.sum()[name]) + smoothing * overall) / (int(grouped.size()[name]) + smoothing)
            for name in grouped.sum().index
        },
    }


# -- finding and selecting recipes ---------------------------------------------------------------------------


def test_a_module_in_the_recipes_package_is_a_recipe_by_its_name(houses: type[Recipe]) -> None:
    assert {"houses", "tabular", "titanic"} <= set(available_recipes())
    assert available_recipes() == sorted(available_recipes())
    assert houses.__name__ == "Houses" and houses.name == "houses"


def test_the_hyperparameter_selects_the_recipe_and_the_variable_sets_the_default(
    houses: type[Recipe],
) -> None:
    assert recipe_for({"recipe": "houses"}, {}) is houses
    assert recipe_for({}, {"BYOC_DEFAULT_RECIPE": "houses"}) is houses
    # The hyperparameter wins over the image's default, also JSON-quoted as the SDK sends it.
    assert recipe_for({"recipe": '"tabular"'}, {"BYOC_DEFAULT_RECIPE": "houses"}).name == "tabular"
    assert recipe_for({}, {"BYOC_DEFAULT_RECIPE": " titanic "}).name == "titanic"


@pytest.mark.parametrize(
    ("raw", "environ", "reason"),
    [
        ({"recipe": "nosuch"}, {}, "hyperparameter 'recipe': unknown recipe 'nosuch'; available: {known}"),
        ({}, {"BYOC_DEFAULT_RECIPE": "nosuch"}, "unknown recipe 'nosuch'; available: {known}"),
        ({"recipe": "../houses"}, {}, "recipe '../houses' is not a recipe name"),
        ({"recipe": "Houses"}, {}, "recipe 'Houses' is not a recipe name"),
        ({}, {}, "no recipe: set the hyperparameter 'recipe' (available: {known})"),
    ],
)
def test_an_unknown_or_absent_recipe_is_a_clear_error(
    houses: type[Recipe], raw: dict[str, str], environ: dict[str, str], reason: str
) -> None:
    with pytest.raises(HyperparameterError) as error:
        recipe_for(raw, environ)
    assert reason.format(known=", ".join(available_recipes())) in str(error.value)


def test_a_recipe_brings_its_own_hyperparameter_and_defaults(houses: type[Recipe]) -> None:
    recipe, settings = resolve({"recipe": "houses"}, {})
    assert recipe is houses
    assert settings["smoothing"] == 20.0 and settings["target"] == "price"
    assert settings["n_estimators"] == 200 and settings["learning_rate"] == 0.05
    assert resolve({"recipe": "houses", "smoothing": '"2.5"'}, {})[1]["smoothing"] == 2.5
    with pytest.raises(HyperparameterError, match=r"hyperparameter 'smoothing': '-1' must be >= 0"):
        resolve({"recipe": "houses", "smoothing": "-1"}, {})
    with pytest.raises(
        HyperparameterError, match=r"unknown hyperparameter 'smoothin' \(did you mean 'smoothing'"
    ):
        resolve({"recipe": "houses", "smoothin": "1"}, {})
    # Another recipe does not know it.
    with pytest.raises(HyperparameterError, match="unknown hyperparameter 'smoothing'"):
        resolve({"recipe": "tabular", "target": "price", "smoothing": "1"}, {})


# -- training: declared columns, learnt state ---------------------------------------------------------------


def test_training_saves_the_declared_columns_and_the_learnt_state_as_json(
    model_dir: Path, tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    assert sorted(path.name for path in model_dir.iterdir()) == sorted(artifact.ARTIFACT_FILES)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    source = {"houses.py": artifact.sha256((EXAMPLE_DIR / "houses.py").read_bytes())}
    assert manifest["recipe"] == {
        "name": "houses",
        "version": 1,
        "source": {"origin": "image", "program": "houses.py", "files": source},
    }
    assert manifest["task"] == "regression" and manifest["target"] == "price" and manifest["classes"] == []
    assert manifest["hyperparameters"]["smoothing"] == 5.0
    assert [(c["name"], c["type"], c["role"]) for c in manifest["inputs"]] == [
        ("listing", "string", "ignored"),
        ("district", "string", "feature"),
        ("rooms", "number", "feature"),
        ("area", "number", "feature"),
    ]
    assert manifest["features"] == ["rooms", "area", "district_per_m2", "estimate"]
    state = json.loads((model_dir / "recipe_state.json").read_text())
    expected = expected_state(tables[0], smoothing=5.0)
    assert state["overall"] == pytest.approx(expected["overall"], rel=1e-12)
    assert state["districts"] == pytest.approx(expected["districts"], rel=1e-12)
    assert set(state["districts"]) == set(DISTRICT_PRICES)
    # The learnt feature carries the signal: the model explains most of the validation prices.
    assert json.loads((model_dir / "metrics.json").read_text())["validation"]["r2"] > 0.8


def test_the_state_round_trips_and_summaries_combine_in_any_grouping(
    model_dir: Path, houses: type[Recipe], tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    model = artifact.load(model_dir)
    assert model.recipe.state == json.loads((model_dir / "recipe_state.json").read_text())
    recipe = houses(model.manifest.settings, model.manifest.inputs)
    rows = tables[0]
    labels = rows["price"].to_numpy(dtype=float)
    whole = recipe.learn(recipe.summarise(rows, labels))
    parts = [recipe.summarise(rows.iloc[a:b], labels[a:b]) for a, b in ((0, 100), (100, 350), (350, 600))]
    in_one_go = recipe.learn(recipe.combine(parts))
    nested = recipe.learn(recipe.combine([recipe.combine(parts[:2]), parts[2]]))
    for learnt in (in_one_go, nested):
        assert learnt["overall"] == pytest.approx(whole["overall"], rel=1e-12)
        assert learnt["districts"] == pytest.approx(whole["districts"], rel=1e-12)
    assert whole["districts"] == pytest.approx(model.recipe.state["districts"], rel=1e-12)


def test_transform_and_transform_row_give_the_same_features(model_dir: Path) -> None:
    recipe = artifact.load(model_dir).recipe
    rows: list[dict[str, Any]] = [
        {"district": "harbour", "rooms": 3.0, "area": 81.5},
        {"district": "old town", "rooms": 1.0, "area": 30.0},
        {"district": "moon base", "rooms": 2.0, "area": 50.0},  # never seen in training
        {"district": None, "rooms": 4.0, "area": 120.0},
        {"district": "hills", "rooms": math.nan, "area": math.nan},
    ]
    batch = recipe.transform(pd.DataFrame(rows))
    one_by_one = np.array([recipe.transform_row(row) for row in rows], dtype=float)
    np.testing.assert_array_equal(batch, one_by_one)
    overall = recipe.state["overall"]
    assert batch[2, 2] == overall and batch[3, 2] == overall
    assert batch[0, 2] == recipe.state["districts"]["harbour"]


def test_the_recipes_only_task_is_applied_to_a_target_task_auto_reads_as_classes(
    houses: type[Recipe], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prices rounded to 100 000: a few distinct integers, which task=auto reads as classes; the houses
    recipe handles regression only, so regression it is, as the deploy side assumes."""
    train_rows, validation_rows = (
        frame.assign(price=(frame["price"] / 100_000).round().astype(int) * 100_000)
        for frame in (houses_table(300, seed=4), houses_table(100, seed=5))
    )
    assert 2 < train_rows["price"].nunique() <= 20
    root = make_ml_root(tmp_path / "ml", {"recipe": "houses"}, channels(train_rows, validation_rows))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        assert main() == 0, (root / "output" / "failure").read_text()
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert (metrics["task"], metrics["task_rule"]) == (
        "regression",
        "recipe 'houses' handles regression targets only",
    )
    assert (
        "[train] task regression (recipe 'houses' handles regression targets only)" in capsys.readouterr().out
    )
    assert choose_task(None, "price", "auto", houses.tasks, houses.name).task is Task.REGRESSION


def test_a_table_without_the_declared_columns_names_them(houses: type[Recipe], tmp_path: Path) -> None:
    rows = houses_table(100, seed=3).drop(columns=["area", "rooms"])
    root = make_ml_root(tmp_path / "ml", {"recipe": "houses"}, channels(rows, rows))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        assert main() == 1
    reason = (root / "output" / "failure").read_text().splitlines()[0]
    assert reason.startswith(
        "the data lacks column(s) recipe 'houses' needs: rooms, area; for any table, use the hyperparameter "
        "recipe=tabular (the table has: listing, district, price)"
    )
    assert list((root / "model").iterdir()) == []


def test_the_image_default_recipe_variable_trains_without_a_recipe_hyperparameter(
    houses: type[Recipe], tmp_path: Path
) -> None:
    rows = houses_table(300, seed=4)
    root = make_ml_root(tmp_path / "ml", {}, channels(rows.iloc[:200], rows.iloc[200:]), recipe=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        patch.setenv("BYOC_DEFAULT_RECIPE", "houses")
        assert main() == 0
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    assert manifest["recipe"]["name"] == "houses" and manifest["target"] == "price"


def test_a_foreign_table_under_the_titanic_default_names_the_missing_columns(tmp_path: Path) -> None:
    table = wine()
    root = make_ml_root(tmp_path / "ml", {"target": "target"}, table.channels("csv"), recipe=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        patch.setenv("BYOC_DEFAULT_RECIPE", "titanic")
        assert main() == 1
    reason = (root / "output" / "failure").read_text().splitlines()[0]
    assert reason.startswith(
        "the data lacks column(s) recipe 'titanic' needs: Pclass, Name, Sex, Age, SibSp, Parch, Ticket, "
        "Fare, Cabin, Embarked; for any table, use the hyperparameter recipe=tabular (the table has: "
    )


# -- serving -------------------------------------------------------------------------------------------------


def _refuse_to_unpickle(*args: object, **kwargs: object) -> None:
    raise AssertionError("something was unpickled")


def test_the_model_serves_through_create_app_without_unpickling(
    model_dir: Path, tables: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, _refuse_to_unpickle)
    client = create_app(model_dir).test_client()
    rows = tables[1].drop(columns=["price"])

    batch = client.post("/invocations", data=rows.to_csv(index=False), content_type="text/csv")
    assert batch.status_code == 200, batch.get_data(as_text=True)
    served = np.array([answer["prediction"] for answer in batch.get_json()["predictions"]])

    # The same rows scored outside the server: features computed here from recipe_state.json, then the
    # booster read from model.txt. Missing and unseen districts take the overall price per m².
    state = json.loads((model_dir / "recipe_state.json").read_text())
    per_m2 = np.array([state["districts"].get(name, state["overall"]) for name in rows["district"]])
    area = rows["area"].to_numpy(dtype=float)
    features = np.column_stack([rows["rooms"].to_numpy(dtype=float), area, per_m2, per_m2 * area])
    booster = lgb.Booster(model_file=str(model_dir / "model.txt"))
    np.testing.assert_allclose(served, booster.predict(features.astype(np.float32)), rtol=1e-12)

    # A few rows as JSON take the recipe's transform_row path; the answers are the batch's.
    records = json.loads(rows.head(5).to_json(orient="records"))
    small = client.post("/invocations", json=records)
    assert [answer["prediction"] for answer in small.get_json()["predictions"]] == served[:5].tolist()


def test_the_recipes_guide_shows_the_tested_example() -> None:
    readme = (REPOSITORY_ROOT / "docs" / "recipes.md").read_text()
    assert "```python\n" + (EXAMPLE_DIR / "houses.py").read_text() + "```\n" in readme
    dockerfile = (EXAMPLE_DIR / "Dockerfile").read_text().splitlines()
    instructions = [line for line in dockerfile if line and not line.startswith("#")]
    assert "```dockerfile\n" + "\n".join(instructions) + "\n```\n" in readme
