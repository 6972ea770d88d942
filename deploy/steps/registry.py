"""The model registry: a Model Package Group named after the project, its versions, their approval.

The same code runs against SageMaker and, offline, against moto's model-package API on the moto server that
`byoc offline up` starts. Registration is the SDK's `Model.register`: inside `byoc pipeline`'s definition it
becomes the RegisterModel step, and offline (local mode has no register step) it sends the same request
itself after the local pipeline's gate passed.

Facts this module codes around: `list_model_packages` sorts ascending unless told otherwise (newest first
needs SortOrder=Descending, passed explicitly) and answers an empty list for a group that does not exist (the
group is described first, to tell "empty" from "missing"); an update without ApprovalDescription and
CustomerMetadataProperties clears them on moto (both are sent again on every update).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from lightsage.evaluation import contract
from lightsage.serving.negotiate import CSV, JSON, JSON_LINES
from lightsage.tasks import OBJECTIVE_METRIC, Task
from lightsage_deploy.aws.s3 import read_bytes
from lightsage_deploy.errors import DeployError, aws_error_code
from lightsage_deploy.project.project import Project

if TYPE_CHECKING:
    from sagemaker.model import Model

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
APPROVAL_STATUSES = (PENDING, APPROVED, REJECTED)
LATEST = "latest"
# What the registered versions declare they serve: the media types `serve` reads and answers, and instance
# types for endpoints and batch transform.
CONTENT_TYPES = (CSV, JSON, JSON_LINES)
RESPONSE_TYPES = (JSON, CSV, JSON_LINES)
INFERENCE_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge")
TRANSFORM_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge")
# CustomerMetadataProperties keys of every version this module registers.
TASK_KEY = "task"
OBJECTIVE_KEY = "objective_metric"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Version:
    """One model package of the group: its version number, ARN, approval status and creation time."""

    number: int
    arn: str
    status: str
    created: datetime
    description: str = ""

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Version:
        return cls(
            number=int(summary["ModelPackageVersion"]),
            arn=str(summary["ModelPackageArn"]),
            status=str(summary["ModelApprovalStatus"]),
            created=summary["CreationTime"],
            description=str(summary.get("ModelPackageDescription") or ""),
        )


def is_missing(error: ClientError) -> bool:
    """SageMaker's (and moto's) answer for a group or a version that does not exist."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    return aws_error_code(error) in ("ValidationException", "ResourceNotFound") and (
        "does not exist" in message or "not found" in message.lower()
    )


def group_exists(client: Any, group: str) -> bool:
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if is_missing(error):
            return False
        raise
    return True


def group_description(project: Project) -> str:
    return f"Versions of {project.name} that passed the quality gate of byoc pipeline"


def ensure_group(client: Any, project: Project) -> bool:
    """Create the project's group (tagged with the project) unless it exists; True when it was created."""
    group = project.model_package_group
    if group_exists(client, group):
        return False
    client.create_model_package_group(
        ModelPackageGroupName=group,
        ModelPackageGroupDescription=group_description(project),
        Tags=project.tags,
    )
    logger.info("created model package group %s", group)
    return True


def group_request(project: Project) -> dict[str, Any]:
    """The CreateModelPackageGroup request `ensure_group` sends (for a dry run)."""
    return {
        "ModelPackageGroupName": project.model_package_group,
        "ModelPackageGroupDescription": group_description(project),
        "Tags": project.tags,
    }


def require_group(client: Any, group: str) -> None:
    if not group_exists(client, group):
        raise DeployError(
            f"there is no model package group {group}: `byoc pipeline` creates it and registers the first "
            "version that passes the quality gate"
        )


def list_versions(
    client: Any, group: str, status: str | None = None, newest_first: bool = False
) -> list[Version]:
    """Every version of the group (of one approval status), by creation time: oldest first unless asked.

    The order is passed explicitly both ways (the API's default is ascending). Versions created in the same
    millisecond are ordered by their number."""
    arguments: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending" if newest_first else "Ascending",
    }
    if status is not None:
        arguments["ModelApprovalStatus"] = status
    found = [
        Version.from_summary(summary)
        for page in client.get_paginator("list_model_packages").paginate(**arguments)
        for summary in page["ModelPackageSummaryList"]
    ]
    return sorted(found, key=lambda version: (version.created, version.number), reverse=newest_first)


