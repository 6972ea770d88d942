"""The `train` program: SageMaker config and channels in; a model artifact and metrics, or a clear failure.

`train` runs the job's steps, each in its own module: `plan` (recipe, task, columns, rows), `prepare` (warm
start, the other hosts, checkpoints: a `Job`), `fit` (the recipe's passes and boosting), `report` (metrics,
the saved model). `main` turns any error into the failure file SageMaker shows.

The data path streams: the train channel is read in Arrow batches several times (to profile it, to let the
recipe learn, to compute features), so no pass holds the raw table. Features go into float32 chunks that
LightGBM bins into its Dataset, after which they are dropped.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from lightsage import logs
from lightsage.contract.paths import MLPaths, read_hyperparameters, write_failure_reason
from lightsage.contract.resources import available_cpus
from lightsage.errors import failure_reason, is_bug
from lightsage.model import artifact
from lightsage.training import memory, signals, warm_start
from lightsage.training.checkpoints import CheckpointStore
from lightsage.training.fit import fit, thread_count
from lightsage.training.hosts import scaleout
from lightsage.training.hosts.cluster import Cluster
from lightsage.training.job import Job
from lightsage.training.memory import MemoryGuard
from lightsage.training.plan import Plan, plan
from lightsage.training.report import metrics_of, save_model

logger = logging.getLogger(__name__)


def job_identity(the_plan: Plan) -> dict[str, Any]:
    """What the hosts must agree on, and what a checkpoint must match to be resumed (spot)."""
    return {
        "recipe": the_plan.recipe_class.name,
        "recipe_version": the_plan.recipe_class.version,
        "recipe_source": the_plan.recipe_source.to_json(),
        "task": the_plan.task.value,
        "target": the_plan.settings["target"],
        "classes": list(the_plan.classes),
        "inputs": the_plan.schema.to_json(),
        "settings": dict(the_plan.settings),
    }


def prepare(paths: MLPaths, the_plan: Plan, peers: Cluster) -> Job:
    """Warm start, shares and agreement between the hosts, checkpoints: the job `fit` runs."""
    warm = warm_start.load(paths.channel_dir(warm_start.CHANNEL), the_plan.script)
    if warm is not None:
        warm_start.check(
            warm, the_plan.recipe_class.name, the_plan.settings["target"], the_plan.task, the_plan.classes,
            the_plan.train.reader.names,
        )  # fmt: skip
        # The model's columns, state and recipe hyperparameters stay; the manifest records those.
        the_plan.schema = warm.model.manifest.inputs
        the_plan.settings = warm_start.kept_settings(
            warm, the_plan.recipe_class, the_plan.settings, set(read_hyperparameters(paths))
        )
    settings = the_plan.settings
    the_plan.train_rows = scaleout.own_rows(peers, the_plan.train_rows, the_plan.train_sharded)
    identity = job_identity(the_plan)
    team = scaleout.agree(
        peers,
        {**identity, "validation": the_plan.validation_source, "warm_start": warm.digest if warm else None},
        the_plan.train.labels[the_plan.train_rows],
        the_plan.class_count,
        int(the_plan.validation_rows.sum()),
        the_plan.validation_per_host,
    )
    return Job(team, settings, paths, identity, warm)


def train(paths: MLPaths, peers: Cluster | None = None) -> dict[str, Any]:
    """Plan, fit and save one model. While it runs, the failure file holds a provisional reason (what the job
    was doing and its memory), so a job killed from outside still leaves one; success removes it."""
    started = time.monotonic()
    start_clean(paths)
    peers = peers or Cluster()
    guard = MemoryGuard(report=lambda reason: write_failure_reason(paths, reason + "\n"))
    guard.enter("reading its channels")
    logger.info(f"memory limit {memory.gib(guard.limit.bytes)} ({guard.limit.source})")
    with guard.watch():
        the_plan = plan(paths, peers)
        job = prepare(paths, the_plan, peers)  # scale-out, spot, warm start
        train_rows, validation_rows = int(the_plan.train_rows.sum()), int(the_plan.validation_rows.sum())
        threads = thread_count(train_rows, len(the_plan.schema.features), available_cpus())
        logger.info(
            f"training on {train_rows} rows, validating on {validation_rows} ({the_plan.validation_source}), "
            f"{threads} thread(s)"
        )
        fitted = fit(
            the_plan, the_plan.train_rows, the_plan.validation, the_plan.validation_rows, threads, guard, job,
            with_baseline=the_plan.settings["baseline"],
        )  # fmt: skip
        metrics = metrics_of(the_plan, fitted, job, guard, threads, started)
    if peers.first:  # scale-out: only the first host writes the model and the metric lines
        save_model(paths, the_plan, fitted, metrics)
    else:
        logger.info(
            f"trained as host {peers.hosts.rank + 1} of {peers.count}; the first host saves the model"
        )
    paths.failure_file.unlink(missing_ok=True)
    peers.finish()
    return metrics


def start_clean(paths: MLPaths) -> None:
    """Before anything can fail: say when checkpoints will be resumed, and remove an earlier model from the
    model folder, so a job that fails leaves none behind for `serve` (SageMaker starts with an empty folder;
    a local /opt/ml keeps the last run's)."""
    store = CheckpointStore(paths.checkpoint_dir)
    if store.found():
        logger.info(
            f"checkpoints found in {store.directory} ({', '.join(store.found())}): this job resumes from "
            "them if an earlier run of this same job (same data and hyperparameters) left them, and fails if "
            f"another job did; {store.fresh_start()}"
        )
    warm_start.check_separate(paths.channel_dir(warm_start.CHANNEL), paths.model_dir)
    removed = artifact.clear(paths.model_dir)
    if removed:
        logger.info(
            f"removed the previous model from {paths.model_dir} ({', '.join(removed)}): a job that fails "
            "leaves no model behind"
        )


def main() -> int:
    started = time.monotonic()
    logs.configure("train")
    memory.return_freed_blocks()
    memory.arrow_buffers_from_jemalloc()
    paths = MLPaths.from_environment()
    peers = Cluster()  # scale-out: the other hosts, once joined; told why this one fails
    try:
        signals.stop_on_sigterm(started)
        train(paths, peers)
    except Exception as error:
        return fail(paths, failure_reason(error), peers, error)
    finally:
        peers.close()
    return 0


def fail(
    paths: MLPaths, reason: str, peers: Cluster | None = None, error: BaseException | None = None
) -> int:
    """First line of the failure file is the reason SageMaker shows; the log says it too, with a bug's
    traceback (see lightsage.errors: the class of the error says who is to blame).

    Every host writes its own failure file; the other hosts are told the reason (scale-out). A SIGTERM that
    arrives meanwhile (local mode stops every host once one ends) waits until the reason is written.
    """
    with signals.sigterm_held():
        logger.error(f"FAILED: {reason}", exc_info=error if error is not None and is_bug(error) else None)
        try:
            write_failure_reason(paths, reason + "\n")
        except OSError as failure:
            logger.error(f"could not write {paths.failure_file}: {failure}")
        if peers is not None:
            peers.abort(reason, error)
    return 1
