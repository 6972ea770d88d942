"""Not Titanic: the same offline cloud path for a multiclass and a regression table with the `tabular` recipe.

`tabular` allows every task and none is set, so `train` infers it from its train channel: the job is sent
no task and gets every task's metric definitions; the model's task, the answers of the endpoint and the batch
transform lines follow the inferred one. Data: scikit-learn's bundled iris (string classes) and
diabetes (a numeric target) tables, written as CSV and Parquet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes, load_iris

from lightsage.tasks import Task
from lightsage_deploy.aws.s3 import ModelArchive, read_model_archive
from lightsage_deploy.jobs import hyperparameters, metrics, rows
from lightsage_deploy.project import project as project_settings
from lightsage_deploy.steps import batch as batch_transform
from lightsage_deploy.steps import cleanup, endpoint
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps import upload as upload_data
from lightsage_deploy.targets import target as settings

pytestmark = pytest.mark.e2e

NAME = "tabular-e2e"
NUMBER = r"-?[0-9.]+(?:e[-+]?[0-9]+)?"
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


def iris(folder: Path) -> project_settings.Project:
    data = load_iris(as_frame=True).frame.rename(
        columns=lambda name: name.replace(" (cm)", "").replace(" ", "_")
    )
    data["species"] = [IRIS_CLASSES[code] for code in data.pop("target")]
    data.to_csv(folder / "iris.csv", index=False)
    return project_settings.Project(NAME, folder / "iris.csv", "species", "tabular")


def diabetes(folder: Path) -> project_settings.Project:
    load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"}).to_parquet(
        folder / "diabetes.parquet", index=False
    )
    return project_settings.Project(NAME, folder / "diabetes.parquet", "progression", "tabular")


@pytest.fixture(scope="module")
def repository() -> str:
    return NAME


def run_path(
    target: settings.DeployTarget,
    local_training: Callable[..., train_job.TrainingOptions],
    the_project: project_settings.Project,
    task: Task,
) -> tuple[ModelArchive, settings.S3Layout, int]:
    """Upload, then train with the task `train` infers from the data; return the model archive, the layout
    and the validation rows."""
    layout = settings.S3Layout(f"{NAME}-{task}", the_project.prefix)
    uploaded = upload_data.upload_training_data(
        target, layout, the_project.source, the_project.target, create_bucket=True
    )
    values = hyperparameters.for_job(the_project, assignments=["n_estimators=50"])
    options = local_training(the_project, layout, values)
    estimator = train_job.build_estimator(target, options)
    assert "task" not in estimator.hyperparameters()
    assert estimator.metric_definitions == metrics.metric_definitions(*Task)
    summary = train_job.train(target, options)
    assert summary.status == "Completed" and summary.model_data is not None
    archive = read_model_archive(target.client("s3"), summary.model_data)
    assert archive.metrics["task"] == archive.manifest["task"] == task
    return archive, layout, uploaded.validation_rows


def test_multiclass_string_classes_from_training_to_answers(
    target: settings.DeployTarget,
    local_training: Callable[..., train_job.TrainingOptions],
    local_hosting: Callable[..., endpoint.EndpointOptions],
    tmp_path: Path,
) -> None:
    the_project = iris(tmp_path)
    archive, layout, validation_rows = run_path(target, local_training, the_project, Task.MULTICLASS)
    assert archive.manifest["classes"] == IRIS_CLASSES
    assert archive.metrics["validation"]["accuracy"] >= 0.8

    sample = rows.sample_rows(the_project.source, the_project.target, 4)
    answers = endpoint.serve_and_predict(target, local_hosting(the_project, archive.uri), sample)
    assert len(answers) == 4
    for answer in answers:
        assert set(answer["probabilities"]) == set(IRIS_CLASSES)
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)

    result = batch_transform.run_transform(target, local_hosting(the_project, archive.uri), layout)
    line = re.compile(rf"^({'|'.join(IRIS_CLASSES)}),{NUMBER},{NUMBER},{NUMBER}$")
    assert len(result.output_lines) == result.input_rows == validation_rows == 30
    assert all(line.match(output) for output in result.output_lines), result.output_lines[:3]
    assert cleanup.delete_bucket(target.client("s3"), layout.bucket) > 0


def test_regression_from_a_parquet_source_to_values(
    target: settings.DeployTarget,
    local_training: Callable[..., train_job.TrainingOptions],
    local_hosting: Callable[..., endpoint.EndpointOptions],
    tmp_path: Path,
) -> None:
    the_project = diabetes(tmp_path)
    archive, layout, validation_rows = run_path(target, local_training, the_project, Task.REGRESSION)
    assert archive.metrics["validation"]["r2"] > 0.2

    result = batch_transform.run_transform(target, local_hosting(the_project, archive.uri), layout)
    assert result.input_rows == len(result.output_lines) == validation_rows
    assert all(re.fullmatch(NUMBER, output) for output in result.output_lines), result.output_lines[:3]
    assert cleanup.delete_bucket(target.client("s3"), layout.bucket) > 0
