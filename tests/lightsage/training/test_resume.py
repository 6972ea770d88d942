"""Spot resume and warm start through `train` on the host: what a restarted or continued job builds."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest

from bench.tables import interaction_table
from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.serving.app import create_app
from lightsage.training.main import main, train

from testsupport import (
    TITANIC_MODEL_FILES,
    TRAIN_CSV,
    VALIDATION_CSV,
    WORKED_EXAMPLE_RECIPE,
    lightsage_log,
    make_ml_root,
)

DETERMINISTIC = {"subsample": "1.0", "colsample_bytree": "1.0"}
# conftest's `ml_root` fixture (imported by name, `conftest` may be tests/e2e's by the time this file loads)
MLRootFactory = Callable[..., Path]


def paths_of(root: Path) -> MLPaths:
    return MLPaths.from_environment({"BYOC_ML_ROOT": str(root)})


def run_main(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("BYOC_ML_ROOT", str(root))
    return main()


def set_hyperparameters(root: Path, values: dict[str, str]) -> None:
    """The next run's hyperparameters, with the worked example's recipe as make_ml_root writes it."""
    settings = {"recipe": WORKED_EXAMPLE_RECIPE, **values}
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(settings))
    shutil.rmtree(root / "model")
    (root / "model").mkdir()


def trees(model_dir: Path) -> str:
    text = (model_dir / "model.txt").read_text()
    return text[text.index("Tree=0") : text.index("end of trees")]


def checkpoint_rounds(root: Path) -> list[int]:
    return [int(path.name[11:20]) for path in sorted((root / "checkpoints").glob("checkpoint-*.json"))]


@pytest.mark.parametrize("settings", [DETERMINISTIC, {}], ids=["deterministic", "bagging"])
def test_a_restarted_job_resumes_and_builds_the_uninterrupted_model(
    tmp_path: Path, settings: dict[str, str]
) -> None:
    uninterrupted = train(paths_of(make_ml_root(tmp_path / "whole", {"n_estimators": "200", **settings})))

    root = make_ml_root(tmp_path / "spot", {"n_estimators": "120", "checkpoint_interval": "40", **settings})
    first = train(paths_of(root))  # then "interrupted": the restart asks for the remaining rounds
    assert first["resumed_from_iteration"] is None and checkpoint_rounds(root) == [40, 80, 120]
    set_hyperparameters(root, {"n_estimators": "200", "checkpoint_interval": "40", **settings})
    resumed = train(paths_of(root))

    assert resumed["resumed_from_iteration"] == 120
    assert resumed["iterations"] == 200 == uninterrupted["iterations"]
    assert abs(resumed["validation"]["auc"] - uninterrupted["validation"]["auc"]) < 0.01
    if settings == DETERMINISTIC:  # no bagging: the very same trees
        assert trees(root / "model") == trees(tmp_path / "whole" / "model")
    assert checkpoint_rounds(root) == [120, 160, 200]


def test_early_stopping_is_recorded_and_used_after_a_resume(tmp_path: Path) -> None:
    settings = {
        "learning_rate": "0.1",  # the best round comes well after the 30 rounds the spot job trains first
        "early_stopping_rounds": "20",
        "checkpoint_interval": "10",
        **DETERMINISTIC,
    }
    whole = train(paths_of(make_ml_root(tmp_path / "whole", {"n_estimators": "1000", **settings})))
    assert 30 < whole["best_iteration"] < 1000  # stopped early (the saved model keeps the best rounds)

    root = make_ml_root(tmp_path / "spot", {"n_estimators": "30", **settings})
    train(paths_of(root))
    set_hyperparameters(root, {"n_estimators": "1000", **settings})
    resumed = train(paths_of(root))
    assert resumed["resumed_from_iteration"] == 30
    assert (resumed["best_iteration"], resumed["iterations"]) == (
        whole["best_iteration"],
        whole["iterations"],
    )
    saved = lgb.Booster(model_file=str(root / "model" / "model.txt"))
    assert saved.current_iteration() == whole["best_iteration"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"learning_rate": "0.05"}, "hyperparameter 'learning_rate' is 0.03 there, 0.05 here"),
        ({"random_state": "7"}, "hyperparameter 'random_state' is 42 there, 7 here"),
    ],
)
def test_another_jobs_checkpoints_are_refused(
    ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch, change: dict[str, str], named: str
) -> None:
    root = ml_root(hyperparameters={"n_estimators": "20", "checkpoint_interval": "10"})
    train(paths_of(root))
    set_hyperparameters(root, {"n_estimators": "20", "checkpoint_interval": "10", **change})
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert "is a checkpoint of another job" in reason and named in reason
    assert f"to start fresh, empty {root / 'checkpoints'}" in reason  # issue 18, item 13
    assert list((root / "model").iterdir()) == []


def test_changed_data_is_not_resumed(ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    root = ml_root(hyperparameters={"n_estimators": "20", "checkpoint_interval": "10"})
    train(paths_of(root))
    frame = pd.read_csv(root / "input" / "data" / "train" / "train.csv", dtype=str, keep_default_na=False)
    frame.loc[3, "Sex"] = {"male": "female", "female": "male"}[frame.loc[3, "Sex"]]  # a column features read
    frame.to_csv(root / "input" / "data" / "train" / "train.csv", index=False)
    set_hyperparameters(root, {"n_estimators": "20", "checkpoint_interval": "10"})
    assert run_main(root, monkeypatch) == 1
    assert (
        "the training data (features and labels on each host) differs"
        in (root / "output" / "failure").read_text()
    )


def test_a_longer_jobs_checkpoints_never_give_more_rounds_than_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 12: a job that found a finished 40-round job's checkpoint saved 40 rounds for
    n_estimators=10. A checkpoint of more rounds than asked is passed over for an older one (the very model
    an uninterrupted run builds on the way); when none is left, the job fails naming the folder to empty."""
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "40", "checkpoint_interval": "10"})
    train(paths_of(root))
    assert checkpoint_rounds(root) == [20, 30, 40]
    set_hyperparameters(root, {"n_estimators": "30", "checkpoint_interval": "10"})
    resumed = train(paths_of(root))
    assert (resumed["resumed_from_iteration"], resumed["iterations"]) == (30, 30)
    fresh = make_ml_root(tmp_path / "fresh", {"n_estimators": "30", "checkpoint_interval": "0"})
    train(paths_of(fresh))
    assert trees(root / "model") == trees(fresh / "model")

    set_hyperparameters(root, {"n_estimators": "10", "checkpoint_interval": "10"})
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert "holds more rounds than the 10 this job trains" in reason
    assert f"to start fresh, empty {root / 'checkpoints'}" in reason
    assert list((root / "model").iterdir()) == []

    shutil.rmtree(root / "checkpoints")
    assert run_main(root, monkeypatch) == 0
    assert lgb.Booster(model_file=str(root / "model" / "model.txt")).current_iteration() == 10


