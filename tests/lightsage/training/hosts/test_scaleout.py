"""lightsage.training.hosts.scaleout: hosts holding different rows end up with one plan, one recipe state, one
validation set, one set of bins and one set of class weights; an empty host or a disagreeing one fails every
host by name.

Hosts are threads joined over real loopback sockets (clustersupport)."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from lightsage.data.channels import ChannelReader, DataError, channel_files
from lightsage.data.profile import TableProfile, TargetColumn
from lightsage.model import boosting
from lightsage.recipes.base import resolve
from lightsage.tasks import Task, class_values, class_weights, infer_task
from lightsage.training.hosts import wire
from lightsage.training.hosts.cluster import Cluster
from lightsage.training.hosts.scaleout import Team, agree, merged_profile, own_rows
from lightsage.training.passes import learn_state
from lightsage.training.plan import Channel, profile_channel

from clustersupport import on_hosts
from testsupport import TRAIN_CSV

TABULAR = {"recipe": "tabular", "target": "Survived", "categorical_columns": "Pclass"}


def halves(tmp_path: Path) -> list[Path]:
    """The committed train split cut into two files, one per host (as ShardedByS3Key would)."""
    lines = TRAIN_CSV.read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    folders = []
    for index, part in enumerate((rows[: len(rows) // 3], rows[len(rows) // 3 :])):
        folder = tmp_path / f"host-{index + 1}"
        folder.mkdir()
        (folder / "train.csv").write_text(header + "".join(part))
        folders.append(folder)
    return folders


def profiled(folder: Path, target: str) -> tuple[ChannelReader, TableProfile, TargetColumn]:
    reader = ChannelReader(channel_files(folder, "train"))
    return reader, *profile_channel(reader, target)


def test_sharded_hosts_merge_their_profiles_into_the_one_of_all_rows(tmp_path: Path) -> None:
    folders = halves(tmp_path)
    recipe_class, settings = resolve(TABULAR)
    _, whole, whole_target = profiled(TRAIN_CSV.parent, "Survived")

    def work(cluster: Cluster) -> tuple[object, ...]:
        _, profile, target = profiled(folders[cluster.hosts.rank], "Survived")
        profile, target = merged_profile(cluster, profile, target)
        task = infer_task(target.target_profile(), "Survived")
        schema = recipe_class.select_inputs(profile, "Survived", settings)
        return profile, target.target_profile(), task, class_values(target.target_profile(), task), schema

    for profile, target_profile, task, classes, schema in on_hosts(2, work).values():
        assert (profile.rows, target_profile) == (whole.rows, whole_target.target_profile())
        assert (task, classes) == ("binary", [0, 1])
        assert schema == recipe_class.select_inputs(whole, "Survived", settings)
        for name, column in whole.columns.items():
            merged = profile.columns[name]
            assert (merged.present, merged.missing, merged.numeric, merged.integer, merged.distinct) == (
                column.present,
                column.missing,
                column.numeric,
                column.integer,
                column.distinct,
            )
            assert (merged.numbers, merged.non_numbers, merged.markers, merged.few_non_numbers) == (
                column.numbers,
                column.non_numbers,
                column.markers,
                column.few_non_numbers,
            )


@pytest.mark.parametrize("settings", [{"recipe": "titanic"}, TABULAR], ids=["titanic", "tabular"])
def test_every_host_learns_the_state_of_all_rows(tmp_path: Path, settings: dict[str, str]) -> None:
    folders = halves(tmp_path)
    recipe_class, parsed = resolve(settings)

    def state_of(folder: Path, team: Team | None) -> bytes:
        reader, profile, target = profiled(folder, "Survived")
        if team is not None:
            profile, target = merged_profile(team.cluster, profile, target)
        task = infer_task(target.target_profile(), "Survived")
        channel = Channel("train", reader, target.labels(task, class_values(target.target_profile(), task)))
        recipe = recipe_class(parsed, recipe_class.select_inputs(profile, "Survived", parsed))
        return wire.encode(learn_state(recipe, channel, channel.labelled, team))

    alone = state_of(TRAIN_CSV.parent, None)
    states = on_hosts(2, lambda cluster: state_of(folders[cluster.hosts.rank], Team(cluster)))
    assert list(states.values()) == [alone, alone]


def test_replicated_rows_are_shared_out_and_an_empty_host_fails_every_host_by_name() -> None:
    labels = np.array([0.0, 1.0, 0.0, 1.0, 1.0])

    def work(cluster: Cluster) -> Team:
        rows = own_rows(cluster, np.ones(len(labels), dtype=bool), is_sharded=False)
        return agree(cluster, {"task": "binary"}, labels[rows], 2, 3, validation_per_host=False)

    teams = on_hosts(2, work)
    for team in teams.values():
        assert team.train_rows == [3, 2]
        assert team.class_counts.tolist() == [2, 3]

    def sharded_work(cluster: Cluster) -> Team:
        mine = labels if cluster.hosts.rank == 0 else labels[:0]
        return agree(cluster, {"task": "binary"}, mine, 2, 3, validation_per_host=True)

    for error in on_hosts(3, sharded_work).values():
        assert isinstance(error, DataError) or "failed" in str(error)
        assert "host(s) 127.0.0.2, 127.0.0.3 have no training rows (of 5 on 3 hosts)" in str(error)


def test_hosts_that_planned_differently_are_refused() -> None:
    def work(cluster: Cluster) -> Team:
        plan = {"task": "binary", "classes": [0, 1] if cluster.hosts.rank == 0 else ["no", "yes"]}
        return agree(cluster, plan, np.zeros(4), 2, 3, validation_per_host=True)

    for error in on_hosts(2, work).values():
        assert "planned another model" in str(error) and "classes" in str(error)


def test_per_host_validation_rows_are_gathered_onto_every_host_in_order() -> None:
    def work(cluster: Cluster) -> boosting.FeatureMatrix:
        rank = cluster.hosts.rank
        mine = boosting.FeatureMatrix(2)
        mine.add(np.full((rank + 1, 2), rank, dtype=np.float32), np.full(rank + 1, float(rank)))
        return Team(cluster, validation_per_host=True).validation(mine)

    for gathered in on_hosts(2, work).values():
        assert gathered.dense().tolist() == [[0, 0], [1, 1], [1, 1]]
        assert gathered.labels().tolist() == [0, 1, 1]


def binned(reference: lgb.Dataset | None, rows: np.ndarray, tmp_path: Path, name: str) -> str:
    """How a dataset bins a fixed probe of rows: LightGBM's text dump of its bin indices."""
    params = {"verbose": -1, "max_bin": 63}
    probe = boosting.FeatureMatrix(rows.shape[1])
    probe.add(np.linspace(-3, 3, 50, dtype=np.float32)[:, None].repeat(rows.shape[1], axis=1), np.zeros(50))
    if reference is None:
        own = boosting.FeatureMatrix(rows.shape[1])
        own.add(rows, np.zeros(len(rows)))
        reference = boosting.dataset(own, params, ["a", "b"], [])
    dataset = boosting.dataset(probe, params, ["a", "b"], [], reference=reference)
    dataset._dump_text(str(tmp_path / name))
    return (tmp_path / name).read_text()


