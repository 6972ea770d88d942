"""The option groups the commands share, and the readers that turn them into the steps' typed options."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lightsage.tasks import Task
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.ecr import default_image_uri
from lightsage_deploy.errors import DeployError
from lightsage_deploy.iam.roles import resolve_role, role_for
from lightsage_deploy.jobs import hyperparameters, recipe_folder
from lightsage_deploy.jobs.channels import channel_content_type
from lightsage_deploy.jobs.rows import payload_rows, sample_rows
from lightsage_deploy.project import project
from lightsage_deploy.steps import registry
from lightsage_deploy.steps.endpoint import EndpointKind, EndpointOptions, model_data_of_job
from lightsage_deploy.steps.train import (
    DEFAULT_MAX_RUN_SECONDS,
    DEFAULT_MAX_WAIT_SECONDS,
    TrainingOptions,
    warm_start_uri,
)
from lightsage_deploy.targets import target as settings

DEFAULT_ROWS = 5
logger = logging.getLogger(__name__)


def new_parser(prog: str | None, command: str, description: str | None) -> argparse.ArgumentParser:
    """A parser whose usage line reads `prog` (by default `byoc COMMAND`) and whose help keeps the
    docstring's layout (its examples)."""
    return argparse.ArgumentParser(
        prog=prog or f"byoc {command}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_target_arguments(parser: argparse.ArgumentParser, *, serving: bool = False) -> None:
    group = parser.add_argument_group("where to deploy")
    group.add_argument(
        "--local",
        action="store_true",
        help="offline: local registry instead of ECR, moto_server instead of S3, SageMaker local mode "
        "instead of SageMaker (start them with `byoc offline up`)",
    )
    add_region_argument(group)
    group.add_argument(
        "--registry",
        help=f"a plain registry (host:port) instead of ECR; --local defaults it to {settings.LOCAL_REGISTRY}",
    )
    group.add_argument(
        "--s3-endpoint",
        help=f"with --local: the S3 emulator (default: AWS_ENDPOINT_URL, then {settings.LOCAL_S3_ENDPOINT})",
    )
    if serving:
        group.add_argument(
            "--serving-port",
            type=int,
            default=settings.LOCAL_SERVING_PORT,
            help="with --local: the serving container's port on 127.0.0.1 (default: %(default)s)",
        )


def add_region_argument(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, {settings.DEFAULT_REGION})"
    )


def add_image_and_role_arguments(group: argparse._ArgumentGroup, image_purpose: str) -> None:
    """--image-uri, --repository, --role and --instance-type, shared by training, tuning and hosting."""
    group.add_argument(
        "--image-uri",
        help=f"{image_purpose} (default: REPOSITORY:latest in ECR, or in the --local registry)",
    )
    add_repository_argument(group, "for the default --image-uri")
    group.add_argument(
        "--role", help=f"execution role ARN (default: {settings.ROLE_VARIABLE}, get_execution_role())"
    )
    group.add_argument(
        "--instance-type", help=f"default: {settings.DEFAULT_INSTANCE_TYPE}; with --local: local"
    )


def add_repository_argument(group: argparse._ActionsContainer, purpose: str) -> None:
    group.add_argument("--repository", help=f"{purpose} (default: the project name)")


def add_build_arguments(group: argparse._ActionsContainer, platform: str | None) -> None:
    """How `docker build` runs, shared by `byoc build` and `byoc push`."""
    group.add_argument(
        "--platform",
        default=platform,
        help=f"docker build --platform (default: {platform or 'the platform of the Docker engine'})",
    )
    group.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="docker build --build-arg (repeatable); BASE_IMAGE=IMAGE names the base image",
    )
    group.add_argument("--build-network", help="docker build --network, e.g. host")
    group.add_argument(
        "--docker-build-flag",
        action="append",
        default=[],
        metavar="FLAG",
        help="any other docker build flag, written with '=' (repeatable): --docker-build-flag=--pull",
    )


def build_flags_from(arguments: argparse.Namespace) -> tuple[str, ...]:
    flags = list(arguments.docker_build_flag)
    if arguments.build_network:
        flags.append(f"--network={arguments.build_network}")
    return tuple(flags)


def check_validation_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise DeployError(f"--validation-fraction must be between 0 and 1, not {fraction}")


def add_layout_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3 layout")
    group.add_argument(
        "--bucket",
        help=f"S3 bucket (default: {settings.BUCKET_VARIABLE}; with --local: PROJECT-local)",
    )
    group.add_argument("--prefix", help="key prefix inside the bucket (default: the project name)")


