"""Checkpoints for spot training: the booster every few rounds in /opt/ml/checkpoints, and resuming from one.

SageMaker syncs /opt/ml/checkpoints with the job's checkpoint_s3_uri and copies its files back in when a
spot job restarts. A checkpoint is one JSON file, `checkpoint-<rounds>.json`, holding the model text
(LightGBM's own format), its round count, the early-stopping state and the job's fingerprint. It is written
to a hidden temporary file and renamed in, so a stop in the middle of a write leaves the earlier checkpoints
intact; the newest `KEEP` are kept. Only the first host writes them: every host holds the same model.

The fingerprint says which jobs build the same trees: recipe and version, task, target, classes, input
columns, features, the warm-start model, a digest of the training features and labels of every host, and every
hyperparameter that changes a tree. A job with another fingerprint refuses to resume and names the difference,
rather than continue somebody else's model. n_estimators, early_stopping_rounds, refit, the time budget and
the checkpoint and network settings may change between restarts; a checkpoint that holds more rounds than the
job trains is passed over for an older one that does not (an uninterrupted run would have built it on the
way), so a job never saves more rounds than it asks for. Only regular files in the folder are read, never
through a symbolic link; an unreadable checkpoint (torn, nested too deeply, a link) is skipped with a log
line.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb

from lightsage.contract import folders
from lightsage.errors import UserError
from lightsage.training.early_stopping import Best, EarlyStopping

logger = logging.getLogger(__name__)

KEEP = 3
PREFIX = "checkpoint-"
SUFFIX = ".json"
FORMAT = "byoc-checkpoint"
FORMAT_VERSION = 1
# Hyperparameters that do not change the trees built so far: they may differ when a job resumes.
FREE_HYPERPARAMETERS = (
    "n_estimators",
    "early_stopping_rounds",
    "checkpoint_interval",
    "checkpoint_seconds",
    "network_port",
    "network_timeout_seconds",
    "cv_folds",
    "refit",
    "time_budget_seconds",
    "time_budget_per_million_values",
)


class CheckpointError(UserError, ValueError):
    """The checkpoints present belong to another job; the message names the difference."""


def fingerprint(
    *,
    recipe: str,
    recipe_version: int,
    task: str,
    target: str,
    classes: list[Any],
    inputs: list[dict[str, Any]],
    features: list[str],
    settings: Mapping[str, Any],
    data_digest: str,
    warm_start: str | None,
    recipe_source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What makes two jobs build the same trees, as plain JSON values."""
    document = {
        "recipe": {"name": recipe, "version": recipe_version},
        "task": task,
        "target": target,
        "classes": classes,
        "inputs": inputs,
        "features": features,
        "hyperparameters": {
            name: value for name, value in settings.items() if name not in FREE_HYPERPARAMETERS
        },
        "data": data_digest,
        "warm_start": warm_start,
        "recipe_source": recipe_source,
    }
    return json.loads(json.dumps(document))


def differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between a checkpoint's fingerprint and this job's, in words."""
    found = []
    saved_settings, current_settings = saved.get("hyperparameters", {}), current.get("hyperparameters", {})
    for name in sorted(set(saved_settings) | set(current_settings)):
        if saved_settings.get(name) != current_settings.get(name):
            found.append(
                f"hyperparameter '{name}' is {saved_settings.get(name)!r} there, "
                f"{current_settings.get(name)!r} here"
            )
    described = {
        "data": "the training data (features and labels on each host)",
        "warm_start": "the warm-start model (channel 'model')",
        "recipe_source": "the recipe's source (its module, and requirements.txt in script mode)",
    }
    for key in sorted((set(saved) | set(current)) - {"hyperparameters"}):
        if saved.get(key) != current.get(key):
            found.append(
                f"{described[key]} differs"
                if key in described
                else f"{key} is {saved.get(key)!r} there, {current.get(key)!r} here"
            )
    return found


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    rounds: int
    booster: lgb.Booster
    best: Best | None


class CheckpointStore:
    """The checkpoint folder: atomic writes, the newest KEEP kept, the newest readable one found."""

    def __init__(self, directory: Path, keep: int = KEEP) -> None:
        self.directory = directory
        self.keep = keep

    def paths(self) -> list[Path]:
        """Entries named like checkpoints, oldest first (names carry the zero-padded round count); reading one
        that is not a regular file fails (`latest` skips it)."""
        if folders.kind_of(self.directory) != "folder":
            return []
        return sorted(
            path
            for path in self.directory.iterdir()
            if path.name.startswith(PREFIX)
            and path.name.endswith(SUFFIX)
            and folders.kind_of(path) != "folder"
        )

    def fresh_start(self) -> str:
        """How to start a job afresh instead of resuming, for log lines and failure reasons."""
        return (
            f"to start fresh, empty {self.directory} (on SageMaker, give each job its own checkpoint_s3_uri)"
        )

    def save(self, rounds: int, model: str, best: Best | None, job: Mapping[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{PREFIX}{rounds:09d}{SUFFIX}"
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rounds": rounds,
            "best": best.to_json() if best is not None else None,
            "fingerprint": dict(job),
            "written_at": time.time(),
            "model": model,
        }
        handle, temporary = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=self.directory)
        try:
            Path(temporary).chmod(0o644)  # mkstemp makes it private; a checkpoint is as readable as a model
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temporary).replace(path)
        finally:
            Path(temporary).unlink(missing_ok=True)
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def latest(self, job: Mapping[str, Any], most_rounds: int | None = None) -> Checkpoint | None:
        """The newest readable checkpoint of at most `most_rounds` rounds; CheckpointError when it belongs
        to another job, or when every checkpoint of this job holds more rounds."""
        if folders.kind_of(self.directory) not in ("folder", "missing"):
            raise CheckpointError(
                f"{self.directory} is a {folders.kind_of(self.directory)}, not a folder: checkpoints are "
                f"read only from a folder; {self.fresh_start()}"
            )
        longer: Path | None = None
        for path in reversed(self.paths()):
            try:
                document = json.loads(folders.read_bytes(self.directory, path.name).decode("utf-8"))
                if document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
                    raise ValueError(f"format {document.get('format')!r} {document.get('format_version')!r}")
                rounds = int(document["rounds"])
                saved_job = document["fingerprint"]
                model = str(document["model"])
                best = Best.from_json(document["best"]) if document.get("best") else None
                if not isinstance(saved_job, dict):
                    raise ValueError("it has no fingerprint")
                found = differences(saved_job, job)
            except folders.UnsafeFile as error:
                logger.warning(f"skipping checkpoint {path.name}: {error.strerror}")
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                logger.warning(
                    f"skipping checkpoint {path.name}: it is not readable ({type(error).__name__}: {error})"
                )
                continue
            except RecursionError:
                logger.warning(
                    f"skipping checkpoint {path.name}: it is not readable (its JSON is nested too deeply)"
                )
                continue
            if found:
                raise CheckpointError(
                    f"{path} is a checkpoint of another job: {'; '.join(found[:3])}; {self.fresh_start()}"
                )
            if most_rounds is not None and rounds > most_rounds:
                logger.info(
                    f"passing over checkpoint {path.name}: it holds {rounds} rounds; "
                    f"this job trains {most_rounds}"
                )
                longer = path
                continue
            try:
                booster = lgb.Booster(model_str=model)
            except lgb.basic.LightGBMError as error:
                logger.warning(f"skipping checkpoint {path.name}: its model does not load ({error})")
                continue
            if booster.current_iteration() != rounds:
                logger.warning(
                    f"skipping checkpoint {path.name}: "
                    f"it holds {booster.current_iteration()} rounds, not {rounds}"
                )
                continue
            return Checkpoint(path, rounds, booster, best)
        if longer is not None:
            raise CheckpointError(
                f"{longer} holds more rounds than the {most_rounds} this job trains, and no checkpoint of "
                f"fewer is left: it is of an earlier, longer run; {self.fresh_start()}"
            )
        return None

    def found(self) -> list[str]:
        """The names of the checkpoints in the folder, oldest first."""
        return [path.name for path in self.paths()]


class Checkpointer:
    """A lightgbm.train callback: a checkpoint every `every_rounds` rounds or `every_seconds` seconds."""

    # After early stopping (30), so a round that ends training is not written twice.
    order = 40
    before_iteration = False

    def __init__(
        self,
        store: CheckpointStore,
        job: Mapping[str, Any],
        every_rounds: int,
        every_seconds: float,
        stopping: EarlyStopping | None,
    ) -> None:
        self.store = store
        self.job = job
        self.every_rounds = every_rounds
        self.every_seconds = every_seconds
        self.stopping = stopping
        self.booster: lgb.Booster | None = None
        self.saved_rounds = -1
        self.saved_at = time.monotonic()

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        self.booster = env.model
        if self.every_rounds <= 0:
            return
        if (
            env.iteration + 1
        ) % self.every_rounds == 0 or time.monotonic() - self.saved_at >= self.every_seconds:
            self.save()

    def save(self) -> int | None:
        """Write the booster as it is now; the round count written, or None when there is nothing new."""
        if self.booster is None:
            return None
        rounds = self.booster.current_iteration()
        if rounds == self.saved_rounds:
            return rounds
        best = self.stopping.best if self.stopping is not None else None
        # every round grown: once early stopping has ended boosting (a stop during the refit), LightGBM would
        # otherwise write only the rounds up to the best one
        self.store.save(rounds, self.booster.model_to_string(num_iteration=-1), best, self.job)
        self.saved_rounds, self.saved_at = rounds, time.monotonic()
        return rounds

    def save_on_stop(self) -> str:
        """On SIGTERM (spot interruption, StopTrainingJob): save what is done; a note for the reason."""
        if self.every_rounds <= 0:
            return ""
        try:
            rounds = self.save()
        except OSError as error:
            return f"; the checkpoint could not be written: {error}"
        if rounds is None:
            return ""
        logger.info(f"checkpoint of round {rounds} written to {self.store.directory} on stop")
        return f"; round {rounds} is checkpointed in {self.store.directory}: a restarted job resumes from it"
