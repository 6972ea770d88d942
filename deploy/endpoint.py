"""Deploy a trained model to a real-time endpoint, predict a few sample rows, print them, delete it all.

    python -m deploy.endpoint --model-data s3://BUCKET/.../model.tar.gz [--image-uri URI] [--role ARN]
    python -m deploy.endpoint --training-job titanic-byoc-2024-01-01-00-00-00-000 [--keep]
    python -m deploy.endpoint --local --model-data s3://titanic-byoc-local/.../model.tar.gz

Rows come from a header-less CSV in training column order (default: the committed sample payload); they
go out as text/csv and the answers come back as JSON. Afterwards the model, the endpoint and its config are
deleted, unless --keep (real endpoints only: a local endpoint ends with this process).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy import cli, settings
from deploy.errors import DeployError, explain_aws_error
from deploy.push_image import default_image_uri
from deploy.train_job import role_for

if TYPE_CHECKING:
    from sagemaker.predictor import Predictor

DEFAULT_PAYLOAD = settings.REPOSITORY_ROOT / "local_test" / "payloads" / "passengers_no_header.csv"
DEFAULT_ROWS = 5


@dataclass(frozen=True)
class Prediction:
    label: int
    probability: float


@dataclass(frozen=True)
class EndpointOptions:
    image_uri: str
    model_data: str
    role: str
    instance_type: str
    name: str


def sample_rows(payload: Path, rows: int) -> str:
    """The first `rows` records of a header-less CSV, as one text/csv body."""
    if not payload.is_file():
        raise DeployError(f"payload file {payload} does not exist")
    lines = [line for line in payload.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise DeployError(f"payload file {payload} holds no rows")
    return "\n".join(lines[:rows]) + "\n"


def model_data_of_job(target: settings.DeployTarget, job_name: str) -> str:
    if target.is_local:
        raise DeployError(
            "a local training job lives only in the process that ran it: pass --model-data with the "
            "model.tar.gz URI that `python -m deploy.train_job --local` printed"
        )
    description = target.sagemaker_session.sagemaker_client.describe_training_job(TrainingJobName=job_name)
    if description.get("TrainingJobStatus") != "Completed":
        raise DeployError(f"training job {job_name} is {description.get('TrainingJobStatus')}, not Completed")
    return str(description["ModelArtifacts"]["S3ModelArtifacts"])


def unique_name(base: str = settings.BASE_JOB_NAME) -> str:
    from sagemaker.utils import name_from_base

    return str(name_from_base(base))


def build_model(target: settings.DeployTarget, options: EndpointOptions) -> Any:
    from sagemaker.model import Model

    return Model(
        image_uri=options.image_uri,
        model_data=options.model_data,
        role=options.role,
        name=options.name,
        sagemaker_session=target.sagemaker_session,
    )


def deploy_endpoint(target: settings.DeployTarget, options: EndpointOptions) -> Predictor:
    """Create the model, its endpoint config and the endpoint (all named options.name)."""
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    model = build_model(target, options)
    try:
        # Local create_endpoint already waits for /ping; the SDK's own wait would only add 30 s of sleep.
        model.deploy(
            initial_instance_count=1,
            instance_type=options.instance_type,
            endpoint_name=options.name,
            tags=[dict(tag) for tag in settings.PROJECT_TAGS],
            wait=not target.is_local,
        )
    except (RuntimeError, UnexpectedStatusException) as error:
        # Local mode gives up after /ping fails for 120 s; SageMaker reports the endpoint Failed and why.
        raise DeployError(f"endpoint {options.name} did not start: {error}") from None
    return Predictor(
        endpoint_name=options.name,
        sagemaker_session=target.sagemaker_session,
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )


def parse_predictions(answer: Any) -> list[Prediction]:
    try:
        return [
            Prediction(label=int(entry["label"]), probability=float(entry["probability"]))
            for entry in answer["predictions"]
        ]
    except (TypeError, KeyError, ValueError):
        raise DeployError(f"the endpoint answered something other than predictions: {answer!r}") from None


def predict(predictor: Predictor, csv_rows: str) -> list[Prediction]:
    return parse_predictions(predictor.predict(csv_rows))


def delete_endpoint(target: settings.DeployTarget, name: str) -> list[str]:
    """Delete the model, the endpoint and its config, each even when another delete fails; return problems."""
    session = target.sagemaker_session
    steps: list[tuple[str, Callable[[], Any]]] = [
        # The model before the endpoint: the order local mode handles (deleting the endpoint stops serving).
        (f"model {name}", lambda: session.delete_model(name)),
        (f"endpoint {name}", lambda: session.delete_endpoint(name)),
        (f"endpoint config {name}", lambda: session.delete_endpoint_config(name)),
    ]
    problems = []
    for what, delete in steps:
        try:
            delete()
        except (BotoCoreError, ClientError) as error:
            problems.append(f"could not delete {what}: {explain_aws_error(error)}")
    return problems


def serve_and_predict(
    target: settings.DeployTarget, options: EndpointOptions, csv_rows: str, *, keep: bool = False
) -> list[Prediction]:
    """What the CLI does: deploy, predict, and (unless keep) delete whatever was created, also on failure."""
    if keep and target.is_local:
        raise DeployError("--keep only applies to real endpoints: a local endpoint ends with this process")
    print(f"deploying {options.model_data} to endpoint {options.name} ({options.instance_type})")
    try:
        predictor = deploy_endpoint(target, options)
        return predict(predictor, csv_rows)
    finally:
        if not keep:
            for problem in delete_endpoint(target, options.name):
                print(f"warning: {problem}", file=sys.stderr)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Which model to host and how; shared with deploy.batch_transform."""
    group = parser.add_argument_group("model")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-data", help="s3:// URI of a model.tar.gz")
    source.add_argument("--training-job", help="take the model of this completed training job")
    cli.add_image_and_role_arguments(group, "serving image")


def options_from(arguments: argparse.Namespace, target: settings.DeployTarget, name: str) -> EndpointOptions:
    return EndpointOptions(
        image_uri=arguments.image_uri or default_image_uri(target, arguments.repository, arguments.registry),
        model_data=arguments.model_data or model_data_of_job(target, arguments.training_job),
        role=role_for(target, arguments.role),
        instance_type=arguments.instance_type or target.default_instance_type,
        name=name,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("deploy.endpoint", __doc__)
    cli.add_target_arguments(parser, serving=True)
    add_model_arguments(parser)
    parser.add_argument("--endpoint-name", help="default: titanic-byoc-<timestamp>")
    parser.add_argument("--payload", type=Path, default=DEFAULT_PAYLOAD, help="header-less CSV rows to send")
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="how many rows to send (default: %(default)s)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the real endpoint running (it costs money)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    csv_rows = sample_rows(arguments.payload, arguments.rows)
    with cli.target_from(arguments) as target:
        options = options_from(arguments, target, arguments.endpoint_name or unique_name())
        predictions = serve_and_predict(target, options, csv_rows, keep=arguments.keep)
    for row, prediction in zip(csv_rows.splitlines(), predictions, strict=False):
        print(f"label {prediction.label}  probability {prediction.probability:.4f}  <- {row[:60]}")
    print(f"endpoint {options.name} kept: delete it with `python -m deploy.cleanup --name {options.name}`"
          if arguments.keep else f"deleted model, endpoint and endpoint config {options.name}")  # fmt: skip
    return 0


if __name__ == "__main__":
    cli.run(main)
