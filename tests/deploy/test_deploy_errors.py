"""Who is to blame for a deploy-side failure: AWS's errors sorted into the user's and the platform's."""

from __future__ import annotations

import inspect

import botocore.exceptions
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from lightsage_deploy.errors import (
    OFFLINE_HINT,
    PLATFORM_ERROR_CODES,
    PLATFORM_HINT,
    DeployError,
    PlatformError,
    aws_failure,
)

URL = "https://sagemaker.us-east-1.amazonaws.com"
# Every way botocore says no (whole) answer came back: a connection, a proxy, TLS, a timeout, a closed socket.
NO_ANSWER = [
    EndpointConnectionError(endpoint_url=URL),
    ConnectTimeoutError(endpoint_url=URL),
    ReadTimeoutError(endpoint_url=URL),
    ConnectionClosedError(endpoint_url=URL),
    ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"),
    SSLError(endpoint_url=URL, error="certificate verify failed"),
    ResponseStreamingError(error="connection broken"),
]


def client_error(code: str, status: int = 400, operation: str = "CreateTrainingJob") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"{code} says so"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def test_every_kind_of_no_answer_is_covered_here() -> None:
    kinds = {
        kind
        for _, kind in inspect.getmembers(botocore.exceptions, inspect.isclass)
        if issubclass(kind, botocore.exceptions.ConnectionError | HTTPClientError)
        and kind not in (botocore.exceptions.ConnectionError, HTTPClientError)
    }
    assert kinds <= {type(error) for error in NO_ANSWER}


@pytest.mark.parametrize("error", NO_ANSWER, ids=lambda error: type(error).__name__)
def test_no_answer_from_aws_is_the_platforms(error: BotoCoreError) -> None:
    failure = aws_failure(error)
    assert isinstance(failure, PlatformError)
    hint = OFFLINE_HINT if isinstance(error, EndpointConnectionError) else PLATFORM_HINT
    assert hint in str(failure)


@pytest.mark.parametrize("code", sorted(PLATFORM_ERROR_CODES))
def test_aws_busy_or_failing_is_the_platforms(code: str) -> None:
    failure = aws_failure(client_error(code))
    assert isinstance(failure, PlatformError)
    assert str(failure) == f"CreateTrainingJob failed with {code}: {code} says so ({PLATFORM_HINT})"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_side_status_is_the_platforms_whatever_the_code(status: int) -> None:
    assert isinstance(aws_failure(client_error("SomethingNew", status)), PlatformError)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NoCredentialsError(), "no AWS credentials found"),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), "AWS SDK error: "),
        (ProfileNotFound(profile="nobody"), "AWS SDK error: The config profile (nobody) could not be found"),
        (NoRegionError(), "no AWS region: pass --region or set AWS_REGION"),
        (ParamValidationError(report="Invalid bucket name"), "invalid AWS request: "),
        (client_error("AccessDeniedException", 403), "CreateTrainingJob failed with AccessDeniedException: "),
        (client_error("ValidationException"), "CreateTrainingJob failed with ValidationException: "),
        (client_error("ResourceLimitExceeded"), "CreateTrainingJob failed with ResourceLimitExceeded: "),
        (client_error("ExpiredTokenException", 403), "CreateTrainingJob failed with ExpiredTokenException: "),
        (client_error("NoSuchBucket", 404, "GetObject"), "GetObject failed with NoSuchBucket: "),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_what_the_user_can_fix_is_the_users(error: BotoCoreError | ClientError, expected: str) -> None:
    failure = aws_failure(error)
    assert isinstance(failure, DeployError) and not isinstance(failure, PlatformError)
    assert str(failure).startswith(expected)
    assert PLATFORM_HINT not in str(failure)
