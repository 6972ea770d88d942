"""Fixtures for the deploy scripts' unit tests: AWS clients that can only reach stubs or in-process moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from deploy import project, settings


@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, a region, no instance metadata, no profile, and an empty HOME for the SDK."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", settings.DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", settings.DUMMY_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (*settings.CREDENTIAL_VARIABLES, "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def moto_aws(offline_aws: None) -> Iterator[None]:
    """In-process moto: boto3 calls are answered inside this process and never sent anywhere."""
    with mock_aws():
        yield


@pytest.fixture
def example_project() -> project.Project:
    """The worked example: the repository's byoc.toml (Titanic)."""
    return project.load(project.DEFAULT_FILE, environ={})


@pytest.fixture
def project_file(tmp_path: Path) -> Callable[..., Path]:
    """Writes a project settings file into tmp_path: project_file(name, source, target, recipe, extra)."""

    def write(name: str, source: str, target: str, recipe: str = "tabular", extra: str = "") -> Path:
        path = tmp_path / "byoc.toml"
        path.write_text(
            f'[project]\nname = "{name}"\n\n[data]\nsource = "{source}"\ntarget = "{target}"\n\n'
            f'[training]\nrecipe = "{recipe}"\n{extra}',
            encoding="utf-8",
        )
        return path

    return write
