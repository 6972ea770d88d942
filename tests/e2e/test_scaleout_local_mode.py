"""Two instances in SageMaker SDK local mode: Estimator(instance_count=2) trains ONE model.

Local mode runs the image twice on its compose network `sagemaker-local` as hosts algo-1-xxxxx and
algo-2-xxxxx, with a resourceconfig.json naming both, exactly as a 2-instance SageMaker job does (bar the
S3 download: channels are file:// folders here). The 2-host model must score within 0.02 AUC of a 1-host model
on the same split; a host killed mid-training must fail the job within the network time-out, leaving a failure
reason and no model. Every container, folder and (when unused) the network are removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lightsage.contract.paths import MLPaths
from lightsage.training.main import train

from testsupport import (
    TITANIC_MODEL_FILES,
    TRAIN_CSV,
    VALIDATION_CSV,
    WORKED_EXAMPLE_RECIPE,
    docker,
    make_ml_root,
)

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::111111111111:role/byoc-scaleout-local"
REGION = "us-east-1"
COMPOSE_DIR_LABEL = "com.docker.compose.project.working_dir"
NETWORK = "sagemaker-local"
TELEMETRY_OPT_OUT = (
    "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)


@pytest.fixture(scope="module")
def local_mode(scratch_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Dummy credentials, no telemetry, channels as folders, a container root of our own; removed after."""
    work = tmp_path_factory.mktemp("local-mode")
    (work / "defaults.yaml").write_text(TELEMETRY_OPT_OUT)
    for name, source in (("train", TRAIN_CSV), ("validation", VALIDATION_CSV)):
        (work / name).mkdir()
        shutil.copy(source, work / name / source.name)
    (work / "container-root").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(work / "defaults.yaml"),
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        try:
            yield {"work": work, "root": work / "container-root"}
        finally:
            containers = containers_under(work / "container-root")
            if containers:
                docker("rm", "-f", *containers, check=False)
            inspected = docker("network", "inspect", NETWORK, "--format", "{{len .Containers}}", check=False)
            if inspected.returncode == 0 and inspected.stdout.strip() == "0":
                docker("network", "rm", NETWORK, check=False)
            shutil.rmtree(work, ignore_errors=True)
    assert not containers_under(work / "container-root")


def containers_under(root: Path) -> list[str]:
    """Local-mode containers whose compose file lies below `root` (this test's only)."""
    columns = f'{{{{.ID}}}}\t{{{{.Label "{COMPOSE_DIR_LABEL}"}}}}'
    listing = docker("ps", "--all", "--filter", "name=algo-", "--format", columns).stdout
    found = []
    for line in listing.splitlines():
        container, _, folder = line.partition("\t")
        if folder and Path(folder).is_relative_to(root):
            found.append(container)
    return found


def container_of(job_dir: Path, host: str) -> str | None:
    for container in containers_under(job_dir):
        name = docker("inspect", container, "--format", "{{.Name}}").stdout.strip()
        if f"-{host}-" in name:
            return container
    return None


def estimator(image: str, local: dict[str, Any], output: str, hyperparameters: dict[str, str]) -> Any:
    from sagemaker.estimator import Estimator
    from sagemaker.local import LocalSession

    session = LocalSession(boto_session=boto3.Session(region_name=REGION))
    session.config = {"local": {"local_code": True, "container_root": str(local["root"])}}
    return Estimator(
        image_uri=image,
        role=ROLE,
        instance_count=2,
        instance_type="local",
        output_path=f"file://{local['work'] / output}",
        # the worked example names its recipe, as local_test/test_dir and byoc.toml do
        hyperparameters={"recipe": WORKED_EXAMPLE_RECIPE, **hyperparameters},
        sagemaker_session=session,
        disable_profiler=True,
        debugger_hook_config=False,
    )


def inputs(local: dict[str, Any]) -> dict[str, str]:
    return {name: f"file://{local['work'] / name}" for name in ("train", "validation")}


