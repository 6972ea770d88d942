"""One training job across its hosts, as `fit` (lightsage.training.fit) asks it at a few marked places.

It knows the team of hosts (`lightsage.training.hosts.scaleout`), where boosting starts (a checkpoint of this
very job, an earlier model from the `model` channel, or nothing), the callbacks that stop early and write
checkpoints, and the watchdog that fails a multi-host job when a host stops. A cross-validation fold runs with
`Job.fold()`: one host, from scratch, no checkpoints.

Which checkpoint to resume from is decided by the first host (the only one that writes checkpoints) and sent
to the others with the model itself, so every host continues the same model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from lightsage.contract.paths import MLPaths
from lightsage.model import boosting
from lightsage.recipes.base import Recipe
from lightsage.training import checkpoints
from lightsage.training.early_stopping import Best, EarlyStopping
from lightsage.training.hosts import wire
from lightsage.training.hosts.cluster import ClusterError
from lightsage.training.hosts.scaleout import Team
from lightsage.training.hosts.watchdog import Watchdog
from lightsage.training.warm_start import WarmStart

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Start:
    """Where boosting starts: `booster` holds `rounds` rounds, the first `base_rounds` from a warm start."""

    booster: lgb.Booster | None = None
    rounds: int = 0
    base_rounds: int = 0
    best: Best | None = None
    resumed_from: int | None = None

    def rounds_left(self, n_estimators: int) -> int:
        """n_estimators counts this job's rounds; a warm-start model's come on top."""
        return max(0, n_estimators - (self.rounds - self.base_rounds))

    def scores(self, matrix: boosting.FeatureMatrix, threads: int) -> np.ndarray | None:
        """Init scores of the matrix's rows: the raw scores of the model that training continues."""
        return None if self.booster is None else boosting.raw_scores(self.booster, matrix, threads)


def data_digest(matrix: boosting.FeatureMatrix) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for chunk in matrix.chunks:
        digest.update(memoryview(chunk))  # the chunk's own bytes, not a copy
    digest.update(memoryview(matrix.labels()))
    return digest.hexdigest()


