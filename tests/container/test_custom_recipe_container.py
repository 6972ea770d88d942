"""The README's "own recipe" path through Docker: examples/houses/Dockerfile builds FROM the image under test,
COPYs the recipe module into /opt/program/lightsage/recipes/ and makes it the default recipe; that image
trains with no `recipe` hyperparameter and serves the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.recipes.base import sha256 as digest

from housessupport import EXAMPLE_DIR, channels, houses_table
from testsupport import docker, make_ml_root, start_server

pytestmark = pytest.mark.container


def sha256(path: Path) -> str:
    return digest(path.read_bytes())


@pytest.fixture(scope="module")
def houses_image(image: str) -> Iterator[str]:
    tag = f"byoc-houses-test:{os.getpid()}"
    docker("build", "--build-arg", f"BASE_IMAGE={image}", "-t", tag, str(EXAMPLE_DIR), timeout=300)
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)


def test_an_image_built_from_the_example_trains_and_serves_its_recipe(
    houses_image: str, tmp_path: Path
) -> None:
    rows = houses_table(500, seed=11)
    # No recipe hyperparameter: the derived image's default (houses) trains.
    root = make_ml_root(tmp_path / "ml", {}, channels(rows.iloc[:400], rows.iloc[400:]), recipe=None)
    run = docker(
        "run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", houses_image, "train",
        check=False, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "recipe houses (version 1)" in run.stdout
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    assert manifest["recipe"] == {
        "name": "houses",
        "version": 1,
        "source": {
            "origin": "image",
            "program": "houses.py",
            "files": {"houses.py": sha256(EXAMPLE_DIR / "houses.py")},
        },
    }
    assert manifest["target"] == "price"

    server = start_server(houses_image, root, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        server.wait_healthy(90)
        request = rows.iloc[400:].drop(columns=["price"])
        status, _, body = server.request(
            "POST", "/invocations", request.to_csv(index=False), {"Content-Type": "text/csv"}
        )
        assert status == 200, body[:500]
        served = np.array([answer["prediction"] for answer in json.loads(body)["predictions"]])
    finally:
        docker("rm", "-f", server.name, check=False)

    # The same rows scored here from the saved artifact: the recipe's state and LightGBM's model text.
    state = json.loads((root / "model" / "recipe_state.json").read_text())
    per_m2 = np.array([state["districts"].get(name, state["overall"]) for name in request["district"]])
    area = request["area"].to_numpy(dtype=float)
    features = np.column_stack([request["rooms"].to_numpy(dtype=float), area, per_m2, per_m2 * area])
    booster = lgb.Booster(model_file=str(root / "model" / "model.txt"))
    np.testing.assert_allclose(served, booster.predict(features.astype(np.float32)), rtol=1e-12)
