"""Not Titanic: the same offline cloud path for a multiclass and a regression table with the `tabular` recipe.

The task is inferred from the data as `byoc train` infers it; the metric definitions, the answers of the
endpoint and the batch transform lines follow it. Data: scikit-learn's bundled iris (string classes) and
diabetes (a numeric target) tables, written as CSV and Parquet.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes, load_iris

from byoc.tasks import Task
from deploy import (
    batch_transform,
    cleanup,
    endpoint,
    hyperparameters,
    metrics,
    rows,
    settings,
    train_job,
    upload_data,
)
from deploy import project as project_settings
from deploy.s3 import read_model_archive

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
    target: settings.DeployTarget, pinned_image: str, the_project: project_settings.Project, task: Task
) -> tuple[train_job.TrainingSummary, settings.S3Layout, int]:
    """Upload, then train with the task the deploy side infers from the data; return the job, the layout and
    the validation rows."""
    layout = settings.S3Layout(f"{NAME}-{task}", the_project.prefix)
    uploaded = upload_data.upload_training_data(
        target, layout, the_project.source, the_project.target, create_bucket=True
    )
    values = hyperparameters.for_job(the_project, assignments=["n_estimators=50"])
    inferred = metrics.task_of(values, the_project.source)
    assert inferred is task
    options = train_job.TrainingOptions(
        project=the_project,
        image_uri=pinned_image,
        role=the_project.local_role_arn,
        layout=layout,
        instance_type=settings.LOCAL_INSTANCE_TYPE,
        task=inferred,
        hyperparameters=values,
        content_type=upload_data.channel_content_type(the_project.source),
    )
    assert train_job.build_estimator(target, options).metric_definitions == metrics.metric_definitions(task)
    return train_job.train(target, options), layout, uploaded.validation_rows


def hosting(the_project: project_settings.Project, image: str, model_data: str) -> endpoint.EndpointOptions:
    return endpoint.EndpointOptions(
        project=the_project,
        image_uri=image,
        model_data=model_data,
        role=the_project.local_role_arn,
        instance_type=settings.LOCAL_INSTANCE_TYPE,
        name=settings.unique_name(NAME),
    )


def test_multiclass_string_classes_from_training_to_answers(
    target: settings.DeployTarget, pinned_image: str, tmp_path: Path
) -> None:
    the_project = iris(tmp_path)
    summary, layout, validation_rows = run_path(target, pinned_image, the_project, Task.MULTICLASS)
    assert summary.status == "Completed" and summary.model_data is not None
    archive = read_model_archive(target.client("s3"), summary.model_data)
    assert archive.manifest["classes"] == IRIS_CLASSES
    assert archive.metrics["task"] == "multiclass"
    assert archive.metrics["validation"]["accuracy"] >= 0.8

    sample = rows.sample_rows(the_project.source, the_project.target, 4)
    answers = endpoint.serve_and_predict(
        target, hosting(the_project, pinned_image, summary.model_data), sample
    )
    assert len(answers) == 4
    for answer in answers:
        assert set(answer["probabilities"]) == set(IRIS_CLASSES)
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)

    result = batch_transform.run_transform(
        target, hosting(the_project, pinned_image, summary.model_data), layout
    )
    line = re.compile(rf"^({'|'.join(IRIS_CLASSES)}),{NUMBER},{NUMBER},{NUMBER}$")
    assert len(result.output_lines) == result.input_rows == validation_rows == 30
    assert all(line.match(output) for output in result.output_lines), result.output_lines[:3]
    assert cleanup.delete_bucket(target.client("s3"), layout.bucket) > 0


def test_regression_from_a_parquet_source_to_values(
    target: settings.DeployTarget, pinned_image: str, tmp_path: Path
) -> None:
    the_project = diabetes(tmp_path)
    summary, layout, validation_rows = run_path(target, pinned_image, the_project, Task.REGRESSION)
    assert summary.status == "Completed" and summary.model_data is not None
    archive = read_model_archive(target.client("s3"), summary.model_data)
    assert archive.metrics["task"] == "regression"
    assert archive.metrics["validation"]["r2"] > 0.2

    result = batch_transform.run_transform(
        target, hosting(the_project, pinned_image, summary.model_data), layout
    )
    assert result.input_rows == len(result.output_lines) == validation_rows
    assert all(re.fullmatch(NUMBER, output) for output in result.output_lines), result.output_lines[:3]
    assert cleanup.delete_bucket(target.client("s3"), layout.bucket) > 0