def test_a_rerun_in_the_same_folder_says_first_that_it_resumes_and_how_to_start_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18, item 13: re-running `train` in the same /opt/ml resumed silently but for one log line."""
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "20", "checkpoint_interval": "10"})
    train(paths_of(root))
    capsys.readouterr()
    train(paths_of(root))
    lines = capsys.readouterr().out.splitlines()
    checkpoints = root / "checkpoints"
    assert lines[0].startswith(
        f"[train] checkpoints found in {checkpoints} (checkpoint-000000010.json, checkpoint-000000020.json): "
        "this job resumes from them if an earlier run of this same job"
    )
    assert lines[0].endswith(
        f"to start fresh, empty {checkpoints} (on SageMaker, give each job its own checkpoint_s3_uri)"
    )
    resumed = [line for line in lines if line.startswith("[train] resuming from checkpoint")]
    assert resumed == [
        f"[train] resuming from checkpoint {checkpoints}/checkpoint-000000020.json: 20 of 20 rounds are "
        "done, by an earlier run of this same job (same data and hyperparameters); to start fresh, empty "
        f"{checkpoints} (on SageMaker, give each job its own checkpoint_s3_uri)"
    ]


# -- a model folder used again (a local /opt/ml) ----------------------------------------------------------


def test_a_failed_run_leaves_no_earlier_model_for_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 17: a failed local run left the previous run's complete model, which serve served."""
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "20", "checkpoint_interval": "0"})
    assert run_main(root, monkeypatch) == 0
    assert sorted(path.name for path in (root / "model").iterdir()) == TITANIC_MODEL_FILES
    (root / "model" / "notes.txt").write_text("a user's own file")
    (root / "model" / ".staging-left-by-a-kill").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"recipe": WORKED_EXAMPLE_RECIPE, "num_leaves": "lots"})
    )
    assert run_main(root, monkeypatch) == 1
    assert "hyperparameter 'num_leaves'" in (root / "output" / "failure").read_text()
    assert [path.name for path in (root / "model").iterdir()] == ["notes.txt"]
    with pytest.raises(artifact.ModelLoadError, match=r"manifest\.json is missing"):
        artifact.load(root / "model")


