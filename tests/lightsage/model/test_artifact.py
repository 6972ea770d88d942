"""The artifact is data: saving is atomic, loading parses JSON and LightGBM text only, and checks itself:
digests, the manifest, the recipe's state and a probe of typical rows, so a model that loads answers."""

import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.model.artifact import ModelFiles, ModelLoadError, load, read_state, write_state
from lightsage.recipes.base import image_source, load_recipe
from lightsage.serving.app import create_app
from lightsage.training.main import train

from testsupport import TITANIC_MODEL_FILES, MLRootFactory, lightsage_log

TITANIC_TABLES = [name for name in TITANIC_MODEL_FILES if artifact.TABLE_FILE.fullmatch(name)]
TITANIC_SOURCE = image_source(load_recipe("titanic")).to_json()


@pytest.fixture
def model_copy(trained_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(trained_model_dir, target)
    return target


@pytest.fixture
def tabular_copy(tabular_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "tabular"
    shutil.copytree(tabular_model_dir, target)
    return target


def edit_manifest(model_dir: Path, **changes: object) -> None:
    path = model_dir / artifact.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def rewrite(model_dir: Path, name: str, data: bytes) -> None:
    """Replace a model file and record its digest: a model whose files belong together, but are wrong."""
    (model_dir / name).write_bytes(data)
    path = model_dir / artifact.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["files"][name] = artifact.sha256(data)
    path.write_text(json.dumps(manifest))


def edit_state(model_dir: Path, change: Callable[[Any], Any]) -> None:
    state = json.loads((model_dir / artifact.STATE_FILE).read_text())
    rewrite(model_dir, artifact.STATE_FILE, json.dumps(change(state)).encode())


def table_file(model_dir: Path, group: str) -> str:
    """The Parquet file of one of the Titanic state's group tables."""
    return str(json.loads((model_dir / artifact.STATE_FILE).read_text())[group]["__table__"])


def rewrite_table(model_dir: Path, group: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    name = table_file(model_dir, group)
    frame = change(pq.read_table(model_dir / name).to_pandas())
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    rewrite(model_dir, name, buffer.getvalue())


def refused(model_dir: Path) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load(model_dir)
    return str(caught.value)


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
        (
            {"recipe": {"name": "nosuch", "version": 1, "source": TITANIC_SOURCE}},
            "names a recipe this image lacks",
        ),
        (
            {"recipe": {"name": "titanic", "version": 1, "source": TITANIC_SOURCE}},
            "trained with recipe 'titanic' version 1; this image has version 4",
        ),
        ({"task": "multiclass"}, "predicts 1 value(s) per row; a multiclass model with 2 classes needs 2"),
        ({"classes": [0]}, "a binary model needs at least two classes"),
        ({"features": ["pclass", "sex"]}, "model.txt reads 5 features; manifest.json lists 2"),
        (
            {"inputs": [{"name": "Age", "type": "number"}]},
            "input columns Age (number); recipe 'titanic' reads",
        ),
        ({"inputs": [{"name": "Age", "type": "number"}, {"name": "Age", "type": "number"}]}, "listed twice"),
        # a class listed twice would give answers with one key twice: a client reads the wrong probability
        ({"classes": [1, 1]}, "'classes' lists 1 twice"),
        ({"classes": [1, "1"]}, "'classes' lists 1 and '1', one class twice"),
        ({"classes": [1, 1.0]}, "'classes' lists 1 and 1.0, one class twice"),
        ({"classes": [0, 1, 2]}, "a binary model has two classes; manifest.json lists 3"),
        ({"classes": [0, True]}, "class True is not a number or a string"),
        ({"features": ["pclass"] * 8}, "'features' lists pclass more than once"),
        ({"categorical_features": ["cabin"]}, "names features that 'features' does not list"),
        ({"categorical_features": ["sex"]}, "reads the categorical features []; manifest.json lists ['sex']"),
        ({"best_iteration": -1}, "best_iteration -1 is not a whole number of rounds"),
        ({"hyperparameters": []}, "'hyperparameters' and 'libraries' must be JSON objects"),
        ({"files": None}, "'files' must map each file of the model to its sha256"),
        ({"format_version": True}, "is not a manifest this version reads"),
    ],
)
def test_an_inconsistent_model_is_refused_at_load(model_copy: Path, changes: dict, fragment: str) -> None:
    edit_manifest(model_copy, **changes)
    with pytest.raises(ModelLoadError) as caught:
        load(model_copy)
    assert fragment in str(caught.value)


def test_corrupt_files_are_named(model_copy: Path) -> None:
    booster = (model_copy / artifact.BOOSTER_FILE).read_bytes()
    rewrite(model_copy, artifact.BOOSTER_FILE, b"not a model")
    with pytest.raises(ModelLoadError, match=r"model\.txt is not a LightGBM model"):
        load(model_copy)
    rewrite(model_copy, artifact.BOOSTER_FILE, booster)
    rewrite(model_copy, artifact.STATE_FILE, b"[1, 2")
    with pytest.raises(ModelLoadError, match=r"recipe_state\.json is not valid JSON"):
        load(model_copy)
    (model_copy / artifact.MANIFEST_FILE).write_bytes(b"\xff{}")
    with pytest.raises(ModelLoadError, match=r"manifest\.json is not UTF-8 text"):
        load(model_copy)


def round_trip(state: Any, folder: Path) -> Any:
    with (folder / artifact.STATE_FILE).open("w") as handle:
        write_state(handle, state, folder)
    return read_state(json.loads((folder / artifact.STATE_FILE).read_text()), ModelFiles(folder))


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
    loaded = read_state(json.loads((tmp_path / artifact.STATE_FILE).read_text()), ModelFiles(tmp_path))
    pd.testing.assert_frame_equal(loaded["groups"], groups)
    assert loaded["arrow"]["nested"].equals(state["arrow"]["nested"])
    assert loaded["lists"] == [1, "x", None, {"nested": 0.25}]


# Keys that look like the state's or the wire's markers, or like their escaped forms.
MARKER_LIKE_KEYS = ["__table__", "__wire__", "___table__", "____table__", "__", "___", "_", "kind", "__x"]


@pytest.mark.parametrize("key", MARKER_LIKE_KEYS)
def test_any_key_of_the_state_reads_back_as_itself(tmp_path: Path, key: str) -> None:
    """Issue 18, item 8: a column named `__table__` was taken for a table reference and never loaded."""
    state = {
        "categories": {key: ["a", "b"], "x": [1.0]},
        key: {key: "recipe_state-1.parquet", "kind": "arrow"},
    }
    assert round_trip(state, tmp_path) == state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from(MARKER_LIKE_KEYS) | st.text(max_size=10), children, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_every_json_state_round_trips(tmp_path: Path, state: Any) -> None:
    assert round_trip({"state": state}, tmp_path) == {"state": state}


@pytest.mark.parametrize(
    "reference",
    [
        {"__table__": "recipe_state-1.parquet"},
        {"__table__": "recipe_state-1.parquet", "kind": "pickle"},
        {"__table__": "recipe_state-1.parquet", "kind": "arrow", "extra": 1},
        {"__other__": 1},
    ],
)
def test_a_marker_out_of_its_exact_form_is_refused(tmp_path: Path, reference: dict[str, Any]) -> None:
    with pytest.raises(ModelLoadError, match="which is not a table reference"):
        read_state({"groups": reference}, ModelFiles(tmp_path))


def test_a_version_1_state_with_inline_tables_still_loads(tmp_path: Path) -> None:
    inline = {"groups": {"__table__": {"key": ["a", "b"], "count": [1, 2]}}, "n": 3}
    loaded = read_state(inline, ModelFiles(tmp_path), format_version=1)
    pd.testing.assert_frame_equal(loaded["groups"], pd.DataFrame({"key": ["a", "b"], "count": [1, 2]}))
    assert loaded["n"] == 3


def test_a_missing_or_corrupt_table_file_is_named(model_copy: Path) -> None:
    first, second = artifact.table_files(model_copy)[:2]
    original = first.read_bytes()
    first.unlink()
    with pytest.raises(ModelLoadError, match=rf"{first.name} is missing"):
        load(model_copy)
    rewrite(model_copy, first.name, b"PAR1 not really")
    with pytest.raises(ModelLoadError, match=rf"{first.name} is not a readable Parquet file"):
        load(model_copy)
    rewrite(model_copy, first.name, original)
    state = (model_copy / artifact.STATE_FILE).read_text()
    rewrite(model_copy, artifact.STATE_FILE, state.replace(second.name, "../../etc/passwd").encode())
    with pytest.raises(ModelLoadError, match=r"names a table file '\.\./\.\./etc/passwd' that a model never"):
        load(model_copy)


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


# -- digests: the files of one model, together ------------------------------------------------------------


def test_the_manifest_records_the_digest_of_every_file_the_model_is_loaded_from(
    trained_model_dir: Path,
) -> None:
    manifest = json.loads((trained_model_dir / artifact.MANIFEST_FILE).read_text())
    expected = [
        artifact.BOOSTER_FILE,
        artifact.STATE_FILE,
        *(p.name for p in artifact.table_files(trained_model_dir)),
        "statistics.json",
        "constraints.json",
    ]
    assert manifest["format_version"] == artifact.FORMAT_VERSION == 4
    assert sorted(manifest["files"]) == sorted(expected)
    for name, digest in manifest["files"].items():
        assert digest == artifact.sha256((trained_model_dir / name).read_bytes())
    assert load(trained_model_dir).digests == manifest["files"]


def test_swapping_two_state_tables_of_the_same_schema_is_refused(model_copy: Path) -> None:
    """Issue 18: the women-and-boys family and ticket tables have one schema; swapped, they loaded and the
    model answered differently."""
    first, third = (
        model_copy / table_file(model_copy, "wc_family"),
        model_copy / table_file(model_copy, "wc_ticket"),
    )
    first_bytes, third_bytes = first.read_bytes(), third.read_bytes()
    first.write_bytes(third_bytes)
    third.write_bytes(first_bytes)
    assert f"{first} is not the file this model was saved with" in refused(model_copy)


@pytest.mark.parametrize(
    "name",
    [artifact.BOOSTER_FILE, artifact.STATE_FILE, *TITANIC_TABLES, "statistics.json", "constraints.json"],
)
def test_any_file_of_another_model_or_changed_is_refused_by_its_digest(
    model_copy: Path, tabular_model_dir: Path, name: str
) -> None:
    """Each file: one byte changed (its meaning kept where possible), or another model's file put in."""
    data = (model_copy / name).read_bytes()
    changed = data.replace(b"\n", b"\n\n", 1) if name != artifact.STATE_FILE else data + b" "
    (model_copy / name).write_bytes(changed)
    assert "is not the file this model was saved with" in refused(model_copy)
    if (tabular_model_dir / name).exists():
        shutil.copy(tabular_model_dir / name, model_copy / name)
        assert "is not the file this model was saved with" in refused(model_copy)


def test_the_data_baseline_loads_with_the_model_and_is_both_files_or_neither(model_copy: Path) -> None:
    model = load(model_copy)
    assert model.baseline is not None
    assert model.baseline.statistics == json.loads((model_copy / "statistics.json").read_text())
    assert [f["name"] for f in model.baseline.constraints["features"]] == list(
        model.manifest.inputs.feature_names
    )
    manifest = json.loads((model_copy / artifact.MANIFEST_FILE).read_text())
    del manifest["files"]["constraints.json"]
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "'files' records statistics.json without constraints.json" in refused(model_copy)
    del manifest["files"]["statistics.json"]
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert load(model_copy).baseline is None


def test_a_model_trained_without_the_baseline_has_none(ml_root: MLRootFactory) -> None:
    root = ml_root(hyperparameters={"baseline": "false", "n_estimators": "10"})
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    names = {path.name for path in (root / "model").iterdir()}
    assert names == set(TITANIC_MODEL_FILES) - {"statistics.json", "constraints.json"}
    assert load(root / "model").baseline is None


def test_a_digest_for_a_file_the_model_does_not_use_is_refused(model_copy: Path) -> None:
    manifest = json.loads((model_copy / artifact.MANIFEST_FILE).read_text())
    manifest["files"]["recipe_state-9.parquet"] = manifest["files"][artifact.STATE_FILE]
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "records recipe_state-9.parquet, which recipe_state.json does not use" in refused(model_copy)
    del manifest["files"]["recipe_state-9.parquet"], manifest["files"][artifact.BOOSTER_FILE]
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "'files' records no digest for model.txt" in refused(model_copy)


@pytest.mark.parametrize("version", [1, 2])
def test_models_of_older_formats_load_unchecked_by_digests_and_say_so(
    model_copy: Path, version: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Formats 1 and 2 recorded no digests: they load as before, with a log line; format 1 kept its
    tables inside recipe_state.json."""
    manifest = json.loads((model_copy / artifact.MANIFEST_FILE).read_text())
    del manifest["files"]
    manifest["format_version"] = version
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    if version == 1:
        state = json.loads((model_copy / artifact.STATE_FILE).read_text())
        for group, reference in state.items():
            table = pq.read_table(model_copy / reference["__table__"]).to_pydict()
            state[group] = {"__table__": table}
            (model_copy / reference["__table__"]).unlink()
        (model_copy / artifact.STATE_FILE).write_text(json.dumps(state))
    with lightsage_log(caplog) as said:
        model = load(model_copy)
    assert model.manifest.format_version == version and model.booster.current_iteration() > 0
    assert len(said) == 1 and f"format version {version} records no digests" in said[0]
    assert load(model_copy).manifest.format_version == version
    manifest["format_version"] = 3
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "'files' must map each file of the model to its sha256" in refused(model_copy)


# -- the recipe's state, checked by the recipe, and a probe of typical rows -------------------------------


def request_scores(model_dir: Path, records: list[dict[str, Any]]) -> list[Any]:
    response = create_app(model_dir).test_client().post("/invocations", json=records)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(response.get_json()["predictions"])


def drop_key(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in mapping.items() if name != key}


def with_table(column: str, values: Any) -> Callable[[Any], Any]:
    return lambda state: {**state, "categories": {**state["categories"], column: values}}


def without_table(column: str) -> Callable[[Any], Any]:
    return lambda state: {**state, "categories": drop_key(state["categories"], column)}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        # issue 18, item 5: a category table missing from the state
        (without_table("Embarked"), "the state has no category table for column(s) Embarked"),
        (lambda s: {}, "the state has no 'categories' object"),
        # a category table of text holding numbers, or of numbers holding text
        (with_table("Sex", [1, 2]), "text column 'Sex' holds 1, not text"),
        (with_table("Pclass", ["1", "2"]), "number column 'Pclass' holds '1'"),
        (with_table("Pclass", [1, None]), "number column 'Pclass' holds None"),
        # issue 18, item 7: a repeated category (gave a raw pandas InvalidIndexError)
        (with_table("Sex", ["male", "female", "male"]), "'Sex' lists male more than once"),
        (with_table("Pclass", [3.0, 1, 3]), "'Pclass' lists 3, 3.0 more than once"),
        (with_table("Age", [1.0]), "tables for Age, which the model does not read as categories"),
        (with_table("Sex", "male"), "'Sex' is not a list of at most 10000"),
    ],
    ids=["missing", "no categories", "numbers as text", "text as numbers", "null", "repeated text",
         "repeated number", "not a category column", "not a list"],
)  # fmt: skip
def test_a_tabular_state_that_does_not_fit_is_refused_naming_it(
    tabular_copy: Path, change: Callable[[Any], Any], fragment: str
) -> None:
    edit_state(tabular_copy, change)
    message = refused(tabular_copy)
    assert "recipe_state.json does not fit recipe 'tabular'" in message and fragment in message


def with_text_counts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(count=frame["count"].astype(str))


@pytest.mark.parametrize(
    ("group", "change", "fragment"),
    [
        # issue 18, item 5: a state table with text in a number column
        (
            "wc_ticket",
            with_text_counts,
            "'wc_ticket' table's count column is large_string, not whole numbers",
        ),
        ("wc_family", lambda f: f.assign(label_sum=f["label_sum"] + 0.5), "label_sum column is double"),
        (
            "wc_ticket",
            lambda f: f.assign(key=np.arange(len(f))),
            "'wc_ticket' table's keys are int64, not text",
        ),
        # issue 18, item 7: a repeated key
        (
            "wc_family",
            lambda f: pd.concat([f, f.head(1)]),
            "'wc_family' table lists a key more than once",
        ),
        ("wc_family", lambda f: f.assign(key=f["key"].where(f.index > 0, None)), "or an empty key"),
        ("wc_ticket", lambda f: f.assign(label_sum=f["count"] + 1), "survivor counts outside 0 to count"),
        ("wc_family", lambda f: f.drop(columns=["label_sum"]), "it needs key, count and label_sum"),
    ],
)
def test_a_titanic_state_that_does_not_fit_is_refused_naming_it(
    model_copy: Path, group: str, change: Callable[[pd.DataFrame], pd.DataFrame], fragment: str
) -> None:
    rewrite_table(model_copy, group, change)
    message = refused(model_copy)
    assert "recipe_state.json does not fit recipe 'titanic'" in message and fragment in message


def test_a_titanic_state_without_a_group_table_is_refused(model_copy: Path) -> None:
    unused = table_file(model_copy, "wc_family")
    edit_state(model_copy, lambda state: drop_key(state, "wc_family"))
    manifest = json.loads((model_copy / artifact.MANIFEST_FILE).read_text())  # its file is no longer used
    del manifest["files"][unused]
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "the state has no 'wc_family' table" in refused(model_copy)


@pytest.mark.parametrize(
    ("column", "choices", "fragment"),
    [
        # issue 18, item 5: a closed vocabulary that is not text
        ("Sex", [1, 2], "a text column's closed vocabulary holds 1, which is not trimmed, non-empty text"),
        ("Sex", ["male", "Male"], "its closed vocabulary lists Male, male more than once"),
        ("Sex", ["male", " female"], "holds ' female', which is not trimmed"),
        (
            "Pclass",
            ["1", 2, 3],
            "a number column's closed vocabulary holds '1', which is not a finite number",
        ),
        ("Pclass", [1, 2, True], "holds True, which is not a finite number"),
        ("Sex", "male", "its closed vocabulary must be a list"),
        ("Sex", ["female", "male"], "recipe 'titanic' reads"),  # another vocabulary than the recipe declares
    ],
)
def test_a_closed_vocabulary_that_a_model_never_holds_is_refused(
    model_copy: Path, column: str, choices: Any, fragment: str
) -> None:
    manifest = json.loads((model_copy / artifact.MANIFEST_FILE).read_text())
    for entry in manifest["inputs"]:
        if entry["name"] == column:
            entry["choices"] = choices
    (model_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert fragment in refused(model_copy)


def test_a_recipe_hyperparameter_of_the_wrong_type_or_missing_is_refused(tabular_copy: Path) -> None:
    manifest = json.loads((tabular_copy / artifact.MANIFEST_FILE).read_text())
    manifest["hyperparameters"]["max_categories"] = "lots"
    (tabular_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "hyperparameter 'max_categories': 'lots' is not a valid int" in refused(tabular_copy)
    del manifest["hyperparameters"]["max_categories"]
    (tabular_copy / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "lacks recipe 'tabular''s hyperparameter(s) max_categories" in refused(tabular_copy)


@pytest.mark.parametrize("name", [artifact.MANIFEST_FILE, artifact.STATE_FILE])
@pytest.mark.parametrize("shape", ["[", '{"a":'])
def test_deeply_nested_json_is_named_not_a_recursion_error(model_copy: Path, name: str, shape: str) -> None:
    """Issue 18, item 7: 100,000 levels gave a RecursionError traceback."""
    nested = (shape * 100_000 + "1" + ("]" if shape == "[" else "}") * 100_000).encode()
    if name == artifact.MANIFEST_FILE:
        (model_copy / name).write_bytes(nested)
    else:
        rewrite(model_copy, name, nested)
    assert f"{name} is nested too deeply" in refused(model_copy)


def test_json_nested_just_below_the_parsers_limit_is_named_too(model_copy: Path) -> None:
    """Deep enough to parse, then too deep to walk: still a named reason."""
    for depth in (900, 990):
        rewrite(model_copy, artifact.STATE_FILE, ('{"a":' * depth + "1" + "}" * depth).encode())
        message = refused(model_copy)
        assert "recipe_state.json" in message


TABULAR_COLUMNS = ["Pclass", "Sex", "Ticket", "Cabin", "Embarked"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from([*TABULAR_COLUMNS, "Age"]),
        st.lists(
            st.none()
            | st.booleans()
            | st.integers(-3, 3)
            | st.floats(allow_nan=False, allow_infinity=False, width=16)
            | st.sampled_from(["male", "female", "S", "C", "1", "a"]),
            max_size=4,
        ),
        max_size=7,
    )
)
def test_a_tabular_model_that_loads_answers_requests(
    tabular_model_dir: Path, tmp_path: Path, tables: dict
) -> None:
    """The class of item 5: whatever the category tables hold, either the model is refused at load, or
    requests with ordinary values get answers (never a 500 after /ping said 200)."""
    model_dir = Path(tempfile.mkdtemp(dir=tmp_path)) / "model"
    shutil.copytree(tabular_model_dir, model_dir)
    edit_state(model_dir, lambda state: {"categories": {**state["categories"], **tables}})
    try:
        load(model_dir)
    except ModelLoadError:
        return
    records = [
        {"Pclass": 1, "Sex": "male", "Age": 30, "SibSp": 0, "Parch": 0, "Ticket": "1601", "Fare": 7.25,
         "Cabin": "C85", "Embarked": "S"},
        {"Pclass": 3.0, "Sex": "female", "Age": None, "SibSp": 1, "Parch": 2, "Ticket": "a", "Fare": None,
         "Cabin": None, "Embarked": "C"},
    ]  # fmt: skip
    assert len(request_scores(model_dir, records)) == 2
    assert len(request_scores(model_dir, records * 10)) == 20  # the batch path


def test_the_probe_names_a_recipe_whose_two_paths_disagree(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transform_row is held to transform's answers on the saved state, at load."""
    from lightsage.recipes import titanic

    original = titanic.Titanic.transform_row
    monkeypatch.setattr(titanic.Titanic, "transform_row", lambda self, row: [*original(self, row)[:-1], 7.0])
    message = refused(model_copy)
    assert "transform_row and transform disagree on feature 'wcg_all_survived'" in message
