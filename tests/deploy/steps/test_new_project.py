"""`byoc init`: the table and the recipe are checked as `train` will read them before anything is written; a
problem names the file, the column (with the closest ones) or the recipe, and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightsage.tasks import Task
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps.init import init_project

from testsupport import TITANIC_CSV

BYOC = Path(sys.executable).parent / "byoc"
TARGETS = {
    Task.BINARY: ["good", "bad"],
    Task.MULTICLASS: ["a", "b", "c"],
    Task.REGRESSION: [1.5, -2.25, 3.0, 0.125],
}


def table(task: Task, rows: int = 40) -> pd.DataFrame:
    values = TARGETS[task]
    return pd.DataFrame(
        {
            "income": np.arange(rows) * 1.5,
            "region": [("north", "south")[row % 2] for row in range(rows)],
            "Status": [values[row % len(values)] for row in range(rows)],
        }
    )


def written(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_project_is_made_from_any_table_with_the_tabular_recipe(
    tmp_path: Path, task: Task, suffix: str
) -> None:
    data = written(table(task), tmp_path / "tables" / f"credit{suffix}")
    made = init_project(tmp_path / "Credit Risk", data, "Status")
    assert made.project.file == tmp_path / "Credit Risk" / "byoc.toml"
    assert made.project == project.load(made.project.file, environ={})
    assert (made.project.name, made.project.source, made.project.target) == ("credit-risk", data, "Status")
    assert made.project.recipe == "tabular" and made.project.hyperparameters == {}
    assert (made.rows, made.columns, made.task.task) == (40, ["income", "region", "Status"], task)
    assert sorted(path.name for path in (tmp_path / "Credit Risk").iterdir()) == ["byoc.toml"]


def test_the_worked_example_can_start_over_with_its_own_recipe(tmp_path: Path) -> None:
    made = init_project(tmp_path / "again", TITANIC_CSV, "Survived", recipe="titanic", name="titanic-again")
    assert (made.project.name, made.project.recipe, made.task.task) == (
        "titanic-again",
        "titanic",
        Task.BINARY,
    )


def problems(tmp_path: Path) -> list[tuple[Path, str, str, str]]:
    """(data, target, recipe, the error) for a table or a recipe that cannot make a project."""
    good = written(table(Task.BINARY), tmp_path / "good.csv")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PK\x03\x04 not parquet at all")
    one_value = written(table(Task.BINARY).assign(Status="good"), tmp_path / "one.csv")
    only_target = written(table(Task.BINARY)[["Status"]], tmp_path / "only.csv")
    empty_target = written(table(Task.BINARY).assign(Status=""), tmp_path / "empty.csv")
    semicolons = tmp_path / "semicolons.csv"
    table(Task.BINARY).to_csv(semicolons, sep=";", index=False)
    with_index = tmp_path / "index.csv"
    table(Task.BINARY).to_csv(with_index)
    return [
        (tmp_path / "gone.csv", "Status", "tabular", f"--data {tmp_path / 'gone.csv'}: no such file"),
        (good, "status", "tabular",
         f"{good} has no target column 'status' (did you mean 'Status'?); its columns: income, region, "),
        (good, "Statsu", "tabular", "(did you mean 'Status'?)"),
        (garbage, "Status", "tabular", f"cannot read {garbage} as Parquet: "),
        (one_value, "Status", "tabular", "'Status' has one class only ('good' in all 40 labelled rows)"),
        (empty_target, "Status", "tabular", "target column 'Status' has no values"),
        (only_target, "Status", "tabular", f"{only_target} has no column but the target 'Status'"),
        (semicolons, "Status", "tabular",
         f"{semicolons}: the header reads as one column, 'income;region;"),
        (with_index, "Status", "tabular", f"{with_index}: the header has an empty or 'Unnamed' column name"),
        (good, "Status", "houses",
         "--recipe houses: the image has no such recipe; built in: tabular, titanic"),
        (good, "Status", "titanic", f"{good}: the data lacks column(s) recipe 'titanic' needs: Pclass, Name"),
    ]  # fmt: skip


def test_a_table_or_recipe_that_cannot_make_a_project_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    for number, (data, target, recipe, message) in enumerate(problems(tmp_path)):
        folder = tmp_path / f"project-{number}"
        with pytest.raises(DeployError) as raised:
            init_project(folder, data, target, recipe)
        assert message in str(raised.value), (number, str(raised.value))
        assert not folder.exists(), f"{folder} was made for a project that could not be"


def test_an_existing_project_is_refused_and_kept(tmp_path: Path) -> None:
    data = written(table(Task.BINARY), tmp_path / "credit.csv")
    made = init_project(tmp_path / "proj", data, "Status")
    before = made.project.file.read_bytes()
    with pytest.raises(DeployError, match=r"proj/byoc.toml exists: .*proj is a project already"):
        init_project(tmp_path / "proj", data, "income", name="other")
    assert made.project.file.read_bytes() == before


def test_byoc_init_says_what_it_made_and_what_comes_next(tmp_path: Path) -> None:
    data = written(table(Task.MULTICLASS), tmp_path / "credit.parquet")
    result = subprocess.run(
        [str(BYOC), "init", "proj", "--data", str(data), "--target", "Status"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"created {tmp_path / 'proj' / 'byoc.toml'}",
        "project: proj",
        f"data:    {data} (40 rows, 3 columns)",
        "target:  Status: task multiclass (target 'Status' holds text: 3 classes ('a', 'b', 'c'))",
        "recipe:  tabular",
        "next:    cd proj && byoc build && byoc local",
    ]
    again = subprocess.run(
        [str(BYOC), "init", "proj", "--data", str(data), "--target", "Status"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().endswith("proj is a project already")
