"""A guarded rollout: a live endpoint moves to a new model through SageMaker's deployment guardrails.

`byoc deploy --update ENDPOINT` creates the new model and endpoint config, two CloudWatch alarms on the
endpoint (its 5xx error rate and its p99 model latency), and calls UpdateEndpoint with a DeploymentConfig:
a BlueGreenUpdatePolicy that shifts traffic all at once, as a canary or in linear steps, baking after each
shift, and an AutoRollbackConfiguration that rolls back when an alarm fires.

Every request is checked before the first one is sent: against the service model (botocore's checks, plus
the enums, maximums and patterns it skips) and against the limits SageMaker documents in prose (a canary of
at most 50 % of the fleet, linear steps of 10 to 50 %, 1 to 10 alarms, one update policy, an execution
timeout longer than all the waiting). A refused request leaves nothing behind; a model or config created
before a failed UpdateEndpoint is deleted again, so the endpoint is either updated or as it was.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lightsage_deploy.aws.dry_run import Request
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.aws.validation import check_request
from lightsage_deploy.errors import DeployError, explain_aws_error
from lightsage_deploy.project.project import Project
from lightsage_deploy.targets import target as settings

# SageMaker's documented limits (UpdateEndpoint's DeploymentConfig).
MAX_WAIT_SECONDS = 3600
MIN_EXECUTION_TIMEOUT_SECONDS = 600
MAX_EXECUTION_TIMEOUT_SECONDS = 28800
MAX_CANARY_PERCENT = 50
LINEAR_PERCENT_RANGE = (10, 50)
ALARM_COUNT_RANGE = (1, 10)
# Time the new fleet gets to start, on top of the waits, when no execution timeout is given.
PROVISIONING_ALLOWANCE_SECONDS = 1800
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ENDPOINT_SETTLED = ("InService", "Failed", "OutOfService", "UpdateRollbackFailed")
DEFAULT_VARIANT = "AllTraffic"
logger = logging.getLogger(__name__)


class Traffic(StrEnum):
    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


@dataclass(frozen=True)
class RolloutOptions:
    """How to shift traffic and when to roll back (the options of `byoc deploy --update`)."""

    project: Project
    endpoint_name: str
    traffic: Traffic = Traffic.ALL_AT_ONCE
    percent: int | None = None
    bake_seconds: int = 600
    termination_wait_seconds: int = 300
    max_execution_seconds: int | None = None
    max_error_rate: float = 0.01
    max_latency_ms: float = 500.0
    alarm_period_seconds: int = 60
    alarm_evaluation_periods: int = 2
    extra_alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fleet:
    """The endpoint's one production variant: the new config keeps its name, instance type and count."""

    variant_name: str
    instance_type: str
    instance_count: int
    config_name: str | None = None


@dataclass(frozen=True)
class NewModel:
    """What to roll out: a PrimaryContainer (a registered version's ModelPackageName, or an image and a
    model.tar.gz), the role, and a description for the output."""

    container: Mapping[str, Any]
    role: str
    description: str


@dataclass
class RolloutPlan:
    """The requests of one rollout, in the order they are sent, every one already checked."""

    endpoint_name: str
    model_name: str
    config_name: str
    requests: list[Request]
    # A placeholder value in a request -> the shell variable the dry run's AWS CLI takes it from.
    variables: dict[str, str] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def request(self, operation: str) -> Request:
        return next(request for request in self.requests if request.operation == operation)

    @property
    def alarm_names(self) -> list[str]:
        return [
            str(request.parameters["AlarmName"])
            for request in self.requests
            if request.service == "cloudwatch"
        ]

    def cli_lines(self) -> list[str]:
        return [*self.lookups, *(request.cli_command(self.variables) for request in self.requests)]


ERROR_ALARM = "5xx-errors"
LATENCY_ALARM = "p99-latency"
ALARM_SUFFIXES = (f"-{ERROR_ALARM}", f"-{LATENCY_ALARM}")


def alarm_name(endpoint_name: str, variant_name: str, what: str) -> str:
    return f"{endpoint_name}-{variant_name}-{what}"


