"""Defaults shared by every deploy script, and the `--local` switch that points them at offline stand-ins.

Real mode talks to AWS with the caller's credentials. Local mode swaps each cloud piece for a local one:
ECR -> a registry on localhost:5000, S3 -> moto_server on 127.0.0.1:9000, SageMaker -> the SDK's local mode
(`instance_type="local"`, containers run by docker-compose). Local mode sets dummy credentials and
AWS_ENDPOINT_URL for the whole process, so even a stray AWS call lands on the emulator, never on AWS.
"""

from __future__ import annotations

import getpass
import importlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.targets.docker import local_mode_containers, remove_containers, remove_network_if_unused

if TYPE_CHECKING:
    import sagemaker

DEFAULT_REGION = "us-east-1"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
LOCAL_INSTANCE_TYPE = "local"

BUCKET_VARIABLE = "BYOC_BUCKET"
ROLE_VARIABLE = "SAGEMAKER_ROLE_ARN"

LOCAL_REGISTRY = "localhost:5000"
LOCAL_S3_ENDPOINT = "http://127.0.0.1:9000"
LOCAL_SERVING_PORT = 8080
# The SDK copies the session's credentials into every local container: only ever dummy ones.
DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"
TELEMETRY_OPT_OUT_YAML = (
    "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)
# Variables that would let a real identity leak into local mode.
CREDENTIAL_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN")
# Docker labels on every local-mode container (the SDK's `local.container_config`): which project and user
# ran it, and which run (its scratch folder). `byoc cleanup --local` removes only its own project's and
# user's containers; a run removes its own on exit.
PROJECT_LABEL = "byoc.project"
OWNER_LABEL = "byoc.owner"
RUN_LABEL = "byoc.run"
# The SDK logs this notice before it reads the opt-out, so it shows even when telemetry is off.
TELEMETRY_LOGGER = "sagemaker.telemetry.telemetry_logging"
# Local mode logs its whole docker-compose file (about 30 lines per job) at INFO before every job; its other
# lines (the compose command, the container's own log) stay.
LOCAL_MODE_LOGGER = "sagemaker.local.image"
COMPOSE_FILE_MESSAGE = "docker compose file:"
logger = logging.getLogger(__name__)


# An SDK module that calls logging.basicConfig(level=INFO) when first imported (by pipelines and processing
# jobs, deep inside the SDK): every SDK and botocore note would then print.
ROOT_LOGGING_SETUP_MODULE = "sagemaker.experiments._metrics"


def import_sdk_quietly() -> None:
    """Import the SDK's module that sets up root logging on import, and undo that setup."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    importlib.import_module(ROOT_LOGGING_SETUP_MODULE)
    for handler in [handler for handler in root.handlers if handler not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def unique_name(base: str) -> str:
    """BASE-YYYY-MM-DD-HH-MM-SS-mmm, as the SDK names jobs, models and endpoints."""
    from sagemaker.utils import name_from_base

    return str(name_from_base(base))


def resolve_region(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    """--region, then AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1."""
    environ = os.environ if environ is None else environ
    return explicit or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


@dataclass(frozen=True)
class S3Layout:
    """Where the scripts keep things: everything below s3://BUCKET/PREFIX/ (PREFIX: the project name)."""

    bucket: str
    prefix: str

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}/"

    def key(self, *parts: str) -> str:
        return "/".join(part.strip("/") for part in (self.prefix, *parts) if part.strip("/"))

    @property
    def train(self) -> str:
        return self.uri("train")

    @property
    def validation(self) -> str:
        return self.uri("validation")

    @property
    def output(self) -> str:
        return self.uri("output")

    @property
    def batch_input(self) -> str:
        return self.uri("batch-input")

    @property
    def batch_output(self) -> str:
        return self.uri("batch-output")

    def checkpoints(self, job_name: str) -> str:
        """One folder per training job: a spot restart resumes its own job's checkpoints, never another's."""
        return self.uri("checkpoints", job_name)

    @property
    def data_capture(self) -> str:
        return self.uri("data-capture")

    @property
    def async_input(self) -> str:
        return self.uri("async-input")

    @property
    def async_output(self) -> str:
        return self.uri("async-output")


