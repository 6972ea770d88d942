"""`byoc drift`: a window of traffic against the model's training baseline, as a Processing job of the image.

The job is the image's `drift` entry (no Model Monitor service): it reads the model (and the data baseline
that `evaluate` registered with the version, when there is one) and the traffic (data-capture JSON Lines, or
CSV or Parquet files), writes constraint_violations.json in Model Monitor's format and a report, and ends with
the line `drift: N violation(s) in M feature(s): name, ...`. On SageMaker it is a processing job; with
--local, SDK local mode runs it in a container here. A local file or folder of traffic is uploaded under
s3://BUCKET/PREFIX/drift-input/JOB/ first; the results land under s3://BUCKET/PREFIX/drift/JOB/.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage.evaluation import contract
from lightsage_deploy.aws.s3 import read_bytes, upload_file
from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.jobs.channels import is_parquet
from lightsage_deploy.project.project import Project
from lightsage_deploy.steps import registry
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.container_log import container_lines, failure_said, teed_stdout

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
CAPTURE_SUFFIXES = (".jsonl", ".json")
DEFAULT_MAX_SECONDS = 3600
OUTPUT_NAME = contract.DRIFT_RESULTS.name
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftModel:
    """The model to compare against: its image and model.tar.gz, and its registered data baseline (the
    folder holding statistics.json and constraints.json) when it has one."""

    image_uri: str
    model_data: str
    baseline_folder: str | None
    description: str


@dataclass(frozen=True)
class DriftOptions:
    project: Project
    model: DriftModel
    role: str
    instance_type: str
    layout: settings.S3Layout
    data: Path | None = None
    capture: str | None = None
    max_seconds: int = DEFAULT_MAX_SECONDS


@dataclass(frozen=True)
class DriftResult:
    job_name: str
    summary: str
    violations: list[dict[str, Any]]
    output: str


def model_of_version(client: Any, project: Project, which: str | None) -> DriftModel:
    """A registered version (by number or `latest`), or by default the newest Approved one."""
    group = project.model_package_group
    version = (
        registry.find_version(client, group, which) if which else registry.newest_approved(client, group)
    )
    package = registry.describe_package(client, version.arn)
    baseline = None
    if package.statistics_uri and package.constraints_uri:
        folder = package.statistics_uri.rsplit("/", 1)[0]
        if package.constraints_uri.rsplit("/", 1)[0] == folder:
            baseline = folder + "/"
    return DriftModel(
        package.image_uri,
        package.model_data,
        baseline,
        f"version {version.number} ({version.status}) of {group}",
    )


def local_traffic_files(data: Path | None, capture: str | None) -> list[Path]:
    """The local files to upload: the --data table, or the data-capture files of a --capture folder."""
    if data is not None:
        if not data.is_file():
            raise DeployError(f"--data {data} is not a file")
        if data.suffix.lower() not in TABLE_SUFFIXES:
            raise DeployError(f"--data {data} is not a CSV or Parquet file (.csv, .parquet)")
        return [data]
    assert capture is not None
    folder = Path(capture)
    if not folder.exists():
        raise DeployError(f"--capture {capture} is neither an s3:// URI nor an existing file or folder")
    files = [folder] if folder.is_file() else sorted(path for path in folder.rglob("*") if path.is_file())
    captured = [path for path in files if path.suffix.lower() in CAPTURE_SUFFIXES]
    if not captured:
        raise DeployError(
            f"--capture {capture} holds no data-capture files (JSON Lines, *.jsonl, one request per line)"
        )
    return captured


def upload_traffic(target: settings.DeployTarget, options: DriftOptions, job_name: str) -> str:
    """The traffic's S3 prefix: --capture's s3:// URI as it is, else the local files uploaded."""
    if options.capture is not None and options.capture.startswith("s3://"):
        return options.capture if options.capture.endswith("/") else options.capture + "/"
    prefix = options.layout.uri("drift-input", job_name)
    root = options.data.parent if options.data is not None else Path(str(options.capture))
    s3 = target.client("s3")
    for path in local_traffic_files(options.data, options.capture):
        relative = path.name if root.is_file() or path == root else path.relative_to(root).as_posix()
        content_type = (
            "application/x-parquet"
            if is_parquet(path.name)
            else "text/csv"
            if path.suffix.lower() == ".csv"
            else "application/jsonlines"
        )
        upload_file(s3, path, prefix + relative, content_type)
    return prefix


