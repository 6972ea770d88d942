"""The project settings file: found from the current folder up, every AWS name derived from one project name,
relative paths relative to the file, errors naming the file; the example lives only there."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project

from testsupport import REPOSITORY_ROOT

DEPLOY_DIR = REPOSITORY_ROOT / "deploy"


def test_the_worked_example_is_the_repository_file(example_project: project.Project) -> None:
    assert example_project.name == "titanic-byoc"
    assert example_project.source == REPOSITORY_ROOT / "data" / "titanic.csv"
    assert example_project.target == "Survived"
    assert example_project.recipe == "titanic"
    assert example_project.training_hyperparameters() == {"recipe": "titanic", "target": "Survived"}


def test_every_name_derives_from_the_project_name(project_file: Callable[..., Path]) -> None:
    loaded = project.load(project_file("churn-model", "churn.parquet", "churned"), environ={})
    assert (loaded.repository, loaded.prefix, loaded.base_job_name) == ("churn-model",) * 3
    assert loaded.role_name == "churn-model-sagemaker-execution"
    assert loaded.operator_policy_name == "churn-model-operator"
    assert loaded.tags == [{"Key": "project", "Value": "churn-model"}]
    assert loaded.local_bucket == "churn-model-local"
    assert loaded.local_role_arn == "arn:aws:iam::111111111111:role/churn-model-local"
    assert (loaded.model_package_group, loaded.pipeline_name) == ("churn-model",) * 2
    assert loaded.source == project_file("churn-model", "churn.parquet", "churned").parent / "churn.parquet"


def test_the_environment_names_another_file_or_another_name(project_file: Callable[..., Path]) -> None:
    path = project_file("from-file", "data.csv", "y")
    assert project.load(environ={project.FILE_VARIABLE: str(path)}).name == "from-file"
    overridden = project.load(environ={project.FILE_VARIABLE: str(path), project.NAME_VARIABLE: "other"})
    assert overridden.name == "other"
    assert overridden.prefix == "other"


def test_hyperparameters_become_the_strings_sagemaker_passes(project_file: Callable[..., Path]) -> None:
    extra = '\n[training.hyperparameters]\nnum_leaves = 16\nlearning_rate = 0.05\ntask = "multiclass"\n'
    loaded = project.load(project_file("p", "d.csv", "y", extra=extra), environ={})
    assert loaded.training_hyperparameters() == {
        "recipe": "tabular",
        "target": "y",
        "num_leaves": "16",
        "learning_rate": "0.05",
        "task": "multiclass",
    }


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("Titanic", "", "must be lower-case letters"),
        ("-leading", "", "must be lower-case letters"),
        ("x" * 41, "", "at most 40 characters"),
        (
            "ok",
            '\n[training.hyperparameters]\ntarget = "z"\n',
            "set 'target' in \\[training\\] or \\[data\\]",
        ),
        (
            "ok",
            "\n[training.hyperparameters]\nnested = [1]\n",
            "'nested' must be a string, number or boolean",
        ),
        ("ok", "\nnot toml = =\n", "is not valid TOML"),
    ],
)
def test_bad_settings_say_what_is_wrong(
    project_file: Callable[..., Path], name: str, extra: str, message: str
) -> None:
    with pytest.raises(DeployError, match=message):
        project.load(project_file(name, "d.csv", "y", extra=extra), environ={})


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=f"no project settings file at .*{project.FILE_VARIABLE}"):
        project.load(tmp_path / "missing.toml", environ={})


def write_project(folder: Path, name: str, source: str = "data/table.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / project.FILE_NAME
    path.write_text(
        f'[project]\nname = "{name}"\n[data]\nsource = "{source}"\ntarget = "y"\n'
        '[training]\nrecipe = "tabular"\n'
    )
    return path


def test_the_project_file_is_found_in_the_current_folder_or_the_closest_one_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = write_project(tmp_path, "outer")
    inner = write_project(tmp_path / "team" / "inner", "inner")
    deep = tmp_path / "team" / "inner" / "notebooks" / "scratch"
    deep.mkdir(parents=True)
    monkeypatch.delenv(project.FILE_VARIABLE, raising=False)
    monkeypatch.delenv(project.NAME_VARIABLE, raising=False)
    cases = [(deep, inner, "inner"), (inner.parent, inner, "inner"), (tmp_path / "team", outer, "outer")]
    for folder, found, name in [*cases, (tmp_path, outer, "outer")]:
        monkeypatch.chdir(folder)
        assert project.project_file() == found
        loaded = project.load()
        assert (loaded.name, loaded.file, loaded.folder) == (name, found, found.parent)
    assert project.load(start=deep).name == "inner"
    monkeypatch.setenv(project.FILE_VARIABLE, str(outer))
    monkeypatch.chdir(deep)
    assert project.load().name == "outer", "BYOC_PROJECT_FILE wins over the folders"


def test_without_a_project_file_the_error_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as raised:
        project.load(environ={}, start=tmp_path)
    assert str(raised.value) == (
        f"no project here: no byoc.toml in {tmp_path} or any folder above it. Start one with `byoc init DIR "
        "--data FILE --target COLUMN` and run byoc inside DIR, or point BYOC_PROJECT_FILE at a project file"
    )


def test_relative_paths_are_relative_to_the_file_wherever_byoc_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_project(tmp_path / "proj", "p", "../tables/t.parquet")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = project.load(environ={project.FILE_VARIABLE: "../proj/byoc.toml"})
    assert loaded.file == path
    assert loaded.source == tmp_path / "tables" / "t.parquet"
    absolute = write_project(tmp_path / "abs", "a", str(tmp_path / "x.csv"))
    assert project.load(absolute, environ={}).source == tmp_path / "x.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[project]\nname = "Bad Name"\n[data]\nsource = "t.csv"\ntarget = "y"\n[training]\nrecipe = "t"\n',
         "project name 'Bad Name' must be lower-case letters"),
        ('[project]\nname = "p"\n[data]\nsource = "t.csv"\ntarget = " "\n[training]\nrecipe = "tabular"\n',
         "\\[data\\] target must be a non-empty string"),
        ('[project]\nname = "p"\n[data]\nsource = "t.csv"\ntarget = "y"\n', "\\[training\\] recipe must be"),
        ("[project\n", "is not valid TOML"),
        (b"\xff\xfe".decode("latin-1"), "is not valid TOML|cannot read"),
    ],
)  # fmt: skip
def test_every_error_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "byoc.toml"
    path.write_text(content, encoding="latin-1")
    with pytest.raises(
        DeployError, match=f"{re.escape(str(path))}.*({message})|({message}).*{re.escape(str(path))}"
    ):
        project.load(path, environ={})


def test_a_missing_data_file_names_the_setting_and_the_file(tmp_path: Path) -> None:
    path = write_project(tmp_path, "p", "gone.csv")
    loaded = project.load(path, environ={})
    with pytest.raises(DeployError) as raised:
        loaded.data_source()
    assert (
        str(raised.value)
        == f"the project's data file {tmp_path / 'gone.csv'} does not exist ({path}: [data] source)"
    )


def test_nothing_in_deploy_names_the_worked_example(example_project: project.Project) -> None:
    """The example's values live in byoc.toml only (the rendered example policies aside)."""
    words = [example_project.name, example_project.target, "titanic"]
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    found = [
        f"{path.relative_to(REPOSITORY_ROOT)}: {line.strip()}"
        for path in sorted(DEPLOY_DIR.rglob("*"))
        if path.is_file() and path.suffix in (".py", ".yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if pattern.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(("written", "value"), [("0.85", 0.85), ("1", 1.0), ("-0.5", -0.5)])
def test_the_lifecycle_threshold_is_a_number(
    project_file: Callable[..., Path], written: str, value: float
) -> None:
    loaded = project.load(
        project_file("p", "d.csv", "y", extra=f"\n[lifecycle]\nthreshold = {written}\n"), environ={}
    )
    assert loaded.threshold == value


def test_without_a_lifecycle_table_there_is_no_threshold(project_file: Callable[..., Path]) -> None:
    assert project.load(project_file("p", "d.csv", "y"), environ={}).threshold is None


@pytest.mark.parametrize("written", ['"0.8"', "true", "nan", "inf", "[0.8]"])
def test_a_lifecycle_threshold_that_is_not_a_finite_number_is_refused(
    project_file: Callable[..., Path], written: str
) -> None:
    with pytest.raises(DeployError, match=r"\[lifecycle\] threshold must be a (finite )?number, not"):
        project.load(
            project_file("p", "d.csv", "y", extra=f"\n[lifecycle]\nthreshold = {written}\n"), environ={}
        )
