"""The `evaluate` program, a SageMaker Processing job (the folders are in `lightsage.evaluation.contract`):
score the labelled tables in `data` with the model in `model`, and write into `evaluation`:

- evaluation.json: Model Monitor's model-quality statistics (`lightsage.evaluation.metrics`);
- report/index.html: the page people look at (`lightsage.evaluation.report`);
- baseline/statistics.json and constraints.json: the data baseline of the training table given in `baseline`,
  else the one the model carries (train writes it), else none (the log says so).

Nothing is written until everything is computed, and then into a staging folder renamed into place, so a job
that fails leaves no half-written evaluation (its output folder is uploaded even then).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightsage.contract.monitoring import CONSTRAINTS_FILE, STATISTICS_FILE
from lightsage.contract.processing import ProcessingPaths
from lightsage.contract.resources import available_cpus
from lightsage.errors import UserError
from lightsage.evaluation import contract, inputs
from lightsage.evaluation.baseline import StatisticsBuilder
from lightsage.evaluation.metrics import Scored, quality_statistics
from lightsage.evaluation.report import evaluation_report
from lightsage.model.artifact import Baseline, Model
from lightsage.tasks import Task

logger = logging.getLogger(__name__)


class ArgumentError(UserError):
    """The program's arguments (the job's ContainerArguments) are not ones it takes."""


def parse_arguments(
    program: str, arguments: Sequence[str], parser: argparse.ArgumentParser
) -> argparse.Namespace:
    try:
        options, unknown = parser.parse_known_args(list(arguments))
    except argparse.ArgumentError as error:
        raise ArgumentError(f"{program}: {error} (arguments: {' '.join(arguments) or 'none'})") from None
    if unknown:
        usage = parser.format_usage().strip().removeprefix("usage: ")
        raise ArgumentError(f"{program}: unrecognized arguments: {' '.join(unknown)} (usage: {usage})")
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=contract.EVALUATE_ENTRY, exit_on_error=False, add_help=False)
    parser.add_argument(
        "--task",
        choices=[task.value for task in Task],
        help="the task the caller expects (a pipeline's gate reads its metric): fail if the model's differs",
    )
    return parser


def data_baseline(model: Model, folder: Path) -> Baseline | None:
    """The baseline of the training table in `folder` when given, else the model's own, else None."""
    if folder.is_dir() and any(folder.iterdir()):
        reader = inputs.table_reader(folder, contract.TRAINING_DATA.name)
        schema = model.manifest.inputs
        inputs.check_columns(reader, schema, f"channel '{reader.channel}'")
        builder = StatisticsBuilder(schema.features)
        for _, typed in inputs.typed_batches(reader, schema, []):
            builder.observe(typed)
        logger.info(f"data baseline of {builder.rows} row(s) of {folder}")
        return Baseline(builder.statistics(), builder.constraints())
    if model.baseline is not None:
        logger.info("data baseline: the model's own (its training rows)")
        return model.baseline
    logger.info(
        "no data baseline: the model carries none (trained with baseline=false, or by an older image) and no "
        f"training table was given in {folder}"
    )
    return None


def _write(output: Path, files: Mapping[str, str]) -> None:
    """The files (relative names to text) into `output`, all at once: staged, then renamed into place."""
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=output))
    try:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8")
        for name in files:  # evaluation.json last: it is what a pipeline waits for
            (output / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).replace(output / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _json(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


def evaluate(paths: ProcessingPaths, arguments: Sequence[str]) -> str:
    options = parse_arguments(contract.EVALUATE_ENTRY, arguments, _parser())
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        model = inputs.open_model(paths.folder(contract.MODEL.name), Path(scratch))
        manifest = model.manifest
        if options.task is not None and options.task != manifest.task.value:
            raise UserError(
                f"the model's task is {manifest.task} but the job expects {options.task} (--task): the gate "
                f"would read {contract.objective_json_path(Task(options.task))}, which a {manifest.task} "
                f"evaluation does not have; use a model trained for {options.task}, or --task {manifest.task}"
            )
        reader = inputs.table_reader(paths.folder(contract.DATA.name), contract.DATA.name)
        labels, scores = inputs.score_labelled(model, reader, available_cpus())
        scored = Scored(manifest.task, manifest.classes, labels, scores)
        statistics = quality_statistics(scored)
        baseline = data_baseline(model, paths.folder(contract.TRAINING_DATA.name))
        importance = dict(
            zip(
                manifest.features,
                model.booster.feature_importance("gain", iteration=manifest.best_iteration or None).tolist(),
                strict=True,
            )
        )
    goal = contract.objective(manifest.task)
    value = statistics[contract.METRICS_SECTION[manifest.task]][goal.metric]["value"]
    description = {
        "model": f"{manifest.recipe} ({manifest.task}, target '{manifest.target}')",
        "classes": ", ".join(map(str, manifest.classes)) or "none (regression)",
        "rows evaluated": len(labels),
        "data": ", ".join(file.name for file in reader.files),
        "objective": f"{goal.metric} = {value} ({goal.direction.lower()}; JSON path {goal.json_path})",
    }
    files = {}
    if baseline is not None:
        files[f"{contract.BASELINE_FOLDER}/{STATISTICS_FILE}"] = _json(baseline.statistics)
        files[f"{contract.BASELINE_FOLDER}/{CONSTRAINTS_FILE}"] = _json(baseline.constraints)
    files[contract.REPORT_FILE] = evaluation_report(
        description, scored, statistics, importance, baseline.statistics if baseline else None
    )
    files[contract.EVALUATION_FILE] = _json(statistics)
    output = paths.folder(contract.EVALUATION.name)
    _write(output, files)
    logger.info(f"wrote {', '.join(files)} to {output}")
    summary = f"evaluate: {goal.metric} {value} on {len(labels)} row(s) of task {manifest.task}"
    print(summary, flush=True)
    return summary
