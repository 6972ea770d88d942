"""Send rows to a running endpoint and print its answers (asynchronous endpoints: through S3).

examples:
  byoc predict --endpoint-name NAME          # the first 5 rows of the project's data, target removed
  byoc predict --endpoint-name NAME --payload rows.csv --rows 20
  byoc predict --endpoint-name NAME --async --bucket my-bucket

Rows go out as header-less text/csv in training column order; answers come back as JSON, one per row:
{"label": ..., "probability": p} (binary), {"label": ..., "probabilities": {...}} (multiclass) or
{"prediction": x} (regression). --async uploads the rows to s3://BUCKET/PREFIX/async-input/, invokes the
endpoint asynchronously and waits for its answer under .../async-output/. `python -m
lightsage_deploy.steps.predict` is the same command; `byoc deploy` creates an endpoint and predicts in one go.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lightsage_deploy import project
from lightsage_deploy.aws.progress import elapsed
from lightsage_deploy.aws.s3 import parse_s3_uri, put_bytes, read_bytes
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError, aws_error_code
from lightsage_deploy.steps.rows import payload_rows, sample_rows
from lightsage_deploy.targets import target as settings

COMMAND = "predict"
DEFAULT_ROWS = 5
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


def _exists(s3: Any, uri: str) -> bool:
    bucket, key = parse_s3_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if aws_error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


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
    while not _exists(s3, output):
        if failure and _exists(s3, failure):
            reason = read_bytes(s3, failure).decode("utf-8", "replace")
            raise DeployError(f"the asynchronous request failed: {reason}")
        if time.monotonic() - started > timeout_seconds:
            raise DeployError(f"no answer at {output} after {elapsed(timeout_seconds)}")
        print(f"[{elapsed(time.monotonic() - started):>7}] waiting for {output}", file=sys.stderr, flush=True)
        time.sleep(poll_seconds)
    return parse_predictions(json.loads(read_bytes(s3, output)))


def rows_from(arguments: argparse.Namespace, the_project: project.Project) -> str:
    if arguments.payload is not None:
        return payload_rows(arguments.payload, arguments.rows)
    return sample_rows(the_project.source, the_project.target, arguments.rows)


def add_row_arguments(parser: argparse.ArgumentParser) -> None:
    """Which rows to send; shared with `byoc deploy`."""
    group = parser.add_argument_group("rows to send")
    group.add_argument(
        "--payload", type=Path, help="header-less CSV rows (default: the project's data, target removed)"
    )
    group.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="how many rows to send (default: %(default)s)"
    )


def print_predictions(csv_rows: str, predictions: Sequence[Prediction]) -> None:
    for row, prediction in zip(csv_rows.splitlines(), predictions, strict=False):
        print(f"{describe(prediction)}  <- {row[:60]}")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, "lightsage_deploy.steps.predict", __doc__)
    parser.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, {settings.DEFAULT_REGION})"
    )
    parser.add_argument("--endpoint-name", required=True, help="a running endpoint")
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="the endpoint is asynchronous (needs --bucket)",
    )
    cli.add_layout_arguments(parser)
    add_row_arguments(parser)
    parser.set_defaults(local=False)  # a local endpoint lives only inside `byoc deploy --local`
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    csv_rows = rows_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        if arguments.asynchronous:
            layout = cli.layout_from(arguments, the_project)
            predictions = predict_async(target, arguments.endpoint_name, csv_rows, layout)
        else:
            predictions = predict(target, arguments.endpoint_name, csv_rows)
    print_predictions(csv_rows, predictions)
    return 0


if __name__ == "__main__":
    cli.run(main)
