"""Script mode from S3: the SDK packs and uploads a source folder as a training job's sourcedir.tar.gz (here
to moto_server, a real S3 endpoint on 127.0.0.1), and `train` downloads, unpacks, installs and loads it with
boto3 as the container does; an object that is not there, and an S3 that does not answer, are named."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lightsage.contract.paths import MLPaths
from lightsage.errors import PlatformError
from lightsage.recipes import script
from lightsage.recipes.script import ScriptError, SourceUnavailable
from lightsage.training.main import train

from housessupport import channels, houses_table
from scriptsupport import houses_with_helper_package, moto_server, source_folder, uploaded_by_the_sdk
from testsupport import free_port, make_ml_root

BUCKET = "lightsage-script-tests"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def aws(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The container's view: dummy credentials, and every S3 call to the emulator (AWS_ENDPOINT_URL)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    s3 = boto3.client("s3")
    if BUCKET not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return s3_endpoint


def sdk_hyperparameters(uri: str, program: str = "houses.py") -> dict[str, str]:
    return {
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(uri),
        "sagemaker_region": json.dumps("us-east-1"),
    }


def test_a_job_trains_with_the_sourcedir_the_sdk_uploaded_requirements_installed_offline(
    aws: str, tmp_path: Path
) -> None:
    folder = houses_with_helper_package(tmp_path / "code", "lightsage_probe_from_s3")
    uri = uploaded_by_the_sdk(BUCKET, folder, "houses-job-1/source")
    root = make_ml_root(
        tmp_path / "ml",
        {**sdk_hyperparameters(uri), "n_estimators": "20"},
        channels(houses_table(300, 1), houses_table(80, 2)),
        recipe=None,
    )
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    recipe = json.loads((root / "model" / "manifest.json").read_text())["recipe"]
    assert recipe["name"] == "houses" and recipe["source"]["origin"] == "script"
    assert sorted(recipe["source"]["files"]) == ["houses.py", "requirements.txt"]
    sys.modules.pop(script.MODULE_NAME, None)


def test_the_archive_is_unpacked_into_the_work_folder_only(aws: str, tmp_path: Path) -> None:
    folder = source_folder(tmp_path / "code", program="recipes/houses.py")
    uri = uploaded_by_the_sdk(BUCKET, folder, "houses-job-2/source", "recipes/houses.py")
    shipped = script.from_hyperparameters(sdk_hyperparameters(uri, "recipes/houses.py"), tmp_path / "work")
    assert shipped is not None and shipped.recipe.name == "houses"
    assert sorted(str(path.relative_to(tmp_path / "work")) for path in (tmp_path / "work").rglob("*")) == [
        "code",
        "code/recipes",
        "code/recipes/houses.py",
    ]
    sys.modules.pop(script.MODULE_NAME, None)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        (f"s3://{BUCKET}/nosuch/sourcedir.tar.gz", "no such object: was it deleted, or is the URI mistyped?"),
        ("s3://lightsage-no-such-bucket/job/sourcedir.tar.gz", "no such bucket"),
    ],
)
def test_an_object_that_is_not_there_is_named(aws: str, tmp_path: Path, uri: str, reason: str) -> None:
    with pytest.raises(ScriptError) as caught:
        script.from_hyperparameters(sdk_hyperparameters(uri), tmp_path / "work")
    assert str(caught.value) == (
        f"cannot download the submit directory {uri} (the hyperparameters sagemaker_program and "
        f"sagemaker_submit_directory): {reason}"
    )


def test_an_archive_larger_than_script_mode_takes_is_refused_before_it_is_read(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = uploaded_by_the_sdk(BUCKET, source_folder(tmp_path / "code"), "houses-job-3/source")
    monkeypatch.setattr(script, "MAX_ARCHIVE_BYTES", 100)
    with pytest.raises(ScriptError, match=r"bytes, more than the 100 script mode takes; keep data out of"):
        script.from_hyperparameters(sdk_hyperparameters(uri), tmp_path / "work")
    assert not (tmp_path / "work" / "sourcedir.tar.gz").exists()


def test_an_s3_that_does_not_answer_is_the_platforms_fault(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    uri = f"s3://{BUCKET}/job/sourcedir.tar.gz"
    with pytest.raises(SourceUnavailable) as caught:
        script.from_hyperparameters(sdk_hyperparameters(uri), tmp_path / "work")
    assert isinstance(caught.value, PlatformError)
    assert str(caught.value).startswith(f"cannot download the submit directory {uri} (the hyperparameters")
    assert "Could not connect to the endpoint URL" in str(caught.value)
