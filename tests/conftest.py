"""Shared fixtures: an /opt/ml-shaped tree for `train`, and a model trained once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lightsage import logs
from lightsage.contract.paths import MLPaths
from lightsage.training.main import train

from distsupport import Installed, install_fresh
from testsupport import TEST_DIR, MLRootFactory, docker, make_ml_root

# As `train`'s main does: lightsage's log lines as `[train] ...`, also where a test calls `train` itself. The
# handlers write to the current sys.stdout and sys.stderr, which pytest's capsys replaces.
logs.configure("train")


@pytest.fixture
def ml_root(tmp_path: Path) -> MLRootFactory:
    def factory(**kwargs: object) -> Path:
        return make_ml_root(tmp_path / "ml", **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_ml_root(tmp_path_factory.mktemp("trained") / "ml")
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return root / "model"


@pytest.fixture(scope="session")
def tabular_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small `tabular` model of the committed split: text categories (Sex, Embarked, ...) and numeric ones
    (Pclass, named in categorical_columns)."""
    settings = {
        "recipe": "tabular",
        "target": "Survived",
        "categorical_columns": "Pclass",
        "n_estimators": "20",
    }
    root = make_ml_root(tmp_path_factory.mktemp("tabular") / "ml", settings)
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return root / "model"


@pytest.fixture(scope="session")
def committed_test_dir_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("test_dir") / "ml"
    shutil.copytree(TEST_DIR, target)
    return target


@pytest.fixture(scope="session")
def image() -> str:
    """The image under test: `make test` builds it and names it in BYOC_IMAGE."""
    name = os.environ.get("BYOC_IMAGE")
    if not name:
        pytest.fail(
            "set BYOC_IMAGE to the image to test (make test builds it), or deselect with -m 'not container'"
        )
    if docker("image", "inspect", name, check=False).returncode != 0:
        pytest.fail(f"image {name!r} (BYOC_IMAGE) does not exist; build it with `make build`")
    return name


@pytest.fixture(scope="session")
def installed_byoc(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The repository built into a wheel as `pip install` builds it, installed in a fresh virtualenv."""
    return install_fresh(tmp_path_factory.mktemp("distribution"))
