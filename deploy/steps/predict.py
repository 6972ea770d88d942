"""Predictions from a running endpoint: rows out as header-less text/csv, answers back as JSON, one per row
(asynchronous endpoints: through S3), each checked to be one of the three task shapes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from lightsage_deploy.aws.progress import elapsed, say
from lightsage_deploy.aws.s3 import object_exists, put_bytes, read_bytes
from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.targets import target as settings

ASYNC_TIMEOUT_SECONDS = 900
ASYNC_POLL_SECONDS = 5
CSV = "text/csv"
JSON = "application/json"
Prediction = dict[str, Any]


def _is_prediction(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    if "prediction" in entry:
        return isinstance(entry["prediction"], int | float)
    if "probability" in entry:
        return "label" in entry and isinstance(entry["probability"], int | float)
    return "label" in entry and isinstance(entry.get("probabilities"), dict)


def parse_predictions(answer: Any) -> list[Prediction]:
    """The answers of a `{"predictions": [...]}` body, each checked to be one of the three task shapes."""
    entries = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(entries, list) or not all(_is_prediction(entry) for entry in entries):
        raise DeployError(f"the endpoint answered something other than predictions: {answer!r}")
    return entries


def describe(prediction: Mapping[str, Any]) -> str:
    """One answer as text: `label 1  probability 0.8731`, `label 'b'  p 0.7000` or `prediction 3.1400`."""
    if "prediction" in prediction:
        return f"prediction {prediction['prediction']:.4f}"
    if "probability" in prediction:
        return f"label {prediction['label']!r}  probability {prediction['probability']:.4f}"
    return f"label {prediction['label']!r}  p {prediction['probabilities'][str(prediction['label'])]:.4f}"


def predictor(target: settings.DeployTarget, endpoint_name: str) -> Any:
    """A Predictor that sends text/csv and reads JSON (real-time and serverless endpoints)."""
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    return Predictor(
        endpoint_name=endpoint_name,
        sagemaker_session=target.sagemaker_session,
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )


def predict(target: settings.DeployTarget, endpoint_name: str, csv_rows: str) -> list[Prediction]:
    return parse_predictions(predictor(target, endpoint_name).predict(csv_rows))


def predict_async(
    target: settings.DeployTarget,
    endpoint_name: str,
    csv_rows: str,
    layout: settings.S3Layout,
    *,
    timeout_seconds: float = ASYNC_TIMEOUT_SECONDS,
    poll_seconds: float = ASYNC_POLL_SECONDS,
) -> list[Prediction]:
    """Upload the rows, invoke the endpoint asynchronously, wait for the answer (or failure) object in S3."""
    return answer_async(
        target.client("s3"), target.client("sagemaker-runtime"), endpoint_name, csv_rows, layout,
        timeout_seconds=timeout_seconds, poll_seconds=poll_seconds,
    )  # fmt: skip


def answer_async(
    s3: Any,
    runtime: Any,
    endpoint_name: str,
    csv_rows: str,
    layout: settings.S3Layout,
    *,
    timeout_seconds: float,
    poll_seconds: float,
) -> list[Prediction]:
    input_uri = f"{layout.async_input}{endpoint_name}-{uuid.uuid4().hex}.csv"
    put_bytes(s3, input_uri, csv_rows.encode("utf-8"), CSV)
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint_name, InputLocation=input_uri, ContentType=CSV, Accept=JSON
    )
    output, failure = response["OutputLocation"], response.get("FailureLocation")
    started = time.monotonic()
    while not object_exists(s3, output):
        if failure and object_exists(s3, failure):
            reason = read_bytes(s3, failure).decode("utf-8", "replace")
            raise DeployError(f"the asynchronous request failed: {reason}")
        if time.monotonic() - started > timeout_seconds:
            raise PlatformError(f"no answer at {output} after {elapsed(timeout_seconds)}")
        say(f"[{elapsed(time.monotonic() - started):>7}] waiting for {output}")
        time.sleep(poll_seconds)
    return parse_predictions(json.loads(read_bytes(s3, output)))


def prediction_lines(csv_rows: str, predictions: Sequence[Prediction]) -> list[str]:
    """One line per answer with the start of the row it answers."""
    return [
        f"{describe(prediction)}  <- {row[:60]}"
        for row, prediction in zip(csv_rows.splitlines(), predictions, strict=False)
    ]
