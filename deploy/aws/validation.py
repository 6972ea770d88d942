"""Check a request against the AWS service model before it is sent: botocore's own validation, and the
constraints of the same model that botocore does not check.

botocore checks required members, types, minimums and unknown keys. It does not check enum values, maximums
(numbers, string lengths, list lengths) or patterns, although the service model states them: a canary of
WaitIntervalInSeconds 4000, an alarm Statistic "Median" or 11 rollback alarms pass it and fail only on AWS
(or, offline, never). `check_request` checks both and names every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import validate_parameters

from lightsage_deploy.errors import DeployError


def _pattern_matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:  # a Java-only regex construct: botocore's model is written for Java; leave it to AWS
        return True


def model_problems(value: Any, shape: Shape, path: str) -> list[str]:
    """The enum, maximum, length and pattern constraints of `shape` that `value` breaks, by member path."""
    problems: list[str] = []
    metadata = shape.metadata
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                problems += model_problems(value[name], member, f"{path}.{name}" if path else name)
    elif shape.type_name == "list" and isinstance(value, list | tuple):
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"{path} has {len(value)} entries; at most {metadata['max']} are allowed")
        for index, item in enumerate(value):
            problems += model_problems(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            problems += model_problems(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            problems.append(f"{path} is {value!r}, not one of {', '.join(enum)}")
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"{path} is {len(value)} characters long; at most {metadata['max']} are allowed")
        if "pattern" in metadata and not enum and not _pattern_matches(metadata["pattern"], value):
            problems.append(f"{path} {value!r} does not match the pattern {metadata['pattern']}")
    elif (
        shape.type_name in ("integer", "long", "double", "float")
        and isinstance(value, int | float)
        and "max" in metadata
        and value > metadata["max"]
    ):
        problems.append(f"{path} is {value}; at most {metadata['max']} is allowed")
    return problems


def check_request(service_model: Any, operation: str, parameters: Mapping[str, Any]) -> None:
    """Raise a DeployError naming every way `parameters` break `operation`'s input shape."""
    input_shape = service_model.operation_model(operation).input_shape
    problems: list[str] = []
    try:
        validate_parameters(dict(parameters), input_shape)
    except ParamValidationError as error:
        report = str(error.kwargs.get("report", error))
        problems += [line.strip() for line in report.splitlines() if line.strip()]
    problems += model_problems(parameters, input_shape, "")
    if problems:
        raise DeployError(f"{operation} request refused before sending: " + "; ".join(problems))
