"""Build SageMaker requests with the real SDK objects, check them against the API model, and send nothing.

`capture(boto_session)` answers the SDK's Create* calls locally after botocore has validated their
parameters against the SageMaker service model, and refuses every other request. Each captured request
renders as the AWS CLI command that sends exactly it (`aws sagemaker create-... --cli-input-json '...'`), so
the raw CLI form shown to users is the SDK's own request and cannot drift from it.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore import xform_name
from botocore.awsrequest import AWSResponse

from lightsage_deploy.aws import ecr
from lightsage_deploy.errors import DeployError

PLACEHOLDER_ACCOUNT = "000000000000"
_ARN = f"arn:aws:sagemaker:us-east-1:{PLACEHOLDER_ACCOUNT}"
# The operations a dry run answers, with the smallest answer the SDK accepts.
ANSWERS: dict[str, dict[str, str]] = {
    "CreateTrainingJob": {"TrainingJobArn": f"{_ARN}:training-job/dry-run"},
    "CreateHyperParameterTuningJob": {
        "HyperParameterTuningJobArn": f"{_ARN}:hyper-parameter-tuning-job/dry-run"
    },
    "CreateModel": {"ModelArn": f"{_ARN}:model/dry-run"},
    "CreateEndpointConfig": {"EndpointConfigArn": f"{_ARN}:endpoint-config/dry-run"},
    "CreateEndpoint": {"EndpointArn": f"{_ARN}:endpoint/dry-run"},
    "CreateTransformJob": {"TransformJobArn": f"{_ARN}:transform-job/dry-run"},
}


@dataclass(frozen=True)
class Request:
    """One SageMaker API request: the operation (e.g. CreateTrainingJob) and its parameters."""

    operation: str
    parameters: Mapping[str, Any]
    service: str = "sagemaker"

    def json(self) -> str:
        return json.dumps(self.parameters, indent=2, sort_keys=True, default=str)

    def cli_command(self, variables: Mapping[str, str] | None = None) -> str:
        """The AWS CLI command that sends exactly this request. `variables` maps a placeholder value in the
        request to a shell variable name: the command then takes that value from the variable."""
        text = shlex.quote(self.json())
        for placeholder, variable in (variables or {}).items():
            # Inside the single-quoted JSON: close the quote, expand "$VARIABLE", open it again.
            text = text.replace(placeholder, f"'\"${variable}\"'")
        return f"aws {self.service} {xform_name(self.operation, '-')} --cli-input-json {text}"


def placeholder_role(role_name: str) -> str:
    return f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/{role_name}"


def placeholder_image(region: str, repository: str) -> str:
    return ecr.image_uri(PLACEHOLDER_ACCOUNT, region, repository)


@contextmanager
def capture(boto_session: Any) -> Iterator[list[Request]]:
    """Within: SageMaker Create* requests are validated, recorded and answered locally; nothing is sent.

    Enter it before the SDK creates its clients: botocore copies a session's handlers into each new client.
    """
    captured: list[Request] = []
    events = boto_session.events

    def record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        captured.append(Request(model.name, copy.deepcopy(dict(params))))

    def answer(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, {}, None), dict(ANSWERS[model.name])

    def refuse(request: Any, **_: Any) -> None:
        raise DeployError(f"dry run: refused to send {request.method} {request.url}")

    handlers = [
        *((f"before-parameter-build.sagemaker.{operation}", record) for operation in ANSWERS),
        *((f"before-call.sagemaker.{operation}", answer) for operation in ANSWERS),
        ("before-send", refuse),
    ]
    for event, handler in handlers:
        events.register(event, handler)
    try:
        yield captured
    finally:
        for event, handler in handlers:
            events.unregister(event, handler)


def only(requests: list[Request], operation: str) -> Request:
    found = [request for request in requests if request.operation == operation]
    if len(found) != 1:
        raise DeployError(f"dry run: expected one {operation} request, the SDK built {len(found)}")
    return found[0]
