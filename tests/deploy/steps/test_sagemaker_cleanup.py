"""Cleanup on AWS against stubs: only the base name's endpoints, configs and models, endpoints first, and what
is gone already is no error."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from lightsage_deploy.steps import cleanup


def _sagemaker() -> Any:
    return boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_cleanup_finds_only_names_that_start_with_the_base_name() -> None:
    client = _sagemaker()
    now = "2024-01-01T00:00:00Z"
    with Stubber(client) as stub:
        stub.add_response(
            "list_endpoints",
            {
                "Endpoints": [
                    {"EndpointName": name, "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/x",
                     "CreationTime": now, "LastModifiedTime": now, "EndpointStatus": "InService"}
                    for name in ("titanic-byoc-1", "my-titanic-byoc")
                ]
            },
            {"NameContains": "titanic-byoc"},
        )  # fmt: skip
        stub.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": "titanic-byoc"})
        stub.add_response(
            "list_models",
            {"Models": [{"ModelName": "titanic-byoc-1", "ModelArn": "arn:aws:sagemaker:us-east-1:1:model/x",
                         "CreationTime": now}]},
            {"NameContains": "titanic-byoc"},
        )  # fmt: skip
        found = cleanup.find_sagemaker_resources(client, "titanic-byoc")
    assert found == cleanup.SageMakerResources(["titanic-byoc-1"], [], ["titanic-byoc-1"])
    assert cleanup.find_sagemaker_resources(client, "x", ["e"]) == cleanup.SageMakerResources(
        ["e"], ["e"], ["e"]
    )


def test_cleanup_deletes_endpoints_first_and_skips_what_is_gone() -> None:
    client = _sagemaker()
    gone = "Could not find endpoint configuration"
    with Stubber(client) as stub:
        stub.add_response("delete_endpoint", {}, {"EndpointName": "e"})
        stub.add_client_error("delete_endpoint_config", "ValidationException", gone)
        stub.add_response("delete_model", {}, {"ModelName": "e"})
        deleted = cleanup.delete_sagemaker_resources(client, cleanup.SageMakerResources(["e"], ["e"], ["e"]))
        stub.assert_no_pending_responses()
    assert deleted == ["endpoint e", "model e"]


def test_a_missing_repository_is_not_an_error() -> None:
    ecr = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecr) as stub:
        stub.add_client_error("delete_repository", "RepositoryNotFoundException")
        assert cleanup.delete_ecr_repository(ecr, "titanic-byoc") is False