def alarm_requests(options: RolloutOptions, fleet: Fleet) -> list[dict[str, Any]]:
    """The two rollback alarms on the endpoint's variant: the 5xx error rate (Invocation5XXErrors is 1 per
    5xx answer and 0 otherwise, so its Average is the rate) and the p99 ModelLatency (in microseconds)."""
    dimensions = [
        {"Name": "EndpointName", "Value": options.endpoint_name},
        {"Name": "VariantName", "Value": fleet.variant_name},
    ]
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Period": options.alarm_period_seconds,
        "EvaluationPeriods": options.alarm_evaluation_periods,
        "DatapointsToAlarm": options.alarm_evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Tags": options.project.tags,
    }
    return [
        {
            "AlarmName": alarm_name(options.endpoint_name, fleet.variant_name, ERROR_ALARM),
            "AlarmDescription": f"byoc rollback guard of {options.endpoint_name}: share of 5xx answers",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Average",
            "Threshold": options.max_error_rate,
            **common,
        },
        {
            "AlarmName": alarm_name(options.endpoint_name, fleet.variant_name, LATENCY_ALARM),
            "AlarmDescription": f"byoc rollback guard of {options.endpoint_name}: p99 model latency, µs",
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "Unit": "Microseconds",
            "Threshold": options.max_latency_ms * 1000.0,
            **common,
        },
    ]


def total_wait_seconds(policy: Mapping[str, Any]) -> int:
    """All the waiting a blue/green update does: a bake after each traffic shift short of the last (one for a
    canary, one per linear step before full traffic), then the old fleet's termination wait."""
    routing = policy.get("TrafficRoutingConfiguration") or {}
    wait = int(routing.get("WaitIntervalInSeconds") or 0)
    shifts = 0
    if routing.get("Type") == Traffic.CANARY:
        shifts = 1
    elif routing.get("Type") == Traffic.LINEAR:
        step = routing.get("LinearStepSize") or {}
        if step.get("Type") == "CAPACITY_PERCENT" and int(step.get("Value") or 0) > 0:
            shifts = math.ceil(100 / int(step["Value"])) - 1
        else:
            shifts = 1
    return shifts * wait + int(policy.get("TerminationWaitInSeconds") or 0)


def deployment_config(options: RolloutOptions, alarm_names: Sequence[str]) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": options.traffic.value, "WaitIntervalInSeconds": options.bake_seconds}
    if options.traffic is Traffic.CANARY:
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": options.percent}
    elif options.traffic is Traffic.LINEAR:
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": options.percent}
    policy: dict[str, Any] = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": options.termination_wait_seconds,
    }
    policy["MaximumExecutionTimeoutInSeconds"] = options.max_execution_seconds or min(
        MAX_EXECUTION_TIMEOUT_SECONDS,
        max(MIN_EXECUTION_TIMEOUT_SECONDS, total_wait_seconds(policy) + PROVISIONING_ALLOWANCE_SECONDS),
    )
    return {
        "BlueGreenUpdatePolicy": policy,
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names]},
    }


def _size_problems(kind: str, size: Mapping[str, Any], instance_count: int | None) -> list[str]:
    """A canary's or a linear step's size against SageMaker's limits: canary at most 50 %, steps 10-50 %."""
    option = "--canary" if kind == "CanarySize" else "--linear"
    value, unit = size.get("Value"), size.get("Type")
    if not isinstance(value, int):
        return []
    if unit == "INSTANCE_COUNT":
        if instance_count is None:
            return []
        percent = 100.0 * value / instance_count
    else:
        percent = float(value)
    if kind == "CanarySize" and percent > MAX_CANARY_PERCENT:
        return [
            f"a canary ({option} {value}) is at most {MAX_CANARY_PERCENT} % of the fleet, not {percent:g} %"
        ]
    low, high = LINEAR_PERCENT_RANGE
    if kind == "LinearStepSize" and not low <= percent <= high:
        return [f"a linear step ({option} {value}) is {low} to {high} % of the fleet, not {percent:g} %"]
    return []