def test_the_model_folder_is_emptied_before_anything_can_fail_with_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "20", "checkpoint_interval": "0"})
    train(paths_of(root))
    (root / "input" / "config" / "hyperparameters.json").write_text("{not json")
    capsys.readouterr()
    assert run_main(root, monkeypatch) == 1
    assert "hyperparameters.json is not valid JSON" in (root / "output" / "failure").read_text()
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        f"[train] removed the previous model from {root / 'model'} (constraints.json, manifest.json, "
    )
    assert first.endswith("a job that fails leaves no model behind")
    assert list((root / "model").iterdir()) == []


def test_a_warm_start_channel_that_is_the_model_folder_is_refused_before_it_is_emptied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "20", "checkpoint_interval": "0"})
    train(paths_of(root))
    before = sorted(path.name for path in (root / "model").iterdir())
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(root / "model"))
    assert run_main(root, monkeypatch) == 1
    assert "channel 'model'" in (root / "output" / "failure").read_text()
    assert "is the model folder" in (root / "output" / "failure").read_text()
    assert sorted(path.name for path in (root / "model").iterdir()) == before


# -- warm start ---------------------------------------------------------------------------------------------


def model_files(model_dir: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(model_dir.iterdir())]


def model_archive(model_dir: Path) -> list[tuple[str, bytes]]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(model_dir.iterdir()):
            archive.add(path, arcname=path.name)
    return [("model.tar.gz", buffer.getvalue())]


def channels(
    model: list[tuple[str, bytes]], train_csv: bytes | None = None
) -> dict[str, list[tuple[str, bytes]]]:
    return {
        "train": [("train.csv", train_csv if train_csv is not None else TRAIN_CSV.read_bytes())],
        "validation": [("validation.csv", VALIDATION_CSV.read_bytes())],
        "model": model,
    }


def state_files(model_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in model_dir.glob("recipe_state*")}


@pytest.mark.parametrize("packed", [model_files, model_archive], ids=["files", "model.tar.gz"])
def test_warm_start_continues_the_earlier_model(tmp_path: Path, packed: object) -> None:
    earlier = make_ml_root(tmp_path / "earlier", {"n_estimators": "50"})
    train(paths_of(earlier))
    root = make_ml_root(tmp_path / "warm", {"n_estimators": "30"}, channels(packed(earlier / "model")))  # type: ignore[operator]
    metrics = train(paths_of(root))
    assert (metrics["warm_start_iterations"], metrics["iterations"]) == (50, 80)
    assert lgb.Booster(model_file=str(root / "model" / "model.txt")).current_iteration() == 80
    # The earlier trees come first, unchanged; the recipe state is the earlier one.
    assert trees(root / "model").startswith(trees(earlier / "model").split("Tree=50")[0])
    assert len(state_files(root / "model")) == 3
    assert state_files(root / "model") == state_files(earlier / "model")
    assert metrics["validation"]["auc"] >= 0.85


def tabular_model(tmp_path: Path) -> list[tuple[str, bytes]]:
    """The files of a 20-round tabular model of Survived, as a `model` channel holds them."""
    earlier = make_ml_root(
        tmp_path / "earlier", {"recipe": "tabular", "target": "Survived", "n_estimators": "20"}
    )
    train(paths_of(earlier))
    return model_files(earlier / "model")