def test_hosts_with_different_rows_bin_alike_only_on_the_shared_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = [
        rng.normal(size=(4000, 2)).astype(np.float32),
        rng.normal(1, 2, size=(1000, 2)).astype(np.float32),
    ]
    params = {"verbose": -1, "max_bin": 63}

    def work(cluster: Cluster) -> tuple[str, str]:
        rank = cluster.hosts.rank
        mine = boosting.FeatureMatrix(2)
        mine.add(rows[rank], np.zeros(len(rows[rank])))
        team = Team(cluster, train_rows=[4000, 1000])
        reference = team.bin_reference(mine, params, ["a", "b"], [], seed=1)
        return binned(reference, rows[rank], tmp_path, f"shared-{rank}"), binned(
            None, rows[rank], tmp_path, f"own-{rank}"
        )

    (shared_1, own_1), (shared_2, own_2) = on_hosts(2, work).values()
    assert shared_1 == shared_2
    assert own_1 != own_2  # what each host's own bins would have done: different trees


def test_balanced_weights_count_every_hosts_rows() -> None:
    labels = np.array([0.0] * 30 + [1.0] * 10)
    training = np.arange(40) % 4 != 3
    settings = {"class_weight": "balanced"}

    def work(cluster: Cluster) -> np.ndarray | None:
        mine = labels[own_rows(cluster, training, is_sharded=False)]
        team = agree(cluster, {"task": "binary"}, mine, 2, 3, validation_per_host=False)
        return team.balanced_weights(settings, Task.BINARY, mine, 2)

    expected = dict(zip(labels[training], class_weights(labels[training], 2), strict=False))
    for weights in on_hosts(2, work).values():
        assert weights is not None and len(weights) == 15
        assert set(weights.round(6)) == {round(expected[0.0], 6), round(expected[1.0], 6)}