def guardrail_problems(request: Mapping[str, Any], instance_count: int | None = None) -> list[str]:
    """The limits of an UpdateEndpoint request that SageMaker documents in prose, not in its service model."""
    problems: list[str] = []
    for key in ("EndpointName", "EndpointConfigName"):
        name = str(request.get(key, ""))
        if not ENDPOINT_NAME.fullmatch(name):
            problems.append(f"{key} {name!r} is not 1-63 letters, digits and inner '-'")
    config = request.get("DeploymentConfig")
    if config is None:
        return problems
    policies = [key for key in ("BlueGreenUpdatePolicy", "RollingUpdatePolicy") if key in config]
    if len(policies) != 1:
        problems.append(f"a DeploymentConfig has exactly one update policy, not {len(policies)}")
    policy = config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    sizes = {"CanarySize": Traffic.CANARY, "LinearStepSize": Traffic.LINEAR}
    for key, needed_by in sizes.items():
        if kind == needed_by and key not in routing:
            problems.append(f"{needed_by} traffic routing needs a {key}")
        elif kind != needed_by and key in routing:
            problems.append(f"{key} belongs to {needed_by} traffic routing, not {kind}")
        elif key in routing:
            problems += _size_problems(key, routing[key], instance_count)
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    waits = total_wait_seconds(policy)
    if isinstance(timeout, int) and timeout <= waits:
        problems.append(
            f"the execution timeout ({timeout} s) must be longer than all the waiting of the update "
            f"({waits} s: bakes between traffic shifts and the termination wait)"
        )
    alarms = (config.get("AutoRollbackConfiguration") or {}).get("Alarms")
    if alarms is not None:
        low, high = ALARM_COUNT_RANGE
        if not low <= len(alarms) <= high:
            problems.append(f"automatic rollback takes {low} to {high} CloudWatch alarms, not {len(alarms)}")
        names = [alarm.get("AlarmName") for alarm in alarms]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            problems.append(f"rollback alarms named more than once: {', '.join(map(str, repeated))}")
    return problems


def check_plan(service_models: Mapping[str, Any], plan: RolloutPlan, fleet: Fleet) -> None:
    """Every request of the plan against its service model, and UpdateEndpoint against the guardrails;
    all problems named at once."""
    problems: list[str] = []
    for request in plan.requests:
        try:
            check_request(service_models[request.service], request.operation, request.parameters)
        except DeployError as error:
            problems.append(str(error))
    update = plan.request("UpdateEndpoint").parameters
    found = guardrail_problems(update, fleet.instance_count)
    if found:
        problems.append("UpdateEndpoint request refused before sending: " + "; ".join(found))
    if problems:
        raise DeployError("\n".join(problems))


def check_options(options: RolloutOptions) -> None:
    """The options that have no request field of their own to be checked in."""
    if options.traffic is not Traffic.ALL_AT_ONCE and options.percent is None:
        raise DeployError(f"{options.traffic} traffic routing needs a percentage")
    if not 0.0 <= options.max_error_rate <= 1.0:
        raise DeployError(f"--max-error-rate is a share of requests (0 to 1), not {options.max_error_rate}")
    if options.max_latency_ms <= 0:
        raise DeployError(f"--max-latency-ms must be positive, not {options.max_latency_ms}")


def plan_rollout(
    target: settings.DeployTarget,
    options: RolloutOptions,
    fleet: Fleet,
    model: NewModel,
    *,
    variables: Mapping[str, str] | None = None,
    lookups: Sequence[str] = (),
) -> RolloutPlan:
    """The requests of the rollout, every one checked; a DeployError names every problem found."""
    check_options(options)
    name = settings.unique_name(options.project.base_job_name)
    alarms = alarm_requests(options, fleet)
    alarm_names = [alarm["AlarmName"] for alarm in alarms] + list(options.extra_alarms)
    requests = [
        Request(
            "CreateModel",
            {
                "ModelName": name,
                "PrimaryContainer": dict(model.container),
                "ExecutionRoleArn": model.role,
                "Tags": options.project.tags,
            },
        ),
        Request(
            "CreateEndpointConfig",
            {
                "EndpointConfigName": name,
                "ProductionVariants": [
                    {
                        "VariantName": fleet.variant_name,
                        "ModelName": name,
                        "InstanceType": fleet.instance_type,
                        "InitialInstanceCount": fleet.instance_count,
                    }
                ],
                "Tags": options.project.tags,
            },
        ),
        *(Request("PutMetricAlarm", alarm, service="cloudwatch") for alarm in alarms),
        Request(
            "UpdateEndpoint",
            {
                "EndpointName": options.endpoint_name,
                "EndpointConfigName": name,
                "DeploymentConfig": deployment_config(options, alarm_names),
            },
        ),
    ]
    plan = RolloutPlan(options.endpoint_name, name, name, requests, dict(variables or {}), list(lookups))
    session = target.boto_session._session
    models = {service: session.get_service_model(service) for service in ("sagemaker", "cloudwatch")}
    check_plan(models, plan, fleet)
    return plan


