"""The tuning job: `byoc train`'s estimator under a HyperparameterTuner on the task's objective metric, over
the recipe's declared ranges less every hyperparameter that is set."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightsage.contract import hyperparameters as hp
from lightsage.recipes.base import Recipe
from lightsage.tasks import Task
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters, metrics
from lightsage_deploy.steps.train import TrainingOptions, build_estimator, training_inputs
from lightsage_deploy.targets import target as settings

if TYPE_CHECKING:
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import HyperparameterTuner

DEFAULT_MAX_JOBS = 20
DEFAULT_MAX_PARALLEL_JOBS = 2
TUNING_FINISHED = ("Completed", "Failed", "Stopped")


def parameter_range(spec: hp.Hyperparameter) -> Any:
    """The SDK's range for a declared TuningRange: integers as IntegerParameter, the rest as continuous."""
    from sagemaker.tuner import ContinuousParameter, IntegerParameter

    tuning = spec.tuning
    if tuning is None:
        raise DeployError(f"hyperparameter {spec.name!r} has no tuning range")
    if spec.kind is int:
        return IntegerParameter(int(tuning.low), int(tuning.high), scaling_type=tuning.scaling)
    return ContinuousParameter(tuning.low, tuning.high, scaling_type=tuning.scaling)


def hyperparameter_ranges(values: Mapping[str, str], script: type[Recipe] | None = None) -> dict[str, Any]:
    ranges = {
        name: parameter_range(spec) for name, spec in hyperparameters.tuning_ranges(values, script).items()
    }
    if not ranges:
        raise DeployError(
            "nothing to tune: every tunable hyperparameter of the recipe is set to a fixed value"
        )
    return ranges


def build_tuner(
    estimator: Estimator, options: TrainingOptions, max_jobs: int, max_parallel_jobs: int
) -> HyperparameterTuner:
    from sagemaker.tuner import HyperparameterTuner

    if not 1 <= max_parallel_jobs <= max_jobs:
        raise DeployError(
            f"--max-parallel-jobs must be between 1 and --max-jobs ({max_jobs}), not {max_parallel_jobs}"
        )
    task = metrics.known_task(options.hyperparameters, options.script)
    if task is None:
        raise DeployError("a tuning job needs its task: settle its options with with_tuning_task")
    objective = metrics.objective(task)
    return HyperparameterTuner(
        estimator,
        objective_metric_name=objective.name,
        objective_type=objective.direction,
        hyperparameter_ranges=hyperparameter_ranges(options.hyperparameters, options.script),
        metric_definitions=metrics.metric_definitions(task),
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        base_tuning_job_name=options.project.base_job_name,
        tags=options.project.tags,
    )


def with_tuning_task(options: TrainingOptions, source: Path) -> tuple[TrainingOptions, Task | None]:
    """`byoc train`'s options with the task settled, and the task when it had to be inferred (else None).

    The objective metric depends on the task: when neither --task, the hyperparameters nor the recipe name
    it, it is inferred from the project's data source `source` (as `train` infers it) and sent to every
    trial."""
    if metrics.known_task(options.hyperparameters, options.script) is not None:
        return options, None
    task = metrics.inferred_task(options.hyperparameters, source, options.script)
    return replace(options, hyperparameters={**options.hyperparameters, "task": task.value}), task


def start_tuning(tuner: HyperparameterTuner, options: TrainingOptions) -> str:
    tuner.fit(training_inputs(options.layout, options.content_type), wait=False)
    return str(tuner.latest_tuning_job.name)


def tuning_request(
    target: settings.DeployTarget, options: TrainingOptions, max_jobs: int, max_parallel_jobs: int
) -> dry_run.Request:
    """The CreateHyperParameterTuningJob request, built by the SDK and validated, not sent."""
    if options.recipe_folder is not None:
        raise DeployError(
            "--dry-run cannot show a tuning job that ships a recipe folder: the SDK uploads the folder to S3 "
            "before it builds the request"
        )
    with dry_run.capture(target.boto_session) as captured:
        start_tuning(
            build_tuner(build_estimator(target, options), options, max_jobs, max_parallel_jobs), options
        )
    return dry_run.only(captured, "CreateHyperParameterTuningJob")


def describe_best(target: settings.DeployTarget, job_name: str) -> list[str]:
    client = target.sagemaker_session.sagemaker_client
    description = wait_for(
        lambda: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name),
        "HyperParameterTuningJobStatus",
        TUNING_FINISHED,
        f"tuning job {job_name}",
        detail=lambda described: ", ".join(
            f"{count} {state.lower()}"
            for state, count in described.get("TrainingJobStatusCounters", {}).items()
            if count
        ),
        poll_seconds=30,
    )
    lines = [f"status:   {description['HyperParameterTuningJobStatus']}"]
    best = description.get("BestTrainingJob")
    if best:
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        lines.append(
            f"best:     {best['TrainingJobName']} {objective.get('MetricName')}={objective.get('Value')}"
        )
        lines.append(f"settings: {json.dumps(best.get('TunedHyperParameters', {}), sort_keys=True)}")
    return lines
