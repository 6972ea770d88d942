"""The guarded rollout: SageMaker's documented limits on UpdateEndpoint's DeploymentConfig, the requests of a
rollout checked before any is sent, the rollback alarms on moto, and an interrupted rollout undone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import rollout
from lightsage_deploy.targets import target as settings

FLEET = rollout.Fleet("AllTraffic", "ml.m5.large", 4)
ROLE = "arn:aws:iam::111111111111:role/rollout-tests"
MODEL = rollout.NewModel({"Image": "image:1", "ModelDataUrl": "s3://bucket/model.tar.gz"}, ROLE, "a model")


@pytest.fixture
def options(example_project: project.Project) -> rollout.RolloutOptions:
    return rollout.RolloutOptions(example_project, "titanic-byoc-prod", rollout.Traffic.CANARY, 10)


@pytest.fixture
def aws_target(offline_aws: None) -> settings.DeployTarget:
    return settings.DeployTarget(region="us-east-1")


def update(traffic: str, size: dict[str, Any] | None = None, **policy: Any) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": traffic, "WaitIntervalInSeconds": policy.pop("wait", 600)}
    if size is not None:
        routing["LinearStepSize" if traffic == "LINEAR" else "CanarySize"] = size
    return {
        "EndpointName": "titanic",
        "EndpointConfigName": "titanic-v2",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": policy.pop("termination", 300),
                "MaximumExecutionTimeoutInSeconds": policy.pop("timeout", 3600),
            },
            "AutoRollbackConfiguration": {"Alarms": policy.pop("alarms", [{"AlarmName": "a"}])},
        },
    }


def percent(value: int) -> dict[str, Any]:
    return {"Type": "CAPACITY_PERCENT", "Value": value}


@pytest.mark.parametrize("value", [1, 10, 50])
def test_a_canary_of_up_to_half_the_fleet_is_allowed(value: int) -> None:
    assert rollout.guardrail_problems(update("CANARY", percent(value))) == []


@pytest.mark.parametrize("value", [51, 80, 100])
def test_a_canary_of_more_than_half_the_fleet_is_refused(value: int) -> None:
    assert rollout.guardrail_problems(update("CANARY", percent(value))) == [
        f"a canary (--canary {value}) is at most 50 % of the fleet, not {value} %"
    ]


@pytest.mark.parametrize(("value", "allowed"), [(9, False), (10, True), (33, True), (50, True), (51, False)])
def test_linear_steps_are_ten_to_fifty_percent(value: int, allowed: bool) -> None:
    problems = rollout.guardrail_problems(update("LINEAR", percent(value), timeout=28800))
    assert problems == (
        [] if allowed else [f"a linear step (--linear {value}) is 10 to 50 % of the fleet, not {value} %"]
    )


@pytest.mark.parametrize(("instances", "allowed"), [(1, True), (2, True), (3, False)])
def test_an_instance_count_canary_is_measured_against_the_fleet(instances: int, allowed: bool) -> None:
    request = update("CANARY", {"Type": "INSTANCE_COUNT", "Value": instances})
    assert (rollout.guardrail_problems(request, instance_count=4) == []) is allowed


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (update("CANARY"), "CANARY traffic routing needs a CanarySize"),
        (update("LINEAR"), "LINEAR traffic routing needs a LinearStepSize"),
        (update("ALL_AT_ONCE", percent(10)), "CanarySize belongs to CANARY traffic routing, not ALL_AT_ONCE"),
        (
            update("CANARY", percent(10), timeout=900),
            "the execution timeout (900 s) must be longer than all the waiting of the update (900 s",
        ),
        (
            update("CANARY", percent(10), alarms=[]),
            "automatic rollback takes 1 to 10 CloudWatch alarms, not 0",
        ),
        (update("CANARY", percent(10), alarms=[{"AlarmName": f"a{i}"} for i in range(11)]), "not 11"),
        (
            update("CANARY", percent(10), alarms=[{"AlarmName": "a"}, {"AlarmName": "a"}]),
            "named more than once: a",
        ),
    ],
)
def test_the_documented_limits_botocore_does_not_check(request_: dict[str, Any], problem: str) -> None:
    assert any(problem in found for found in rollout.guardrail_problems(request_)), (
        rollout.guardrail_problems(request_)
    )


def test_one_update_policy_only() -> None:
    request = update("CANARY", percent(10))
    request["DeploymentConfig"]["RollingUpdatePolicy"] = {
        "MaximumBatchSize": percent(10),
        "WaitIntervalInSeconds": 60,
    }
    assert "a DeploymentConfig has exactly one update policy, not 2" in rollout.guardrail_problems(request)


@pytest.mark.parametrize(
    ("traffic", "size", "waits"),
    [
        ("ALL_AT_ONCE", None, 300),
        ("CANARY", percent(10), 900),
        ("LINEAR", percent(20), 4 * 600 + 300),
        ("LINEAR", percent(30), 3 * 600 + 300),
    ],
)
def test_the_waiting_adds_a_bake_per_shift_short_of_full_traffic_and_the_termination_wait(
    traffic: str, size: dict[str, Any] | None, waits: int
) -> None:
    assert (
        rollout.total_wait_seconds(update(traffic, size)["DeploymentConfig"]["BlueGreenUpdatePolicy"])
        == waits
    )


def test_the_default_execution_timeout_covers_the_waiting_and_the_new_fleets_start(
    options: rollout.RolloutOptions,
) -> None:
    linear = replace(options, traffic=rollout.Traffic.LINEAR, percent=10, bake_seconds=3500)
    policy = rollout.deployment_config(linear, ["a"])["BlueGreenUpdatePolicy"]
    assert policy["MaximumExecutionTimeoutInSeconds"] == 28800  # capped: 9 bakes of 3500 s do not fit
    assert rollout.guardrail_problems(
        {
            "EndpointName": "e",
            "EndpointConfigName": "c",
            "DeploymentConfig": rollout.deployment_config(linear, ["a"]),
        }
    )
    canary = rollout.deployment_config(options, ["a"])["BlueGreenUpdatePolicy"]
    assert canary["MaximumExecutionTimeoutInSeconds"] == 600 + 300 + rollout.PROVISIONING_ALLOWANCE_SECONDS


def test_a_plan_is_checked_whole_before_anything_is_sent(
    aws_target: settings.DeployTarget, options: rollout.RolloutOptions
) -> None:
    plan = rollout.plan_rollout(aws_target, options, FLEET, MODEL)
    assert [(request.service, request.operation) for request in plan.requests] == [
        ("sagemaker", "CreateModel"),
        ("sagemaker", "CreateEndpointConfig"),
        ("cloudwatch", "PutMetricAlarm"),
        ("cloudwatch", "PutMetricAlarm"),
        ("sagemaker", "UpdateEndpoint"),
    ]
    config = plan.request("UpdateEndpoint").parameters["DeploymentConfig"]
    assert config["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": name} for name in plan.alarm_names]
    variant = plan.request("CreateEndpointConfig").parameters["ProductionVariants"][0]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "AllTraffic",
        "ml.m5.large",
        4,
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"percent": 80}, "a canary (--canary 80) is at most 50 %"),
        (
            {"extra_alarms": tuple(f"mine-{index}" for index in range(9))},
            "takes 1 to 10 CloudWatch alarms, not 11",
        ),
        ({"bake_seconds": 4000}, "WaitIntervalInSeconds is 4000; at most 3600"),
        ({"termination_wait_seconds": -5}, "valid min value: 0"),
        ({"max_execution_seconds": 700}, "the execution timeout (700 s) must be longer"),
        ({"endpoint_name": "under_score"}, "EndpointName 'under_score'"),
        ({"max_error_rate": 5.0}, "--max-error-rate is a share of requests"),
        ({"max_latency_ms": 0.0}, "--max-latency-ms must be positive"),
    ],
)
def test_a_plan_that_breaks_a_limit_is_refused_naming_it(
    aws_target: settings.DeployTarget, options: rollout.RolloutOptions, changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DeployError) as raised:
        rollout.plan_rollout(aws_target, replace(options, **changes), FLEET, MODEL)
    assert problem in str(raised.value)


def test_the_rollback_alarms_are_created_on_the_endpoints_metrics(
    moto_aws: None, aws_target: settings.DeployTarget, options: rollout.RolloutOptions
) -> None:
    plan = rollout.plan_rollout(aws_target, options, FLEET, MODEL)
    cloudwatch = boto3.client("cloudwatch")
    for request in plan.requests:
        if request.service == "cloudwatch":
            cloudwatch.put_metric_alarm(**request.parameters)
    alarms = {
        alarm["AlarmName"]: alarm
        for alarm in cloudwatch.describe_alarms(AlarmNames=plan.alarm_names)["MetricAlarms"]
    }
    errors, latency = (
        alarms["titanic-byoc-prod-AllTraffic-5xx-errors"],
        alarms["titanic-byoc-prod-AllTraffic-p99-latency"],
    )
    dimensions = [
        {"Name": "EndpointName", "Value": "titanic-byoc-prod"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == (
        "Invocation5XXErrors",
        "Average",
        0.01,
    )
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency",
        "p99",
        500000.0,
    )
    assert errors["Dimensions"] == latency["Dimensions"] == dimensions
    assert errors["Namespace"] == latency["Namespace"] == "AWS/SageMaker"


@pytest.fixture
def live_endpoint(moto_aws: None) -> Iterator[Any]:
    """An endpoint on moto serving model `old` from config `old`."""
    client = boto3.client("sagemaker")
    client.create_model(ModelName="old", PrimaryContainer={"Image": "image:0"}, ExecutionRoleArn=ROLE)
    client.create_endpoint_config(
        EndpointConfigName="old",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "old",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
            }
        ],
    )
    client.create_endpoint(EndpointName="titanic-byoc-prod", EndpointConfigName="old")
    yield client


def test_the_fleet_is_read_from_the_live_endpoint(live_endpoint: Any) -> None:
    fleet = rollout.current_fleet(live_endpoint, "titanic-byoc-prod")
    assert (fleet.variant_name, fleet.instance_type, fleet.instance_count, fleet.config_name) == (
        "AllTraffic",
        "ml.m5.large",
        2,
        "old",
    )
    with pytest.raises(DeployError, match="cannot update endpoint missing"):
        rollout.current_fleet(live_endpoint, "missing")


def test_a_rollout_stopped_before_update_endpoint_leaves_the_endpoint_as_it_was(
    live_endpoint: Any, aws_target: settings.DeployTarget, options: rollout.RolloutOptions
) -> None:
    fleet = rollout.current_fleet(live_endpoint, "titanic-byoc-prod")
    plan = rollout.plan_rollout(aws_target, options, fleet, MODEL)
    with pytest.raises(NotImplementedError):  # moto has no UpdateEndpoint
        rollout.roll_out(aws_target, plan)
    assert live_endpoint.describe_endpoint(EndpointName="titanic-byoc-prod")["EndpointConfigName"] == "old"
    assert [model["ModelName"] for model in live_endpoint.list_models()["Models"]] == ["old"]
    assert [
        config["EndpointConfigName"] for config in live_endpoint.list_endpoint_configs()["EndpointConfigs"]
    ] == ["old"]


def test_local_mode_cannot_update_endpoints(tmp_path: Any, options: rollout.RolloutOptions) -> None:
    local = settings.DeployTarget("us-east-1", settings.LocalStandIns(work_dir=tmp_path))
    plan = rollout.RolloutPlan("e", "m", "c", [])
    with pytest.raises(DeployError, match="SageMaker local mode cannot update endpoints"):
        rollout.roll_out(local, plan)
