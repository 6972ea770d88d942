"""Hosting: a model on a real-time, serverless or asynchronous endpoint (or local mode's real-time one), its
requests for a dry run, a few predictions, and deleting the model, the endpoint and its config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.errors import DeployError, explain_aws_error
from lightsage_deploy.jobs.recipe_folder import RecipeFolder
from lightsage_deploy.project import project
from lightsage_deploy.steps import predict
from lightsage_deploy.targets import target as settings

SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_SERVERLESS_CONCURRENCY = 200
ENDPOINT_FINISHED = ("InService", "Failed", "OutOfService")
logger = logging.getLogger(__name__)


class EndpointKind(StrEnum):
    REALTIME = "realtime"
    SERVERLESS = "serverless"
    ASYNC = "async"


@dataclass(frozen=True)
class EndpointOptions:
    project: project.Project
    image_uri: str
    model_data: str
    role: str
    instance_type: str
    name: str
    kind: EndpointKind = EndpointKind.REALTIME
    instance_count: int = 1
    data_capture_percent: int = 0
    memory_size_mb: int = 2048
    max_concurrency: int = 5
    layout: settings.S3Layout | None = None
    # script mode: the recipe module the model was trained with, shipped as the model's code
    recipe_folder: RecipeFolder | None = None


def model_data_of_job(target: settings.DeployTarget, job_name: str) -> str:
    if target.is_local:
        raise DeployError(
            "a local training job lives only in the process that ran it: pass --model-data with the "
            "model.tar.gz URI that `byoc train --local` printed"
        )
    description = target.sagemaker_session.sagemaker_client.describe_training_job(TrainingJobName=job_name)
    if description.get("TrainingJobStatus") != "Completed":
        raise DeployError(f"training job {job_name} is {description.get('TrainingJobStatus')}, not Completed")
    return str(description["ModelArtifacts"]["S3ModelArtifacts"])


def build_model(target: settings.DeployTarget, options: EndpointOptions) -> Any:
    """The SDK's Model; with a recipe folder, `Model(entry_point=..., source_dir=...)`, which sets
    SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY (and mounts the folder in local mode)."""
    from sagemaker.model import Model

    code: dict[str, Any] = {}
    if options.recipe_folder is not None:
        code.update(
            entry_point=options.recipe_folder.entry_point, source_dir=str(options.recipe_folder.folder)
        )
        if options.layout is not None:
            code.update(code_location=options.layout.uri("code"))
    return Model(
        image_uri=options.image_uri,
        model_data=options.model_data,
        role=options.role,
        name=options.name,
        sagemaker_session=target.sagemaker_session,
        **code,
    )


def refuse_dry_run_with_code(options: EndpointOptions) -> None:
    if options.recipe_folder is not None:
        raise DeployError(
            "--dry-run cannot show a model that ships a recipe folder: the SDK packs the folder into the "
            "model archive on S3 before it builds the requests"
        )


def check_kind(target: settings.DeployTarget, options: EndpointOptions) -> None:
    """Refuse combinations SageMaker (or its local mode) does not offer, before anything is created."""
    if target.is_local and options.kind is not EndpointKind.REALTIME:
        raise DeployError(
            f"SageMaker local mode has no {options.kind} endpoints (only real-time ones): leave out --local "
            "to create it on SageMaker"
        )
    if target.is_local and options.data_capture_percent:
        raise DeployError("SageMaker local mode has no data capture: leave out --data-capture or --local")
    if options.kind is EndpointKind.SERVERLESS:
        if options.data_capture_percent:
            raise DeployError("serverless endpoints have no data capture: leave out --data-capture")
        if options.memory_size_mb not in SERVERLESS_MEMORY_SIZES_MB:
            sizes = ", ".join(map(str, SERVERLESS_MEMORY_SIZES_MB))
            raise DeployError(f"--memory-size must be one of {sizes} (MB), not {options.memory_size_mb}")
        if not 1 <= options.max_concurrency <= MAX_SERVERLESS_CONCURRENCY:
            raise DeployError(
                f"--max-concurrency must be between 1 and {MAX_SERVERLESS_CONCURRENCY}, "
                f"not {options.max_concurrency}"
            )
    if not 0 <= options.data_capture_percent <= 100:
        raise DeployError(f"--data-capture must be a percentage (1-100), not {options.data_capture_percent}")
    if options.layout is None:
        if options.kind is EndpointKind.ASYNC:
            raise DeployError(f"--async needs --bucket (or {settings.BUCKET_VARIABLE}) for its S3 output")
        if options.data_capture_percent:
            raise DeployError(f"--data-capture needs --bucket (or {settings.BUCKET_VARIABLE}) to write to")


def deploy_arguments(target: settings.DeployTarget, options: EndpointOptions) -> dict[str, Any]:
    """The `Model.deploy` arguments for the endpoint kind, as the SDK's own config objects."""
    from sagemaker.async_inference import AsyncInferenceConfig
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.serverless import ServerlessInferenceConfig

    check_kind(target, options)
    # Local create_endpoint already waits for /ping; real endpoints are awaited with progress below.
    arguments: dict[str, Any] = {"endpoint_name": options.name, "tags": options.project.tags, "wait": False}
    if options.kind is EndpointKind.SERVERLESS:
        arguments["serverless_inference_config"] = ServerlessInferenceConfig(
            memory_size_in_mb=options.memory_size_mb, max_concurrency=options.max_concurrency
        )
        return arguments
    arguments.update(initial_instance_count=options.instance_count, instance_type=options.instance_type)
    layout = options.layout
    if options.kind is EndpointKind.ASYNC and layout is not None:
        arguments["async_inference_config"] = AsyncInferenceConfig(
            output_path=layout.async_output, failure_path=layout.uri("async-output", "failures")
        )
    if options.data_capture_percent and layout is not None:
        arguments["data_capture_config"] = DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=options.data_capture_percent,
            destination_s3_uri=layout.data_capture,
            sagemaker_session=target.sagemaker_session,
        )
    return arguments


