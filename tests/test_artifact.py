"""The artifact is data: saving is atomic, loading parses JSON and LightGBM text only, and checks itself."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from byoc import artifact
from byoc.artifact import ModelLoadError, load, read_state, write_state


@pytest.fixture
def model_copy(trained_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(trained_model_dir, target)
    return target


def edit_manifest(model_dir: Path, **changes: object) -> None:
    path = model_dir / artifact.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_a_trained_model_loads_and_rebuilds_its_recipe(trained_model_dir: Path) -> None:
    model = load(trained_model_dir)
    assert model.manifest.recipe == "titanic" and model.manifest.classes == (0, 1)
    assert model.booster.num_feature() == len(model.manifest.features) == 5
    assert len(model.recipe.state["wc_family"]) > 100 and len(model.recipe.state["wc_ticket"]) > 100


def test_a_planted_pickle_is_never_opened(model_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (model_copy / "model.joblib").write_bytes(payload)
    (model_copy / "recipe_state.pkl").write_bytes(payload)
    load(model_copy)
    assert not marker.exists()


def test_an_old_artifact_gets_a_retrain_message(model_copy: Path) -> None:
    for name in artifact.ARTIFACT_FILES:
        (model_copy / name).unlink()
    (model_copy / "model.joblib").write_bytes(b"\x80\x04junk")
    (model_copy / "input_schema.json").write_text("{}")
    with pytest.raises(
        ModelLoadError, match=r"older version of this image .*retrain the model with this image"
    ):
        load(model_copy)


def test_an_empty_model_folder_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"manifest\.json is missing \(the model folder holds: nothing\)"
    ):
        load(tmp_path)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"format_version": 99}, "is not a manifest this version reads"),
        ({"recipe": {"name": "nosuch", "version": 1}}, "names a recipe this image lacks"),
        (
            {"recipe": {"name": "titanic", "version": 1}},
            "trained with recipe 'titanic' version 1; this image has version 4",
        ),
        ({"task": "multiclass"}, "predicts 1 value(s) per row; a multiclass model with 2 classes needs 2"),
        ({"classes": [0]}, "a binary model needs at least two classes"),
        ({"features": ["pclass", "sex"]}, "model.txt reads 5 features; manifest.json lists 2"),
        ({"inputs": [{"name": "Age", "type": "number"}]}, "does not fit recipe 'titanic'"),
        ({"inputs": [{"name": "Age", "type": "number"}, {"name": "Age", "type": "number"}]}, "listed twice"),
    ],
)
def test_an_inconsistent_model_is_refused_at_load(model_copy: Path, changes: dict, fragment: str) -> None:
    edit_manifest(model_copy, **changes)
    with pytest.raises(ModelLoadError) as caught:
        load(model_copy)
    assert fragment in str(caught.value)


def test_corrupt_files_are_named(model_copy: Path) -> None:
    booster = (model_copy / artifact.BOOSTER_FILE).read_bytes()
    (model_copy / artifact.BOOSTER_FILE).write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"model\.txt is not a LightGBM model"):
        load(model_copy)
    (model_copy / artifact.BOOSTER_FILE).write_bytes(booster)
    (model_copy / artifact.STATE_FILE).write_text("[1, 2")
    with pytest.raises(ModelLoadError, match=r"recipe_state\.json is not valid JSON"):
        load(model_copy)


def test_state_tables_round_trip_through_parquet(tmp_path: Path) -> None:
    groups = pd.DataFrame({"key": ["a", 'b"c'], "count": [1, 2], "label_sum": [0.5, 2.0]})
    state = {
        "groups": groups,
        "arrow": {"nested": pa.table({"key": ["x", None], "count": np.array([3, 4], dtype=np.int32)})},
        "lists": [1, "x", None, {"nested": np.float64(0.25)}],
    }
    with (tmp_path / artifact.STATE_FILE).open("w") as handle:
        tables = write_state(handle, state, tmp_path)
    assert tables == ["recipe_state-1.parquet", "recipe_state-2.parquet"]
    assert all(artifact.is_artifact_file(name) for name in tables)
    loaded = read_state(json.loads((tmp_path / artifact.STATE_FILE).read_text()), tmp_path)
    pd.testing.assert_frame_equal(loaded["groups"], groups)
    assert loaded["arrow"]["nested"].equals(state["arrow"]["nested"])
    assert loaded["lists"] == [1, "x", None, {"nested": 0.25}]


def test_a_version_1_state_with_inline_tables_still_loads(tmp_path: Path) -> None:
    inline = {"groups": {"__table__": {"key": ["a", "b"], "count": [1, 2]}}, "n": 3}
    loaded = read_state(inline, tmp_path)
    pd.testing.assert_frame_equal(loaded["groups"], pd.DataFrame({"key": ["a", "b"], "count": [1, 2]}))
    assert loaded["n"] == 3


def test_a_missing_or_corrupt_table_file_is_named(model_copy: Path) -> None:
    first, second = artifact.table_files(model_copy)[:2]
    original = first.read_bytes()
    first.unlink()
    with pytest.raises(ModelLoadError, match=rf"{first.name} is missing"):
        load(model_copy)
    first.write_bytes(b"PAR1 not really")
    with pytest.raises(ModelLoadError, match=rf"{first.name} is not a readable Parquet file"):
        load(model_copy)
    first.write_bytes(original)
    state = (model_copy / artifact.STATE_FILE).read_text()
    (model_copy / artifact.STATE_FILE).write_text(state.replace(second.name, "../../etc/passwd"))
    with pytest.raises(ModelLoadError, match=r"names a table file '\.\./\.\./etc/passwd' that a model never"):
        read_state(json.loads((model_copy / artifact.STATE_FILE).read_text()), model_copy)


def test_saving_again_removes_the_old_models_stale_tables(model_copy: Path) -> None:
    model = load(model_copy)
    stale = model_copy / "recipe_state-99.parquet"
    shutil.copy(artifact.table_files(model_copy)[0], stale)
    saved = artifact.save(model_copy, model.manifest, model.booster, model.recipe.state, {"x": 1})
    assert not stale.exists()
    assert set(saved) == {path.name for path in model_copy.iterdir()}
    load(model_copy)


def test_saving_over_a_model_replaces_every_file_or_none(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load(model_copy)
    before = {path.name: path.read_bytes() for path in model_copy.iterdir()}

    def broken(handle: object, state: object, folder: Path) -> list[str]:
        raise OSError("disk full")

    monkeypatch.setattr(artifact, "write_state", broken)
    with pytest.raises(OSError, match="disk full"):
        artifact.save(model_copy, model.manifest, model.booster, model.recipe.state, {"x": 1})
    assert {path.name: path.read_bytes() for path in model_copy.iterdir()} == before