def owner() -> str:
    """Who runs the deploy commands on this machine: the login name, else the numeric user id."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def project_labels(project: str) -> dict[str, str]:
    """The labels that mark a local-mode container as one of `project`'s runs by this machine's user."""
    return {PROJECT_LABEL: project, OWNER_LABEL: owner()}


class LoopbackPort(int):
    """A serving port that the SDK's compose file publishes on 127.0.0.1 only.

    The SDK writes `"%s:8080" % serving_port` into the compose file and builds its URLs with `%d`, so the
    text form carries the loopback address while the number stays the port.
    """

    def __str__(self) -> str:
        return f"127.0.0.1:{int(self)}"


@dataclass(frozen=True)
class LocalStandIns:
    """The offline stand-ins for ECR, S3 and SageMaker, and the scratch folder local mode works in."""

    work_dir: Path
    project: str = ""
    registry: str = LOCAL_REGISTRY
    s3_endpoint: str = LOCAL_S3_ENDPOINT
    serving_port: int = LOCAL_SERVING_PORT

    @property
    def container_root(self) -> Path:
        return self.work_dir / "container-root"

    @property
    def container_labels(self) -> dict[str, str]:
        return {**project_labels(self.project), RUN_LABEL: str(self.work_dir)}

    def environment(self, region: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@dataclass(frozen=True)
class DeployTarget:
    """Where the scripts deploy to: AWS in `region`, or the local stand-ins when `local` is set."""

    region: str
    local: LocalStandIns | None = None

    @property
    def is_local(self) -> bool:
        return self.local is not None

    @property
    def default_instance_type(self) -> str:
        return LOCAL_INSTANCE_TYPE if self.is_local else DEFAULT_INSTANCE_TYPE

    @cached_property
    def boto_session(self) -> boto3.Session:
        if self.local is None:
            return boto3.Session(region_name=self.region)
        return boto3.Session(
            region_name=self.region,
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
        )

    def client(self, service: str) -> Any:
        endpoint = self.local.s3_endpoint if self.local is not None else None
        return self.boto_session.client(service, endpoint_url=endpoint)

    @cached_property
    def sagemaker_session(self) -> sagemaker.Session:
        """`sagemaker.Session()` in real mode; a LocalSession on the stand-ins in local mode."""
        if self.local is None:
            from sagemaker.session import Session

            return Session(boto_session=self.boto_session)
        from sagemaker.local import LocalSession

        session = LocalSession(boto_session=self.boto_session, s3_endpoint_url=self.local.s3_endpoint)
        session.config = self.local_mode_config()
        return session

    def local_mode_config(self) -> dict[str, Any]:
        """Local mode's settings: code mounted, the run's scratch folder, the serving port, the labels."""
        if self.local is None:
            raise DeployError("local mode's settings need a --local target")
        return {
            "local": {
                "local_code": True,
                "container_root": str(self.local.container_root),
                "serving_port": LoopbackPort(self.local.serving_port),
                "container_config": {"labels": self.local.container_labels},
            }
        }

    def pipeline_session(self, bucket: str, prefix: str) -> Any:
        """The session a pipeline's steps are defined with: SageMaker's PipelineSession, or locally the SDK's
        LocalPipelineSession on the stand-ins. Anything the SDK writes by default goes below BUCKET/PREFIX."""
        from sagemaker.workflow.pipeline_context import LocalPipelineSession, PipelineSession

        if self.local is None:
            return PipelineSession(
                boto_session=self.boto_session, default_bucket=bucket, default_bucket_prefix=prefix
            )
        session = LocalPipelineSession(
            boto_session=self.boto_session,
            default_bucket=bucket,
            default_bucket_prefix=prefix,
            s3_endpoint_url=self.local.s3_endpoint,
        )
        session.config = self.local_mode_config()
        return session

    def registry_session(self, bucket: str | None = None) -> sagemaker.Session:
        """A session for the model registry: SageMaker's, or offline moto's model-package API (local mode's
        own session has none)."""
        if self.local is None:
            return self.sagemaker_session
        from sagemaker.session import Session

        return Session(
            boto_session=self.boto_session, sagemaker_client=self.client("sagemaker"), default_bucket=bucket
        )


@contextmanager
def patched_environment(values: Mapping[str, str], removed: tuple[str, ...] = ()) -> Iterator[None]:
    """Set `values` and unset `removed` in os.environ for the duration, then put everything back."""
    saved = {name: os.environ.get(name) for name in (*values, *removed)}
    try:
        for name in removed:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def quiet_logger(name: str, level: int = logging.WARNING) -> Iterator[None]:
    """Raise one logger's level for the duration, then put it back."""
    logger = logging.getLogger(name)
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)


