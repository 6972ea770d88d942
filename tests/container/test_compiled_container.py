"""Compiled trees in the image: `serve` compiles the model once, every worker switches its batches to them
with the same answers, explanations still come from LightGBM, and a model that must not be compiled, or a
compile that fails or runs out of time, leaves LightGBM answering."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pyarrow as pa
import pytest

from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.model.boosting import as_features
from lightsage.training.main import train

from testsupport import TITANIC_CSV, Server, healthy_server, in_process_scores, logs, make_ml_root

pytestmark = pytest.mark.container
SWITCHED = "answers batches with them"
COMPILE_ENDED = (
    "compiled trees: not used",
    "the compile failed",
    "and was stopped",
    "compiled in",
    "found in",
)
WAIT_SECONDS = 120
SLOW_COMPILE_SECONDS = 900  # the large model on a busy machine


def batch_csv() -> Path:
    """The whole table's 891 passengers with their labels: a batch (beyond the single-row path)."""
    return TITANIC_CSV


def worker_count(server: Server) -> int:
    for line in logs(server.name).splitlines():
        if line.startswith("[serve] port ") and " worker(s)" in line:
            return int(line.split(" worker(s)")[0].rsplit(" ", 1)[1])
    raise AssertionError(f"serve announced no workers:\n{logs(server.name)}")


def compiled_lines(server: Server) -> list[str]:
    return [line for line in logs(server.name).splitlines() if "compiled trees" in line]


def wait_for(server: Server, condition: str, seconds: float = WAIT_SECONDS) -> list[str]:
    """The log's compiled-trees lines once `condition` holds: every worker switched, or the compile ended."""
    workers = worker_count(server)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = compiled_lines(server)
        if condition == "switched" and sum(SWITCHED in line for line in lines) >= workers:
            return lines
        if condition == "ended" and any(marker in line for line in lines for marker in COMPILE_ENDED):
            time.sleep(1.0)  # the workers read the end of the compile within 0.1 s
            return compiled_lines(server)
        time.sleep(0.2)
    raise AssertionError(f"no {condition} within {seconds} s:\n{logs(server.name)}")


def served_probabilities(server: Server, body: bytes, accept: str = "application/json") -> list[dict]:
    status, _, answer = server.request(
        "POST", "/invocations", body, {"Content-Type": "text/csv", "Accept": accept}
    )
    assert status == 200, answer
    return json.loads(answer)["predictions"]


def assert_same_as_in_process(server: Server, model_dir: Path) -> None:
    expected = in_process_scores(model_dir, batch_csv())
    answers = served_probabilities(server, batch_csv().read_bytes())
    assert len(answers) == len(expected) > 16
    for answer, probability in zip(answers, expected, strict=True):
        assert math.isclose(answer["probability"], probability, rel_tol=1e-9, abs_tol=0.0)
        assert answer["label"] == int(probability >= 0.5)


