"""Script-mode sources for the tests: a folder with a recipe module (the README's houses example by default),
an optional requirements.txt and wheels built here, and the SDK's own sourcedir.tar.gz of such a folder."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from housessupport import EXAMPLE_DIR
from testsupport import free_port

HOUSES_MODULE = (EXAMPLE_DIR / "houses.py").read_text(encoding="utf-8")


def wheel(
    folder: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()
) -> Path:
    """A pure-Python wheel of `files` (path -> text), built the way the wheel format lays one out."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {item}\n" for item in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lightsage-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    target = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


def source_folder(
    folder: Path,
    module: str = HOUSES_MODULE,
    program: str = "houses.py",
    requirements: str | None = None,
    wheels: bool = False,
) -> Path:
    """`folder` holding the module as `program`, a requirements.txt when given, and a wheels/ folder when
    asked (empty: the caller adds wheels)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / program).parent.mkdir(parents=True, exist_ok=True)
    (folder / program).write_text(module, encoding="utf-8")
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
    if wheels:
        (folder / "wheels").mkdir(exist_ok=True)
    return folder


def houses_with_helper_package(folder: Path, package: str) -> Path:
    """The houses recipe importing `package` (a wheel in wheels/, listed in requirements.txt) for its
    smoothing default: the recipe only loads when the requirement is installed."""
    module = HOUSES_MODULE.replace(
        "from lightsage.tasks import Task\n",
        f"from lightsage.tasks import Task\nfrom {package} import SMOOTHING\n",
    ).replace(
        '            20.0,\n            "How many rows', '            SMOOTHING,\n            "How many rows'
    )
    assert f"from {package} import SMOOTHING" in module and "SMOOTHING,\n" in module
    source_folder(folder, module, requirements=f"{package}==1.0\n", wheels=True)
    wheel(folder / "wheels", package, "1.0", {f"{package}/__init__.py": "SMOOTHING = 20.0\n"})
    return folder


def sourcedir_tar_gz(folder: Path, target: Path) -> Path:
    """sourcedir.tar.gz of the folder's entries, made by the SageMaker SDK as Estimator(source_dir=...) makes
    it."""
    from sagemaker.utils import create_tar_file

    files = [str(path) for path in sorted(folder.iterdir())]
    made = Path(create_tar_file(files))
    shutil.move(made, target)
    return target


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """moto_server (the project's S3 stand-in) on a free port of 127.0.0.1, until the block ends: its URL."""
    port = free_port()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(endpoint, timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        started = log.read_text()[-2000:]
                        raise AssertionError(f"moto_server did not start: {started}") from None
                    time.sleep(0.1)
            yield endpoint
        finally:
            server.terminate()
            server.wait(timeout=10)


def uploaded_by_the_sdk(bucket: str, folder: Path, key_prefix: str, program: str = "houses.py") -> str:
    """The S3 URI of the sourcedir.tar.gz Estimator(entry_point=program, source_dir=folder) uploads, uploaded
    by the SDK's own function with the process's AWS settings."""
    import boto3
    from sagemaker.fw_utils import tar_and_upload_dir

    uploaded = tar_and_upload_dir(boto3.Session(), bucket, key_prefix, program, str(folder))
    assert uploaded.s3_prefix == f"s3://{bucket}/{key_prefix}/sourcedir.tar.gz"
    return str(uploaded.s3_prefix)