def test_two_instances_train_one_model_as_good_as_one(image: str, local_mode: dict[str, Any]) -> None:
    started = time.monotonic()
    estimator(image, local_mode, "two-hosts", {}).fit(inputs(local_mode), logs=False)
    seconds = time.monotonic() - started

    archives = list((local_mode["work"] / "two-hosts").rglob("model.tar.gz"))
    assert len(archives) == 1
    with tarfile.open(archives[0]) as archive:
        assert sorted(archive.getnames()) == TITANIC_MODEL_FILES
        two_hosts = json.load(archive.extractfile("metrics.json"))  # type: ignore[arg-type]
    one_root = make_ml_root(local_mode["work"] / "one-host")
    one_host = train(MLPaths.from_environment({"BYOC_ML_ROOT": str(one_root)}))
    assert (
        two_hosts["hosts"] == 2 and two_hosts["validation"]["rows"] == one_host["validation"]["rows"] == 179
    )
    assert abs(two_hosts["validation"]["auc"] - one_host["validation"]["auc"]) < 0.02
    print(
        f"local mode, 2 instances: {seconds:.1f} s, validation AUC {two_hosts['validation']['auc']:.4f} "
        f"(1 host: {one_host['validation']['auc']:.4f}, {one_host['duration_seconds']:.1f} s of training)"
    )


def test_an_instance_killed_mid_training_fails_the_job_with_a_reason_and_no_model(
    image: str, local_mode: dict[str, Any]
) -> None:
    timeout = 20
    job = estimator(
        image,
        local_mode,
        "killed",
        {"n_estimators": "100000", "learning_rate": "0.001", "network_timeout_seconds": str(timeout)},
    )
    outcome: dict[str, BaseException | None] = {}

    def fit() -> None:
        try:
            job.fit(inputs(local_mode), logs=False)
            outcome["error"] = None
        except Exception as error:
            outcome["error"] = error

    before = set(local_mode["root"].iterdir())
    runner = threading.Thread(target=fit, daemon=True)
    runner.start()
    job_dir: Path | None = None
    try:
        deadline = time.monotonic() + 180
        worker = None
        while worker is None or "boosting on 2 hosts" not in docker("logs", worker, check=False).stdout:
            assert time.monotonic() < deadline and runner.is_alive(), "the job never started boosting"
            time.sleep(0.5)
            # The job's folder holds its compose file (local mode also makes a data folder beside it).
            new = [
                folder
                for folder in set(local_mode["root"].iterdir()) - before
                if (folder / "docker-compose.yaml").exists()
            ]
            job_dir = new[0] if new else None
            worker = container_of(job_dir, "algo-2") if job_dir is not None else None
        time.sleep(1)
        docker("kill", worker)
        killed = time.monotonic()
        runner.join(timeout + 60)
        took = time.monotonic() - killed
    finally:
        if runner.is_alive() and job_dir is not None:  # never leave the job running
            docker("rm", "-f", *containers_under(job_dir), check=False)
            runner.join(60)
    assert isinstance(outcome.get("error"), Exception), "the job did not fail"
    assert took < timeout + 15, took

    # What the job leaves at its output path: an empty model.tar.gz, and a failure reason in output.tar.gz
    # (local mode merges every host's /opt/ml/output into it, the killed host's provisional reason included).
    (model_archive,) = (local_mode["work"] / "killed").rglob("model.tar.gz")
    (output_archive,) = (local_mode["work"] / "killed").rglob("output.tar.gz")
    with tarfile.open(model_archive) as archive:
        assert [member for member in archive.getmembers() if member.isfile()] == []
    with tarfile.open(output_archive) as archive:
        assert archive.extractfile("failure").read().strip()  # type: ignore[union-attr]
    # algo-1's own reason. Local mode's docker-compose also stops algo-1 once algo-2 exits: whichever
    # comes first, its watchdog naming algo-2 or that SIGTERM, algo-1 fails with a reason.
    leader = container_of(job_dir, "algo-1")
    assert leader is not None
    logged = docker("logs", leader, check=False)
    failed = [
        line for line in (logged.stdout + logged.stderr).splitlines() if line.startswith("[train] FAILED:")
    ]
    assert failed and ("algo-2" in failed[-1] or "stopped by SIGTERM" in failed[-1]), failed
    print(f"killed algo-2: the job failed {took:.1f} s later; algo-1: {failed[-1]}")