@pytest.fixture(scope="module")
def model_root(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compiled") / "ml"
    shutil.copytree(trained_model_dir.parent, root)
    return root


def test_the_image_compiles_the_trees_and_every_worker_switches_with_the_same_answers(
    image: str, model_root: Path
) -> None:
    with healthy_server(image, model_root) as server:
        lines = wait_for(server, "switched")
        assert sum("compiled in" in line for line in lines) == 1, lines  # one compile per container
        assert all("LightGBM keeps answering" not in line for line in lines)
        assert_same_as_in_process(server, model_root / "model")
        # explanations stay on LightGBM: contributions add up to each answer's log-odds
        explained = served_probabilities(server, batch_csv().read_bytes(), "application/json; explain=true")
        for answer in explained:
            log_odds = sum(answer["contributions"].values()) + answer["base_value"]
            assert math.isclose(1 / (1 + math.exp(-log_odds)), answer["probability"], rel_tol=1e-9)


def test_a_restarted_server_loads_the_compiled_trees_from_its_cache(
    image: str, model_root: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    mount = ("-v", f"{cache}:/compiled", "-e", "BYOC_COMPILED_TREES_CACHE=/compiled")
    with healthy_server(image, model_root, *mount) as server:
        assert any("compiled in" in line for line in wait_for(server, "switched"))
    with healthy_server(image, model_root, *mount) as server:
        wait_for(server, "switched")  # the workers may load the cached object before the compile process says
        lines = wait_for(server, "ended")
        assert any("found in the cache" in line for line in lines) and not any(
            "compiled in" in line for line in lines
        )
        assert_same_as_in_process(server, model_root / "model")


def replace_booster(model_dir: Path, booster: lgb.Booster) -> None:
    """Put another booster of the same width into a model folder, with the manifest's digest to match."""
    (model_dir / artifact.BOOSTER_FILE).write_text(booster.model_to_string())
    manifest_path = model_dir / artifact.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][artifact.BOOSTER_FILE] = artifact.sha256(
        (model_dir / artifact.BOOSTER_FILE).read_bytes()
    )
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def linear_model_root(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Titanic model with its booster replaced by one with linear trees, trained on its own features."""
    root = tmp_path_factory.mktemp("linear") / "ml"
    shutil.copytree(trained_model_dir.parent, root)
    model = artifact.load(root / "model")
    frame = pd.read_csv(TITANIC_CSV, dtype=str, keep_default_na=False)
    typed = model.manifest.inputs.typed_table(pa.Table.from_pandas(frame, preserve_index=False)).to_pandas()
    booster = lgb.train(
        {"objective": "binary", "linear_tree": True, "num_leaves": 4, "verbose": -1},
        lgb.Dataset(as_features(model.recipe.transform(typed)), frame["Survived"].astype(float)),
        20,
    )
    replace_booster(root / "model", booster)
    artifact.load(root / "model")  # still a model the image serves
    return root


def test_a_model_compiled_trees_would_answer_wrongly_is_served_by_lightgbm(
    image: str, linear_model_root: Path
) -> None:
    with healthy_server(image, linear_model_root) as server:
        lines = wait_for(server, "ended")
        assert any("not used for this model: it has linear trees" in line for line in lines), lines
        assert not any(SWITCHED in line for line in lines)
        assert_same_as_in_process(server, linear_model_root / "model")


@pytest.fixture(scope="module")
def large_model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `tabular` model of many trees, slow enough to compile that a one-second limit stops it."""
    settings = {"recipe": "tabular", "target": "Survived", "n_estimators": "1500", "num_leaves": "31",
                "max_depth": "-1", "min_child_samples": "2", "learning_rate": "0.01"}  # fmt: skip
    root = make_ml_root(tmp_path_factory.mktemp("large") / "ml", settings)
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return root


def test_a_model_slow_to_compile_is_served_by_lightgbm_until_its_compiled_trees_are_ready(
    image: str, large_model_root: Path
) -> None:
    limit = ("-e", f"BYOC_COMPILE_TIMEOUT_SECONDS={SLOW_COMPILE_SECONDS}")  # however slow, it ends compiled
    with healthy_server(image, large_model_root, *limit) as server:
        assert_same_as_in_process(server, large_model_root / "model")
        lines = compiled_lines(server)
        # answered before any worker switched (nor did the compile end): LightGBM gave those answers
        assert not any(SWITCHED in line for line in lines), logs(server.name)
        assert not any(marker in line for line in lines for marker in COMPILE_ENDED), logs(server.name)
        lines = wait_for(server, "switched", SLOW_COMPILE_SECONDS)
        assert sum("compiled in" in line for line in lines) == 1, lines
        assert_same_as_in_process(server, large_model_root / "model")


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        # the wall clock or the CPU-time limit (the same seconds) may stop it first
        (("-e", "BYOC_COMPILE_TIMEOUT_SECONDS=1"), ("took longer than 1 s", "used more than 1 CPU seconds")),
        (("-e", "BYOC_COMPILE_MEMORY_MB=64"), ("used more than 64 MB",)),
        (("-e", "BYOC_COMPILED_TREES_CACHE=/proc/compiled"), ("the compile failed",)),
        (("-e", "BYOC_COMPILED_TREES=off"), ("compiled trees: off",)),
    ],
    ids=["timeout", "memory", "unusable cache", "off"],
)
def test_a_compile_that_fails_or_runs_out_of_time_leaves_lightgbm_serving(
    image: str, large_model_root: Path, settings: tuple[str, ...], said: tuple[str, ...]
) -> None:
    with healthy_server(image, large_model_root, *settings) as server:
        deadline = time.monotonic() + WAIT_SECONDS
        while not any(reason in line for line in compiled_lines(server) for reason in said):
            assert time.monotonic() < deadline, logs(server.name)
            time.sleep(0.2)
        time.sleep(1.0)
        assert not any(SWITCHED in line for line in compiled_lines(server)), logs(server.name)
        assert_same_as_in_process(server, large_model_root / "model")