def current_fleet(client: Any, endpoint_name: str) -> Fleet:
    """The endpoint's production variant, if the endpoint can take a blue/green update."""
    try:
        endpoint = client.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        raise DeployError(f"cannot update endpoint {endpoint_name}: {explain_aws_error(error)}") from None
    if endpoint.get("EndpointStatus") != "InService":
        raise DeployError(
            f"endpoint {endpoint_name} is {endpoint.get('EndpointStatus')}: only one InService updates"
        )
    variants = endpoint.get("ProductionVariants") or []
    if len(variants) != 1:
        raise DeployError(
            f"endpoint {endpoint_name} has {len(variants)} production variants: guarded rollouts update "
            "endpoints of one variant"
        )
    config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = [
        entry for entry in config["ProductionVariants"] if entry["VariantName"] == variants[0]["VariantName"]
    ]
    if variant.get("ServerlessConfig") or "InstanceType" not in variant:
        raise DeployError(
            f"endpoint {endpoint_name} is serverless: SageMaker rolls out only instance-based ones"
        )
    return Fleet(
        variant_name=str(variant["VariantName"]),
        instance_type=str(variant["InstanceType"]),
        instance_count=int(variants[0].get("CurrentInstanceCount") or variant["InitialInstanceCount"]),
        config_name=str(endpoint["EndpointConfigName"]),
    )


@dataclass(frozen=True)
class RolloutResult:
    endpoint_name: str
    status: str
    config_name: str
    rolled_out: bool
    failure: str | None = None


def _undo(client: Any, plan: RolloutPlan, created: Sequence[str]) -> None:
    """Delete the config and model this rollout created (never the endpoint's current ones)."""
    if "CreateEndpointConfig" in created:
        try:
            client.delete_endpoint_config(EndpointConfigName=plan.config_name)
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "could not delete endpoint config %s: %s", plan.config_name, explain_aws_error(error)
            )
    if "CreateModel" in created:
        try:
            client.delete_model(ModelName=plan.model_name)
        except (BotoCoreError, ClientError) as error:
            logger.warning("could not delete model %s: %s", plan.model_name, explain_aws_error(error))


def roll_out(target: settings.DeployTarget, plan: RolloutPlan, *, poll_seconds: float = 30) -> RolloutResult:
    """Send the plan's requests in order and follow the update until the endpoint settles. Before
    UpdateEndpoint succeeds, any failure deletes the new model and config again; after it, SageMaker owns the
    update (and rolls it back when an alarm fires)."""
    if target.is_local:
        raise DeployError(
            "SageMaker local mode cannot update endpoints (it has no UpdateEndpoint, nor deployment "
            "guardrails or CloudWatch alarms): pass --dry-run to see the requests, or leave out --local"
        )
    sagemaker, cloudwatch = target.client("sagemaker"), target.client("cloudwatch")
    clients = {"sagemaker": sagemaker, "cloudwatch": cloudwatch}
    created: list[str] = []
    try:
        for request in plan.requests:
            method = getattr(clients[request.service], _snake(request.operation))
            method(**request.parameters)
            created.append(request.operation)
            logger.info("sent %s", request.operation)
    except BaseException as error:
        # Whatever stopped the rollout before UpdateEndpoint went through: the endpoint is as it was, and the
        # model and config made for it go again (the alarms stay on the endpoint; cleanup deletes them).
        _undo(sagemaker, plan, created)
        if isinstance(error, BotoCoreError | ClientError):
            raise DeployError(
                f"endpoint {plan.endpoint_name} was not updated: {explain_aws_error(error)}"
            ) from None
        raise
    described = wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=plan.endpoint_name),
        "EndpointStatus",
        ENDPOINT_SETTLED,
        f"endpoint {plan.endpoint_name}",
        poll_seconds=poll_seconds,
    )
    rolled_out = (
        described.get("EndpointConfigName") == plan.config_name and described["EndpointStatus"] == "InService"
    )
    if not rolled_out:
        _undo(sagemaker, plan, ["CreateEndpointConfig", "CreateModel"])
    return RolloutResult(
        endpoint_name=plan.endpoint_name,
        status=str(described["EndpointStatus"]),
        config_name=str(described.get("EndpointConfigName")),
        rolled_out=rolled_out,
        failure=described.get("FailureReason"),
    )


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))
