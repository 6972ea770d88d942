"""lightsage.training.checkpoints and lightsage.training.early_stopping: atomic rotating checkpoints, refusal
of another job's, and early stopping that continues across a restart as if there had been none."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.model import boosting
from lightsage.training.checkpoints import (
    Checkpointer,
    CheckpointError,
    CheckpointStore,
    differences,
    fingerprint,
)
from lightsage.training.early_stopping import EarlyStopping

from testsupport import lightsage_log

PARAMS = {"objective": "binary", "metric": "auc", "verbose": -1, "seed": 1, "num_threads": 1, "num_leaves": 7}


def job(**changes: object) -> dict[str, object]:
    settings = {"learning_rate": 0.1, "num_leaves": 7, "n_estimators": 100, "checkpoint_interval": 10}
    arguments: dict[str, object] = {
        "recipe": "tabular",
        "recipe_version": 1,
        "task": "binary",
        "target": "y",
        "classes": [0, 1],
        "inputs": [{"name": "x", "kind": "number"}],
        "features": ["x"],
        "settings": settings,
        "data_digest": "d1",
        "warm_start": None,
    }
    for key, value in changes.items():
        if key in settings:
            settings[key] = value
        else:
            arguments[key] = value
    return fingerprint(**arguments)  # type: ignore[arg-type]


def data(rows: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 6)).astype(np.float32)
    noise = rng.normal(scale=1.5, size=rows)
    labels = (features[:, 0] + features[:, 1] * features[:, 2] + noise > 0).astype(float)
    return features, labels


def matrix(features: np.ndarray, labels: np.ndarray) -> boosting.FeatureMatrix:
    result = boosting.FeatureMatrix(features.shape[1])
    result.add(features[: len(features) // 2], labels[: len(labels) // 2])
    result.add(features[len(features) // 2 :], labels[len(labels) // 2 :])
    return result


def datasets(init: lgb.Booster | None = None) -> tuple[lgb.Dataset, lgb.Dataset]:
    """Train and validation Datasets the way `fit` builds them (chunks; init scores when continuing)."""
    train_rows, valid_rows = matrix(*data(3000, 0)), matrix(*data(1000, 1))
    names = [f"f{index}" for index in range(6)]
    scores = (lambda rows: boosting.raw_scores(init, rows, 1)) if init is not None else (lambda rows: None)
    train = boosting.dataset(train_rows, PARAMS, names, [], init_score=scores(train_rows))
    valid = boosting.dataset(valid_rows, PARAMS, names, [], reference=train, init_score=scores(valid_rows))
    return train, valid


def trees(booster: lgb.Booster) -> str:
    text = booster.model_to_string()
    return text[text.index("Tree=0") : text.index("end of trees")]


def test_the_store_keeps_the_newest_three_readable_files_and_no_temporaries(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints")
    train, valid = datasets()
    booster = lgb.train(PARAMS, train, 5, valid_sets=[valid])
    for rounds in (10, 20, 30, 40, 50):
        store.save(rounds, booster.model_to_string(), None, job())
    names = sorted(path.name for path in (tmp_path / "checkpoints").iterdir())
    assert names == ["checkpoint-000000030.json", "checkpoint-000000040.json", "checkpoint-000000050.json"]
    assert all((tmp_path / "checkpoints" / name).stat().st_mode & stat.S_IROTH for name in names)


def test_the_newest_readable_checkpoint_is_found_and_a_torn_one_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CheckpointStore(tmp_path)
    train, valid = datasets()
    for rounds in (3, 6):
        booster = lgb.train(PARAMS, train, rounds, valid_sets=[valid])
        store.save(rounds, booster.model_to_string(), None, job())
    newest = tmp_path / "checkpoint-000000006.json"
    newest.write_text(newest.read_text()[:1000])  # as a sync cut short would leave it
    with lightsage_log(caplog) as skipped:
        found = store.latest(job())
    assert found is not None and found.rounds == 3 and found.booster.current_iteration() == 3
    assert skipped and "checkpoint-000000006.json" in skipped[0]
    assert CheckpointStore(tmp_path / "none").latest(job()) is None


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"learning_rate": 0.05}, "hyperparameter 'learning_rate' is 0.1 there, 0.05 here"),
        ({"data_digest": "d2"}, "the training data (features and labels on each host) differs"),
        ({"classes": [0, 1, 2]}, "classes is [0, 1] there, [0, 1, 2] here"),
        ({"warm_start": "abc"}, "the warm-start model (channel 'model') differs"),
    ],
)
def test_a_checkpoint_of_another_job_is_refused_naming_the_difference(
    tmp_path: Path, changed: dict[str, object], named: str
) -> None:
    store = CheckpointStore(tmp_path)
    train, valid = datasets()
    store.save(2, lgb.train(PARAMS, train, 2, valid_sets=[valid]).model_to_string(), None, job())
    with pytest.raises(CheckpointError, match="is a checkpoint of another job") as refused:
        store.latest(job(**changed))
    assert named in str(refused.value)


def test_rounds_and_the_checkpoint_settings_may_change_between_restarts() -> None:
    assert differences(job(), job(n_estimators=500, checkpoint_interval=0)) == []


def test_checkpoints_follow_the_interval_and_a_stop_writes_the_current_round(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    checkpointer = Checkpointer(store, job(), 10, 3600, None)
    train, valid = datasets()
    lgb.train(PARAMS, train, 35, valid_sets=[valid], callbacks=[checkpointer])
    assert [path.name[11:20] for path in store.paths()] == ["000000010", "000000020", "000000030"]
    note = checkpointer.save_on_stop()
    assert "round 35 is checkpointed" in note
    assert store.paths()[-1].name == "checkpoint-000000035.json"
    saved = json.loads(store.paths()[-1].read_text())
    assert saved["rounds"] == 35 and saved["fingerprint"] == job()


def test_seconds_also_trigger_a_checkpoint_and_interval_zero_writes_none(tmp_path: Path) -> None:
    every_round = Checkpointer(CheckpointStore(tmp_path / "a"), job(), 1000, 0.0, None)
    never = Checkpointer(CheckpointStore(tmp_path / "b"), job(), 0, 0.0, None)
    train, valid = datasets()
    lgb.train(PARAMS, train, 4, valid_sets=[valid], callbacks=[every_round, never])
    assert len(every_round.store.paths()) == 3
    assert never.save_on_stop() == "" and never.store.paths() == []


def test_early_stopping_stops_where_lightgbms_own_stops() -> None:
    train, valid = datasets()
    theirs = lgb.train(
        PARAMS, train, 400, valid_sets=[valid], callbacks=[lgb.early_stopping(10, first_metric_only=True)]
    )
    train, valid = datasets()
    ours = lgb.train(PARAMS, train, 400, valid_sets=[valid], callbacks=[EarlyStopping(10)])
    assert theirs.best_iteration == ours.best_iteration < 400
    assert ours.current_iteration() == theirs.current_iteration()
    assert trees(ours) == trees(theirs)


def test_a_resumed_run_stops_at_the_same_round_with_the_same_trees(tmp_path: Path) -> None:
    """Checkpoint at round 20, restart from the file: the same best round, stop round and trees."""
    train, valid = datasets()
    uninterrupted = lgb.train(PARAMS, train, 400, valid_sets=[valid], callbacks=[EarlyStopping(10)])
    assert uninterrupted.best_iteration > 20

    store = CheckpointStore(tmp_path)
    stopping = EarlyStopping(10)
    checkpointer = Checkpointer(store, job(), 20, 3600, stopping)
    train, valid = datasets()
    lgb.train(PARAMS, train, 25, valid_sets=[valid], callbacks=[stopping, checkpointer])  # then stopped

    found = store.latest(job())
    assert found is not None and found.rounds == 20 and found.best is not None
    train, valid = datasets(init=found.booster)
    stopping = EarlyStopping(10, found.best)
    earlier = found.booster
    resumed = lgb.train(PARAMS, train, 380, valid_sets=[valid], callbacks=[stopping], init_model=earlier)
    assert resumed.best_iteration == uninterrupted.best_iteration
    assert resumed.current_iteration() == uninterrupted.current_iteration()
    assert trees(resumed) == trees(uninterrupted)


@pytest.mark.parametrize(
    "content",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"format": "byoc-checkpoint", "format_version": 1, "rounds": 6, "model": "x", "fingerprint": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        '{"format": "byoc-checkpoint", "format_version": 1, "rounds": 6, "model": "x", "fingerprint": 3}',
        '{"format": "byoc-checkpoint", "format_version": 1, "rounds": 6, "model": "x", "best": [1], '
        '"fingerprint": {}}',
        "[1, 2]",
    ],
    ids=["nested 100,000 deep", "nested fingerprint", "no fingerprint", "bad best", "a list"],
)
def test_an_unreadable_checkpoint_of_any_shape_is_skipped(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 18, item 12: deeply nested checkpoint JSON failed the job with a RecursionError."""
    store = CheckpointStore(tmp_path)
    train, valid = datasets()
    store.save(3, lgb.train(PARAMS, train, 3, valid_sets=[valid]).model_to_string(), None, job())
    (tmp_path / "checkpoint-000000006.json").write_text(content)
    with lightsage_log(caplog) as skipped:
        found = store.latest(job())
    assert found is not None and found.rounds == 3
    assert len(skipped) == 1 and skipped[0].startswith(
        "skipping checkpoint checkpoint-000000006.json: it is not"
    )


def test_a_checkpoint_of_more_rounds_than_asked_is_passed_over_for_an_older_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CheckpointStore(tmp_path)
    train, valid = datasets()
    for rounds in (4, 8):
        store.save(
            rounds, lgb.train(PARAMS, train, rounds, valid_sets=[valid]).model_to_string(), None, job()
        )
    with lightsage_log(caplog) as said:
        found = store.latest(job(), most_rounds=6)
    assert found is not None and found.rounds == 4
    assert said == ["passing over checkpoint checkpoint-000000008.json: it holds 8 rounds; this job trains 6"]
    assert store.latest(job(), most_rounds=8).rounds == 8  # type: ignore[union-attr]
    with pytest.raises(
        CheckpointError, match=r"holds more rounds than the 3 this job trains.*to start fresh, empty"
    ):
        store.latest(job(), most_rounds=3)