@contextmanager
def dropped_messages(logger_name: str, prefix: str) -> Iterator[None]:
    """Leave out one logger's records whose message starts with `prefix` for the duration."""
    logger = logging.getLogger(logger_name)

    def dropping(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(prefix)

    logger.addFilter(dropping)
    try:
        yield
    finally:
        logger.removeFilter(dropping)


@contextmanager
def open_target(
    *,
    local: bool,
    project: str = "",
    region: str | None = None,
    registry: str = LOCAL_REGISTRY,
    s3_endpoint: str | None = None,
    serving_port: int = LOCAL_SERVING_PORT,
    sdk_telemetry: bool = True,
) -> Iterator[DeployTarget]:
    """The deploy target for one run, with the process environment it needs, undone on exit.

    Local mode: dummy credentials, AWS_ENDPOINT_URL on the emulator (`s3_endpoint`, default
    AWS_ENDPOINT_URL, then http://127.0.0.1:9000), a scratch container_root, containers labelled with
    `project`, this user and the run, the SDK's telemetry (a request to an AWS host on every call) opted
    out, its notice with it, and the compose file left out of the log. Real mode keeps telemetry unless
    `sdk_telemetry` is False, as for a dry run that must not reach the network.
    """
    resolved_region = resolve_region(region)
    environment: dict[str, str] = {}
    removed: tuple[str, ...] = ()
    stand_ins = None
    work_dir = Path(tempfile.mkdtemp(prefix="byoc-deploy-"))
    telemetry_off = local or not sdk_telemetry
    try:
        if telemetry_off:
            defaults_file = work_dir / "sagemaker-defaults.yaml"
            defaults_file.write_text(TELEMETRY_OPT_OUT_YAML, encoding="utf-8")
            environment["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(defaults_file)
        if local:
            stand_ins = LocalStandIns(
                work_dir=work_dir,
                project=project,
                registry=registry,
                s3_endpoint=s3_endpoint or os.environ.get("AWS_ENDPOINT_URL") or LOCAL_S3_ENDPOINT,
                serving_port=serving_port,
            )
            stand_ins.container_root.mkdir()
            environment.update(stand_ins.environment(resolved_region))
            removed = CREDENTIAL_VARIABLES
        with (
            patched_environment(environment, removed),
            quiet_logger(TELEMETRY_LOGGER) if telemetry_off else nullcontext(),
            dropped_messages(LOCAL_MODE_LOGGER, COMPOSE_FILE_MESSAGE) if local else nullcontext(),
        ):
            # Within the target's environment: importing the SDK opens a boto3 session, which looks for
            # credentials (locally: the dummy ones, not the instance metadata service).
            import_sdk_quietly()
            yield DeployTarget(region=resolved_region, local=stand_ins)
    finally:
        if local:
            remove_local_mode_leftovers(work_dir)
        shutil.rmtree(work_dir, ignore_errors=True)


def remove_local_mode_leftovers(work_dir: Path) -> None:
    """The SDK leaves its exited containers and its compose network behind: remove the ones this run made."""
    try:
        remove_containers(local_mode_containers(under=work_dir))
        remove_network_if_unused()
    except (DeployError, PlatformError) as error:
        logger.warning("could not remove local-mode containers: %s", error)
