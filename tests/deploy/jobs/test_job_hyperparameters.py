"""The hyperparameters a job is sent: their sources, their order, their checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightsage.recipes.base import load_recipe
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters
from lightsage_deploy.project import project


def test_hyperparameters_from_the_command_line() -> None:
    parsed = hyperparameters.parse_assignments(["num_leaves=16", " learning_rate = 0.05", "target=a=b"])
    assert parsed == {"num_leaves": "16", "learning_rate": "0.05", "target": "a=b"}
    with pytest.raises(DeployError, match="'num_leaves' is not KEY=VALUE"):
        hyperparameters.parse_assignments(["num_leaves"])


def test_hyperparameters_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"num_leaves": 16, "learning_rate": 0.05, "class_weight": "balanced"}))
    assert hyperparameters.read_file(path) == {
        "num_leaves": "16",
        "learning_rate": "0.05",
        "class_weight": "balanced",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ("{bad", "is not valid JSON"),
        ('{"num_leaves": [16]}', "'num_leaves' must be a string, number or boolean"),
    ],
)
def test_bad_hyperparameter_files_say_what_is_wrong(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "hp.json"
    path.write_text(content)
    with pytest.raises(DeployError, match=expected):
        hyperparameters.read_file(path)
    with pytest.raises(DeployError, match="does not exist"):
        hyperparameters.read_file(tmp_path / "missing.json")


def test_the_command_line_wins_over_the_file_and_the_file_over_the_project(
    tmp_path: Path, example_project: project.Project
) -> None:
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"num_leaves": 16, "max_depth": 5}))
    merged = hyperparameters.for_job(example_project, file=path, assignments=["num_leaves=32"])
    assert merged == {"recipe": "titanic", "target": "Survived", "num_leaves": "32", "max_depth": "5"}


def test_every_value_is_checked_against_the_recipe(example_project: project.Project) -> None:
    with pytest.raises(DeployError, match="did you mean 'num_leaves'"):
        hyperparameters.for_job(example_project, assignments=["num_leave=32"])
    with pytest.raises(DeployError, match="'learning_rate'"):
        hyperparameters.for_job(example_project, assignments=["learning_rate=2"])
    with pytest.raises(DeployError, match="hyperparameter 'recipe': unknown recipe 'nope'"):
        hyperparameters.merge({"recipe": "nope", "target": "y"})
    with pytest.raises(DeployError, match="'target' is required"):
        hyperparameters.merge({"recipe": "tabular"})


def test_task_is_the_hyperparameter_task(example_project: project.Project) -> None:
    values = hyperparameters.for_job(example_project, task="binary")
    assert values["task"] == "binary"
    with pytest.raises(DeployError, match="--task regression contradicts the hyperparameter task=binary"):
        hyperparameters.for_job(example_project, assignments=["task=binary"], task="regression")


def test_tuning_ranges_are_the_recipes_less_what_is_set() -> None:
    declared = {
        spec.name: spec.tuning for spec in load_recipe("titanic").hyperparameter_specs() if spec.tuning
    }
    titanic = hyperparameters.tuning_ranges({"recipe": "titanic", "target": "Survived"})
    assert {name: spec.tuning for name, spec in titanic.items()} == declared
    assert declared, "the worked example's recipe declares tuning ranges"
    fixed = hyperparameters.tuning_ranges({"recipe": "titanic", "target": "Survived", "num_leaves": "16"})
    assert set(fixed) == set(declared) - {"num_leaves"}
