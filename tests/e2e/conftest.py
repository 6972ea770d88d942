"""Fixtures for the offline cloud path: loopback-only sockets, a scratch HOME, the registry and moto."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from lightsage_deploy.jobs.channels import channel_content_type
from lightsage_deploy.project import project
from lightsage_deploy.steps import endpoint
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps.cleanup import delete_registry_repository
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker, image_references, local_mode_containers, untag
from lightsage_deploy.targets.offline import DEFAULT_REGISTRY_PORT, DEFAULT_S3_PORT, OfflineServices

from testsupport import free_port


def _require_loopback(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise AssertionError(f"the offline tests must not connect to {host}:{address[1]}")


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> Iterator[None]:
    """Any connection this process opens beyond 127.0.0.1/::1 fails the test instead of leaving the machine.

    Module scope, and autouse, so it is in place before the module's other fixtures start anything.
    """
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        _require_loopback(sock, address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        _require_loopback(sock, address)
        return connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        yield


@pytest.fixture(scope="module")
def scratch_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The SDK and docker read ~/.sagemaker and ~/.docker: give them an empty HOME."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        yield home


def _preferred_or_free(port: int) -> int:
    with socket.socket() as probe:
        taken = probe.connect_ex(("127.0.0.1", port)) == 0
    return free_port() if taken else port


@pytest.fixture(scope="module")
def offline_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineServices]:
    """The registry and moto_server, on 5000/9000 when free, else on free ports; stopped and removed."""
    state_dir = tmp_path_factory.mktemp("offline")
    services = OfflineServices(
        state_dir,
        registry_port=_preferred_or_free(DEFAULT_REGISTRY_PORT),
        s3_port=_preferred_or_free(DEFAULT_S3_PORT),
    )
    try:
        with services:
            yield services
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)  # the registry's blobs: the image's size, each run


@pytest.fixture(scope="module")
def target(
    scratch_home: Path, offline_services: OfflineServices, repository: str
) -> Iterator[settings.DeployTarget]:
    """The local deploy target on the stand-ins; afterwards no scratch folder, container or tag is left.

    Each module names its image repository with a module-scoped `repository` fixture.
    """
    with settings.open_target(
        local=True,
        project=repository,
        registry=offline_services.registry,
        s3_endpoint=offline_services.s3_endpoint,
        serving_port=free_port(),
    ) as opened:
        assert opened.local is not None
        work_dir = opened.local.work_dir
        try:
            yield opened
        finally:
            delete_registry_repository(offline_services.registry, repository)
            untag(image_references(f"{offline_services.registry}/{repository}"))
    assert not work_dir.exists(), "the local-mode scratch folder (container_root) was left behind"
    assert not local_mode_containers(under=work_dir), "local-mode containers were left behind"


@pytest.fixture(scope="module")
def pushed(image: str, target: settings.DeployTarget, repository: str) -> push_image.PushedImage:
    return push_image.push_image(target, push_image.PushOptions(repository, source_image=image))


@pytest.fixture(scope="module")
def pinned_image(pushed: push_image.PushedImage) -> str:
    """The pushed image pulled back by digest: what every job runs."""
    docker("pull", pushed.digest_uri, timeout=300)
    return pushed.digest_uri


@pytest.fixture(scope="module")
def local_training(pinned_image: str) -> Callable[..., train_job.TrainingOptions]:
    """Training options for a local-mode job on the pinned image: (project, layout, hyperparameters)."""

    def options(
        the_project: project.Project, layout: settings.S3Layout, values: Mapping[str, str]
    ) -> train_job.TrainingOptions:
        return train_job.TrainingOptions(
            project=the_project,
            image_uri=pinned_image,
            role=the_project.local_role_arn,
            layout=layout,
            instance_type=settings.LOCAL_INSTANCE_TYPE,
            hyperparameters=values,
            content_type=channel_content_type(the_project.source),
        )

    return options


@pytest.fixture(scope="module")
def local_hosting(pinned_image: str) -> Callable[..., endpoint.EndpointOptions]:
    """Options for a local endpoint or transform job of a model on the pinned image: (project, model_data)."""

    def options(the_project: project.Project, model_data: str) -> endpoint.EndpointOptions:
        return endpoint.EndpointOptions(
            project=the_project,
            image_uri=pinned_image,
            model_data=model_data,
            role=the_project.local_role_arn,
            instance_type=settings.LOCAL_INSTANCE_TYPE,
            name=settings.unique_name(f"{the_project.base_job_name}-e2e"),
        )

    return options
