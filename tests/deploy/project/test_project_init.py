"""A new project's file: a valid name from the folder, values that load back exactly, commented examples that
are real hyperparameters, and never an overwritten project."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters
from lightsage_deploy.project import init, project


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("proj", "proj"),
        ("Credit Risk_2024", "credit-risk-2024"),
        ("--Données--Team--", "donnees-team"),
        ("a" * 50, "a" * 40),
        ("a" * 39 + "-b", "a" * 39),
    ],
)
def test_the_name_comes_from_the_folder_and_is_always_a_valid_project_name(folder: str, name: str) -> None:
    assert init.name_from_folder(Path("/somewhere") / folder) == name
    project.Project(name=name, source=Path("t.csv"), target="y", recipe="tabular")


def test_a_folder_name_without_letters_or_digits_asks_for_a_name() -> None:
    with pytest.raises(
        DeployError, match=r"cannot make a project name of the folder name '___': pass --name"
    ):
        init.name_from_folder(Path("/x/___"))


@pytest.mark.parametrize(
    ("target", "data"), [("Status", "credit.csv"), ('say "yes"', "a b/c\\d.parquet"), ("ключ", "données.csv")]
)
def test_what_is_written_loads_back_as_the_same_project(tmp_path: Path, target: str, data: str) -> None:
    folder = tmp_path / "proj"
    source = tmp_path / "tables" / data
    text = init.settings_text(
        "proj", init.source_setting(source, folder), target, "tabular", ["tabular", "x"]
    )
    loaded = project.load(init.write(folder, text), environ={})
    assert (loaded.name, loaded.target, loaded.recipe) == ("proj", target, "tabular")
    assert loaded.source == source.resolve()
    assert loaded.hyperparameters == {}
    assert f"source = {init.toml_string(Path('..', 'tables', data).as_posix())}" in text


def test_the_commented_examples_are_hyperparameters_the_recipe_takes(tmp_path: Path) -> None:
    text = init.settings_text("p", "t.csv", "y", "tabular", ["tabular"])
    examples = text.split("[training.hyperparameters]\n", 1)[1]
    lines = [line.removeprefix("# ") for line in examples.splitlines() if " = " in line]
    assert len(lines) >= 5
    uncommented = tomllib.loads("\n".join(lines))
    assert hyperparameters.check(
        {"recipe": "tabular", "target": "y", **{k: str(v) for k, v in uncommented.items()}}
    )


def test_an_existing_project_is_never_overwritten(tmp_path: Path) -> None:
    path = init.write(tmp_path / "proj", "# first\n")
    with pytest.raises(DeployError, match=r"proj/byoc.toml exists: .*proj is a project already"):
        init.write(tmp_path / "proj", "# second\n")
    assert path.read_text() == "# first\n"


def test_missing_folders_are_made_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    assert init.write(tmp_path / "a" / "b", "# x\n") == tmp_path / "a" / "b" / "byoc.toml"
    (tmp_path / "file").write_text("")
    with pytest.raises(DeployError, match="is a file, not a folder"):
        init.write(tmp_path / "file", "# x\n")
