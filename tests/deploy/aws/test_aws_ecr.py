"""ECR: the repository used or created, the login, and the default image address, against stubs."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lightsage_deploy.aws import ecr as aws_ecr
from lightsage_deploy.targets import target as settings

REPOSITORY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/titanic-byoc"


def _ecr() -> Any:
    return boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_an_existing_repository_is_used_as_it_is() -> None:
    ecr = _ecr()
    with Stubber(ecr) as stub:
        stub.add_response(
            "describe_repositories",
            {"repositories": [{"repositoryUri": REPOSITORY_URI, "imageTagMutability": "MUTABLE"}]},
            {"repositoryNames": ["titanic-byoc"]},
        )
        assert aws_ecr.ensure_ecr_repository(ecr, "titanic-byoc", immutable_tags=False) == REPOSITORY_URI
        stub.assert_no_pending_responses()


def test_a_missing_repository_is_created_with_scan_on_push() -> None:
    ecr = _ecr()
    with Stubber(ecr) as stub:
        stub.add_client_error("describe_repositories", "RepositoryNotFoundException")
        stub.add_response(
            "create_repository",
            {"repository": {"repositoryUri": REPOSITORY_URI}},
            {
                "repositoryName": "titanic-byoc",
                "imageScanningConfiguration": {"scanOnPush": True},
                "imageTagMutability": "IMMUTABLE",
                "tags": [{"Key": "project", "Value": "titanic-byoc"}],
            },
        )
        tags = [{"Key": "project", "Value": "titanic-byoc"}]
        assert aws_ecr.ensure_ecr_repository(ecr, "titanic-byoc", True, tags) == REPOSITORY_URI
        stub.assert_no_pending_responses()


def test_the_login_pipes_the_token_into_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[str, ...], str | None]] = []
    monkeypatch.setattr(
        aws_ecr, "docker", lambda *arguments, input_text=None, **_: calls.append((arguments, input_text))
    )
    ecr = _ecr()
    token = base64.b64encode(b"AWS:secret-password").decode()
    endpoint = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
    with Stubber(ecr) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": endpoint}]},
        )
        assert aws_ecr.docker_login_to_ecr(ecr) == endpoint
    assert calls == [(("login", "--username", "AWS", "--password-stdin", endpoint), "secret-password")]


def test_the_local_default_image_needs_no_aws() -> None:
    target = settings.DeployTarget(region="us-east-1")
    assert aws_ecr.default_image_uri(target, "titanic-byoc", "localhost:5001") == (
        "localhost:5001/titanic-byoc:latest"
    )
