"""Fixtures for the deploy scripts' unit tests: AWS clients that can only reach stubs or in-process moto."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from lightsage import recipes
from lightsage_deploy.project import project
from lightsage_deploy.targets import target as settings

from testsupport import EXAMPLE_PROJECT_FILE, REPOSITORY_ROOT


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
def nothing_listens(offline_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint nothing listens on: a request that did go out would fail the run."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


@pytest.fixture
def moto_aws(offline_aws: None) -> Iterator[None]:
    """In-process moto: boto3 calls are answered inside this process and never sent anywhere."""
    with mock_aws():
        yield


@pytest.fixture
def example_project() -> project.Project:
    """The worked example: the repository's byoc.toml (Titanic)."""
    return project.load(EXAMPLE_PROJECT_FILE, environ={})


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


@pytest.fixture
def houses_recipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The README's recipe of a team's own, with one task (examples/houses: regression only), as if copied
    to program/lightsage/recipes/houses.py."""
    houses = REPOSITORY_ROOT / "examples" / "houses"
    monkeypatch.setattr(recipes, "__path__", [*recipes.__path__, str(houses)])
    yield
    sys.modules.pop("lightsage.recipes.houses", None)


@pytest.fixture
def houses_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, houses_recipe: None, project_file: Callable[..., Path]
) -> Path:
    """A project of the houses recipe whose price is an integer with few values (what `train` alone would
    take for classes), made the current project; returns its table."""
    rows = 40
    table = tmp_path / "houses.csv"
    table.write_text(
        "district,rooms,area,price\n"
        + "".join(f"{'ab'[row % 2]},{row % 5 + 1},{20 + row},{3 + row % 4}\n" for row in range(rows)),
        encoding="utf-8",
    )
    monkeypatch.setenv(project.FILE_VARIABLE, str(project_file("houses", "houses.csv", "price", "houses")))
    return table
