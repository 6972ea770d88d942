"""The cheapest small training instance type this account may actually start, from Service Quotas.

New accounts often have a quota of 0 for some training instance types, and a job on such a type fails at
once with ResourceLimitExceeded: the quotas of a short list of small types name the cheapest usable one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lightsage_deploy.errors import DeployError, aws_error_code

SERVICE_CODE = "sagemaker"
# Small types SageMaker training accepts (the botocore TrainingInstanceType enum), cheapest first, with
# approximate us-east-1 on-demand training prices in USD per hour as recalled from the public SageMaker
# pricing page (2024). They only order the list: check the pricing page for current figures.
TRAINING_PRICE_PER_HOUR: Mapping[str, float] = {
    "ml.t3.medium": 0.05,
    "ml.m5.large": 0.115,
    "ml.c5.xlarge": 0.204,
    "ml.m5.xlarge": 0.23,
    "ml.c4.xlarge": 0.239,
    "ml.m4.xlarge": 0.24,
}


def on_demand_quota_name(instance_type: str) -> str:
    return f"{instance_type} for training job usage"


def spot_quota_name(instance_type: str) -> str:
    return f"{instance_type} for spot training job usage"


@dataclass(frozen=True)
class Candidate:
    instance_type: str
    price_per_hour: float
    on_demand_quota: float | None
    spot_quota: float | None

    def usable(self, spot: bool) -> bool:
        quotas = (self.on_demand_quota, self.spot_quota) if spot else (self.on_demand_quota,)
        return all(quota is not None and quota >= 1 for quota in quotas)


def candidates(
    quotas: Mapping[str, float], prices: Mapping[str, float] = TRAINING_PRICE_PER_HOUR
) -> list[Candidate]:
    """Every priced type, cheapest first, with its quotas (None where Service Quotas listed none)."""
    return [
        Candidate(
            instance_type=instance_type,
            price_per_hour=price,
            on_demand_quota=quotas.get(on_demand_quota_name(instance_type)),
            spot_quota=quotas.get(spot_quota_name(instance_type)),
        )
        for instance_type, price in sorted(prices.items(), key=lambda item: item[1])
    ]


def cheapest_usable(options: Iterable[Candidate], spot: bool) -> Candidate | None:
    usable = [candidate for candidate in options if candidate.usable(spot)]
    return min(usable, key=lambda candidate: candidate.price_per_hour) if usable else None


def choose(options: Iterable[Candidate], spot: bool, region: str) -> Candidate:
    """The cheapest usable type; when there is none, what to request instead."""
    choice = cheapest_usable(options, spot)
    if choice is None:
        kind = "on-demand and spot training" if spot else "on-demand training"
        raise DeployError(
            f"no listed instance type has an {kind} quota of at least 1 in {region}: "
            "request an increase "
            "in the Service Quotas console (service Amazon SageMaker), e.g. for ml.m5.large"
        )
    return choice


def _quota_values(client: Any, operation: str, wanted: set[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for page in client.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE):
        for quota in page.get("Quotas", []):
            if quota.get("QuotaName") in wanted:
                values[quota["QuotaName"]] = float(quota["Value"])
    return values


def training_quotas(client: Any, instance_types: Iterable[str]) -> dict[str, float]:
    """Applied quota values by name; AWS defaults fill in the quotas the account has no applied value for."""
    wanted = {
        name
        for instance_type in instance_types
        for name in (on_demand_quota_name(instance_type), spot_quota_name(instance_type))
    }
    try:
        applied = _quota_values(client, "list_service_quotas", wanted)
        missing = wanted - applied.keys()
        defaults = _quota_values(client, "list_aws_default_service_quotas", missing) if missing else {}
    except ClientError as error:
        if aws_error_code(error) in ("AccessDeniedException", "AccessDenied"):
            raise DeployError(
                "Service Quotas denied access: the caller needs servicequotas:ListServiceQuotas and "
                "servicequotas:ListAWSDefaultServiceQuotas"
            ) from None
        raise
    return {**defaults, **applied}


def format_table(options: Sequence[Candidate]) -> list[str]:
    def shown(value: float | None) -> str:
        return "not listed" if value is None else f"{value:g}"

    lines = [f"{'instance type':<15} {'$/hour':>7} {'on-demand quota':>16} {'spot quota':>11}"]
    for candidate in options:
        lines.append(
            f"{candidate.instance_type:<15} {candidate.price_per_hour:>7.3f} "
            f"{shown(candidate.on_demand_quota):>16} {shown(candidate.spot_quota):>11}"
        )
    return lines