def create_endpoint(target: settings.DeployTarget, options: EndpointOptions) -> None:
    """Create the model, its endpoint config and the endpoint (all named options.name); await InService."""
    from sagemaker.exceptions import UnexpectedStatusException

    arguments = deploy_arguments(target, options)
    try:
        build_model(target, options).deploy(**arguments)
    except (RuntimeError, UnexpectedStatusException) as error:
        # Local mode gives up after /ping fails for 120 s.
        raise DeployError(f"endpoint {options.name} did not start: {error}") from None
    if target.is_local:
        return
    client = target.sagemaker_session.sagemaker_client
    description = wait_for(
        lambda: client.describe_endpoint(EndpointName=options.name),
        "EndpointStatus",
        ENDPOINT_FINISHED,
        f"{options.kind} endpoint {options.name}",
        poll_seconds=30,
    )
    if description["EndpointStatus"] != "InService":
        raise DeployError(
            f"endpoint {options.name} is {description['EndpointStatus']}: {description.get('FailureReason')}"
        )


def endpoint_requests(target: settings.DeployTarget, options: EndpointOptions) -> list[dry_run.Request]:
    """The CreateModel, CreateEndpointConfig and CreateEndpoint requests, built by the SDK, not sent."""
    refuse_dry_run_with_code(options)
    with dry_run.capture(target.boto_session) as captured:
        build_model(target, options).deploy(**deploy_arguments(target, options))
    return captured


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
) -> list[predict.Prediction]:
    """What the CLI does: deploy, predict, and (unless keep) delete whatever was created, also on failure."""
    if keep and target.is_local:
        raise DeployError("--keep only applies to real endpoints: a local endpoint ends with this process")
    check_kind(target, options)
    where = "serverless" if options.kind is EndpointKind.SERVERLESS else options.instance_type
    logger.info("deploying %s to %s endpoint %s (%s)", options.model_data, options.kind, options.name, where)
    try:
        create_endpoint(target, options)
        if options.kind is EndpointKind.ASYNC and options.layout is not None:
            return predict.predict_async(target, options.name, csv_rows, options.layout)
        return predict.predict(target, options.name, csv_rows)
    finally:
        if not keep:
            for problem in delete_endpoint(target, options.name):
                logger.warning(problem)
