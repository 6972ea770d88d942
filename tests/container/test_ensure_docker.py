"""scripts/ensure-docker.sh, run for real: the base image `make build` uses, and what it says with no engine.

Stand-in names keep these tests on this machine: an image that cannot be pulled is named on a closed local
port (localhost:1), so the daemon's pull attempt never leaves the machine, and the image under test plays
the part of an image that is present locally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from testsupport import REPOSITORY_ROOT, docker

pytestmark = pytest.mark.container

SCRIPT = REPOSITORY_ROOT / "scripts" / "ensure-docker.sh"
UNPULLABLE = "localhost:1/byoc-not-pullable:never"


def ensure_docker(**environment: str) -> subprocess.CompletedProcess[str]:
    settings = ("BASE_IMAGE", "OFFICIAL_BASE_IMAGE", "LOCAL_BASE_IMAGE", "DOCKER_HOST")
    inherited = {name: value for name, value in os.environ.items() if name not in settings}
    return subprocess.run(
        [str(SCRIPT)], env={**inherited, **environment}, capture_output=True, text=True, timeout=120
    )


def test_a_default_base_present_locally_is_used_with_no_extra_flags(image: str) -> None:
    result = ensure_docker(OFFICIAL_BASE_IMAGE=image, LOCAL_BASE_IMAGE=UNPULLABLE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"--build-arg BASE_IMAGE={image}"
    assert f"base image: {image} (present locally)" in result.stderr
    assert "falling back" not in result.stderr


def test_a_default_base_that_cannot_be_pulled_falls_back_to_the_local_one_and_says_so(image: str) -> None:
    assert docker("image", "inspect", UNPULLABLE, check=False).returncode != 0
    result = ensure_docker(OFFICIAL_BASE_IMAGE=UNPULLABLE, LOCAL_BASE_IMAGE=image)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"--build-arg BASE_IMAGE={image} --network host"
    fallback = [line for line in result.stderr.splitlines() if "falling back" in line]
    assert fallback == [
        f"[ensure-docker] {UNPULLABLE} cannot be pulled here: falling back to the local base image {image}"
        " (docker build --network host)"
    ]


def test_an_explicit_base_image_is_used_as_it_is_without_pulling(image: str) -> None:
    result = ensure_docker(BASE_IMAGE=UNPULLABLE, OFFICIAL_BASE_IMAGE=image, LOCAL_BASE_IMAGE=image)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"--build-arg BASE_IMAGE={UNPULLABLE}"
    assert "cannot be pulled" not in result.stderr


def test_an_engine_that_does_not_answer_is_reported_and_not_replaced(tmp_path: Path) -> None:
    socket = tmp_path / "no-engine.sock"
    result = ensure_docker(DOCKER_HOST=f"unix://{socket}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"the Docker engine at DOCKER_HOST=unix://{socket} does not answer" in result.stderr
    assert "Setting one up" not in result.stderr
    assert not socket.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to the 'nobody' user needs root")
def test_a_user_who_may_not_use_the_engine_is_told_what_to_install() -> None:
    # A copy in a folder 'nobody' may read: the checkout itself may sit under a private home.
    folder = Path(tempfile.mkdtemp(prefix="ensure-docker-"))
    try:
        folder.chmod(0o755)
        script = shutil.copy(SCRIPT, folder / SCRIPT.name)
        inherited = {name: value for name, value in os.environ.items() if name != "DOCKER_HOST"}
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(script)],
            env={**inherited, "HOME": "/nonexistent"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "no usable Docker engine. Install and start Docker" in result.stderr
    assert "permission denied" in result.stderr
