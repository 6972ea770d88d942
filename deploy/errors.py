"""The deploy side's expected failures, by who is to blame, and one-line explanations of AWS's errors.

- DeployError (a `lightsage.errors.UserError`): the user's to fix: an option, the project file, the data, the
  credentials, a permission, a quota, a tool that is not installed or not started.
- PlatformError (a `lightsage.errors.PlatformError`): a service the command relies on failed or did not
  answer: AWS, Docker, a registry, an emulator. Not the user's input; waiting or retrying may help.
- Anything else is a bug: `byoc` shows its traceback.

Both are `lightsage.errors.LightsageError`s, the one taxonomy of the core and the host side.

`aws_failure` sorts AWS's own errors (botocore's BotoCoreError and ClientError) into the two.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as AWSConnectionError

from lightsage import errors

OFFLINE_HINT = "for the offline path start the emulators with `byoc offline up` and pass --local"
PLATFORM_HINT = "a fault on AWS's side or on the way there, not in your input: try again later"
# Error codes by which AWS says it is overloaded or failed itself (besides any HTTP status of 500 and up).
PLATFORM_ERROR_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


class DeployError(errors.UserError):
    """The user's to fix: the message says what is wrong and what to do."""


class PlatformError(errors.PlatformError):
    """AWS, Docker, a registry or an emulator failed or did not answer: not the user's input."""


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_platform_fault(error: BotoCoreError | ClientError) -> bool:
    """No answer came back (a connection or a read failed), or AWS answered that it failed or is busy."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return aws_error_code(error) in PLATFORM_ERROR_CODES or int(status or 0) >= 500
    return isinstance(error, AWSConnectionError | HTTPClientError)


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
        explained = (
            f"{operation} failed with {details.get('Code', 'an error')}: {details.get('Message', error)}"
        )
        return f"{explained} ({PLATFORM_HINT})" if is_platform_fault(error) else explained
    if is_platform_fault(error):
        return f"AWS did not answer: {error} ({PLATFORM_HINT})"
    return f"AWS SDK error: {error}"


def aws_failure(error: BotoCoreError | ClientError) -> DeployError:
    """AWS's error as the expected failure it is: a PlatformError when AWS or the way there failed, else the
    user's DeployError (credentials, region, permissions, quotas, a request's values)."""
    kind = PlatformError if is_platform_fault(error) else DeployError
    return kind(explain_aws_error(error))
