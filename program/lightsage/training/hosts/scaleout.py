"""What the training hosts share so that they train ONE model together.

- Rows. A FullyReplicated channel gives every host every row: each host trains on every n-th training row,
  counted after the hold-out (which every host draws the same). A ShardedByS3Key channel gives each host its
  own files: each host trains on all of its rows.
- Plan. Every host infers the task, classes and input columns. Sharded hosts first merge their profiles
  (column statistics and target counts), so they infer the same; then all hosts check that they agree, and
  that none is empty (LightGBM hangs when a host has no rows): a host without rows fails every host, naming
  it.
- Recipe state. Every host summarises its own training rows; the summaries are combined in host order, so
  the state (category tables, group statistics) is the same on every host.
- Validation. Early stopping must see the same rows on every host, or the hosts stop at different rounds and
  LightGBM hangs: a validation set that differs per host (sharded) is gathered onto every host.
- Bins. LightGBM places a Dataset's bin boundaries from that Dataset's own rows, so hosts holding different
  rows would bin differently and grow different trees (seen here: two hosts built different models). Every
  host builds its Dataset on the same reference Dataset, binned from a sample to which each host contributes
  in proportion to its rows.
- Class weights. 'balanced' weights count every host's rows.

On one host every step is the identity.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.contract.paths import ChannelConfig
from lightsage.data.channels import DataError
from lightsage.data.profile import ColumnProfile, TableProfile, TargetColumn
from lightsage.evaluation.baseline import StatisticsBuilder
from lightsage.model import boosting
from lightsage.recipes.base import Recipe, State
from lightsage.tasks import Task, class_weights
from lightsage.training.hosts import wire
from lightsage.training.hosts.cluster import Cluster, share

SHARDED = "ShardedByS3Key"
# LightGBM's bin_construct_sample_cnt: the rows it samples to place bin boundaries; for wide tables fewer,
# since every host receives the whole sample (float32: 80 MB at most).
BIN_SAMPLE_ROWS = 200_000
BIN_SAMPLE_CELLS = 20_000_000


def sharded(channels: Mapping[str, ChannelConfig], name: str) -> bool:
    config = channels.get(name)
    return config is not None and config.s3_distribution_type == SHARDED


def check_settings(cluster: Cluster, settings: Mapping[str, Any]) -> None:
    if cluster.count > 1 and settings["cv_folds"]:
        raise HyperparameterError(
            f"hyperparameter 'cv_folds': cross-validation runs on one instance; this job has {cluster.count} "
            "(set cv_folds=0, or run the cross-validation as a one-instance job)"
        )


# -- profiles (sharded channels) ----------------------------------------------------------------------------


def merged_profile(
    cluster: Cluster, profile: TableProfile, target: TargetColumn
) -> tuple[TableProfile, TargetColumn]:
    """Every host's profile of its own files, merged, so every host infers the same task and columns."""
    if cluster.count == 1:
        return profile, target
    mine = {
        "names": profile.names,
        "rows": profile.rows,
        "columns": {name: column.to_json() for name, column in profile.columns.items()},
        "target": target.profile.to_json(),
        "counts": target.counts,
    }
    parts = [json.loads(part) for part in cluster.all_gather("column profiles", json.dumps(mine).encode())]
    for host, part in zip(cluster.hosts.names, parts, strict=True):
        if part["names"] != profile.names:
            raise DataError(
                f"host '{host}' reads other columns in channel 'train' ({', '.join(part['names'])}) than "
                f"host '{cluster.hosts.current}' ({', '.join(profile.names)}): every file needs the same "
                "columns"
            )
    merged = TableProfile(
        profile.names,
        {
            name: ColumnProfile.merged(name, [part["columns"][name] for part in parts])
            for name in profile.names
        },
        sum(part["rows"] for part in parts),
    )
    counts: dict[str, int] = {}
    for part in parts:
        for value, count in part["counts"].items():
            counts[value] = counts.get(value, 0) + count
    target.counts = counts
    target.profile = ColumnProfile.merged(target.name, [part["target"] for part in parts])
    return merged, target


# -- agreement and shares -----------------------------------------------------------------------------------


def own_rows(cluster: Cluster, rows: np.ndarray, is_sharded: bool) -> np.ndarray:
    """This host's training rows: all of its own (sharded), or its share of rows every host sees."""
    if cluster.count == 1 or is_sharded:
        return rows
    mine = np.zeros(len(rows), dtype=bool)
    mine[share(np.flatnonzero(rows), cluster.hosts.rank, cluster.count)] = True
    return mine


