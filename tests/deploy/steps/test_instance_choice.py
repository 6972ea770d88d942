"""Choosing the training instance type: pure selection logic, and the Service Quotas call shape."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lightsage_deploy.cli import instances as instances_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.steps import instances as instance_choice


def quotas(**values: tuple[float | None, float | None]) -> dict[str, float]:
    """quotas(ml_m5_large=(on_demand, spot)) -> the Service Quotas names and values."""
    found: dict[str, float] = {}
    for key, (on_demand, spot) in values.items():
        instance_type = key.replace("_", ".")
        if on_demand is not None:
            found[instance_choice.on_demand_quota_name(instance_type)] = on_demand
        if spot is not None:
            found[instance_choice.spot_quota_name(instance_type)] = spot
    return found


def test_the_price_list_is_cheapest_first_and_training_capable() -> None:
    import botocore.session

    training_types = (
        botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType")
    )
    assert set(instance_choice.TRAINING_PRICE_PER_HOUR) <= set(training_types.enum)
    options = instance_choice.candidates({})
    prices = [candidate.price_per_hour for candidate in options]
    assert prices == sorted(prices)


def test_the_cheapest_type_with_a_quota_wins() -> None:
    seen = quotas(ml_t3_medium=(0, 0), ml_m5_large=(2, 0), ml_m5_xlarge=(5, 5))
    choice = instance_choice.cheapest_usable(instance_choice.candidates(seen), spot=False)
    assert choice is not None and choice.instance_type == "ml.m5.large"


def test_spot_also_needs_a_spot_quota() -> None:
    seen = quotas(ml_t3_medium=(0, 0), ml_m5_large=(2, 0), ml_c5_xlarge=(1, 1), ml_m5_xlarge=(5, 5))
    choice = instance_choice.cheapest_usable(instance_choice.candidates(seen), spot=True)
    assert choice is not None and choice.instance_type == "ml.c5.xlarge"


def test_a_quota_below_one_or_not_listed_is_not_usable() -> None:
    seen = quotas(ml_t3_medium=(0.5, 1), ml_m5_large=(None, 4))
    assert instance_choice.cheapest_usable(instance_choice.candidates(seen), spot=False) is None
    assert instance_choice.cheapest_usable([], spot=False) is None


def test_the_table_shows_every_value_seen() -> None:
    lines = instance_choice.format_table(instance_choice.candidates(quotas(ml_m5_large=(2, None))))
    m5 = next(line for line in lines if line.startswith("ml.m5.large"))
    assert m5.split() == ["ml.m5.large", "0.115", "2", "not", "listed"]


def _client() -> Any:
    return boto3.client(
        "service-quotas", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _quota(name: str, value: float) -> dict[str, Any]:
    return {"QuotaName": name, "Value": value, "ServiceCode": "sagemaker", "QuotaCode": "L-0000"}


def test_applied_quotas_are_paged_and_defaults_fill_the_gaps() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "list_service_quotas",
            {"Quotas": [_quota("ml.m5.large for training job usage", 2)], "NextToken": "page-2"},
            {"ServiceCode": "sagemaker"},
        )
        stub.add_response(
            "list_service_quotas",
            {"Quotas": [_quota("ml.m5.large for spot training job usage", 1), _quota("unrelated", 9)]},
            {"ServiceCode": "sagemaker", "NextToken": "page-2"},
        )
        stub.add_response(
            "list_aws_default_service_quotas",
            {
                "Quotas": [
                    _quota("ml.t3.medium for training job usage", 0),
                    _quota("ml.m5.large for training job usage", 1),
                ]
            },
            {"ServiceCode": ANY},
        )
        found = instance_choice.training_quotas(client, ["ml.t3.medium", "ml.m5.large"])
        stub.assert_no_pending_responses()
    assert found == {
        "ml.m5.large for training job usage": 2,
        "ml.m5.large for spot training job usage": 1,
        "ml.t3.medium for training job usage": 0,
    }


def test_denied_access_names_the_permissions() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException")
        with pytest.raises(DeployError, match="servicequotas:ListServiceQuotas"):
            instance_choice.training_quotas(client, ["ml.m5.large"])


def test_no_usable_type_says_what_to_request(offline_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance_choice, "training_quotas", lambda client, types: quotas(ml_m5_large=(0, 0)))
    with pytest.raises(DeployError, match="no listed instance type has an on-demand training quota"):
        instances_command.main([])


def test_the_choice_is_printed(
    offline_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instance_choice, "training_quotas", lambda client, types: quotas(ml_m5_large=(1, 1)))
    assert instances_command.main(["--spot"]) == 0
    assert "cheapest usable: ml.m5.large" in capsys.readouterr().out
