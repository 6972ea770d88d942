"""JSON Schemas of SageMaker Model Monitor's documented files, written from AWS's pages ("Schema for
Statistics", "Schema for Constraints", "Schema for Violations", "Model quality metrics"), to hold the image's
files to those shapes. The SDK's readers (sagemaker.model_monitor.Statistics, ...) check nothing but JSON."""

from __future__ import annotations

from typing import Any

import jsonschema

COUNT = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number"}
INFERRED = {"enum": ["Integral", "Fractional", "String", "Unknown"]}
COMMON = {
    "type": "object",
    "required": ["num_present", "num_missing"],
    "properties": {"num_present": COUNT, "num_missing": COUNT},
}
KLL = {
    "type": "object",
    "required": ["buckets", "sketch"],
    "properties": {
        "buckets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["lower_bound", "upper_bound", "count"],
                "properties": {"lower_bound": NUMBER, "upper_bound": NUMBER, "count": NUMBER},
            },
        },
        "sketch": {
            "type": "object",
            "required": ["parameters", "data"],
            "properties": {
                "parameters": {
                    "type": "object",
                    "required": ["c", "k"],
                    "properties": {"c": NUMBER, "k": NUMBER},
                },
                "data": {"type": "array", "items": {"type": "array", "items": NUMBER}},
            },
        },
    },
}
NUMERICAL = {
    "type": "object",
    "required": ["common"],
    "properties": {
        "common": COMMON,
        "mean": NUMBER,
        "sum": NUMBER,
        "std_dev": NUMBER,
        "min": NUMBER,
        "max": NUMBER,
        "distribution": {"type": "object", "required": ["kll"], "properties": {"kll": KLL}},
    },
    # with values present, every figure is there
    "if": {"properties": {"common": {"properties": {"num_present": {"minimum": 1}}}}},
    "then": {"required": ["common", "mean", "sum", "std_dev", "min", "max", "distribution"]},
}
STRING = {
    "type": "object",
    "required": ["common", "distinct_count"],
    "properties": {
        "common": COMMON,
        "distinct_count": NUMBER,
        "distribution": {
            "type": "object",
            "required": ["categorical"],
            "properties": {
                "categorical": {
                    "type": "object",
                    "required": ["buckets"],
                    "properties": {
                        "buckets": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["value", "count"],
                                "properties": {"value": {"type": "string"}, "count": NUMBER},
                            },
                        }
                    },
                }
            },
        },
    },
}
STATISTICS = {
    "type": "object",
    "required": ["version", "dataset", "features"],
    "properties": {
        "version": NUMBER,
        "dataset": {"type": "object", "required": ["item_count"], "properties": {"item_count": COUNT}},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "inferred_type"],
                "properties": {
                    "name": {"type": "string"},
                    "inferred_type": INFERRED,
                    "numerical_statistics": NUMERICAL,
                    "string_statistics": STRING,
                },
                "oneOf": [{"required": ["numerical_statistics"]}, {"required": ["string_statistics"]}],
            },
        },
    },
}
SWITCH = {"enum": ["Enabled", "Disabled"]}
SHARE = {"type": "number", "minimum": 0, "maximum": 1}
CONSTRAINTS = {
    "type": "object",
    "required": ["version", "features", "monitoring_config"],
    "properties": {
        "version": NUMBER,
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "inferred_type", "completeness"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "inferred_type": INFERRED,
                    "completeness": SHARE,
                    "num_constraints": {
                        "type": "object",
                        "properties": {"is_non_negative": {"type": "boolean"}},
                        "additionalProperties": False,
                    },
                    "string_constraints": {
                        "type": "object",
                        "required": ["domains"],
                        "properties": {"domains": {"type": "array", "items": {"type": "string"}}},
                        "additionalProperties": False,
                    },
                    "monitoringConfigOverrides": {"type": "object"},
                },
            },
        },
        "monitoring_config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "evaluate_constraints": SWITCH,
                "emit_metrics": SWITCH,
                "datatype_check_threshold": NUMBER,
                "domain_content_threshold": NUMBER,
                "distribution_constraints": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "perform_comparison": SWITCH,
                        "comparison_threshold": NUMBER,
                        "comparison_method": {"enum": ["Simple", "Robust"]},
                        "categorical_comparison_threshold": NUMBER,
                        "categorical_drift_method": {"enum": ["LInfinity", "ChiSquared"]},
                    },
                },
            },
        },
    },
}
CHECK_TYPES = [
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
]
VIOLATIONS = {
    "type": "object",
    "required": ["violations"],
    "additionalProperties": False,
    "properties": {
        "violations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["feature_name", "constraint_check_type", "description"],
                "additionalProperties": False,
                "properties": {
                    "feature_name": {"type": "string"},
                    "constraint_check_type": {"enum": CHECK_TYPES},
                    "description": {"type": "string"},
                },
            },
        }
    },
}
VALUE = {
    "type": "object",
    "required": ["value", "standard_deviation"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": ["number", "string"]},
        "standard_deviation": {"type": ["number", "string"]},
    },
}
CONFUSION = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": COUNT}}


def _metrics(names: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {name: VALUE for name in names}
    properties.update(extra or {})
    return {"type": "object", "required": list(properties), "properties": properties}


BINARY_METRICS = _metrics(
    [
        "recall", "precision", "accuracy", "recall_best_constant_classifier",
        "precision_best_constant_classifier", "accuracy_best_constant_classifier", "true_positive_rate",
        "true_negative_rate", "false_positive_rate", "false_negative_rate", "auc", "f0_5", "f1", "f2",
        "f0_5_best_constant_classifier", "f1_best_constant_classifier", "f2_best_constant_classifier",
    ],
    {
        "confusion_matrix": CONFUSION,
        "receiver_operating_characteristic_curve": {
            "type": "object",
            "required": ["false_positive_rates", "true_positive_rates"],
            "properties": {
                "false_positive_rates": {"type": "array", "items": NUMBER},
                "true_positive_rates": {"type": "array", "items": NUMBER},
            },
        },
        "precision_recall_curve": {
            "type": "object",
            "required": ["precisions", "recalls"],
            "properties": {
                "precisions": {"type": "array", "items": NUMBER},
                "recalls": {"type": "array", "items": NUMBER},
            },
        },
    },
)  # fmt: skip
MULTICLASS_METRICS = _metrics(
    [
        "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2",
        "accuracy_best_constant_classifier", "weighted_recall_best_constant_classifier",
        "weighted_precision_best_constant_classifier", "weighted_f0_5_best_constant_classifier",
        "weighted_f1_best_constant_classifier", "weighted_f2_best_constant_classifier",
    ],
    {"confusion_matrix": CONFUSION},
)  # fmt: skip
REGRESSION_METRICS = _metrics(["mae", "mse", "rmse", "r2"])
MODEL_QUALITY = {
    "type": "object",
    "required": ["version", "dataset"],
    "properties": {
        "version": NUMBER,
        "dataset": {"type": "object", "required": ["item_count"], "properties": {"item_count": COUNT}},
        "binary_classification_metrics": BINARY_METRICS,
        "multiclass_classification_metrics": MULTICLASS_METRICS,
        "regression_metrics": REGRESSION_METRICS,
    },
    "oneOf": [
        {"required": ["binary_classification_metrics"]},
        {"required": ["multiclass_classification_metrics"]},
        {"required": ["regression_metrics"]},
    ],
}


def check(document: Any, schema: dict[str, Any]) -> None:
    """Raise jsonschema's ValidationError naming the first place the document leaves the shape."""
    jsonschema.validate(document, schema)