def add_estimator_arguments(parser: argparse.ArgumentParser) -> None:
    """The training job's options, shared by `byoc train` and `byoc tune`."""
    group = parser.add_argument_group("training job")
    add_image_and_role_arguments(group, "image to train with")
    group.add_argument(
        "--instance-count", type=int, default=1, help="instances per job (default: %(default)s)"
    )
    group.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable; wins over the file and the project's",
    )
    group.add_argument("--hyperparameters-file", type=Path, help="JSON object of hyperparameters")
    group.add_argument(
        "--task",
        choices=[task.value for task in Task],
        help="the task, sent as the hyperparameter task (default: the `task` hyperparameter, else the "
        "recipe's only task, else the one `train` infers from its train channel)",
    )
    group.add_argument("--no-spot", action="store_true", help="on-demand instead of managed spot training")
    group.add_argument(
        "--max-run", type=int, default=DEFAULT_MAX_RUN_SECONDS, help="seconds (default: %(default)s)"
    )
    group.add_argument(
        "--max-wait",
        type=int,
        default=DEFAULT_MAX_WAIT_SECONDS,
        help="spot: seconds, >= --max-run (default: %(default)s)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request as an AWS CLI command and send nothing (placeholders for a missing "
        "image or role)",
    )
    add_recipe_folder_arguments(group, "the job ships")


def add_recipe_folder_arguments(group: argparse._ArgumentGroup, purpose: str) -> None:
    """Script mode: --recipe-dir and --entry-point (lightsage_deploy.jobs.recipe_folder)."""
    group.add_argument(
        "--recipe-dir",
        type=Path,
        metavar="DIR",
        help=f"script mode: a folder with the recipe module {purpose} (default: the project's [training] "
        "recipe_dir, else the image's recipe)",
    )
    group.add_argument(
        "--entry-point",
        metavar="FILE",
        help="the recipe module's path in --recipe-dir (default: its only .py file)",
    )


def add_model_arguments(parser: argparse.ArgumentParser, *, approved: bool = False) -> None:
    """Which model to host and how, shared by `byoc deploy` (which also takes --approved) and `byoc batch`."""
    group = parser.add_argument_group("model")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-data", help="s3:// URI of a model.tar.gz")
    source.add_argument("--training-job", help="take the model of this completed training job")
    if approved:
        source.add_argument(
            "--approved",
            action="store_true",
            help="the newest Approved version of the project's model package group (`byoc models`)",
        )
    add_image_and_role_arguments(group, "serving image")
    add_recipe_folder_arguments(group, "the model was trained with")


def add_row_arguments(parser: argparse.ArgumentParser) -> None:
    """Which rows to send, shared by `byoc predict` and `byoc deploy`."""
    group = parser.add_argument_group("rows to send")
    group.add_argument(
        "--payload", type=Path, help="header-less CSV rows (default: the project's data, target removed)"
    )
    group.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="how many rows to send (default: %(default)s)"
    )


@contextmanager
def target_from(
    arguments: argparse.Namespace, the_project: project.Project, *, sdk_telemetry: bool = True
) -> Iterator[settings.DeployTarget]:
    """The target the command line names; local-mode containers carry the project's labels."""
    # The SDK logs which config files it read to stdout; stdout is for the commands' results.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with settings.open_target(
        local=getattr(arguments, "local", False),
        project=the_project.name,
        sdk_telemetry=sdk_telemetry,
        region=arguments.region,
        registry=getattr(arguments, "registry", None) or settings.LOCAL_REGISTRY,
        s3_endpoint=getattr(arguments, "s3_endpoint", None),
        serving_port=getattr(arguments, "serving_port", settings.LOCAL_SERVING_PORT),
    ) as target:
        yield target


def refuse_local_dry_run(arguments: argparse.Namespace) -> None:
    if arguments.dry_run and arguments.local:
        raise DeployError("--dry-run shows the requests to AWS: leave out --local")


def layout_from(arguments: argparse.Namespace, the_project: project.Project) -> settings.S3Layout:
    bucket = arguments.bucket or os.environ.get(settings.BUCKET_VARIABLE)
    if not bucket:
        if not arguments.local:
            raise DeployError(f"no bucket: pass --bucket or set {settings.BUCKET_VARIABLE}")
        bucket = the_project.local_bucket
    return settings.S3Layout(bucket=bucket, prefix=(arguments.prefix or the_project.prefix).strip("/"))


def optional_layout(arguments: argparse.Namespace, the_project: project.Project) -> settings.S3Layout | None:
    """The layout when a bucket is known (given, in the environment, or local mode's), else None."""
    known = arguments.bucket or os.environ.get(settings.BUCKET_VARIABLE) or arguments.local
    return layout_from(arguments, the_project) if known else None


