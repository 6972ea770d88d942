"""Spot resume and warm start through `train` on the host: what a restarted or continued job builds."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest

from byoc.contract import MLPaths
from byoc.training import main, train

from testsupport import TRAIN_CSV, VALIDATION_CSV, make_ml_root

DETERMINISTIC = {"subsample": "1.0", "colsample_bytree": "1.0"}
# conftest's `ml_root` fixture (imported by name, `conftest` may be tests/e2e's by the time this file loads)
MLRootFactory = Callable[..., Path]


def paths_of(root: Path) -> MLPaths:
    return MLPaths.from_environment({"BYOC_ML_ROOT": str(root)})


def run_main(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("BYOC_ML_ROOT", str(root))
    return main()


def set_hyperparameters(root: Path, values: dict[str, str]) -> None:
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(values))
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
