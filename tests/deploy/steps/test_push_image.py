"""Pushing the image: its tags, the pushed digest, the local registry, and the base image it is built from."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.targets import base_image
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.context import BuildContext, package_version
from lightsage_deploy.targets.docker import docker, image_references, untag
from lightsage_deploy.targets.offline import OfflineServices

from testsupport import REPOSITORY_ROOT, free_port

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
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?", push_image.commit_tag(REPOSITORY_ROOT))
    with pytest.raises(DeployError, match="`git rev-parse --short HEAD` failed"):
        push_image.commit_tag(tmp_path)


def test_the_source_tag_is_the_commit_of_a_checkout_else_the_version_and_the_contexts_digest(
    tmp_path: Path,
) -> None:
    checkout = BuildContext(REPOSITORY_ROOT, checkout=True)
    assert push_image.source_tag(checkout) == push_image.commit_tag(REPOSITORY_ROOT)
    shipped = tmp_path / "build_context"
    (shipped / "program").mkdir(parents=True)
    (shipped / "Dockerfile").write_text("FROM scratch\n")
    (shipped / "program" / "train").write_text("#!/bin/sh\n")
    tag = push_image.source_tag(BuildContext(shipped))
    assert re.fullmatch(rf"{re.escape(package_version())}-[0-9a-f]{{12}}", tag)
    # Bytecode is not the source; a changed byte, or a changed executable bit, is another source.
    (shipped / "program" / "__pycache__").mkdir()
    (shipped / "program" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert push_image.source_tag(BuildContext(shipped)) == tag
    (shipped / "program" / "train").chmod(0o755)
    executable = push_image.source_tag(BuildContext(shipped))
    assert executable != tag
    (shipped / "Dockerfile").write_text("FROM scratch \n")
    assert push_image.source_tag(BuildContext(shipped)) not in (tag, executable)


def test_the_digest_comes_from_the_push_output() -> None:
    output = f"abc: Pushed\nlatest: digest: {DIGEST} size: 1579\n"
    assert push_image.pushed_digest("localhost:5000/titanic-byoc", output, "unused") == DIGEST


def test_an_unreachable_local_registry_says_how_to_start_it() -> None:
    with pytest.raises(DeployError, match=r"not reachable .*byoc offline up"):
        push_image.check_registry_answers(f"localhost:{free_port()}")


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
