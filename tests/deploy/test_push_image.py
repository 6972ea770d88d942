"""Pushing the image: tags, the ECR repository, the ECR login, the pushed digest, the command line."""

from __future__ import annotations

import base64
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lightsage_deploy import project
from lightsage_deploy.aws import ecr as aws_ecr
from lightsage_deploy.cli import push as push_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.targets import base_image
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker, image_references, untag
from lightsage_deploy.targets.offline import OfflineServices

from testsupport import free_port

REPOSITORY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/titanic-byoc"
DIGEST = "sha256:" + "ab" * 32


def test_mutable_repositories_get_the_commit_and_latest() -> None:
    assert push_image.image_tags("5cef0a5", immutable=False) == ("5cef0a5", "latest")
    assert push_image.image_tags("5cef0a5-dirty", immutable=False) == ("5cef0a5-dirty", "latest")


def test_immutable_repositories_get_one_tag_that_never_repeats() -> None:
    assert push_image.image_tags("5cef0a5", immutable=True) == ("5cef0a5",)
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert push_image.image_tags("5cef0a5-dirty", immutable=True, now=now) == (
        "5cef0a5-dirty-20240506T070809Z",
    )


def test_the_commit_tag_is_the_short_commit_maybe_dirty(tmp_path: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?", push_image.commit_tag())
    with pytest.raises(DeployError, match="`git rev-parse --short HEAD` failed"):
        push_image.commit_tag(tmp_path)


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


def test_the_digest_comes_from_the_push_output() -> None:
    output = f"abc: Pushed\nlatest: digest: {DIGEST} size: 1579\n"
    assert push_image.pushed_digest("localhost:5000/titanic-byoc", output, "unused") == DIGEST


def test_an_unreachable_local_registry_says_how_to_start_it() -> None:
    with pytest.raises(DeployError, match=r"not reachable .*byoc offline up"):
        push_image.check_registry_answers(f"localhost:{free_port()}")


def test_the_local_default_image_needs_no_aws() -> None:
    target = settings.DeployTarget(region="us-east-1")
    assert aws_ecr.default_image_uri(target, "titanic-byoc", "localhost:5001") == (
        "localhost:5001/titanic-byoc:latest"
    )


def test_build_options_from_the_command_line(example_project: project.Project) -> None:
    arguments = push_command.build_parser().parse_args(
        [
            "--local",
            "--build-arg",
            "BASE_IMAGE=byoc-base:bookworm",
            "--build-network",
            "host",
            "--docker-build-flag=--pull",
            "--immutable-tags",
        ]
    )
    options = push_command.options_from(arguments, example_project)
    assert (options.repository, options.tags) == (
        "titanic-byoc",
        ({"Key": "project", "Value": "titanic-byoc"},),
    )
    assert options.build_args == ("BASE_IMAGE=byoc-base:bookworm",)
    assert options.build_flags == ("--pull", "--network=host")
    assert options.platform == "linux/amd64"
    assert options.immutable_tags and options.source_image is None


@pytest.mark.parametrize("argv", [["--no-build"], ["--source-image", "titanic-byoc:dev"]])
def test_no_build_and_source_image_go_together(argv: list[str], example_project: project.Project) -> None:
    with pytest.raises(DeployError, match="go together"):
        push_command.options_from(push_command.build_parser().parse_args(argv), example_project)


@pytest.fixture
def unpullable_official_base(image: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A machine where python:3.12-slim cannot be pulled (a registry nobody listens on stands in for it)
    and the local base is the image under test; returns the unpullable name."""
    unpullable = f"localhost:{free_port()}/python:3.12-slim"
    monkeypatch.setenv("OFFICIAL_BASE_IMAGE", unpullable)
    monkeypatch.setenv("LOCAL_BASE_IMAGE", image)
    return unpullable


@pytest.mark.container
def test_the_base_image_is_chosen_as_make_build_chooses_it(unpullable_official_base: str, image: str) -> None:
    assert base_image.build_options() == ["--build-arg", f"BASE_IMAGE={image}", "--network", "host"]
    assert base_image.build_options("given:tag") == ["--build-arg", "BASE_IMAGE=given:tag"]
    present = {**os.environ, "OFFICIAL_BASE_IMAGE": image}
    assert base_image.build_options(environ=present) == ["--build-arg", f"BASE_IMAGE={image}"]


@pytest.mark.container
def test_push_builds_from_the_local_base_when_the_official_one_cannot_be_pulled(
    unpullable_official_base: str, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"ARG BASE_IMAGE={unpullable_official_base}\nFROM ${{BASE_IMAGE}}\nARG BASE_IMAGE\n"
        'LABEL built.from="${BASE_IMAGE}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repository = f"push-base-{uuid.uuid4().hex[:8]}"
    services = OfflineServices(tmp_path / "offline", registry_port=free_port(), s3_port=free_port())
    with services, settings.open_target(local=True, registry=services.registry) as target:
        try:
            pushed = push_image.push_image(target, push_image.PushOptions(repository, context=context))
            label = '{{index .Config.Labels "built.from"}}'
            built = docker("image", "inspect", pushed.image_uri, "--format", label)
            assert built.stdout.strip() == image
        finally:
            untag(image_references(f"{services.registry}/{repository}") + image_references(repository))
