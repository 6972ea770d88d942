"""ECR: a project's repository (created with scan on push when missing), docker's login to it, and the
address of the image a job runs by default."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from lightsage_deploy.errors import aws_error_code
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker

logger = logging.getLogger(__name__)


def image_uri(account: str, region: str, repository: str, tag: str = "latest") -> str:
    """ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG (amazonaws.com.cn in the China regions)."""
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{repository}:{tag}"


def default_image_uri(target: settings.DeployTarget, repository: str, registry: str | None = None) -> str:
    """REPOSITORY:latest in the plain registry (--local or --registry), else in this account's ECR."""
    plain_registry = registry or (target.local.registry if target.local is not None else None)
    if plain_registry is not None:
        return f"{plain_registry}/{repository}:latest"
    account = target.client("sts").get_caller_identity()["Account"]
    return image_uri(account, target.region, repository)


def ensure_ecr_repository(
    ecr: Any, name: str, immutable_tags: bool, tags: Sequence[dict[str, str]] = ()
) -> str:
    """The repository URI, creating the repository (scan on push) when it does not exist yet."""
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        wanted = "IMMUTABLE" if immutable_tags else "MUTABLE"
        if repository.get("imageTagMutability", "MUTABLE") != wanted:
            logger.warning(
                "repository %s exists with %s tags; it is left as it is (not %s)",
                name,
                repository["imageTagMutability"],
                wanted,
            )
        return str(repository["repositoryUri"])
    except ClientError as error:
        if aws_error_code(error) != "RepositoryNotFoundException":
            raise
    created = ecr.create_repository(
        repositoryName=name,
        imageScanningConfiguration={"scanOnPush": True},
        imageTagMutability="IMMUTABLE" if immutable_tags else "MUTABLE",
        tags=[{"Key": tag["Key"], "Value": tag["Value"]} for tag in tags],
    )
    logger.info("created ECR repository %s", name)
    return str(created["repository"]["repositoryUri"])


def docker_login_to_ecr(ecr: Any) -> str:
    """`aws ecr get-login-password | docker login --password-stdin`, without the AWS CLI."""
    authorization = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(authorization["authorizationToken"]).decode().split(":", 1)
    endpoint = authorization["proxyEndpoint"]
    docker("login", "--username", user, "--password-stdin", endpoint, input_text=password, timeout=60)
    return str(endpoint)
