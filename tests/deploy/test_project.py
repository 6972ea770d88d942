"""The project settings file: every AWS name derives from one project name; the example lives only there."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lightsage_deploy import project
from lightsage_deploy.errors import DeployError

DEPLOY_DIR = project.REPOSITORY_ROOT / "deploy"


def test_the_worked_example_is_the_repository_file(example_project: project.Project) -> None:
    assert example_project.name == "titanic-byoc"
    assert example_project.source == project.REPOSITORY_ROOT / "data" / "titanic.csv"
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


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=f"no project settings file at .*{project.FILE_VARIABLE}"):
        project.load(tmp_path / "missing.toml", environ={})


def test_nothing_in_deploy_names_the_worked_example(example_project: project.Project) -> None:
    """The example's values live in byoc.toml only (the rendered example policies aside)."""
    words = [example_project.name, example_project.target, "titanic"]
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    found = [
        f"{path.relative_to(project.REPOSITORY_ROOT)}: {line.strip()}"
        for path in sorted(DEPLOY_DIR.rglob("*"))
        if path.is_file() and path.suffix in (".py", ".yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if pattern.search(line)
    ]
    assert found == []