def summary_line(text: str) -> str | None:
    """The last `drift: N violation(s) in M feature(s): ...` line the job printed."""
    found = None
    for line in text.splitlines():
        matched = contract.DRIFT_SUMMARY.search(line)
        if matched:
            found = matched.group(0).strip()
    return found


def run_drift(target: settings.DeployTarget, options: DriftOptions) -> DriftResult:
    """Run the drift job on the traffic; its summary line and violations, or an error naming why it failed."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor

    if (options.data is None) == (options.capture is None):
        raise DeployError("pass one of --data FILE or --capture S3URI|FOLDER")
    if options.data is not None or not str(options.capture).startswith("s3://"):
        local_traffic_files(options.data, options.capture)  # refuse a missing or unusable file before the job
    job_name = settings.unique_name(f"{options.project.base_job_name}-drift")
    traffic = upload_traffic(target, options, job_name)
    output = options.layout.uri("drift", job_name)
    inputs = [
        ProcessingInput(
            source=options.model.model_data, destination=contract.MODEL_INPUT, input_name=contract.MODEL.name
        ),
        ProcessingInput(source=traffic, destination=contract.TRAFFIC_INPUT, input_name=contract.TRAFFIC.name),
    ]
    if options.model.baseline_folder:
        inputs.append(
            ProcessingInput(
                source=options.model.baseline_folder,
                destination=contract.BASELINE_INPUT,
                input_name=contract.GIVEN_BASELINE.name,
            )
        )
    processor = Processor(
        image_uri=options.model.image_uri,
        role=options.role,
        instance_count=1,
        instance_type=options.instance_type,
        entrypoint=[contract.DRIFT_ENTRY],
        max_runtime_in_seconds=options.max_seconds,
        tags=options.project.tags,
        sagemaker_session=target.sagemaker_session,
    )
    logger.info("drift job %s: %s against %s", job_name, traffic, options.model.description)
    exited: RuntimeError | None = None
    with teed_stdout() as log:
        try:
            processor.run(
                inputs=inputs,
                outputs=[
                    ProcessingOutput(
                        output_name=OUTPUT_NAME, source=contract.DRIFT_OUTPUT, destination=output
                    )
                ],
                job_name=job_name,
                wait=True,
                logs=True,
            )
        except RuntimeError as error:  # local mode: the container exited with an error
            exited = error
    # Local mode: the container's own reason, also when the SDK did not notice that it failed.
    said = failure_said(log.text) if target.is_local else None
    if exited is not None or said is not None:
        lines = container_lines(log.text)
        reason = said or (lines[-1] if lines else exited)
        raise DeployError(f"drift job {job_name} failed: {reason} (its log is above)")
    if not target.is_local:
        described = target.sagemaker_session.sagemaker_client.describe_processing_job(
            ProcessingJobName=job_name
        )
        if described.get("ProcessingJobStatus") != "Completed":
            status, reason = described.get("ProcessingJobStatus"), described.get("FailureReason")
            raise DeployError(f"drift job {job_name} is {status}: {reason}")
    summary = summary_line(log.text)
    try:
        document = json.loads(read_bytes(target.client("s3"), output + contract.VIOLATIONS_FILE))
    except (ValueError, DeployError) as error:
        raise PlatformError(
            f"drift job {job_name} wrote no readable {contract.VIOLATIONS_FILE}: {error}"
        ) from None
    violations = document.get("violations") if isinstance(document, dict) else None
    if not isinstance(violations, list):
        raise PlatformError(f"{output}{contract.VIOLATIONS_FILE} has no list of violations")
    if summary is None:
        raise PlatformError(f"drift job {job_name} printed no `drift: ...` line")
    return DriftResult(job_name, summary, violations, output)
