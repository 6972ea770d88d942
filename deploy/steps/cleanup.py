"""Cleanup: delete the SageMaker endpoints, configs and models, the rollback alarms, the pipeline, the ECR
repository, the S3 objects and (when asked) the model registry's versions the deploy commands created;
offline, this project's and user's local-mode containers, the local registry's tags and the emulated bucket
(a container that still runs only when asked)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lightsage_deploy.aws.s3 import bucket_exists, delete_prefix
from lightsage_deploy.errors import DeployError, PlatformError, aws_error_code
from lightsage_deploy.steps import registry
from lightsage_deploy.steps.rollout import ALARM_SUFFIXES
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import (
    Container,
    image_references,
    labelled_containers,
    remove_containers,
    remove_network_if_unused,
    untag,
)

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass
class SageMakerResources:
    endpoints: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.endpoints or self.endpoint_configs or self.models)


def _names(client: Any, operation: str, result_key: str, name_key: str, base_name: str) -> list[str]:
    found = []
    for page in client.get_paginator(operation).paginate(NameContains=base_name):
        found.extend(entry[name_key] for entry in page[result_key] if entry[name_key].startswith(base_name))
    return found


def find_sagemaker_resources(client: Any, base_name: str, names: Sequence[str] = ()) -> SageMakerResources:
    """Resources named exactly `names`, or else every one whose name starts with `base_name`."""
    if names:
        return SageMakerResources(list(names), list(names), list(names))
    return SageMakerResources(
        endpoints=_names(client, "list_endpoints", "Endpoints", "EndpointName", base_name),
        endpoint_configs=_names(
            client, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", base_name
        ),
        models=_names(client, "list_models", "Models", "ModelName", base_name),
    )


def delete_sagemaker_resources(client: Any, resources: SageMakerResources) -> list[str]:
    """Endpoints first (they use the configs, which name the models); a name that is already gone is fine."""
    deleted = []
    plan = [
        ("endpoint", resources.endpoints, lambda name: client.delete_endpoint(EndpointName=name)),
        (
            "endpoint config",
            resources.endpoint_configs,
            lambda name: client.delete_endpoint_config(EndpointConfigName=name),
        ),
        ("model", resources.models, lambda name: client.delete_model(ModelName=name)),
    ]
    for kind, names, delete in plan:
        for name in names:
            try:
                delete(name)
            except ClientError as error:
                if aws_error_code(error) == "ValidationException" and "Could not find" in str(error):
                    continue
                raise
            deleted.append(f"{kind} {name}")
    return deleted


def find_rollback_alarms(cloudwatch: Any, base_name: str) -> list[str]:
    """The alarms `byoc deploy --update` created on endpoints whose names start with `base_name`."""
    names = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=base_name):
        names += [
            alarm["AlarmName"]
            for alarm in page.get("MetricAlarms", [])
            if alarm["AlarmName"].endswith(ALARM_SUFFIXES)
        ]
    return names


def delete_alarms(cloudwatch: Any, names: Sequence[str]) -> None:
    for start in range(0, len(names), 100):  # DeleteAlarms takes at most 100 names
        cloudwatch.delete_alarms(AlarmNames=list(names[start : start + 100]))


def delete_pipeline(client: Any, name: str) -> bool:
    """Delete the pipeline (its executions go with it); False when there is none."""
    try:
        client.describe_pipeline(PipelineName=name)
    except ClientError as error:
        if aws_error_code(error) in ("ResourceNotFound", "ValidationException"):
            return False
        raise
    client.delete_pipeline(PipelineName=name)  # botocore fills in the idempotency token
    return True


def delete_model_registry(client: Any, group: str) -> list[str]:
    """Every version of the group, then the group itself (SageMaker only: moto cannot delete them)."""
    if not registry.group_exists(client, group):
        return []
    deleted = []
    for version in registry.list_versions(client, group):
        client.delete_model_package(ModelPackageName=version.arn)
        deleted.append(f"model package {version.arn}")
    client.delete_model_package_group(ModelPackageGroupName=group)
    return [*deleted, f"model package group {group}"]


def local_registry_note(client: Any, group: str) -> str:
    """What happens to the offline registry's versions: moto cannot delete model packages or groups."""
    if not registry.group_exists(client, group):
        return f"no model package group {group} on the moto server"
    count = len(registry.list_versions(client, group))
    return (
        f"left model package group {group} ({count} version(s)) on the moto server: moto cannot delete model "
        "packages or groups (it answers 500); `byoc offline down` discards them with the server"
    )


