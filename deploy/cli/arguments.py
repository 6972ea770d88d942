"""What every deploy script's command line shares: the target options and one way to report failures."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from lightsage_deploy.errors import DeployError, explain_aws_error
from lightsage_deploy.project import Project
from lightsage_deploy.targets import target as settings


def new_parser(prog: str | None, module: str, description: str | None) -> argparse.ArgumentParser:
    """A parser whose usage line reads `prog` (`byoc NAME`, or by default `python -m deploy.NAME`) and whose
    help keeps the docstring's layout (its examples)."""
    return argparse.ArgumentParser(
        prog=prog or f"python -m {module}",
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
    group.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, {settings.DEFAULT_REGION})"
    )
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


def add_layout_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3 layout")
    group.add_argument(
        "--bucket",
        help=f"S3 bucket (default: {settings.BUCKET_VARIABLE}; with --local: PROJECT-local)",
    )
    group.add_argument("--prefix", help="key prefix inside the bucket (default: the project name)")


@contextmanager
def target_from(
    arguments: argparse.Namespace, project: Project, *, sdk_telemetry: bool = True
) -> Iterator[settings.DeployTarget]:
    """The target the command line names; local-mode containers carry the project's labels."""
    # The SDK logs which config files it read to stdout; stdout is for the commands' results.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with settings.open_target(
        local=getattr(arguments, "local", False),
        project=project.name,
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


def layout_from(arguments: argparse.Namespace, project: Project) -> settings.S3Layout:
    bucket = arguments.bucket or os.environ.get(settings.BUCKET_VARIABLE)
    if not bucket:
        if not arguments.local:
            raise DeployError(f"no bucket: pass --bucket or set {settings.BUCKET_VARIABLE}")
        bucket = project.local_bucket
    return settings.S3Layout(bucket=bucket, prefix=(arguments.prefix or project.prefix).strip("/"))


def optional_layout(arguments: argparse.Namespace, project: Project) -> settings.S3Layout | None:
    """The layout when a bucket is known (given, in the environment, or local mode's), else None."""
    known = arguments.bucket or os.environ.get(settings.BUCKET_VARIABLE) or arguments.local
    return layout_from(arguments, project) if known else None


def repository_from(arguments: argparse.Namespace, project: Project) -> str:
    return str(arguments.repository or project.repository)


def run(main: Callable[[Sequence[str] | None], int]) -> NoReturn:
    """Run a script's main; expected failures become one `error:` line and exit status 1, not a traceback."""
    try:
        status = main(None)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        status = 1
    except (BotoCoreError, ClientError) as error:
        print(f"error: {explain_aws_error(error)}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)
