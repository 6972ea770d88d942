"""Train, serve and predict with the image on this machine, over the project's own data: what `make demo` does
for the worked example, for any project, with no AWS account.

The job's /opt/ml tree is a scratch folder of the project, .byoc/local/ (which git ignores: .byoc/ holds its
own .gitignore), laid out as SageMaker lays it out: input/config/ (hyperparameters.json with what `byoc
train` would send, inputdataconfig.json, resourceconfig.json) and input/data/train/ and validation/, split as
`byoc upload` splits. `train` runs in the image without network, as local_test/train_local.sh runs it; then
`serve` answers on 127.0.0.1:PORT until a few rows of the data, target removed, are predicted, and stops.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage.data.split import SplitFiles, split_table
from lightsage.tasks import METRICS, Task
from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.jobs import metrics
from lightsage_deploy.jobs.channels import channel_content_type
from lightsage_deploy.jobs.rows import sample_rows
from lightsage_deploy.project.project import Project
from lightsage_deploy.steps.image import LOCAL_IMAGE
from lightsage_deploy.steps.train import DEFAULT_MAX_RUN_SECONDS
from lightsage_deploy.targets.docker import docker, docker_streaming, ensure_docker_running

SCRATCH = Path(".byoc") / "local"
DEFAULT_PORT = 8080
DEFAULT_ROWS = 5
SERVING_READY_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 60
CHANNELS = ("train", "validation")
# Every container `byoc local` starts carries it, with the project's name.
LABEL = "lightsage.local"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalOptions:
    project: Project
    # What `byoc train` would send (lightsage_deploy.jobs.hyperparameters.for_job), the task included.
    hyperparameters: Mapping[str, str]
    image: str = LOCAL_IMAGE
    port: int = DEFAULT_PORT
    rows: int = DEFAULT_ROWS
    validation_fraction: float = 0.2
    seed: int = 42
    max_run: int = DEFAULT_MAX_RUN_SECONDS


@dataclass(frozen=True)
class LocalRun:
    ml_root: Path
    split: SplitFiles
    predictions: str
    metrics: dict[str, Any]

    @property
    def task(self) -> Task:
        return Task(self.metrics["task"])

    def validation_summary(self) -> str:
        """`validation (179 rows, binary): auc=0.8731 accuracy=0.8324 ...`, the task's metrics in order."""
        scores = self.metrics["validation"]
        shown = [
            f"{entry.name}={scores[entry.name]:.4f}"
            for entry in METRICS[self.task]
            if scores.get(entry.name) is not None
        ]
        return f"validation ({scores['rows']} rows, {self.task}): {' '.join(shown)}"


def check_image(image: str) -> None:
    """Docker answers and the image exists; otherwise say how to get there."""
    try:
        ensure_docker_running()
    except DeployError as error:
        raise type(error)(f"{error}. `byoc local` runs the image with Docker: install and start it") from None
    if docker("image", "inspect", image, "--format", "{{.Id}}", check=False).returncode != 0:
        build = "byoc build" if image == LOCAL_IMAGE else f"byoc build --tag {image}"
        raise DeployError(f"there is no image {image} on this machine: build it with `{build}`")


def check_port_free(port: int) -> None:
    if not 0 < port < 65536:
        raise DeployError(f"--port {port} is not a port number")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise DeployError(
                f"port {port} on 127.0.0.1 is taken ({error.strerror}): pass another --port"
            ) from None