def delete_ecr_repository(ecr: Any, name: str) -> bool:
    try:
        ecr.delete_repository(repositoryName=name, force=True)
    except ClientError as error:
        if aws_error_code(error) == "RepositoryNotFoundException":
            return False
        raise
    return True


def _registry_call(registry: str, path: str, method: str = "GET") -> tuple[int, bytes, str]:
    """(status, body, Docker-Content-Digest) of one registry API call; 404 is an answer, not an error."""
    headers = {"Accept": ", ".join(MANIFEST_TYPES)} if "/manifests/" in path else {}
    request = urllib.request.Request(f"http://{registry}/v2/{path}", method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return 404, b"", ""
        raise PlatformError(
            f"the registry at {registry} refused {method} /v2/{path}: HTTP {error.code}"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise DeployError(
            f"the registry at {registry} is not reachable ({getattr(error, 'reason', error)}); "
            "is `byoc offline up` running?"
        ) from None


def delete_registry_repository(registry: str, repository: str) -> list[str]:
    """Delete every tagged manifest of `repository` from a local registry (its config must allow deletes).

    Tags that share a manifest go with it, so every digest is looked up before the first delete.
    """
    status, body, _ = _registry_call(registry, f"{repository}/tags/list")
    tags = (json.loads(body).get("tags") or []) if status == 200 else []
    tags_by_digest: dict[str, list[str]] = {}
    for tag in tags:
        status, _, digest = _registry_call(registry, f"{repository}/manifests/{tag}", "HEAD")
        if status == 200 and digest:
            tags_by_digest.setdefault(digest, []).append(tag)
    for digest in tags_by_digest:
        _registry_call(registry, f"{repository}/manifests/{digest}", "DELETE")
    return sorted(f"{registry}/{repository}:{tag}" for tags in tags_by_digest.values() for tag in tags)


def delete_bucket(s3: Any, bucket: str) -> int:
    """Empty the bucket and delete it; return how many objects it held."""
    if not bucket_exists(s3, bucket):
        return 0
    deleted = delete_prefix(s3, f"s3://{bucket}/")
    s3.delete_bucket(Bucket=bucket)
    return deleted


def _named(containers: Sequence[Container]) -> str:
    return ", ".join(f"{container.name} ({container.image})" for container in containers)


def clean_local_containers(project_name: str, *, stop_running: bool = False) -> list[str]:
    """Remove the project's exited local-mode containers (this user's only); stop and remove the running
    ones only when asked, naming each. Returns what was done, one line each."""
    containers = labelled_containers(settings.project_labels(project_name))
    running = [container for container in containers if container.running]
    stopped = [container for container in containers if not container.running]
    remove_containers([container.id for container in stopped], force=False)
    done = [f"removed {len(stopped)} exited local-mode container(s) of project {project_name}"]
    if running and stop_running:
        remove_containers([container.id for container in running], force=True)
        done.append(f"stopped and removed {len(running)} running container(s): {_named(running)}")
    elif running:
        done.append(
            f"left {len(running)} running container(s) of project {project_name}: {_named(running)}; a "
            "local run may still use them (pass --stop-running to stop and remove them)"
        )
    return done


def clean_local(
    target: settings.DeployTarget,
    bucket: str,
    repository: str,
    project_name: str,
    *,
    stop_running: bool = False,
) -> list[str]:
    """The project's local-mode containers, the compose network when unused, the repository in the local
    registry and in docker, and the emulated bucket."""
    if target.local is None:
        raise DeployError("clean_local needs a --local target")
    done = clean_local_containers(project_name, stop_running=stop_running)
    if remove_network_if_unused():
        done.append("removed the sagemaker-local network")
    registry_tags = delete_registry_repository(target.local.registry, repository)
    done.append(
        f"deleted {len(registry_tags)} tag(s) of {repository} from the registry at {target.local.registry}"
    )
    references = image_references(f"{target.local.registry}/{repository}")
    untag(references)
    done.append(
        f"removed {len(references)} local docker reference(s) to {target.local.registry}/{repository}"
    )
    objects = delete_bucket(target.client("s3"), bucket)
    done.append(f"deleted emulated bucket {bucket} ({objects} object(s))")
    done.append(local_registry_note(target.client("sagemaker"), project_name))
    return done
