"""A new user's path, offline: their own table and their own one-task recipe, through the `byoc` commands.

The recipe is the README's houses example (regression only), in an image built FROM the image under test as
its Dockerfile says. The price is an integer with few distinct values, which `train` alone would take for
classes: the deploy side sends the recipe's only task, so the job trains what its metric definitions
assume. The commands' output is what a user reads: one line per result, a random split for a regression
target, no telemetry notice (telemetry is off locally), no compose file dumped into the training log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightsage import recipes
from lightsage_deploy.cli import train as train_command
from lightsage_deploy.cli import upload as upload_command
from lightsage_deploy.project import project
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker, labelled_containers
from lightsage_deploy.targets.offline import OfflineServices

from testsupport import REPOSITORY_ROOT

pytestmark = pytest.mark.e2e

NAME = "houses-own-e2e"
HOUSES = REPOSITORY_ROOT / "examples" / "houses"
TELEMETRY_NOTICE = "will collect telemetry"


@pytest.fixture(scope="module")
def repository() -> str:
    return NAME


@pytest.fixture(scope="module")
def pushed(image: str, target: settings.DeployTarget, repository: str) -> push_image.PushedImage:
    """The houses image (examples/houses/Dockerfile FROM the image under test), pushed."""
    houses_image = f"{repository}:build"
    docker("build", "--build-arg", f"BASE_IMAGE={image}", "--tag", houses_image, str(HOUSES), timeout=600)
    try:
        return push_image.push_image(target, push_image.PushOptions(repository, source_image=houses_image))
    finally:
        docker("rmi", houses_image, check=False)


@pytest.fixture(scope="module")
def houses_recipe() -> Iterator[None]:
    """The recipe where the deploy side looks for it too (as if copied to
    program/lightsage/recipes/houses.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipes, "__path__", [*recipes.__path__, str(HOUSES)])
        yield
    sys.modules.pop("lightsage.recipes.houses", None)


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's project: 600 houses whose price (in thousands) is an integer with 13 distinct values."""
    folder = tmp_path_factory.mktemp("houses")
    rng = np.random.default_rng(7)
    district = rng.choice(["harbour", "old town", "hills", "riverside"], 600)
    rooms = rng.integers(1, 7, 600)
    area = (rooms * rng.uniform(18, 32, 600)).round(1)
    per_m2 = pd.Series(district).map({"harbour": 52, "old town": 78, "hills": 41, "riverside": 61})
    price = (area * per_m2.to_numpy() / 1000).round().astype(int)
    table = pd.DataFrame({"district": district, "rooms": rooms, "area": area, "price": price})
    assert table["price"].nunique() <= 20  # what `train`'s rule takes for classes
    table.to_csv(folder / "houses.csv", index=False)
    path = folder / "byoc.toml"
    path.write_text(
        f'[project]\nname = "{NAME}"\n[data]\nsource = "houses.csv"\ntarget = "price"\n'
        '[training]\nrecipe = "houses"\n[training.hyperparameters]\nn_estimators = 50\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(project.FILE_VARIABLE, str(path))
        yield path


def test_a_one_task_recipe_on_an_integer_target_trains_the_task_the_deploy_side_assumed(
    pushed: push_image.PushedImage,
    offline_services: OfflineServices,
    houses_recipe: None,
    project_file: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = offline_services
    local = ["--local", "--registry", services.registry, "--s3-endpoint", services.s3_endpoint]

    assert upload_command.main([*local, "--create-bucket"]) == 0
    uploaded = capfd.readouterr()
    assert re.search(r"^train: .*\(480 rows, random split\)$", uploaded.out, re.MULTILINE), uploaded.out
    assert re.search(r"^validation: .*\(120 rows\)\n\Z", uploaded.out, re.MULTILINE), uploaded.out

    with caplog.at_level(logging.INFO):  # what the SDK logs, whether or not a handler prints it here
        status = train_command.main([*local, "--image-uri", pushed.digest_uri])
    trained = capfd.readouterr()
    log = trained.out + trained.err + "\n".join(record.getMessage() for record in caplog.records)
    assert status == 0, log
    assert re.search(r"\[train\] recipe houses .*hyperparameters: .*\btask=regression\b", log), log
    summary = re.compile(r"^validation: rmse [0-9.]+, mae [0-9.]+, r2 [0-9.-]+ \(regression,", re.MULTILINE)
    assert summary.search(trained.out), trained.out
    assert TELEMETRY_NOTICE not in log
    assert "docker compose file" not in log and "container_name:" not in log
    assert "docker command: " in log  # the SDK's other local-mode lines stay
    assert not labelled_containers(settings.project_labels(NAME)), "the run left its containers behind"