@dataclass
class Team:
    """The hosts training one model; on one host (`Team.alone()`) every method is the identity."""

    cluster: Cluster
    validation_per_host: bool = False
    train_rows: list[int] = field(default_factory=list)
    class_counts: np.ndarray | None = None

    @classmethod
    def alone(cls) -> Team:
        return cls(Cluster())

    @property
    def many(self) -> bool:
        return self.cluster.count > 1

    def combined(self, recipe: Recipe, summary: State) -> State:
        """Every host's summary, combined in host order: the same on every host."""
        if not self.many:
            return summary
        try:
            mine = wire.encode(summary)
        except TypeError as error:
            raise DataError(
                f"recipe '{recipe.name}': its summary cannot be sent to the other hosts: {error}"
            ) from None
        return recipe.combine(
            [wire.decode(part) for part in self.cluster.all_gather("recipe summaries", mine)]
        )

    def statistics(self, builder: StatisticsBuilder) -> StatisticsBuilder:
        """The data baseline of every host's training rows, merged in host order: the same on every host."""
        if not self.many:
            return builder
        return builder.merged_with(self.cluster.all_gather("data baselines", builder.to_bytes()))

    def validation(self, matrix: boosting.FeatureMatrix) -> boosting.FeatureMatrix:
        """The validation rows of every host, when they differ per host; else this host's (the same)."""
        if not self.validation_per_host:
            return matrix
        return self.everyones(matrix, "validation rows")

    def everyones(self, matrix: boosting.FeatureMatrix, what: str) -> boosting.FeatureMatrix:
        """Every host's rows of a kind (each host its own), in host order: the same on every host."""
        if not self.many:
            return matrix
        mine = wire.encode({"features": matrix.dense(), "labels": matrix.labels()})
        gathered = boosting.FeatureMatrix(matrix.width)
        for part in self.cluster.all_gather(what, mine):
            rows = wire.decode(part)
            gathered.add(rows["features"], rows["labels"])
        return gathered

    def bin_reference(
        self,
        matrix: boosting.FeatureMatrix,
        params: Mapping[str, Any],
        names: Sequence[str],
        categorical: Sequence[str],
        seed: int,
    ) -> lgb.Dataset | None:
        """A Dataset binned from a sample of every host's rows: the same bin boundaries on every host."""
        if not self.many:
            return None
        sample_rows = min(BIN_SAMPLE_ROWS, BIN_SAMPLE_CELLS // max(1, matrix.width))
        quota = max(1, math.ceil(sample_rows * matrix.rows / sum(self.train_rows)))
        features, _ = matrix.sample(quota, seed)
        sample = boosting.FeatureMatrix(matrix.width)
        for part in self.cluster.all_gather("bin sample", wire.encode(features)):
            rows = wire.decode(part)
            sample.add(rows, np.zeros(len(rows)))
        return boosting.dataset(sample, params, names, categorical)

    def balanced_weights(
        self, settings: Mapping[str, Any], task: Task, labels: np.ndarray, classes: int
    ) -> np.ndarray | None:
        """'balanced' class weights from every host's class counts."""
        if not self.many or self.class_counts is None:
            return boosting.balanced_weights(settings, task, labels, classes)
        if settings["class_weight"] != "balanced" or task is Task.REGRESSION:
            return None
        return class_weights(labels, classes, counts=self.class_counts)

    def data_digest(self, local: str) -> str:
        """One digest of every host's training data (the checkpoints' fingerprint)."""
        if not self.many:
            return local
        parts = self.cluster.all_gather("data digests", local.encode())
        return hashlib.blake2b(b"|".join(parts), digest_size=16).hexdigest()


def agree(
    cluster: Cluster,
    plan: Mapping[str, Any],
    train_labels: np.ndarray,
    classes: int,
    validation_rows: int,
    validation_per_host: bool,
) -> Team:
    """Check that every host planned the same model and has rows to train on; the team that trains it."""
    if cluster.count == 1:
        return Team(cluster, train_rows=[len(train_labels)])
    counts = np.bincount(train_labels.astype(int), minlength=classes).tolist() if classes else []
    mine = {
        "plan": plan,
        "train_rows": len(train_labels),
        "class_counts": counts,
        "validation_rows": validation_rows,
    }
    parts = [json.loads(part) for part in cluster.all_gather("plans", json.dumps(mine, default=str).encode())]
    leader = cluster.hosts.leader
    normalised = json.loads(json.dumps(plan, default=str))
    for host, part in zip(cluster.hosts.names, parts, strict=True):
        if part["plan"] != normalised:
            keys = [key for key in normalised if part["plan"].get(key) != normalised.get(key)]
            raise DataError(
                f"host '{host}' planned another model than host '{cluster.hosts.current}' (they differ in: "
                f"{', '.join(keys)}): every host needs the same hyperparameters, and data of the same kind"
            )
    empty = [host for host, part in zip(cluster.hosts.names, parts, strict=True) if part["train_rows"] == 0]
    if empty:
        total = sum(part["train_rows"] for part in parts)
        raise DataError(
            f"host(s) {', '.join(empty)} have no training rows (of {total} on {cluster.count} hosts): with "
            "ShardedByS3Key give every host files with labelled rows, or use fewer instances"
        )
    if not validation_per_host:
        sizes = {part["validation_rows"] for part in parts}
        if len(sizes) > 1:
            raise DataError(
                f"the hosts see different validation rows ({sorted(sizes)}) although the channel is "
                f"FullyReplicated (first host: {leader})"
            )
    return Team(
        cluster,
        validation_per_host=validation_per_host,
        train_rows=[part["train_rows"] for part in parts],
        class_counts=np.sum([part["class_counts"] for part in parts], axis=0) if classes else None,
    )
