"""Script mode on the deploy side: a recipe folder (--recipe-dir, or the project's recipe_dir) is loaded with
the image's loader to check the job's settings, shipped by the real SDK Estimator as the job's
sourcedir.tar.gz (here to in-process moto), and that job's own hyperparameters load the recipe back as the
container does."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from lightsage.recipes import script
from lightsage.tasks import Task
from lightsage_deploy.cli import train as train_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters, metrics, recipe_folder
from lightsage_deploy.project import project
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps import upload
from lightsage_deploy.targets import target as settings

from scriptsupport import HOUSES_MODULE, source_folder

ROLE = "arn:aws:iam::123456789012:role/houses-sagemaker-execution"


@pytest.fixture(autouse=True)
def forget_the_module() -> Iterator[None]:
    yield
    sys.modules.pop(script.MODULE_NAME, None)


@pytest.fixture
def houses_project(
    tmp_path: Path, project_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project whose recipe is the folder recipe/ beside its file; the current project."""
    source_folder(tmp_path / "recipe")
    (tmp_path / "houses.csv").write_text(
        "district,rooms,area,price\n"
        + "".join(f"a,{row % 5 + 1},{20 + row},{3 + row % 4}\n" for row in range(40))
    )
    path = project_file("houses", "houses.csv", "price", "houses", 'recipe_dir = "recipe"\n')
    monkeypatch.setenv(project.FILE_VARIABLE, str(path))
    return path


def test_the_project_names_its_recipe_folder_relative_to_its_file(houses_project: Path) -> None:
    the_project = project.load()
    assert the_project.recipe_dir == houses_project.parent / "recipe" and the_project.entry_point is None
    folder = recipe_folder.of_job(the_project)
    assert folder is not None and folder.entry_point == "houses.py" and folder.recipe.name == "houses"
    assert recipe_folder.of_job(project.load(project.project_file(environ={}), environ={})) is None


def test_the_recipe_folder_settles_the_task_and_checks_the_hyperparameters(houses_project: Path) -> None:
    the_project = project.load()
    folder = recipe_folder.of_job(the_project)
    assert folder is not None
    values = hyperparameters.for_job(the_project, assignments=["smoothing=3"], script=folder.recipe)
    assert metrics.known_task(values, folder.recipe) is Task.REGRESSION  # the recipe's only task
    assert upload.project_task(the_project) is Task.REGRESSION
    # byoc upload --recipe-dir: the folder it names, for a project without one
    elsewhere = project.Project("houses", the_project.source, "price", "houses")
    assert upload.project_task(elsewhere, the_project.recipe_dir) is Task.REGRESSION
    with pytest.raises(
        DeployError, match=r"unknown hyperparameter 'smoothin' \(did you mean 'smoothing'\?\)"
    ):
        hyperparameters.for_job(the_project, assignments=["smoothin=3"], script=folder.recipe)
    titanic = project.Project(
        "houses", the_project.source, "price", "titanic", recipe_dir=the_project.recipe_dir
    )
    with pytest.raises(DeployError) as caught:
        hyperparameters.for_job(titanic, script=folder.recipe)
    assert str(caught.value) == (
        "hyperparameter 'recipe' is 'titanic', but the script-mode module houses.py defines recipe 'houses': "
        "set recipe=houses, or leave the hyperparameter out"
    )


def test_a_folder_the_image_could_not_load_is_refused_before_any_job(
    tmp_path: Path, example_project: project.Project
) -> None:
    two = source_folder(tmp_path / "two")
    (two / "other.py").write_text("VALUE = 1\n")
    with pytest.raises(
        DeployError, match=r"holds 2 .py files at its top level \(houses.py, other.py\): name"
    ):
        recipe_folder.of_job(example_project, two)
    assert recipe_folder.of_job(example_project, two, "houses.py") is not None
    with pytest.raises(
        DeployError, match="--entry-point names a module in the recipe folder: give --recipe-dir"
    ):
        recipe_folder.of_job(example_project, None, "houses.py")
    with pytest.raises(DeployError, match=r"recipe folder .*/missing does not exist or is not a folder"):
        recipe_folder.of_job(example_project, tmp_path / "missing")
    needs = source_folder(tmp_path / "needs", "import lightsage_absent_module\n", requirements="x\n")
    with pytest.raises(DeployError) as caught:
        recipe_folder.of_job(example_project, needs)
    assert "imports the module 'lightsage_absent_module', which is not installed" in str(caught.value)
    assert str(caught.value).endswith(
        f"so install its requirements here too (pip install -r {needs}/requirements.txt)"
    )


def test_the_project_file_refuses_an_entry_point_without_a_folder(project_file: Callable[..., Path]) -> None:
    path = project_file("houses", "houses.csv", "price", "houses", 'entry_point = "houses.py"\n')
    with pytest.raises(
        DeployError, match=r"\[training\] entry_point names a module in recipe_dir: set recipe_dir"
    ):
        project.load(path, environ={})


def test_a_dry_run_says_why_it_cannot_show_a_job_that_ships_a_folder(
    houses_project: Path, offline_aws: None
) -> None:
    with pytest.raises(DeployError, match="--dry-run cannot show a job that ships a recipe folder"):
        train_command.main(["--bucket", "my-bucket", "--role", ROLE, "--image-uri", "x:1", "--dry-run"])


def test_the_sdk_ships_the_folder_and_the_jobs_own_hyperparameters_load_it_back(
    houses_project: Path, moto_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """moto records the job the real Estimator creates; the loader reads the sourcedir.tar.gz it names."""
    the_project = project.load()
    folder = recipe_folder.of_job(the_project)
    boto3.client("s3").create_bucket(Bucket="my-bucket")
    with settings.open_target(local=False, sdk_telemetry=False) as target:
        options = train_job.TrainingOptions(
            project=the_project,
            image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/houses:latest",
            role=ROLE,
            layout=settings.S3Layout("my-bucket", the_project.prefix),
            instance_type="ml.m5.large",
            hyperparameters=hyperparameters.for_job(the_project, script=folder.recipe if folder else None),
            recipe_folder=folder,
        )
        estimator, job_name = train_job.prepare(target, options)
        train_job.fit(estimator, options, job_name, wait=False)
        sent = target.sagemaker_session.sagemaker_client.describe_training_job(TrainingJobName=job_name)
    raw = sent["HyperParameters"]
    uri = f"s3://my-bucket/houses/code/{job_name}/source/sourcedir.tar.gz"
    assert json.loads(raw["sagemaker_program"]) == "houses.py"
    assert json.loads(raw["sagemaker_submit_directory"]) == uri
    # in script mode the SDK JSON-quotes every hyperparameter; `train` reads them either way
    assert json.loads(raw["recipe"]) == "houses" and json.loads(raw["task"]) == "regression"
    shipped = script.from_hyperparameters(raw, tmp_path / "work")
    assert shipped is not None and shipped.recipe.name == "houses"
    assert (tmp_path / "work" / "code" / "houses.py").read_text() == HOUSES_MODULE
