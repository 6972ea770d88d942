"""SageMaker Model Monitor's documented file formats, as far as names go: the data baseline's
`statistics.json` and `constraints.json`, the `constraint_violations.json` a check writes, their check types
and inferred types, and the keys of the model-quality metrics per task.

Only the names live here; `lightsage.evaluation` writes and reads the files. The Model Monitor service is not
needed (nor used): these are plain JSON documents that any tool can read.
"""

from __future__ import annotations

from enum import StrEnum

from lightsage.tasks import Task

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
BASELINE_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE)
# The documents' own "version" field, as Model Monitor writes it.
FORMAT_VERSION = 0.0


class InferredType(StrEnum):
    INTEGRAL = "Integral"
    FRACTIONAL = "Fractional"
    STRING = "String"
    UNKNOWN = "Unknown"


class Check(StrEnum):
    """The constraint check types of constraint_violations.json."""

    DATA_TYPE = "data_type_check"
    COMPLETENESS = "completeness_check"
    BASELINE_DRIFT = "baseline_drift_check"
    MISSING_COLUMN = "missing_column_check"
    EXTRA_COLUMN = "extra_column_check"
    CATEGORICAL_VALUES = "categorical_values_check"


# The model-quality statistics keep a task's metrics under one key.
QUALITY_METRICS_KEY: dict[Task, str] = {
    Task.BINARY: "binary_classification_metrics",
    Task.MULTICLASS: "multiclass_classification_metrics",
    Task.REGRESSION: "regression_metrics",
}
ENABLED = "Enabled"
DISABLED = "Disabled"
