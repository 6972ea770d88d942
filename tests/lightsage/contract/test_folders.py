"""lightsage.contract.folders, and every reader of a handed-over folder through it: `serve` and warm start
reading a model folder, `train` reading its checkpoints. Only regular files inside the folder are read; a
symbolic link is never followed, whatever it points to (issue 18, item 9)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lightsage.contract import folders
from lightsage.model import artifact
from lightsage.model.artifact import ModelLoadError, load
from lightsage.training.checkpoints import CheckpointError, CheckpointStore

from testsupport import TITANIC_MODEL_FILES, lightsage_log

PASSWD_LINE = "root:x:0:0"


def secret_file(tmp_path: Path) -> Path:
    """A file outside every folder that must never be read, with a recognisable content."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("TOP-SECRET-CONTENT\n")
    return secret


# What a link in the folder may point to: a system file, this process's environment, a file or folder
# outside, a file beside it (links inside pointing out or back in are links all the same), nothing.
LINK_TARGETS: dict[str, Callable[[Path, Path], str]] = {
    "/etc/passwd": lambda folder, tmp: "/etc/passwd",
    "/proc/self/environ": lambda folder, tmp: "/proc/self/environ",
    "a file outside, absolute": lambda folder, tmp: str(secret_file(tmp)),
    "a file outside, relative": lambda folder, tmp: os.path.relpath(secret_file(tmp), folder),
    "a folder outside": lambda folder, tmp: str(secret_file(tmp).parent),
    "a file inside": lambda folder, tmp: "metrics.json",
    "nothing": lambda folder, tmp: "does-not-exist",
}


@pytest.mark.parametrize("target", list(LINK_TARGETS))
def test_a_link_is_never_followed_whatever_it_points_to(tmp_path: Path, target: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    (folder / "link").symlink_to(LINK_TARGETS[target](folder, tmp_path))
    with pytest.raises(folders.UnsafeFile, match=r"link is a symbolic link, not a regular file") as caught:
        folders.read_bytes(folder, "link")
    assert "SECRET" not in str(caught.value) and PASSWD_LINE not in str(caught.value)
    assert folders.regular_files(folder) == ["metrics.json"]
    assert folders.listing(folder) == ["link (symbolic link)", "metrics.json"]


def test_a_folder_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "file").write_text("x")
    (tmp_path / "linked").symlink_to(real)
    with pytest.raises(folders.UnsafeFile, match=r"linked is a symbolic link, not a folder"):
        folders.read_bytes(tmp_path / "linked", "file")
    with pytest.raises(folders.UnsafeFile):
        folders.regular_files(tmp_path / "linked")
    assert folders.read_bytes(real, "file") == b"x"


def test_folders_fifos_and_other_names_are_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(folders.UnsafeFile, match="sub is a folder"):
        folders.read_bytes(tmp_path, "sub")
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(outcome, lambda: folders.read_bytes(tmp_path, "fifo")))
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], folders.UnsafeFile) and "fifo is a special file" in str(outcome[0])
    for name in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError, match="is not a file name"):
            folders.read_bytes(tmp_path, name)
    with pytest.raises(FileNotFoundError):
        folders.read_bytes(tmp_path, "absent")


def _capture(outcome: list[BaseException], action: Callable[[], object]) -> None:
    try:
        action()
    except BaseException as error:  # handed to the test thread
        outcome.append(error)


# -- the model folder (serve, warm start) ----------------------------------------------------------------


@pytest.fixture
def model_copy(trained_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(trained_model_dir, target)
    return target


@pytest.mark.parametrize("name", [name for name in TITANIC_MODEL_FILES if name != artifact.METRICS_FILE])
@pytest.mark.parametrize("target", list(LINK_TARGETS))
def test_serve_reads_no_model_file_through_a_link(
    model_copy: Path, tmp_path: Path, name: str, target: str
) -> None:
    (model_copy / name).unlink()
    (model_copy / name).symlink_to(LINK_TARGETS[target](model_copy, tmp_path))
    with pytest.raises(ModelLoadError) as caught:
        load(model_copy)
    message = str(caught.value)
    assert f"{model_copy / name} is a symbolic link, not a regular file" in message
    assert "SECRET" not in message and PASSWD_LINE not in message


def test_a_link_to_the_same_models_own_file_is_refused_too(model_copy: Path, tmp_path: Path) -> None:
    """The strongest case: the linked file is the right one, so only the rule refuses it."""
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in (artifact.BOOSTER_FILE, artifact.table_files(model_copy)[0].name):
        shutil.move(model_copy / name, kept / name)
        (model_copy / name).symlink_to(kept / name)
        with pytest.raises(ModelLoadError, match=rf"{name} is a symbolic link, not a regular file"):
            load(model_copy)
        (model_copy / name).unlink()
        shutil.move(kept / name, model_copy / name)
    load(model_copy)


def test_a_model_folder_that_is_a_link_or_holds_folders_is_refused(model_copy: Path, tmp_path: Path) -> None:
    (tmp_path / "linked").symlink_to(model_copy)
    with pytest.raises(ModelLoadError, match=r"linked is a symbolic link, not a folder"):
        load(tmp_path / "linked")
    shutil.move(model_copy / artifact.STATE_FILE, tmp_path / "state.json")
    (model_copy / artifact.STATE_FILE).mkdir()
    with pytest.raises(ModelLoadError, match=r"recipe_state\.json is a folder, not a regular file"):
        load(model_copy)


def test_a_folder_with_the_model_inside_a_subfolder_says_so(tmp_path: Path, trained_model_dir: Path) -> None:
    shutil.copytree(trained_model_dir, tmp_path / "outer" / "model")
    with pytest.raises(ModelLoadError, match=r"manifest\.json is missing \(the model folder holds: model/\)"):
        load(tmp_path / "outer")


# -- checkpoints (train) ---------------------------------------------------------------------------------


def checkpoint_store_with_one(tmp_path: Path) -> tuple[CheckpointStore, Path]:
    """A real checkpoint of a 2-round model, saved in a folder of its own."""
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(features, (features[:, 0] > 0).astype(float)), 2
    )
    store = CheckpointStore(tmp_path / "elsewhere")
    path = store.save(2, booster.model_to_string(), None, {"data": "d"})
    return store, path


@pytest.mark.parametrize("target", [*LINK_TARGETS, "a real checkpoint outside"])
def test_train_reads_no_checkpoint_through_a_link(
    tmp_path: Path, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, real = checkpoint_store_with_one(tmp_path)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "metrics.json").write_text("{}")
    pointed = (
        str(real) if target == "a real checkpoint outside" else LINK_TARGETS[target](checkpoints, tmp_path)
    )
    (checkpoints / real.name).symlink_to(pointed)
    with lightsage_log(caplog) as said:
        assert CheckpointStore(checkpoints).latest({"data": "d"}) is None
    assert said == [f"skipping checkpoint {real.name}: {checkpoints / real.name} is a symbolic link, not a "
                    "regular file: only regular files in the folder are read"]  # fmt: skip
    assert not any("SECRET" in line or PASSWD_LINE in line for line in said)


def test_a_checkpoint_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    store, _ = checkpoint_store_with_one(tmp_path)
    (tmp_path / "checkpoints").symlink_to(store.directory)
    with pytest.raises(
        CheckpointError, match=r"checkpoints is a symbolic link, not a folder.*to start fresh"
    ):
        CheckpointStore(tmp_path / "checkpoints").latest({"data": "d"})
    assert store.latest({"data": "d"}) is not None
