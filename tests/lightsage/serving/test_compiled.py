"""Compiled trees: equal to LightGBM on every task, cached by a key of all they depend on, checked by each
worker before it switches, and never used where they would answer wrongly or cannot be trusted."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.serving import compiled
from lightsage.serving.compiled import (
    REFUSED,
    CacheError,
    CompiledTrees,
    LightGBMTrees,
    Watch,
    cache_key,
    check,
    compile_model,
    compile_to,
    object_path,
    prepare_cache,
    relative_difference,
    trusted_object,
)
from lightsage.serving.decode import decode
from lightsage.serving.forest import Forest
from lightsage.serving.predictor import Predictor
from lightsage.training.main import train

import tabularsupport
from compiledsupport import TASKS, booster
from testsupport import VALIDATION_CSV, lightsage_log, make_ml_root

EXTREMES = np.array(
    [np.nan, 0.0, -0.0, 1e-40, -1e-35, 1e-35, -1e30, 3.4e38, -1.0, -0.5, 2.7, 12.0, 64.0, 2.0**31, 1e10]
)


def compiled_trees(text: str, folder: Path) -> CompiledTrees:
    forest = Forest.from_text(text)
    model_file = folder / "model.txt"
    model_file.write_text(text)
    path = object_path(folder, cache_key(compiled.sha256(text.encode()), forest))
    compile_to(text.encode(), forest, path)
    return compiled.load(model_file, path, forest)


def query_rows(seed: int, rows: int) -> np.ndarray:
    """float32 rows, as requests' features are: typical values, missing ones, extremes, unseen categories."""
    generator = np.random.default_rng(seed)
    typical = np.column_stack(
        [generator.normal(size=rows), generator.normal(size=rows) * 50, generator.integers(0, 12, (rows, 2))]
    )
    odd = generator.random(typical.shape) < 0.3
    typical[odd] = generator.choice(EXTREMES, size=int(odd.sum()))
    return typical.astype(np.float32)


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task=st.sampled_from(TASKS),
    rounds=st.integers(1, 30),
    leaves=st.integers(2, 31),
    seed=st.integers(0, 2**16),
)
def test_compiled_trees_answer_as_lightgbm_on_every_task_with_categories_and_missing_values(
    task: str, rounds: int, leaves: int, seed: int
) -> None:
    model = booster(task, rounds=rounds, leaves=leaves, seed=seed)
    rows = query_rows(seed, 500)
    with tempfile.TemporaryDirectory() as folder:
        trees = compiled_trees(model.model_to_string(), Path(folder))
        assert relative_difference(trees.predict(rows), model.predict(rows, num_threads=1)) <= 1e-9
        assert check(trees, model, Forest.from_text(model.model_to_string())).passed


