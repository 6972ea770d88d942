"""The model registry on moto's model-package API (in process): the group, versions, approval, newest
Approved, and the errors for a missing group, an empty one, a missing version and nothing approved."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from lightsage.evaluation import contract
from lightsage.tasks import Task
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import registry

BUCKET = "registry-tests"
ROLE = "arn:aws:iam::111111111111:role/registry-tests"


@pytest.fixture
def clients(moto_aws: None) -> tuple[Any, Any]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return boto3.client("sagemaker"), s3


@pytest.fixture
def register(clients: tuple[Any, Any], example_project: project.Project) -> Callable[..., registry.Version]:
    """Registers a version whose evaluation.json holds the given auc, as `byoc pipeline --local` does."""
    import sagemaker

    _, s3 = clients
    session = sagemaker.Session(boto_session=boto3.Session(), default_bucket=BUCKET)
    count = 0

    def version(auc: float = 0.9) -> registry.Version:
        nonlocal count
        count += 1
        folder = f"s3://{BUCKET}/evaluation/{count}"
        evaluation = {contract.METRICS_SECTION[Task.BINARY]: {"auc": {"value": auc}}}
        s3.put_object(Bucket=BUCKET, Key=f"evaluation/{count}/evaluation.json", Body=json.dumps(evaluation))
        registration = registry.Registration(
            example_project, "image:1", f"s3://{BUCKET}/model/{count}/model.tar.gz", folder, Task.BINARY, ROLE
        )
        return registry.register(registration, session)

    return version


def test_registration_creates_pending_versions_numbered_in_order(
    clients: tuple[Any, Any], register: Callable[..., registry.Version], example_project: project.Project
) -> None:
    client, _ = clients
    first, second = register(), register()
    assert [(first.number, first.status), (second.number, second.status)] == [
        (1, registry.PENDING),
        (2, registry.PENDING),
    ]
    assert [
        version.number for version in registry.versions_of(client, example_project.model_package_group)
    ] == [1, 2]


def test_a_version_holds_the_image_model_metrics_and_media_types_it_was_registered_with(
    clients: tuple[Any, Any], register: Callable[..., registry.Version]
) -> None:
    client, s3 = clients
    version = register(auc=0.8731)
    described = client.describe_model_package(ModelPackageName=version.arn)
    specification = described["InferenceSpecification"]
    assert specification["SupportedContentTypes"] == list(registry.CONTENT_TYPES)
    assert specification["SupportedResponseMIMETypes"] == list(registry.RESPONSE_TYPES)
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == list(registry.INFERENCE_INSTANCE_TYPES)
    assert specification["SupportedTransformInstanceTypes"] == list(registry.TRANSFORM_INSTANCE_TYPES)
    package = registry.describe_package(client, version.arn)
    assert (package.image_uri, package.model_data) == ("image:1", f"s3://{BUCKET}/model/1/model.tar.gz")
    assert package.evaluation_uri == f"s3://{BUCKET}/evaluation/1/evaluation.json"
    assert package.statistics_uri == f"s3://{BUCKET}/evaluation/1/baseline/statistics.json"
    assert package.constraints_uri == f"s3://{BUCKET}/evaluation/1/baseline/constraints.json"
    assert registry.objective_of(s3, package) == ("auc", 0.8731)


def test_an_evaluation_that_cannot_be_read_shows_no_metric(
    clients: tuple[Any, Any], register: Callable[..., registry.Version]
) -> None:
    client, s3 = clients
    version = register()
    s3.delete_object(Bucket=BUCKET, Key="evaluation/1/evaluation.json")
    assert registry.objective_of(s3, registry.describe_package(client, version.arn)) == ("auc", None)


def test_ensuring_the_group_twice_creates_it_once(
    clients: tuple[Any, Any], example_project: project.Project
) -> None:
    client, _ = clients
    assert registry.ensure_group(client, example_project) is True
    assert registry.ensure_group(client, example_project) is False
    assert registry.versions_of(client, example_project.model_package_group) == []


def test_approving_keeps_the_versions_metadata_and_says_why(
    clients: tuple[Any, Any], register: Callable[..., registry.Version], example_project: project.Project
) -> None:
    client, _ = clients
    register()
    latest = registry.find_version(client, example_project.model_package_group, registry.LATEST)
    approved = registry.set_status(client, latest, registry.APPROVED, "looks good")
    described = client.describe_model_package(ModelPackageName=approved.arn)
    assert (approved.status, described["ApprovalDescription"]) == (registry.APPROVED, "looks good")
    assert described["CustomerMetadataProperties"] == {"task": "binary", "objective_metric": "auc"}


def test_the_newest_approved_version_is_the_one_deployed(
    clients: tuple[Any, Any], register: Callable[..., registry.Version], example_project: project.Project
) -> None:
    client, _ = clients
    group = example_project.model_package_group
    first, second, third = register(), register(), register()
    # Approved out of order: the newest by creation wins, not the latest approval.
    registry.set_status(client, second, registry.APPROVED, "ok")
    registry.set_status(client, first, registry.APPROVED, "ok")
    assert registry.newest_approved(client, group).number == 2
    registry.set_status(client, third, registry.REJECTED, "no")
    assert registry.newest_approved(client, group).number == 2
    assert [version.number for version in registry.list_versions(client, group, newest_first=True)] == [
        3,
        2,
        1,
    ]


@pytest.mark.parametrize("which", ["1", "2", registry.LATEST])
def test_a_version_is_found_by_number_or_as_the_latest(
    clients: tuple[Any, Any],
    register: Callable[..., registry.Version],
    example_project: project.Project,
    which: str,
) -> None:
    client, _ = clients
    register(), register()
    expected = 2 if which == registry.LATEST else int(which)
    assert registry.find_version(client, example_project.model_package_group, which).number == expected


def test_approving_a_version_that_does_not_exist_names_the_versions_there_are(
    clients: tuple[Any, Any], register: Callable[..., registry.Version], example_project: project.Project
) -> None:
    client, _ = clients
    register()
    with pytest.raises(
        DeployError, match=r"version 7 does not exist in .*; its versions: 1 PendingManualApproval"
    ):
        registry.find_version(client, example_project.model_package_group, "7")
    with pytest.raises(DeployError, match="VERSION must be a version number or 'latest', not 'newest'"):
        registry.find_version(client, example_project.model_package_group, "newest")


def test_a_missing_group_and_an_empty_one_are_told_apart(
    clients: tuple[Any, Any], example_project: project.Project
) -> None:
    client, _ = clients
    group = example_project.model_package_group
    for look_up in (
        lambda: registry.find_version(client, group, registry.LATEST),
        lambda: registry.newest_approved(client, group),
    ):
        with pytest.raises(
            DeployError, match=f"there is no model package group {group}: `byoc pipeline` creates it"
        ):
            look_up()
    registry.ensure_group(client, example_project)
    with pytest.raises(DeployError, match=f"model package group {group} is empty"):
        registry.find_version(client, group, registry.LATEST)
    with pytest.raises(DeployError, match=f"model package group {group} is empty"):
        registry.newest_approved(client, group)


def test_deploying_approved_when_nothing_is_approved_names_the_versions(
    clients: tuple[Any, Any], register: Callable[..., registry.Version], example_project: project.Project
) -> None:
    client, _ = clients
    register()
    second = register()
    registry.set_status(client, second, registry.REJECTED, "no")
    with pytest.raises(
        DeployError, match=r"no version .* is Approved \(versions: 1 PendingManualApproval, 2 Rejected\)"
    ):
        registry.newest_approved(client, example_project.model_package_group)


def test_a_status_that_is_not_an_approval_status_is_refused(
    clients: tuple[Any, Any], register: Callable[..., registry.Version]
) -> None:
    client, _ = clients
    with pytest.raises(DeployError, match="approval status must be one of"):
        registry.set_status(client, register(), "approved", "lower case")