@dataclass
class Job:
    team: Team
    settings: Mapping[str, Any]
    paths: MLPaths | None = None
    # The checkpoints' fingerprint, but for what only the data can tell (features, data digest).
    identity: Mapping[str, Any] | None = None
    warm: WarmStart | None = None
    stopping: EarlyStopping | None = None
    checkpointer: checkpoints.Checkpointer | None = None

    @classmethod
    def fold(cls, settings: Mapping[str, Any]) -> Job:
        return cls(Team.alone(), settings)

    @property
    def warm_recipe(self) -> Recipe | None:
        """A warm start keeps the earlier model's recipe (its settings, columns and state)."""
        return self.warm.model.recipe if self.warm is not None else None

    def begin(self, train: boosting.FeatureMatrix, features: Sequence[str]) -> Start:
        """Where boosting starts; sets up early stopping and (on the first host) checkpoints to match."""
        start = Start()
        if self.warm is not None:
            start = Start(self.warm.model.booster, self.warm.rounds, self.warm.rounds)
        store = checkpoints.CheckpointStore(self.paths.checkpoint_dir) if self.paths is not None else None
        # One host that writes no checkpoints and finds none needs no fingerprint (nor a digest of its data).
        if (
            store is not None
            and self.identity is not None
            and (self.team.many or self.settings["checkpoint_interval"] > 0 or store.found())
        ):
            job = checkpoints.fingerprint(
                **self.identity,
                features=list(features),
                data_digest=self.team.data_digest(data_digest(train)),
                warm_start=self.warm.digest if self.warm is not None else None,
            )
            start = self._resumed(store, job, start, start.base_rounds + self.settings["n_estimators"])
            if self.team.cluster.first:
                self.checkpointer = checkpoints.Checkpointer(
                    store,
                    job,
                    self.settings["checkpoint_interval"],
                    self.settings["checkpoint_seconds"],
                    None,
                )
        if self.settings["early_stopping_rounds"]:
            self.stopping = EarlyStopping(self.settings["early_stopping_rounds"], start.best)
            if self.checkpointer is not None:
                self.checkpointer.stopping = self.stopping
        return start

    def warm_start_scores(self, matrix: boosting.FeatureMatrix, threads: int) -> np.ndarray | None:
        """Raw scores of the warm-start model for the matrix's rows; None without a warm start."""
        if self.warm is None:
            return None
        return boosting.raw_scores(self.warm.model.booster, matrix, threads)

    def _resumed(
        self, store: checkpoints.CheckpointStore, job: Mapping[str, Any], start: Start, most_rounds: int
    ) -> Start:
        """This job's own checkpoint of at most `most_rounds` rounds (warm start's included), if any."""
        chosen: dict[str, Any] | None = None
        if self.team.cluster.first:
            found = store.latest(job, most_rounds)
            if found is not None:
                chosen = {
                    "rounds": found.rounds,
                    "model": found.booster.model_to_string(),
                    "best": found.best.to_json() if found.best is not None else None,
                    "file": found.path.name,
                }
        chosen = wire.decode(
            self.team.cluster.all_gather("the checkpoint to resume from", wire.encode(chosen))[0]
        )
        if chosen is None:
            return start
        logger.info(
            f"resuming from checkpoint {store.directory / chosen['file']}: {chosen['rounds']} of "
            f"{most_rounds} rounds are done, by an earlier run of this same job (same data and "
            f"hyperparameters); {store.fresh_start()}"
        )
        return Start(
            lgb.Booster(model_str=chosen["model"]),
            chosen["rounds"],
            start.base_rounds,
            Best.from_json(chosen["best"]) if chosen["best"] else None,
            resumed_from=chosen["rounds"],
        )

    def boost(
        self,
        params: Mapping[str, Any],
        train: lgb.Dataset,
        validation: lgb.Dataset | None,
        start: Start,
        rounds: int,
        first: Callable[[lgb.callback.CallbackEnv], None] | None = None,
    ) -> lgb.Booster:
        """lightgbm.train from `start` for `rounds` rounds, with early stopping (on `validation`, scored only
        for it), checkpoints and the watchdog; `first` runs before them each round (the time budget). The
        booster keeps its Datasets (`boosting.without_datasets` releases them)."""
        if rounds == 0 and start.booster is not None:
            logger.info(f"no round left to train: the model already holds {start.rounds}")
            return start.booster
        callbacks = [
            callback for callback in (first, self.stopping, self.checkpointer) if callback is not None
        ]
        try:
            with self._watched(callbacks):
                return lgb.train(
                    dict(params),
                    train,
                    num_boost_round=rounds,
                    valid_sets=[validation] if validation is not None else None,
                    valid_names=["validation"] if validation is not None else None,
                    callbacks=callbacks,
                    init_model=start.booster,
                    keep_training_booster=True,  # its training rows' scores give the train metrics
                )
        except ClusterError:
            self.checkpoint_on_stop()  # another host failed or left: keep the rounds done so far
            raise

    def refit(self, params: Mapping[str, Any], train: lgb.Dataset, rounds: int) -> lgb.Booster:
        """lightgbm.train on every training row for `rounds` rounds after the search (`lightsage.training.
        rounds`), from the warm-start model if any: no early stopping, no checkpoints (a restarted job resumes
        the search from its checkpoint, then refits)."""
        callbacks: list[Callable[[lgb.callback.CallbackEnv], None]] = []
        init = self.warm.model.booster if self.warm is not None else None
        try:
            with self._watched(callbacks):
                return lgb.train(
                    dict(params),
                    train,
                    num_boost_round=rounds,
                    callbacks=callbacks,
                    init_model=init,
                    keep_training_booster=True,  # its training rows' scores give the train metrics
                )
        except ClusterError:
            self.checkpoint_on_stop()
            raise

    @contextlib.contextmanager
    def _watched(self, callbacks: list[Callable[[lgb.callback.CallbackEnv], None]]) -> Iterator[None]:
        """Several hosts: a watchdog fails the job when one stops (see lightsage.training.hosts.watchdog)."""
        if not self.team.many or self.paths is None:
            yield
            return
        timeout = self.settings["network_timeout_seconds"]
        logger.info(
            f"boosting on {self.team.cluster.count} hosts (LightGBM data-parallel learning on port "
            f"{self.settings['network_port']}); a host silent for {timeout} s fails the job"
        )
        with Watchdog(self.team.cluster, timeout, self.paths) as dog:
            callbacks.append(dog)
            try:
                yield
            except lgb.basic.LightGBMError as error:
                raise dog.explain(error) from None

    def best_iteration(self) -> int:
        """The rounds the model keeps: early stopping's best (also when no round was left); 0 for all."""
        return self.stopping.best_rounds if self.stopping is not None else 0

    def checkpoint_on_stop(self) -> str:
        """The job is being stopped: checkpoint the rounds done; a note for the failure reason."""
        return self.checkpointer.save_on_stop() if self.checkpointer is not None else ""

    def trained(self, booster: lgb.Booster, best: int) -> None:
        """Every host must have grown the same model: the same rounds, best round and trees."""
        if not self.team.many:
            return
        mine = f"{booster.current_iteration()} rounds, best {best}, trees {trees_digest(booster)}"
        logger.info(f"trained {mine}")
        cluster = self.team.cluster
        gathered = cluster.all_gather("models trained", mine.encode())
        for host, theirs in zip(cluster.hosts.names, gathered, strict=True):
            if theirs.decode() != mine:
                raise ClusterError(
                    f"host '{host}' trained another model ({theirs.decode()}) than host "
                    f"'{cluster.hosts.current}' ({mine}): the hosts did not train one model",
                    origin=host,
                )


def trees_digest(booster: lgb.Booster) -> str:
    """A digest of the trees alone (the model text's parameters differ per host, e.g. thread counts)."""
    text = booster.model_to_string()
    trees = text[text.find("Tree=0") : text.find("end of trees")]
    return hashlib.blake2b(trees.encode(), digest_size=8).hexdigest()
