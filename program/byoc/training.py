"""The `train` program: SageMaker config and channels in, a pipeline and metrics (or a clear failure) out."""

from __future__ import annotations

import platform
import resource
import signal
import sys
import time
import traceback
from importlib import metadata
from types import FrameType
from typing import Any

from byoc.contract import (
    ContractError,
    MLPaths,
    read_hyperparameters,
    read_input_data_config,
    read_resource_config,
    write_failure_reason,
)
from byoc.datasets import DataError, labelled_rows, read_channel, split_holdout
from byoc.hyperparameters import HyperparameterError, parse_hyperparameters
from byoc.model import (
    InputSchema,
    build_pipeline,
    classification_metrics,
    cross_validated_metrics,
    positive_probabilities,
    save_artifacts,
)

REPORTED_LIBRARIES = ("lightgbm", "scikit-learn", "pandas", "numpy", "joblib")
METRIC_NAMES = ("accuracy", "auc", "f1", "log_loss")


class TrainingInterrupted(Exception):
    """SIGTERM arrived: SageMaker sends it on StopTrainingJob and on spot interruption."""


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)


def metric_line(prefix: str, name: str, value: float) -> str:
    """One metric per line, no tabs, in the form a SageMaker metric_definitions regex reads."""
    return f"{prefix}:{name}={value:.6f};"


def _raise_on_sigterm(started: float) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise TrainingInterrupted(
            f"training was stopped by {signal.Signals(signum).name} after {time.monotonic() - started:.1f} s "
            "(StopTrainingJob or a spot interruption); no model was saved"
        )

    signal.signal(signal.SIGTERM, handler)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    versions.update({name: metadata.version(name) for name in REPORTED_LIBRARIES})
    return versions


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def train(paths: MLPaths) -> dict[str, Any]:
    started = time.monotonic()
    hyperparameters = parse_hyperparameters(read_hyperparameters(paths))
    channels = read_input_data_config(paths)
    resources = read_resource_config(paths)
    target = hyperparameters["target"]
    configured = ", ".join(sorted(channels)) or "none"
    log(f"host {resources.current_host} of {len(resources.hosts)}; channels configured: {configured}")
    log("hyperparameters: " + ", ".join(f"{key}={value}" for key, value in hyperparameters.items()))

    train_frame = read_channel(paths.channel_dir("train"), "train", target)
    schema = InputSchema.from_training_columns([str(column) for column in train_frame.columns], target)
    train_x, train_y, dropped = labelled_rows(train_frame, "train", target)
    if dropped:
        log(f"channel 'train': dropped {dropped} row(s) without a '{target}' value")

    validation_dir = paths.channel_dir("validation")
    if validation_dir.exists():
        validation_frame = read_channel(validation_dir, "validation", target)
        valid_x, valid_y, dropped = labelled_rows(validation_frame, "validation", target)
        if dropped:
            log(f"channel 'validation': dropped {dropped} row(s) without a '{target}' value")
        validation_source = "validation channel"
    else:
        fraction = hyperparameters["validation_fraction"]
        train_x, valid_x, train_y, valid_y = split_holdout(
            train_x, train_y, fraction, hyperparameters["random_state"]
        )
        validation_source = f"stratified {fraction:.0%} hold-out of train (no validation channel)"
        log(f"no 'validation' channel: holding out {len(valid_y)} of the train rows for validation")

    log(f"training on {len(train_y)} rows ({int(train_y.sum())} positive); validating on {len(valid_y)} rows")
    pipeline = build_pipeline(hyperparameters).fit(train_x, train_y)
    metrics: dict[str, Any] = {
        "train": classification_metrics(train_y, positive_probabilities(pipeline, train_x)),
        "validation": classification_metrics(valid_y, positive_probabilities(pipeline, valid_x)),
        "validation_source": validation_source,
    }
    if hyperparameters["cv_folds"]:
        log(f"cross-validating with {hyperparameters['cv_folds']} stratified folds on train")
        metrics["cross_validation"] = cross_validated_metrics(hyperparameters, train_x, train_y)
    metrics.update(
        hyperparameters=hyperparameters,
        features=list(pipeline.named_steps["features"].get_feature_names_out()),
        feature_importance=dict(
            zip(
                pipeline.named_steps["features"].get_feature_names_out().tolist(),
                pipeline.named_steps["model"].booster_.feature_importance("gain").round(3).tolist(),
                strict=True,
            )
        ),
        libraries=library_versions(),
        duration_seconds=round(time.monotonic() - started, 3),
        peak_rss_mib=peak_rss_mib(),
    )
    save_artifacts(paths.model_dir, pipeline, schema, metrics)
    report(metrics)
    log(f"saved model.joblib, input_schema.json and metrics.json to {paths.model_dir}")
    log(f"took {metrics['duration_seconds']:.1f} s, peak memory {metrics['peak_rss_mib']:.0f} MiB")
    return metrics


def report(metrics: dict[str, Any]) -> None:
    for split in ("train", "validation"):
        values = metrics[split]
        summary = ", ".join(f"{name} {values[name]:.4f}" for name in METRIC_NAMES if values[name] is not None)
        log(f"{split} ({values['rows']} rows): {summary}")
    for split in ("train", "validation"):
        for name in METRIC_NAMES:
            if metrics[split][name] is not None:
                print(metric_line(split, name, metrics[split][name]), flush=True)
    if "cross_validation" in metrics:
        for name in ("auc_mean", "accuracy_mean"):
            print(metric_line("cv", name, metrics["cross_validation"][name]), flush=True)


def main() -> int:
    started = time.monotonic()
    _raise_on_sigterm(started)
    paths = MLPaths.from_environment()
    try:
        train(paths)
    except (HyperparameterError, DataError, ContractError, TrainingInterrupted) as error:
        return fail(paths, str(error))
    except Exception as error:
        return fail(paths, f"unexpected error: {type(error).__name__}: {error}")
    return 0


def fail(paths: MLPaths, reason: str) -> int:
    """First line of the failure file is the reason SageMaker shows; the traceback goes to stderr."""
    traceback.print_exc(file=sys.stderr)
    print(f"[train] FAILED: {reason}", file=sys.stderr, flush=True)
    try:
        write_failure_reason(paths, reason + "\n")
    except OSError as error:
        print(f"[train] could not write {paths.failure_file}: {error}", file=sys.stderr, flush=True)
    return 1