def repository_from(arguments: argparse.Namespace, the_project: project.Project) -> str:
    return str(arguments.repository or the_project.repository)


def image_and_role_from(
    arguments: argparse.Namespace,
    target: settings.DeployTarget,
    the_project: project.Project,
    *,
    placeholders: bool = False,
) -> tuple[str, str]:
    """The image URI and the execution role; with `placeholders` (a dry run), no AWS lookups for either."""
    repository = repository_from(arguments, the_project)
    if placeholders:
        role = resolve_role(
            arguments.role, execution_role=lambda: dry_run.placeholder_role(the_project.role_name)
        )
        return arguments.image_uri or dry_run.placeholder_image(target.region, repository), role
    role = role_for(target, arguments.role, the_project)
    return arguments.image_uri or default_image_uri(target, repository, arguments.registry), role


def training_options_from(
    arguments: argparse.Namespace, target: settings.DeployTarget, the_project: project.Project
) -> TrainingOptions:
    """The options of `byoc train` and `byoc tune`; a dry run fills in placeholders instead of AWS lookups."""
    folder = recipe_folder.of_job(the_project, arguments.recipe_dir, arguments.entry_point)
    values = hyperparameters.for_job(
        the_project,
        file=arguments.hyperparameters_file,
        assignments=arguments.hyperparameter,
        task=arguments.task,
        script=folder.recipe if folder is not None else None,
    )
    image_uri, role = image_and_role_from(arguments, target, the_project, placeholders=arguments.dry_run)
    return TrainingOptions(
        project=the_project,
        image_uri=image_uri,
        role=role,
        layout=layout_from(arguments, the_project),
        instance_type=arguments.instance_type or target.default_instance_type,
        hyperparameters=values,
        instance_count=arguments.instance_count,
        use_spot=not arguments.no_spot,
        checkpoints=not getattr(arguments, "no_checkpoints", False),
        max_run=arguments.max_run,
        max_wait=arguments.max_wait,
        content_type=channel_content_type(the_project.source),
        warm_start=warm_start_uri(getattr(arguments, "warm_start", None)),
        recipe_folder=folder,
    )


def hosting_options_from(
    arguments: argparse.Namespace,
    target: settings.DeployTarget,
    the_project: project.Project,
    name: str,
    *,
    placeholders: bool = False,
) -> EndpointOptions:
    """The options of `byoc deploy` and `byoc batch`; with `placeholders` (a dry run), no AWS lookups."""
    if placeholders and not arguments.model_data:
        source = "--approved" if getattr(arguments, "approved", False) else "--training-job"
        raise DeployError(f"--dry-run needs --model-data (looking up {source} would call AWS)")
    if getattr(arguments, "approved", False):
        if arguments.image_uri:
            raise DeployError(
                "--approved deploys the image the version was registered with: leave out --image-uri"
            )
        package = approved_package(target, the_project)
        image_uri, model_data = package.image_uri, package.model_data
        role = role_for(target, arguments.role, the_project)
    else:
        image_uri, role = image_and_role_from(arguments, target, the_project, placeholders=placeholders)
        model_data = arguments.model_data or model_data_of_job(target, arguments.training_job)
    return EndpointOptions(
        project=the_project,
        image_uri=image_uri,
        model_data=model_data,
        role=role,
        instance_type=arguments.instance_type or target.default_instance_type,
        name=name,
        kind=EndpointKind(getattr(arguments, "kind", EndpointKind.REALTIME)),
        instance_count=getattr(arguments, "instance_count", 1),
        data_capture_percent=getattr(arguments, "data_capture", 0),
        memory_size_mb=getattr(arguments, "memory_size", 2048),
        max_concurrency=getattr(arguments, "max_concurrency", 5),
        layout=optional_layout(arguments, the_project),
        recipe_folder=recipe_folder.of_job(the_project, arguments.recipe_dir, arguments.entry_point),
    )


def approved_package(target: settings.DeployTarget, the_project: project.Project) -> registry.Package:
    """The newest Approved version of the project's group (locally: moto's registry), described."""
    client = target.client("sagemaker")
    version = registry.newest_approved(client, the_project.model_package_group)
    package = registry.describe_package(client, version.arn)
    logger.info(
        "newest Approved version: %d of %s (%s)", version.number, the_project.model_package_group, version.arn
    )
    return package


def rows_from(arguments: argparse.Namespace, the_project: project.Project) -> str:
    """The rows --payload and --rows name, else the first rows of the project's data, target removed."""
    if arguments.payload is not None:
        return payload_rows(arguments.payload, arguments.rows)
    return sample_rows(the_project.source, the_project.target, arguments.rows)
