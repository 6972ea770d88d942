"""Requests checked against the real service models: botocore's own checks, and the enums, maximums, list
lengths and patterns of the same models that botocore lets through."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from lightsage_deploy.aws.validation import check_request, model_problems
from lightsage_deploy.errors import DeployError

SESSION = botocore.session.get_session()
SAGEMAKER = SESSION.get_service_model("sagemaker")
CLOUDWATCH = SESSION.get_service_model("cloudwatch")


def canary_update(**changes: Any) -> dict[str, Any]:
    routing = {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 600,
    }
    request: dict[str, Any] = {
        "EndpointName": "titanic",
        "EndpointConfigName": "titanic-v2",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": 600,
                "MaximumExecutionTimeoutInSeconds": 1800,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "titanic-5xx"}]},
        },
    }
    for path, value in changes.items():
        node = request
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return request


POLICY = "DeploymentConfig.BlueGreenUpdatePolicy"
ROUTING = f"{POLICY}.TrafficRoutingConfiguration"


def test_a_valid_request_passes() -> None:
    check_request(SAGEMAKER, "UpdateEndpoint", canary_update())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({f"{ROUTING}.Type": "BOGUS"}, "Type is 'BOGUS', not one of ALL_AT_ONCE, CANARY, LINEAR"),
        (
            {f"{ROUTING}.CanarySize.Type": "percent"},
            "Type is 'percent', not one of INSTANCE_COUNT, CAPACITY_PERCENT",
        ),
        ({f"{ROUTING}.WaitIntervalInSeconds": 4000}, "WaitIntervalInSeconds is 4000; at most 3600"),
        ({f"{POLICY}.TerminationWaitInSeconds": 4000}, "TerminationWaitInSeconds is 4000; at most 3600"),
        ({f"{POLICY}.MaximumExecutionTimeoutInSeconds": 99999}, "MaximumExecutionTimeoutInSeconds is 99999"),
        (
            {
                "DeploymentConfig.AutoRollbackConfiguration.Alarms": [
                    {"AlarmName": f"a{i}"} for i in range(11)
                ]
            },
            "Alarms has 11 entries; at most 10",
        ),
        (
            {"DeploymentConfig.AutoRollbackConfiguration.Alarms": [{"AlarmName": "a" * 300}]},
            "AlarmName is 300 characters long; at most 255",
        ),
        ({"EndpointName": "bad_name"}, "EndpointName 'bad_name' does not match the pattern"),
    ],
)
def test_what_botocore_lets_through_is_refused_naming_the_field(
    changes: dict[str, Any], problem: str
) -> None:
    request = canary_update(**changes)
    assert model_problems(request, SAGEMAKER.operation_model("UpdateEndpoint").input_shape, "")
    with pytest.raises(
        DeployError, match="UpdateEndpoint request refused before sending: .*" + problem.replace("(", r"\(")
    ):
        check_request(SAGEMAKER, "UpdateEndpoint", request)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({f"{ROUTING}.CanarySize.Value": 0}, "valid min value: 1"),
        ({f"{ROUTING}.WaitIntervalInSeconds": -1}, "valid min value: 0"),
        ({f"{POLICY}.MaximumExecutionTimeoutInSeconds": 60}, "valid min value: 600"),
        ({"DeploymentConfig.AutoRollbackConfiguration.Alarms": []}, "valid min length: 1"),
        ({f"{ROUTING}.CanarySize.Value": "10"}, "Invalid type"),
        ({f"{ROUTING}.CanaryPercent": 10}, "Unknown parameter"),
    ],
)
def test_botocores_own_findings_are_reported_too(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(DeployError, match=problem):
        check_request(SAGEMAKER, "UpdateEndpoint", canary_update(**changes))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Statistic": "Median"}, "Statistic is 'Median', not one of"),
        ({"ComparisonOperator": "Bigger"}, "ComparisonOperator is 'Bigger', not one of"),
        ({"Unit": "Micros"}, "Unit is 'Micros', not one of"),
    ],
)
def test_alarm_enums_are_checked(changes: dict[str, Any], problem: str) -> None:
    alarm = {
        "AlarmName": "titanic-5xx",
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors",
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 0.01,
        "ComparisonOperator": "GreaterThanThreshold",
        **changes,
    }
    with pytest.raises(DeployError, match=problem):
        check_request(CLOUDWATCH, "PutMetricAlarm", alarm)


def test_every_problem_is_named_at_once() -> None:
    request = canary_update(
        **{f"{ROUTING}.Type": "BOGUS", f"{ROUTING}.WaitIntervalInSeconds": -1, "EndpointName": "a_b"}
    )
    with pytest.raises(DeployError) as raised:
        check_request(SAGEMAKER, "UpdateEndpoint", request)
    assert all(part in str(raised.value) for part in ("BOGUS", "valid min value: 0", "'a_b'"))
