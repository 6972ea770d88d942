"""What the image carries: the SageMaker label and the executables (train, serve, evaluate, drift), but no
caches, data or secrets."""

import json
from pathlib import Path

import pytest

from testsupport import docker

pytestmark = pytest.mark.container

HYGIENE_SCRIPT = (Path(__file__).parent / "image_hygiene.sh").read_text()


def test_the_image_declares_bind_to_port_support(image: str) -> None:
    labels = json.loads(docker("image", "inspect", image, "--format", "{{json .Config.Labels}}").stdout)
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"


def test_the_image_holds_no_caches_data_or_credentials(image: str) -> None:
    result = docker("run", "--rm", "--network", "none", image, "bash", "-c", HYGIENE_SCRIPT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    environment = json.loads(docker("image", "inspect", image, "--format", "{{json .Config.Env}}").stdout)
    assert not [variable for variable in environment if variable.startswith(("AWS_", "SAGEMAKER_"))]


def test_size_added_over_the_base_image(image: str) -> None:
    labels = json.loads(docker("image", "inspect", image, "--format", "{{json .Config.Labels}}").stdout)
    base = labels["org.opencontainers.image.base.name"]
    if docker("image", "inspect", base, check=False).returncode != 0:
        pytest.skip(f"base image {base} is not present locally, so the added size cannot be computed")
    sizes = {
        name: int(docker("image", "inspect", name, "--format", "{{.Size}}").stdout) for name in (image, base)
    }
    added_mib = (sizes[image] - sizes[base]) / 1024**2
    print(f"\n{image}: {sizes[image] / 1024**2:.0f} MiB, {added_mib:.0f} MiB over {base}")
    # Python's libraries for training and serving (pyarrow 170, scipy 113, pandas 84, scikit-learn 51,
    # numpy 45, LightGBM 10 MiB) plus what issues 19 to 21 added: llvmlite for compiled trees (129 MiB),
    # boto3 for script mode (34 MiB), datasketches for the data baseline (2 MiB); 784 MiB over the base
    assert added_mib < 800
