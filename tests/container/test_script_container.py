"""Script mode in the image: `train` downloads the SDK's sourcedir.tar.gz from S3 (moto_server on the host's
loopback) with boto3, installs its requirements from the wheels in it with no network, and trains; `serve`
loads the same source from S3 on a read-only root, or from /opt/ml/model/code where the SDK's Model packs
it, and answers every row; an edited source stops `serve` at start; a requirement that would replace one of
the image's packages, or that needs the index with no network, fails `train` with the reason."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from housessupport import channels, houses_table
from scriptsupport import (
    HOUSES_MODULE,
    houses_with_helper_package,
    moto_server,
    source_folder,
    uploaded_by_the_sdk,
    wheel,
)
from testsupport import Server, docker, free_port, logs, make_ml_root, start_server

pytestmark = pytest.mark.container

BUCKET = "lightsage-script-container"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def environment(values: dict[str, str]) -> list[str]:
    return [argument for name, value in values.items() for argument in ("-e", f"{name}={value}")]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server with a bucket; this process's boto3 talks to it while the module runs."""
    with (
        moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
            patch.setenv(name, value)
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint


def sdk_hyperparameters(uri: str) -> dict[str, str]:
    return {
        "sagemaker_program": json.dumps("houses.py"),
        "sagemaker_submit_directory": json.dumps(uri),
        "sagemaker_region": json.dumps("us-east-1"),
        "n_estimators": "40",
    }


def train_in_image(image: str, root: Path, *options: str) -> str:
    """`train` in the image; its output (the failure file's reason on failure)."""
    run = docker("run", "--rm", *options, "-v", f"{root}:/opt/ml", image, "train", check=False, timeout=600)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        failure = root / "output" / "failure"
        return "FAILED: " + (failure.read_text() if failure.exists() else output[-3000:])
    return output


@pytest.fixture(scope="module")
def trained(image: str, s3: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(source folder, /opt/ml root, S3 URI): a houses model trained in the image from S3, its requirement
    installed from the archive's wheels (the container reaches only the host's loopback)."""
    base = tmp_path_factory.mktemp("script")
    folder = houses_with_helper_package(base / "code", "lightsage_probe_container")
    uri = uploaded_by_the_sdk(BUCKET, folder, "houses-container-1/source")
    root = make_ml_root(
        base / "ml",
        sdk_hyperparameters(uri),
        channels(houses_table(500, 1), houses_table(100, 2)),
        recipe=None,
    )
    aws = {**CREDENTIALS, "AWS_ENDPOINT_URL": s3}
    output = train_in_image(image, root, "--network", "host", *environment(aws))
    assert "FAILED" not in output, output
    assert (
        "script mode: installing requirements.txt beside houses.py from the wheels in wheels/ only" in output
    )
    assert "script mode: recipe houses (version 1) from houses.py in s3://" in output
    return folder, root, uri


def test_train_in_the_image_records_the_shipped_source(trained: tuple[Path, Path, str]) -> None:
    _, root, _ = trained
    recipe = json.loads((root / "model" / "manifest.json").read_text())["recipe"]
    assert recipe["source"]["origin"] == "script" and recipe["source"]["program"] == "houses.py"
    assert sorted(recipe["source"]["files"]) == ["houses.py", "requirements.txt"]


def served_rows(server: Server, rows: int = 40) -> list[dict]:
    request = houses_table(rows, 7).drop(columns=["price"])
    status, _, body = server.request(
        "POST", "/invocations", request.to_csv(index=False), {"Content-Type": "text/csv"}
    )
    assert status == 200, body[:500]
    return list(json.loads(body)["predictions"])


def test_serve_on_a_read_only_root_loads_the_source_from_s3_and_answers_every_row(
    image: str, s3: str, trained: tuple[Path, Path, str]
) -> None:
    _, root, uri = trained
    port = free_port()
    name = f"byoc-script-serve-{port}"
    variables = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3,
        "SAGEMAKER_PROGRAM": "houses.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": uri,
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    }
    docker(
        "run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
        "-v", f"{root}:/opt/ml:ro", *environment(variables), image, "serve",
    )  # fmt: skip
    try:
        server = Server(name, port)
        server.wait_healthy(120)
        answers = served_rows(server)
        assert len(answers) == 40 and all(answer["prediction"] > 0 for answer in answers)
        assert logs(name).count("script mode: installing requirements.txt") == 1  # once, for both workers
    finally:
        docker("rm", "-f", name, check=False)


def model_with_code(root: Path, folder: Path, target: Path) -> Path:
    """The model folder as the SDK's Model(entry_point=..., source_dir=...) repacks it: code/ inside."""
    shutil.copytree(root, target)
    shutil.copytree(folder, target / "model" / "code")
    return target


def test_serve_loads_the_code_the_sdks_model_packs_into_the_archive(
    image: str, trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    folder, root, _ = trained
    repacked = model_with_code(root, folder, tmp_path / "ml")
    variables = {"SAGEMAKER_PROGRAM": "houses.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    server = start_server(image, repacked, *environment(variables), "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        server.wait_healthy(120)
        assert len(served_rows(server, 25)) == 25
    finally:
        docker("rm", "-f", server.name, check=False)


def test_an_edited_source_stops_serve_at_start_with_the_reason(
    image: str, trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    folder, root, _ = trained
    repacked = model_with_code(root, folder, tmp_path / "ml")
    module = repacked / "model" / "code" / "houses.py"
    module.write_text(module.read_text() + "\n# edited after training\n")
    variables = {"SAGEMAKER_PROGRAM": "houses.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    server = start_server(image, repacked, *environment(variables), "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        exit_code = docker("wait", server.name, timeout=120).stdout.strip()
        log = logs(server.name)
    finally:
        docker("rm", "-f", server.name, check=False)
    assert exit_code != "0", log
    assert (
        "the script-mode source houses.py in /opt/ml/model/code is not the one the model was trained with"
        in log
    )


def test_without_its_source_serve_stops_and_says_how_to_serve_the_model(
    image: str, trained: tuple[Path, Path, str]
) -> None:
    server = start_server(image, trained[1], "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        exit_code = docker("wait", server.name, timeout=120).stdout.strip()
        log = logs(server.name)
    finally:
        docker("rm", "-f", server.name, check=False)
    assert exit_code != "0", log
    assert (
        "trained with recipe 'houses' shipped in script mode (houses.py), and the image has no such recipe"
        in log
    )


@pytest.mark.parametrize(
    ("requirements", "wheels", "reason"),
    [
        (
            "six==1.16.0\n",
            {"six": "1.16.0"},
            "A requirement cannot replace a package the image has (lightgbm, pandas, ...): its version "
            "stays.",
        ),
        (
            "lightsage-absent-package==1.0\n",
            {},
            "pip needs the package index; without network access (network isolation, a VPC without a NAT), "
            "put the wheels in a wheels/ folder beside requirements.txt",
        ),
    ],
)
def test_requirements_that_cannot_be_installed_fail_train_with_the_reason(
    image: str, tmp_path: Path, requirements: str, wheels: dict[str, str], reason: str
) -> None:
    """No network at all; the source is the folder SDK local mode mounts at /opt/ml/code."""
    folder = source_folder(tmp_path / "code", requirements=requirements, wheels=bool(wheels))
    for name, version in wheels.items():
        wheel(folder / "wheels", name, version, {f"{name}.py": "__version__ = 'replaced'\n"})
    root = make_ml_root(
        tmp_path / "ml",
        sdk_hyperparameters("/opt/ml/code"),
        channels(houses_table(100, 1), houses_table(50, 2)),
        recipe=None,
    )
    output = train_in_image(image, root, "--network", "none", "-v", f"{folder}:/opt/ml/code:ro")
    assert output.startswith("FAILED: installing requirements.txt beside houses.py failed: ERROR: "), output
    assert reason in output
    assert list((root / "model").iterdir()) == []
    # the mounted source is read, never written
    assert (folder / "houses.py").read_text() == HOUSES_MODULE
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["houses.py", "requirements.txt", *(["wheels"] if wheels else [])]
    )
