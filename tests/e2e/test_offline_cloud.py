"""The whole cloud path, offline: a local registry for ECR, moto_server for S3, SageMaker local mode for jobs.

Every step goes through the function the matching `byoc NAME --local` command calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from lightsage_deploy.aws.s3 import bucket_exists, read_model_archive
from lightsage_deploy.jobs import hyperparameters, rows
from lightsage_deploy.project import project
from lightsage_deploy.steps import batch as batch_transform
from lightsage_deploy.steps import cleanup, endpoint
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps import upload as upload_data
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker, image_references, local_mode_containers

from testsupport import EXAMPLE_PROJECT_FILE

pytestmark = pytest.mark.e2e

BUCKET = "titanic-byoc-e2e"
SAMPLE_ROWS = 5
PREDICTION_LINE = re.compile(r"^([01]),([0-9.eE+-]+)$")
ARTIFACT_FILES = {"manifest.json", "model.txt", "recipe_state.json", "recipe_state-1.parquet", "metrics.json"}


@pytest.fixture(scope="module")
def the_project() -> project.Project:
    """The worked example (the repository's byoc.toml)."""
    return project.load(EXAMPLE_PROJECT_FILE, environ={})


@pytest.fixture(scope="module")
def repository(the_project: project.Project) -> str:
    return the_project.repository


@pytest.fixture(scope="module")
def layout(the_project: project.Project) -> settings.S3Layout:
    return settings.S3Layout(BUCKET, the_project.prefix)


@pytest.fixture(scope="module")
def uploaded(
    target: settings.DeployTarget, layout: settings.S3Layout, the_project: project.Project
) -> upload_data.UploadedData:
    return upload_data.upload_training_data(
        target, layout, the_project.source, the_project.target, create_bucket=True
    )


@pytest.fixture(scope="module")
def trained(
    target: settings.DeployTarget,
    layout: settings.S3Layout,
    uploaded: upload_data.UploadedData,
    the_project: project.Project,
    local_training: Callable[..., train_job.TrainingOptions],
) -> train_job.TrainingSummary:
    values = hyperparameters.for_job(the_project, assignments=["n_estimators=300"])
    return train_job.train(target, local_training(the_project, layout, values))


def test_push_tags_the_commit_and_latest_and_pulls_back_by_digest(
    pushed: push_image.PushedImage, pinned_image: str, image: str
) -> None:
    commit, latest = pushed.tags
    assert (
        re.fullmatch(r"[0-9a-f]{7,}(-dirty)?", commit) and latest == "latest"
    )  # others may commit meanwhile
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pushed.digest)
    pulled_id = docker("image", "inspect", pinned_image, "--format", "{{.Id}}").stdout.strip()
    source_id = docker("image", "inspect", image, "--format", "{{.Id}}").stdout.strip()
    assert pulled_id == source_id


def test_upload_creates_a_private_bucket_with_both_channels(
    target: settings.DeployTarget, layout: settings.S3Layout, uploaded: upload_data.UploadedData
) -> None:
    s3 = target.client("s3")
    assert uploaded.bucket_created
    assert (uploaded.train, uploaded.validation) == (layout.train, layout.validation)
    assert uploaded.train_rows + uploaded.validation_rows == 891
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocks = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(blocks.values()) and len(blocks) == 4
    keys = {entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys >= {layout.key("train", "train.csv"), layout.key("validation", "validation.csv")}


def test_local_training_writes_the_model_archive_to_the_bucket(
    target: settings.DeployTarget, layout: settings.S3Layout, trained: train_job.TrainingSummary
) -> None:
    assert trained.status == "Completed"
    assert trained.model_data is not None
    assert trained.model_data.startswith(layout.output) and trained.model_data.endswith("/model.tar.gz")
    archive = read_model_archive(target.client("s3"), trained.model_data)
    assert set(archive.members) >= ARTIFACT_FILES
    assert (archive.manifest["task"], archive.manifest["target"]) == ("binary", "Survived")
    assert archive.metrics["task"] == "binary"
    assert archive.metrics["validation"]["rows"] == 179
    assert archive.metrics["validation"]["auc"] >= 0.85
    assert archive.metrics["hyperparameters"]["n_estimators"] == 300
    assert archive.metrics["hyperparameters"]["recipe"] == "titanic"


def test_local_endpoint_predicts_sample_rows_and_is_deleted(
    target: settings.DeployTarget,
    trained: train_job.TrainingSummary,
    the_project: project.Project,
    local_hosting: Callable[..., endpoint.EndpointOptions],
) -> None:
    assert trained.model_data is not None
    options = local_hosting(the_project, trained.model_data)
    sample = rows.sample_rows(the_project.source, the_project.target, SAMPLE_ROWS)

    predictions = endpoint.serve_and_predict(target, options, sample)

    assert len(predictions) == SAMPLE_ROWS
    assert all(prediction["label"] in (0, 1) for prediction in predictions)
    assert all(0.0 <= prediction["probability"] <= 1.0 for prediction in predictions)
    assert all(prediction["label"] == int(prediction["probability"] >= 0.5) for prediction in predictions)
    client = target.sagemaker_session.sagemaker_client
    with pytest.raises(ClientError):
        client.describe_model(ModelName=options.name)
    with pytest.raises(ClientError):
        client.describe_endpoint_config(EndpointConfigName=options.name)
    assert target.local is not None
    running = docker("ps", "--quiet", "--filter", "status=running").stdout.split()
    assert not set(running) & set(local_mode_containers(under=target.local.work_dir))


def test_local_batch_transform_answers_every_validation_row(
    target: settings.DeployTarget,
    layout: settings.S3Layout,
    trained: train_job.TrainingSummary,
    the_project: project.Project,
    local_hosting: Callable[..., endpoint.EndpointOptions],
) -> None:
    assert trained.model_data is not None
    options = local_hosting(the_project, trained.model_data)

    result = batch_transform.run_transform(target, options, layout)

    assert result.input_rows == 179
    assert len(result.output_lines) == result.input_rows
    for line in result.output_lines:
        matched = PREDICTION_LINE.match(line)
        assert matched, f"not a label,probability line: {line!r}"
        assert 0.0 <= float(matched.group(2)) <= 1.0
    assert all(uri.startswith(layout.uri("batch-output", options.name)) for uri in result.output_uris)


def test_cleanup_removes_the_bucket_and_the_registry_tags(
    target: settings.DeployTarget,
    layout: settings.S3Layout,
    pushed: push_image.PushedImage,
    the_project: project.Project,
) -> None:
    assert target.local is not None
    repository = the_project.repository
    done = cleanup.clean_local(target, layout.bucket, repository, the_project.name)

    assert not bucket_exists(target.client("s3"), layout.bucket)
    assert not image_references(pushed.repository_uri)
    assert cleanup.delete_registry_repository(target.local.registry, repository) == []
    assert (
        f"deleted {len(pushed.tags)} tag(s) of {repository} from the registry at {target.local.registry}"
        in done
    )
    assert any(line.startswith(f"deleted emulated bucket {layout.bucket}") for line in done)
    # The training job's exited container carries the project's labels, so cleanup found it.
    removed = re.match(rf"removed (\d+) exited local-mode container\(s\) of project {repository}$", done[0])
    assert removed is not None and int(removed.group(1)) >= 1, done