def test_the_relative_difference_treats_zeros_missing_values_and_shapes() -> None:
    assert relative_difference(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert relative_difference(np.array([2.0]), np.array([1.0])) == 0.5
    assert relative_difference(np.array([np.nan]), np.array([np.nan])) == 0.0
    assert relative_difference(np.array([np.nan]), np.array([1.0])) == float("inf")
    assert relative_difference(np.zeros(2), np.zeros((2, 1))) == float("inf")


def test_trees_compiled_for_another_model_fail_the_check(tmp_path: Path) -> None:
    """The cache key holds model.txt's digest; should objects still be mixed up, the probe check refuses."""
    first, second = booster("binary", seed=1), booster("binary", seed=2)
    trees = compiled_trees(first.model_to_string(), tmp_path)
    result = check(trees, second, Forest.from_text(second.model_to_string()))
    assert not result.passed and result.difference > 1e-6


def test_the_key_holds_the_model_and_the_compile_options(monkeypatch: pytest.MonkeyPatch) -> None:
    text = booster("regression", rounds=3).model_to_string()
    forest = Forest.from_text(text)
    key = cache_key(compiled.sha256(text.encode()), forest)
    assert key == cache_key(compiled.sha256(text.encode()), forest)
    assert key != cache_key(compiled.sha256(text.encode() + b"\n"), forest)
    monkeypatch.setattr("lightsage.serving.forest.MAX_INLINED_LEAVES", 0)
    assert key != cache_key(compiled.sha256(text.encode()), forest)
    monkeypatch.setattr(compiled, "host_cpu", lambda: ("another-cpu", "+avx2"))
    assert key != cache_key(compiled.sha256(text.encode()), forest)


def test_the_compile_process_reads_the_booster_file_the_model_names() -> None:
    assert compiled.BOOSTER_FILE == artifact.BOOSTER_FILE
    assert compiled.sha256(b"data") == artifact.sha256(b"data")


def test_a_cache_others_can_write_or_that_is_a_link_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(CacheError, match="other users may write it"):
        prepare_cache(shared)
    (tmp_path / "link").symlink_to(tmp_path / "own")
    (tmp_path / "own").mkdir()
    with pytest.raises(CacheError, match="not a folder"):
        prepare_cache(tmp_path / "link")
    assert prepare_cache(tmp_path / "new" / "cache").stat().st_mode & 0o777 == 0o700


def test_an_object_others_can_write_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "trees.o"
    assert not trusted_object(path)
    path.write_bytes(b"\0")
    path.chmod(0o600)
    assert trusted_object(path)
    path.chmod(0o664)
    assert not trusted_object(path)


def model_folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.txt").write_text(text)
    return folder


def test_the_compile_refuses_models_it_would_answer_wrongly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    features = np.random.default_rng(0).normal(size=(300, 2))
    linear = lgb.train(
        {"objective": "regression", "linear_tree": True, "verbose": -1},
        lgb.Dataset(features, features[:, 0] * 3.0),
        3,
    )
    with lightsage_log(caplog) as said:
        status = compile_model(model_folder(tmp_path, linear.model_to_string()), tmp_path / "cache")
    assert status == REFUSED and not (tmp_path / "cache").exists()
    assert any("linear trees" in line for line in said)


def test_the_compile_caches_its_object_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = model_folder(tmp_path, booster("multiclass", rounds=5).model_to_string())
    cache = tmp_path / "cache"
    with lightsage_log(caplog) as said:
        assert compile_model(folder, cache) == 0
        objects = list(cache.iterdir())
        assert compile_model(folder, cache) == 0
    assert len(objects) == 1 and list(cache.iterdir()) == objects
    assert objects[0].stat().st_mode & 0o777 == 0o600
    assert "compiled in" in said[0] and "found in the cache" in said[1]


# -- each worker's switch, on models `train` made ------------------------------------------------------------


@pytest.fixture(scope="module")
def task_models(tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path) -> dict[str, Path]:
    """The Titanic model, and tabular models with text categories and missing values for every task."""
    folders = {"titanic": trained_model_dir}
    tables = {
        "binary": tabularsupport.breast_cancer_with_text,
        "multiclass": tabularsupport.wine_with_text,
        "regression": tabularsupport.diabetes,
    }
    for task, make in tables.items():
        table = make()
        root = make_ml_root(
            tmp_path_factory.mktemp(task) / "ml",
            {"recipe": "tabular", "target": tabularsupport.TARGET},
            table.channels("csv"),
        )
        train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
        folders[task] = root / "model"
        folders[f"{task} rows"] = table.features(table.validation).to_csv(index=False)  # type: ignore[assignment]
    return folders


def body_of(task_models: dict[str, Path], task: str) -> bytes:
    if task == "titanic":
        return VALIDATION_CSV.read_bytes()
    return str(task_models[f"{task} rows"]).encode()


def watch_for(model_dir: Path, tmp_path: Path, predictor: Predictor, ended: bool = True) -> Watch:
    flag = tmp_path / "ended"
    if ended:
        flag.touch()
    return Watch(predictor.model, model_dir, tmp_path / "cache", flag)


@pytest.mark.parametrize("task", ["titanic", "binary", "multiclass", "regression"])
def test_a_worker_switches_its_batches_to_checked_compiled_trees_with_the_same_answers(
    task: str, task_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = task_models[task]
    predictor = Predictor(artifact.load(model_dir))
    manifest = predictor.manifest
    decoded = decode(body_of(task_models, task), "text/csv", manifest.inputs, manifest.target)
    assert decoded.rows > 16
    before = predictor.scores(decoded)
    explained_before = predictor.explained(decoded)
    assert compile_model(model_dir, tmp_path / "cache") == 0
    with lightsage_log(caplog) as said:
        trees = watch_for(model_dir, tmp_path, predictor).run(predictor, interval=0.01)
    assert isinstance(trees, CompiledTrees) and predictor.batch_trees is trees
    assert any("answers batches with them" in line for line in said)
    after = predictor.scores(decoded)
    assert relative_difference(after, before) <= 1e-9
    explained_after = predictor.explained(decoded)  # explanations stay on LightGBM
    assert all(np.array_equal(a, b) for a, b in zip(explained_before, explained_after, strict=True))


def test_a_worker_waits_for_the_object_and_stays_on_lightgbm_once_the_compile_ended_without_one(
    task_models: dict[str, Path], tmp_path: Path
) -> None:
    model_dir = task_models["titanic"]
    predictor = Predictor(artifact.load(model_dir))
    watch = watch_for(model_dir, tmp_path, predictor, ended=False)
    thread = watch.start(predictor)
    thread.join(0.3)
    assert thread.is_alive() and isinstance(predictor.batch_trees, LightGBMTrees)
    watch.ended_flag.touch()
    thread.join(5)
    assert not thread.is_alive() and isinstance(predictor.batch_trees, LightGBMTrees)


def test_a_worker_refuses_an_object_that_fails_the_check(
    task_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another model's trees under this model's key: the probe check catches them."""
    model_dir = task_models["titanic"]
    predictor = Predictor(artifact.load(model_dir))
    text = (model_dir / "model.txt").read_bytes()
    forest = Forest.from_text(text.decode())
    path = object_path(prepare_cache(tmp_path / "cache"), cache_key(compiled.sha256(text), forest))
    other = make_ml_root(tmp_path / "other", {"n_estimators": "7", "num_leaves": "3"})
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(other)}))
    assert compile_model(other / "model", tmp_path / "other-cache") == 0
    shutil.copy(next((tmp_path / "other-cache").iterdir()), path)
    path.chmod(0o600)
    with lightsage_log(caplog) as said:
        assert watch_for(model_dir, tmp_path, predictor).run(predictor, interval=0.01) is None
    assert isinstance(predictor.batch_trees, LightGBMTrees)
    assert any("LightGBM keeps answering" in line or "not used by this worker" in line for line in said)


def test_a_worker_only_watches_under_serve(task_models: dict[str, Path]) -> None:
    model = artifact.load(task_models["titanic"])
    assert Watch.from_environment(model, task_models["titanic"], {}) is None
    environ = {"BYOC_COMPILED_TREES_CACHE": "/tmp/c", "BYOC_COMPILE_ENDED_FLAG": "/tmp/e"}
    watch = Watch.from_environment(model, task_models["titanic"], environ)
    assert watch is not None and watch.cache == Path("/tmp/c")


def test_the_compile_process_runs_alone_under_its_limits(
    task_models: dict[str, Path], tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "lightsage.serving.compiled", str(task_models["titanic"]), str(tmp_path)]
    finished = subprocess.run([*command, "--seconds", "60"], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "[serve] compiled trees: compiled in" in finished.stderr
    assert len(list(tmp_path.glob("trees-*.o"))) == 1