def versions_of(client: Any, group: str) -> list[Version]:
    """The group's versions, oldest first; the group must exist (an empty one gives an empty list)."""
    require_group(client, group)
    return list_versions(client, group)


def summary_of(versions: Sequence[Version]) -> str:
    return ", ".join(f"{version.number} {version.status}" for version in versions) or "none"


def find_version(client: Any, group: str, which: str) -> Version:
    """Version `which` (its number, or `latest`: the newest) of the group, with errors naming what exists."""
    if which != LATEST and not which.isdigit():
        raise DeployError(f"VERSION must be a version number or '{LATEST}', not {which!r}")
    versions = versions_of(client, group)
    if not versions:
        raise DeployError(
            f"model package group {group} is empty: no version has passed `byoc pipeline`'s quality gate yet"
        )
    if which == LATEST:
        return max(versions, key=lambda version: (version.created, version.number))
    for version in versions:
        if version.number == int(which):
            return version
    raise DeployError(
        f"version {which} does not exist in model package group {group}; its versions: {summary_of(versions)}"
    )


def set_status(client: Any, version: Version, status: str, description: str) -> Version:
    """Approve or reject a version; its description of the decision and its metadata are sent each time."""
    if status not in APPROVAL_STATUSES:
        raise DeployError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}, not {status!r}")
    described = client.describe_model_package(ModelPackageName=version.arn)
    arguments: dict[str, Any] = {
        "ModelPackageArn": version.arn,
        "ModelApprovalStatus": status,
        "ApprovalDescription": description,
    }
    if described.get("CustomerMetadataProperties"):
        arguments["CustomerMetadataProperties"] = described["CustomerMetadataProperties"]
    client.update_model_package(**arguments)
    again = client.describe_model_package(ModelPackageName=version.arn)
    return Version(
        number=version.number,
        arn=version.arn,
        status=str(again["ModelApprovalStatus"]),
        created=version.created,
        description=version.description,
    )


def newest_approved(client: Any, group: str) -> Version:
    """The newest Approved version (SortOrder=Descending, explicitly), or an error naming what there is."""
    require_group(client, group)
    approved = list_versions(client, group, status=APPROVED, newest_first=True)
    if approved:
        return approved[0]
    versions = list_versions(client, group)
    if not versions:
        raise DeployError(
            f"model package group {group} is empty: run `byoc pipeline`, then approve a version with "
            "`byoc models approve VERSION`"
        )
    raise DeployError(
        f"no version of model package group {group} is Approved (versions: {summary_of(versions)}): approve "
        "one with `byoc models approve VERSION` (or `latest`)"
    )


@dataclass(frozen=True)
class Package:
    """What a registered version holds: the image and model to serve, and where its evaluation lies."""

    version: int
    arn: str
    status: str
    image_uri: str
    model_data: str
    environment: dict[str, str]
    task: Task | None
    evaluation_uri: str | None
    statistics_uri: str | None
    constraints_uri: str | None


def describe_package(client: Any, arn: str) -> Package:
    described = client.describe_model_package(ModelPackageName=arn)
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise DeployError(f"model package {arn} names no container with a model (ModelDataUrl)")
    container = containers[0]
    metrics = described.get("ModelMetrics") or {}
    quality = (metrics.get("ModelQuality") or {}).get("Statistics") or {}
    data_quality = metrics.get("ModelDataQuality") or {}
    task = (described.get("CustomerMetadataProperties") or {}).get(TASK_KEY)
    return Package(
        version=int(described.get("ModelPackageVersion", 0)),
        arn=arn,
        status=str(described.get("ModelApprovalStatus", "")),
        image_uri=str(container["Image"]),
        model_data=str(container["ModelDataUrl"]),
        environment=dict(container.get("Environment") or {}),
        task=Task(task) if task in tuple(Task) else None,
        evaluation_uri=quality.get("S3Uri"),
        statistics_uri=(data_quality.get("Statistics") or {}).get("S3Uri"),
        constraints_uri=(data_quality.get("Constraints") or {}).get("S3Uri"),
    )