def prepare(options: LocalOptions) -> tuple[Path, SplitFiles]:
    """A fresh /opt/ml tree in the project's scratch folder: configuration, and the data split in two."""
    source = options.project.data_source()
    scratch = options.project.folder / SCRATCH
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    ignore = scratch.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# byoc's scratch files (byoc local)\n*\n", encoding="utf-8")
    config = scratch / "input" / "config"
    config.mkdir(parents=True)
    task = metrics.known_task(options.hyperparameters)
    try:
        split = split_table(
            source,
            scratch / "input" / "data",
            options.project.target,
            options.validation_fraction,
            options.seed,
            task,
        )
    except SystemExit as error:  # lightsage.data.split reports unusable data this way
        raise DeployError(str(error.code)) from None
    content_type = channel_content_type(source)
    channel = {
        "ContentType": content_type,
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
    }
    files = {
        "hyperparameters.json": metrics.with_known_task(options.hyperparameters),
        "inputdataconfig.json": {name: dict(channel) for name in CHANNELS},
        "resourceconfig.json": {
            "current_host": "algo-1",
            "hosts": ["algo-1"],
            "network_interface_name": "eth0",
        },
    }
    for name, content in files.items():
        (config / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    for folder in ("model", "output"):
        (scratch / folder).mkdir()
    return scratch, split


def container_user() -> list[str]:
    """Run as the calling user where there is one to match, so the files the job writes stay theirs."""
    getuid = getattr(os, "getuid", None)
    if getuid is None or getuid() == 0:
        return []
    return ["--user", f"{getuid()}:{os.getgid()}"]


def train(image: str, ml_root: Path, max_run: int, project_name: str) -> None:
    """`docker run IMAGE train` over `ml_root`, without network; its log goes to stderr as it runs. A failed
    job's reason is the one it wrote to output/failure."""
    name = f"byoc-local-train-{project_name}-{uuid.uuid4().hex[:8]}"
    logger.info("training in %s without network (container %s): /opt/ml is %s", image, name, ml_root)
    try:
        docker_streaming(
            "run", "--rm", "--name", name, "--network", "none", "-v", f"{ml_root}:/opt/ml", *container_user(),
            "--label", f"{LABEL}={project_name}", image, "train",
            timeout=max_run,
        )  # fmt: skip
    except DeployError as error:
        failure = ml_root / "output" / "failure"
        if failure.is_file():
            reason = failure.read_text(encoding="utf-8", errors="replace").strip()
            raise DeployError(f"train failed: {reason} (written to {failure})") from None
        raise error from None
    finally:  # a timeout or Ctrl-C stops the docker CLI, not the container it started
        docker("rm", "--force", name, check=False)


def answer(
    port: int, path: str, body: bytes | None = None, content_type: str = "text/csv"
) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method="POST" if body else "GET"
    )
    if body is not None:
        request.add_header("Content-Type", content_type)
        request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def is_running(container: str) -> bool:
    state = docker("container", "inspect", container, "--format", "{{.State.Running}}", check=False)
    return state.returncode == 0 and state.stdout.strip() == "true"


@contextmanager
def serving(image: str, ml_root: Path, port: int, project_name: str) -> Iterator[str]:
    """`serve` on 127.0.0.1:port until /ping answers 200; stopped and removed afterwards."""
    name = f"byoc-local-{project_name}-{uuid.uuid4().hex[:8]}"
    logger.info("serving the model on http://127.0.0.1:%d (container %s)", port, name)
    docker(
        "run", "--detach", "--rm", "--name", name, "--publish", f"127.0.0.1:{port}:8080",
        "-v", f"{ml_root}:/opt/ml", *container_user(), "--label", f"{LABEL}={project_name}",
        image, "serve",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + SERVING_READY_SECONDS
        while True:
            try:
                if answer(port, "/ping")[0] == 200:
                    break
            except OSError:
                pass
            if not is_running(name):
                raise DeployError(f"serve stopped before it answered /ping:\n{docker_log(name)}")
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"serve did not answer /ping within {SERVING_READY_SECONDS} s:\n{docker_log(name)}"
                )
            time.sleep(0.25)
        yield name
    finally:
        docker("stop", "--time", "10", name, check=False, timeout=60)


def docker_log(container: str) -> str:
    shown = docker("logs", "--tail", "30", container, check=False)
    return (shown.stdout + shown.stderr).strip() or "(no log: the container is gone)"


def predict(port: int, rows: str) -> str:
    status, text = answer(port, "/invocations", rows.encode("utf-8"))
    if status != 200:
        raise DeployError(f"POST /invocations answered HTTP {status}: {text.strip()}")
    return text


def run_local(options: LocalOptions) -> LocalRun:
    """Check the image and the port, prepare the job, train, serve, predict a few rows, stop serving."""
    if options.rows < 1:
        raise DeployError(f"--rows must be at least 1, not {options.rows}")
    check_image(options.image)
    check_port_free(options.port)
    ml_root, split = prepare(options)
    kind = "stratified" if split.stratified else "random"
    logger.info(
        "split %s: %d train rows, %d validation rows (%s)",
        options.project.source, split.train_rows, split.validation_rows, kind,
    )  # fmt: skip
    train(options.image, ml_root, options.max_run, options.project.name)
    rows = sample_rows(options.project.source, options.project.target, options.rows)
    with serving(options.image, ml_root, options.port, options.project.name):
        logger.info(
            "predicting %d rows of %s without %r",
            options.rows,
            options.project.source.name,
            options.project.target,
        )
        predictions = predict(options.port, rows)
    scores = json.loads((ml_root / "model" / "metrics.json").read_text(encoding="utf-8"))
    return LocalRun(ml_root=ml_root, split=split, predictions=predictions, metrics=scores)
