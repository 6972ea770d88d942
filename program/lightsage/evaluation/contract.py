"""What the host side and the image agree on for the two processing programs, `evaluate` and `drift`: the
program names, each input and output (its name and its folder under /opt/ml/processing), the files written,
where a task's objective metric stands in evaluation.json (a pipeline's `JsonGet` and ConditionStep read it
there, `byoc models` reads it back from a registered version's ModelMetrics) and the drift summary line.
`lightsage_deploy` builds its ProcessingInputs and ProcessingOutputs from here.

evaluate:   model (model.tar.gz, or the model's files) + data (labelled CSV/Parquet tables)
            [+ baseline: the training table, for the data baseline]
            -> evaluation/evaluation.json, evaluation/report/index.html,
               evaluation/baseline/statistics.json and constraints.json (when there is a baseline)
drift:      model + traffic (data-capture JSON Lines files, or CSV/Parquet tables)
            [+ baseline: statistics.json and/or constraints.json overriding the model's own]
            -> drift/constraint_violations.json, drift/statistics.json, drift/report/index.html;
               its last line on standard output is `drift: N violation(s) in M feature(s): a, b`

`evaluation.json` takes the shape of SageMaker Model Monitor's model-quality statistics, one section per
task, each metric as {"value": ..., "standard_deviation": ...}:
{"binary_classification_metrics": {"auc": {"value": 0.87, ...}, ...}}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lightsage.contract.monitoring import (
    CONSTRAINTS_FILE,
    QUALITY_METRICS_KEY,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
)
from lightsage.tasks import OBJECTIVE_METRIC, Direction, Task, metric

PROCESSING_ROOT = "/opt/ml/processing"
EVALUATE_ENTRY = "evaluate"
DRIFT_ENTRY = "drift"


@dataclass(frozen=True)
class Slot:
    """One processing input or output: its name (ProcessingInput.input_name / ProcessingOutput.output_name)
    and its folder in the container (the input's destination, the output's source)."""

    name: str
    required: bool = True

    @property
    def local_path(self) -> str:
        return f"{PROCESSING_ROOT}/{self.name}"


MODEL = Slot("model")
DATA = Slot("data")
TRAINING_DATA = Slot("baseline", required=False)
EVALUATION = Slot("evaluation")
TRAFFIC = Slot("traffic")
GIVEN_BASELINE = Slot("baseline", required=False)
DRIFT_RESULTS = Slot("drift")

EVALUATE_INPUTS = (MODEL, DATA, TRAINING_DATA)
EVALUATE_OUTPUTS = (EVALUATION,)
DRIFT_INPUTS = (MODEL, TRAFFIC, GIVEN_BASELINE)
DRIFT_OUTPUTS = (DRIFT_RESULTS,)

# The same folders as plain paths, for a ProcessingInput's destination or a ProcessingOutput's source.
MODEL_INPUT = MODEL.local_path  # model.tar.gz
DATA_INPUT = DATA.local_path  # the labelled table(s) to score: CSV with a header, or Parquet
BASELINE_INPUT = TRAINING_DATA.local_path  # evaluate: the training table; drift: statistics/constraints
EVALUATION_OUTPUT = EVALUATION.local_path
TRAFFIC_INPUT = TRAFFIC.local_path  # data-capture JSON Lines, or CSV or Parquet files
DRIFT_OUTPUT = DRIFT_RESULTS.local_path

MODEL_ARCHIVE = "model.tar.gz"
EVALUATION_FILE = "evaluation.json"
REPORT_FOLDER = "report"
REPORT_FILE = f"{REPORT_FOLDER}/index.html"
BASELINE_FOLDER = "baseline"
# Files in the evaluation output, relative to it; and in the drift output.
EVALUATION_FILES = (
    EVALUATION_FILE,
    REPORT_FILE,
    f"{BASELINE_FOLDER}/{STATISTICS_FILE}",
    f"{BASELINE_FOLDER}/{CONSTRAINTS_FILE}",
)
DRIFT_FILES = (VIOLATIONS_FILE, STATISTICS_FILE, REPORT_FILE)
# evaluation.json is Model Monitor's model-quality statistics, `ModelMetrics(model_statistics=...)`'s
# content type.
EVALUATION_CONTENT_TYPE = "application/json"

# Model Monitor's model-quality section for each task.
METRICS_SECTION: dict[Task, str] = QUALITY_METRICS_KEY

# The drift program's last line; `search` finds it in a log line with a prefix (local mode's container name).
DRIFT_SUMMARY = re.compile(r"drift: (\d+) violation\(s\) in (\d+) feature\(s\)(?:: (.*))?$")


@dataclass(frozen=True)
class Objective:
    """The task's objective metric: its name, which way is better, and its JSON path in evaluation.json."""

    metric: str
    direction: Direction
    json_path: str

    @property
    def passes_at_or_above(self) -> bool:
        """Whether a gate passes when the value is at or above the threshold (else at or below)."""
        return self.direction == "Maximize"


def objective(task: Task) -> Objective:
    """The metric a pipeline gates on: the one the tuner optimises (AUC, multiclass log loss, RMSE)."""
    name = OBJECTIVE_METRIC[task]
    return Objective(name, metric(task, name).direction, objective_json_path(task))


def metric_json_path(task: Task, name: str) -> str:
    """Where a metric's value stands in evaluation.json, as a JsonGet path: `SECTION.METRIC.value`."""
    return f"{METRICS_SECTION[task]}.{name}.value"


def objective_json_path(task: Task) -> str:
    """`binary_classification_metrics.auc.value`: where `JsonGet` finds the task's objective metric."""
    return metric_json_path(task, OBJECTIVE_METRIC[task])


def read_json_path(document: object, path: str) -> object:
    """The value at a dotted path of a parsed JSON document (as JsonGet reads it), or None when absent."""
    value = document
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def drift_summary(violations: int, features: list[str]) -> str:
    """The drift program's last line: `drift: 2 violation(s) in 2 feature(s): Age, Fare`."""
    line = f"drift: {violations} violation(s) in {len(features)} feature(s)"
    return f"{line}: {', '.join(features)}" if features else line


def parse_drift_summary(line: str) -> tuple[int, list[str]] | None:
    """The violation count and feature names of a summary line; None when the line is not one."""
    match = DRIFT_SUMMARY.fullmatch(line.strip())
    if match is None:
        return None
    names = match.group(3).split(", ") if match.group(3) else []
    return int(match.group(1)), names