def objective_of(s3: Any, package: Package) -> tuple[str, float | None]:
    """The version's objective metric and its value, read from the evaluation.json its ModelMetrics name."""
    if package.task is None or package.evaluation_uri is None:
        return "objective", None
    name = OBJECTIVE_METRIC[package.task]
    try:
        evaluation = json.loads(read_bytes(s3, package.evaluation_uri))
    except (ClientError, ValueError, DeployError) as error:
        logger.warning("could not read %s of version %d: %s", package.evaluation_uri, package.version, error)
        return name, None
    value = contract.read_json_path(evaluation, contract.objective_json_path(package.task))
    return name, float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Registration:
    """A model to register: its image and model.tar.gz, and the folder `evaluate` wrote (its evaluation.json
    and data baseline). Values may be pipeline variables (the pipeline's) or plain URIs (offline)."""

    project: Project
    image_uri: str
    model_data: Any
    evaluation_folder: Any
    task: Task
    role: str
    approval_status: Any = PENDING


def child(folder: Any, *names: str) -> Any:
    """`folder/name/...`: a Join of a pipeline variable, or plain text."""
    if isinstance(folder, str):
        return "/".join([folder.rstrip("/"), *names])
    from sagemaker.workflow.functions import Join

    return Join(on="/", values=[folder, *names])


def model_metrics(evaluation_folder: Any) -> Any:
    """ModelMetrics: the evaluation as ModelQuality statistics, the data baseline as ModelDataQuality."""
    from sagemaker.model_metrics import MetricsSource, ModelMetrics

    def source(*names: str) -> MetricsSource:
        return MetricsSource(content_type=JSON, s3_uri=child(evaluation_folder, *names))

    return ModelMetrics(
        model_statistics=source(contract.EVALUATION_FILE),
        model_data_statistics=source(contract.BASELINE_FOLDER, contract.STATISTICS_FILE),
        model_data_constraints=source(contract.BASELINE_FOLDER, contract.CONSTRAINTS_FILE),
    )


def register_arguments(registration: Registration) -> dict[str, Any]:
    """`Model.register`'s arguments: the group, PendingManualApproval, metrics, instance and media types."""
    return {
        "model_package_group_name": registration.project.model_package_group,
        "approval_status": registration.approval_status,
        "content_types": list(CONTENT_TYPES),
        "response_types": list(RESPONSE_TYPES),
        "inference_instances": list(INFERENCE_INSTANCE_TYPES),
        "transform_instances": list(TRANSFORM_INSTANCE_TYPES),
        "model_metrics": model_metrics(registration.evaluation_folder),
        "description": f"{registration.project.name}: passed the {OBJECTIVE_METRIC[registration.task]} gate",
        "customer_metadata_properties": {
            TASK_KEY: registration.task.value,
            OBJECTIVE_KEY: OBJECTIVE_METRIC[registration.task],
        },
    }


def registered_model(registration: Registration, session: Any) -> Model:
    from sagemaker.model import Model

    return Model(
        image_uri=registration.image_uri,
        model_data=registration.model_data,
        role=registration.role,
        sagemaker_session=session,
    )


def register(registration: Registration, session: Any) -> Version:
    """Register outside a pipeline (offline, after the local pipeline's gate passed): the same request the
    pipeline's RegisterModel step sends. Returns the new version."""
    package = registered_model(registration, session).register(**register_arguments(registration))
    arn = str(package.model_package_arn)
    described = session.sagemaker_client.describe_model_package(ModelPackageName=arn)
    return Version(
        number=int(described["ModelPackageVersion"]),
        arn=arn,
        status=str(described["ModelApprovalStatus"]),
        created=described["CreationTime"],
        description=str(described.get("ModelPackageDescription") or ""),
    )
