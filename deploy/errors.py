"""Expected failures of the deploy scripts, and one-line explanations of the AWS errors behind them."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)

OFFLINE_HINT = "for the offline path start the emulators with `byoc offline up` and pass --local"


class DeployError(Exception):
    """A failure the user can fix; the message says what is wrong and what to do."""


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def explain_aws_error(error: BotoCoreError | ClientError) -> str:
    """One line for an AWS failure, with the fix when the cause is a usual one."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE or the AWS_ACCESS_KEY_ID "
            f"variables), or {OFFLINE_HINT}"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}: {OFFLINE_HINT}"
    if isinstance(error, ParamValidationError):
        return f"invalid AWS request: {error}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "an AWS call")
        return f"{operation} failed with {details.get('Code', 'an error')}: {details.get('Message', error)}"
    return f"AWS SDK error: {error}"
