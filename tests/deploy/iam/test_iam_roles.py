"""The execution role: --role, then SAGEMAKER_ROLE_ARN, then get_execution_role(), each checked as an ARN."""

from __future__ import annotations

import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.iam.roles import resolve_role
from lightsage_deploy.targets import target as settings

VALID_ROLE = "arn:aws:iam::123456789012:role/titanic-byoc-sagemaker-execution"


def test_an_explicit_role_wins_and_is_checked() -> None:
    assert resolve_role(VALID_ROLE, {}) == VALID_ROLE
    path_role = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024"
    assert resolve_role(path_role, {}) == path_role
    with pytest.raises(DeployError, match=r"--role 'arn:aws:iam::123:role/x' is not an IAM role ARN"):
        resolve_role("arn:aws:iam::123:role/x", {})
    with pytest.raises(DeployError, match="is not an IAM role ARN"):
        resolve_role("arn:aws:iam::123456789012:user/me", {})


def test_the_environment_comes_next() -> None:
    environ = {settings.ROLE_VARIABLE: VALID_ROLE}
    assert resolve_role(None, environ, execution_role=pytest.fail) == VALID_ROLE
    with pytest.raises(DeployError, match=f"{settings.ROLE_VARIABLE} 'my-role' is not an IAM role ARN"):
        resolve_role(None, {settings.ROLE_VARIABLE: "my-role"})


def test_get_execution_role_is_the_last_resort() -> None:
    assert resolve_role(None, {}, execution_role=lambda: VALID_ROLE) == VALID_ROLE


def test_no_role_anywhere_names_all_three_sources() -> None:
    def not_in_sagemaker() -> str:
        raise ValueError("The current AWS identity is not a role: arn:aws:iam::123456789012:user/me")

    with pytest.raises(DeployError) as raised:
        resolve_role(None, {}, execution_role=not_in_sagemaker)
    message = str(raised.value)
    assert "--role" in message and settings.ROLE_VARIABLE in message and "get_execution_role()" in message
    assert "is not a role" in message