def test_warm_start_refuses_a_model_of_another_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = tabular_model(tmp_path)
    root = make_ml_root(tmp_path / "warm", {"recipe": "tabular", "target": "Pclass"}, channels(earlier))
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith("channel 'model' holds a model this job cannot continue")
    assert (
        "target 'Survived' there, 'Pclass' here" in reason and "task binary there, multiclass here" in reason
    )


def test_warm_start_refuses_data_without_the_models_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_fare = pd.read_csv(TRAIN_CSV, dtype=str, keep_default_na=False).drop(columns=["Fare"])
    root = make_ml_root(
        tmp_path / "warm",
        {"recipe": "tabular", "target": "Survived"},
        channels(tabular_model(tmp_path), without_fare.to_csv(index=False).encode()),
    )
    assert run_main(root, monkeypatch) == 1
    assert "the training data lacks its input column(s) Fare" in (root / "output" / "failure").read_text()


def test_warm_start_refuses_an_unreadable_archive(
    ml_root: MLRootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ml_root(channels=channels([("model.tar.gz", b"\x1f\x8b not really")]))
    assert run_main(root, monkeypatch) == 1
    assert (
        "channel 'model': model.tar.gz is not a readable model archive"
        in (root / "output" / "failure").read_text()
    )


def tar_of_folder(model_dir: Path, archive: Path, *members: str) -> list[tuple[str, bytes]]:
    """model.tar.gz as the `tar` command packs it, run in the model folder's parent or in the folder."""
    subprocess.run(["tar", "-czf", str(archive), *members], cwd=model_dir, check=True)
    return [("model.tar.gz", archive.read_bytes())]


def test_an_archive_packed_with_its_folder_names_what_it_holds_and_how_to_pack_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 14: `tar -czf model.tar.gz model` was reported as "the model folder holds: nothing"."""
    earlier = make_ml_root(tmp_path / "earlier", {"n_estimators": "20"})
    train(paths_of(earlier))
    packed_with_folder = tar_of_folder(earlier, tmp_path / "folder.tar.gz", "model")
    root = make_ml_root(tmp_path / "warm", {"n_estimators": "10"}, channels(packed_with_folder))
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith(
        "channel 'model': model.tar.gz holds no model file at its top level (it holds: model/, model/"
    )
    assert "pack the model's files themselves, not their folder: tar -C model -czf model.tar.gz ." in reason

    as_told = tar_of_folder(
        earlier / "model", tmp_path / "told.tar.gz", "."
    )  # members are ./manifest.json ...
    root = make_ml_root(tmp_path / "warm-told", {"n_estimators": "10"}, channels(as_told))
    assert train(paths_of(root))["iterations"] == 30


def test_a_channel_with_the_model_in_a_subfolder_names_what_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = make_ml_root(tmp_path / "earlier", {"n_estimators": "20"})
    train(paths_of(earlier))
    root = make_ml_root(tmp_path / "warm", {"n_estimators": "10"}, channels([]))
    shutil.copytree(earlier / "model", root / "input" / "data" / "model" / "model")
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith(
        "channel 'model' holds neither a model.tar.gz nor a model's files at its top level"
    )
    assert "(it holds: model/)" in reason


@pytest.mark.parametrize("link", ["the archive", "a model file", "the channel folder"])
def test_warm_start_reads_nothing_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: str
) -> None:
    """Issue 18, item 9, for the warm-start channel: a link is refused even when it points at a good model."""
    earlier = make_ml_root(tmp_path / "earlier", {"n_estimators": "20"})
    train(paths_of(earlier))
    archive = model_archive(earlier / "model")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "model.tar.gz").write_bytes(archive[0][1])
    files = [] if link == "the archive" else model_files(earlier / "model")
    root = make_ml_root(tmp_path / "warm", {"n_estimators": "10"}, channels(files))
    channel = root / "input" / "data" / "model"
    if link == "the archive":
        (channel / "model.tar.gz").symlink_to(outside / "model.tar.gz")
        named = f"{channel / 'model.tar.gz'} is a symbolic link, not a regular file"
    elif link == "a model file":
        (channel / "model.txt").unlink()
        (channel / "model.txt").symlink_to(earlier / "model" / "model.txt")
        named = f"{channel / 'model.txt'} is a symbolic link, not a regular file"
    else:
        shutil.rmtree(channel)
        channel.symlink_to(earlier / "model")
        named = f"{channel} is a symbolic link, not a folder"
    assert run_main(root, monkeypatch) == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith("channel 'model': ") and named in reason


def tabular_settings(**extra: str) -> dict[str, str]:
    """A fixed number of rounds: without the tabular recipe's early stopping, counts of trees are exact."""
    return {
        "recipe": "tabular",
        "target": "Survived",
        "n_estimators": "20",
        "early_stopping_rounds": "0",
        **extra,
    }


def test_warm_start_refuses_a_recipe_hyperparameter_it_cannot_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 16: a new categorical_columns was silently not applied, and recorded in the manifest."""
    earlier = make_ml_root(tmp_path / "earlier", tabular_settings())
    train(paths_of(earlier))
    for changed, named in [
        ({"categorical_columns": "Pclass"}, "categorical_columns is (none) in the model, (Pclass) here"),
        ({"ignore_columns": "Fare"}, "ignore_columns is (none) in the model, (Fare) here"),
        ({"max_categories": "5"}, "max_categories is 10000 in the model, 5 here"),
    ]:
        folder = tmp_path / f"warm-{next(iter(changed))}"
        root = make_ml_root(folder, tabular_settings(**changed), channels(model_files(earlier / "model")))
        assert run_main(root, monkeypatch) == 1
        reason = (root / "output" / "failure").read_text()
        assert reason.startswith("channel 'model' holds a model this job cannot continue: " + named)
        assert "a warm start keeps the model's columns and features" in reason.lower()
        assert list((root / "model").iterdir()) == []


def test_warm_start_keeps_the_models_recipe_hyperparameters_and_applies_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Left unset, a recipe hyperparameter is the model's, and the new manifest records what was done; a
    LightGBM knob applies to the new rounds."""
    earlier = make_ml_root(tmp_path / "earlier", tabular_settings(categorical_columns="Pclass"))
    train(paths_of(earlier))
    same = tabular_settings(categorical_columns='["Pclass"]', learning_rate="0.05")
    for name, settings in [("unset", tabular_settings(learning_rate="0.05")), ("same", same)]:
        root = make_ml_root(tmp_path / name, settings, channels(model_files(earlier / "model")))
        capsys.readouterr()
        metrics = train(paths_of(root))
        said = capsys.readouterr().out
        assert ("warm start: keeping the model's categorical_columns=(Pclass)" in said) == (name == "unset")
        manifest = json.loads((root / "model" / "manifest.json").read_text())
        assert manifest["hyperparameters"]["categorical_columns"] == ["Pclass"]
        assert (
            manifest["hyperparameters"]["learning_rate"]
            == 0.05
            == metrics["hyperparameters"]["learning_rate"]
        )
        assert "Pclass" in manifest["categorical_features"]
        model = artifact.load(root / "model")  # the load check holds the manifest to what was done
        assert model.booster.current_iteration() == 40


MARKER_LIKE_COLUMNS = ["__table__", "__wire__", "___table__", "__", "kind"]


def test_columns_named_like_the_formats_markers_train_serve_and_warm_start(tmp_path: Path) -> None:
    """Issue 18, item 8: a column named `__table__` collided with the state's table marker, so the model
    trained and then could never be served or warm started. The class: every name of that form."""
    frame = pd.read_csv(TRAIN_CSV, dtype=str, keep_default_na=False)
    frame = frame[["Survived", "Sex", "Embarked", "Pclass", "Age"]].rename(
        columns={"Sex": "__table__", "Embarked": "__wire__", "Pclass": "___table__"}
    )
    frame["__"] = frame["__table__"].str.upper()
    frame["kind"] = frame["__wire__"]
    csv = frame.to_csv(index=False).encode()
    data = {"train": [("train.csv", csv)]}
    earlier = make_ml_root(tmp_path / "earlier", tabular_settings(categorical_columns="___table__"), data)
    train(paths_of(earlier))
    state = json.loads((earlier / "model" / "recipe_state.json").read_text())
    assert sorted(artifact.load(earlier / "model").recipe.state["categories"]) == sorted(MARKER_LIKE_COLUMNS)
    assert "___table__" in state["categories"] and "____table__" in state["categories"]  # escaped on disk

    record = {"__table__": "female", "__wire__": "C", "___table__": 1, "Age": 30, "__": "FEMALE", "kind": "C"}
    response = create_app(earlier / "model").test_client().post("/invocations", json=[record])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["predictions"][0]["probability"] > 0.5

    warm = make_ml_root(tmp_path / "warm", tabular_settings(n_estimators="5"),
                        {**data, "model": model_files(earlier / "model")})  # fmt: skip
    assert train(paths_of(warm))["iterations"] == 25


def test_a_job_without_checkpoints_digests_its_data_only_when_it_finds_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fingerprint's data digest reads every feature: a job that writes no checkpoints and finds none in
    its folder skips it; one that finds a checkpoint still checks that it is its own."""
    from lightsage.training import job

    digested: list[int] = []
    real_digest = job.data_digest
    monkeypatch.setattr(
        job, "data_digest", lambda matrix: digested.append(matrix.rows) or real_digest(matrix)
    )
    root = make_ml_root(tmp_path / "ml", {"n_estimators": "20", "checkpoint_interval": "0"})
    train(paths_of(root))
    assert digested == [] and not (root / "checkpoints").exists()

    other = make_ml_root(tmp_path / "other", {"n_estimators": "20", "checkpoint_interval": "10"})
    train(paths_of(other))
    assert len(digested) == 1
    shutil.copytree(other / "checkpoints", root / "checkpoints")
    set_hyperparameters(root, {"n_estimators": "20", "checkpoint_interval": "0", "learning_rate": "0.05"})
    assert run_main(root, monkeypatch) == 1
    assert len(digested) == 2
    assert "is a checkpoint of another job" in (root / "output" / "failure").read_text()


@pytest.mark.parametrize("folds", ["3", "0"], ids=["averaged-folds", "refit"])
def test_a_job_resumed_in_its_search_builds_the_same_averaged_or_refitted_model(
    tmp_path: Path, folds: str
) -> None:
    """The folds' models and the refit start from nothing, as in the uninterrupted run, not from the scores
    the resumed search's training rows carry."""
    settings = {
        "recipe": "tabular",
        "target": "label",
        "ensemble_folds": folds,
        "checkpoint_interval": "20",
        "time_budget_seconds": "0",
        "time_budget_per_million_values": "0",
    }
    channels = {
        "train": [("train.csv", interaction_table(1_500, seed=1).to_csv(index=False).encode())],
        "validation": [("validation.csv", interaction_table(400, seed=2).to_csv(index=False).encode())],
    }
    root = make_ml_root(tmp_path / "ml", settings, channels)
    whole = train(paths_of(root))
    whole_trees = trees(root / "model")
    assert checkpoint_rounds(root)  # the search's, the last of which a rerun resumes from
    shutil.rmtree(root / "model")
    (root / "model").mkdir()
    resumed = train(paths_of(root))
    assert resumed["resumed_from_iteration"] == max(checkpoint_rounds(root))
    assert resumed["rounds"]["fold_rounds"] == whole["rounds"]["fold_rounds"]
    assert resumed["rounds"]["refit_rounds"] == whole["rounds"]["refit_rounds"]
    assert (resumed["rounds"]["fold_rounds"] is None) == (folds == "0")
    assert trees(root / "model") == whole_trees


def test_a_warm_start_refits_one_model_and_says_the_folds_are_not_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_ml_root(
        tmp_path / "warm", {"recipe": "tabular", "target": "Survived"}, channels(tabular_model(tmp_path))
    )
    with lightsage_log(caplog) as logged:
        metrics = train(paths_of(root))
    assert metrics["warm_start_iterations"] > 0
    assert metrics["rounds"]["fold_rounds"] is None and metrics["rounds"]["refit_rounds"] is not None
    assert any("ensemble_folds=3 is not applied to a warm start" in line for line in logged)
