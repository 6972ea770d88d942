"""The contract between the image's `evaluate` and `drift` Processing jobs and the host side that runs them.

One place for the folders each job reads and writes under /opt/ml/processing/, the files it writes there,
and where in `evaluation.json` a task's objective metric stands: the pipeline's ConditionStep reads that value
with a JsonGet, `byoc models` reads it back from the registered version's ModelMetrics, `evaluate` writes it.

`evaluation.json` takes the shape of SageMaker Model Monitor's model-quality metrics, one section per task,
each metric as {"value": ...}: {"binary_classification_metrics": {"auc": {"value": 0.87}, ...}}.
"""

from __future__ import annotations

import re

from lightsage.tasks import OBJECTIVE_METRIC, Task

PROCESSING_ROOT = "/opt/ml/processing"
EVALUATE_ENTRY = "evaluate"
DRIFT_ENTRY = "drift"

# evaluate: reads the model and a labelled table (and optionally the training table for the data baseline).
MODEL_INPUT = f"{PROCESSING_ROOT}/model"  # model.tar.gz
DATA_INPUT = f"{PROCESSING_ROOT}/data"  # the labelled table(s) to score: CSV with a header, or Parquet
BASELINE_INPUT = f"{PROCESSING_ROOT}/baseline"  # optional
# ... and writes, below one output folder:
EVALUATION_OUTPUT = f"{PROCESSING_ROOT}/evaluation"
EVALUATION_FILE = "evaluation.json"
REPORT_FOLDER = "report"  # report/index.html and its images
BASELINE_FOLDER = "baseline"  # baseline/statistics.json and baseline/constraints.json
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"

# drift: reads the model (MODEL_INPUT) or its baseline (BASELINE_INPUT) and a window of traffic, and writes
# constraint_violations.json and its report below DRIFT_OUTPUT; its last line is DRIFT_SUMMARY.
TRAFFIC_INPUT = f"{PROCESSING_ROOT}/traffic"  # data-capture JSON Lines, or CSV or Parquet files
DRIFT_OUTPUT = f"{PROCESSING_ROOT}/drift"
VIOLATIONS_FILE = "constraint_violations.json"
DRIFT_SUMMARY = re.compile(r"drift: (\d+) violation\(s\) in (\d+) feature\(s\)(?:: (.*))?$")

# Model Monitor's model-quality section for each task.
METRICS_SECTION: dict[Task, str] = {
    Task.BINARY: "binary_classification_metrics",
    Task.MULTICLASS: "multiclass_classification_metrics",
    Task.REGRESSION: "regression_metrics",
}


def metric_json_path(task: Task, metric: str) -> str:
    """Where a metric's value stands in evaluation.json, as a JsonGet path: `SECTION.METRIC.value`."""
    return f"{METRICS_SECTION[task]}.{metric}.value"


def objective_json_path(task: Task) -> str:
    """Where the task's objective metric (`lightsage.tasks.OBJECTIVE_METRIC`) stands in evaluation.json."""
    return metric_json_path(task, OBJECTIVE_METRIC[task])


def read_json_path(document: object, path: str) -> object:
    """The value at a dotted path of a parsed JSON document (as JsonGet reads it), or None when absent."""
    value = document
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value
