"""The docker CLI as the deploy scripts use it: clear errors, bounded waits, and local-mode leftovers."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lightsage_deploy.errors import DeployError, PlatformError

DEFAULT_TIMEOUT_SECONDS = 120
LOCAL_MODE_NETWORK = "sagemaker-local"
# The SDK names local-mode containers <10 random chars>-algo-<n>-<5 random chars>.
LOCAL_MODE_CONTAINER_NAME = re.compile(r"^[a-z0-9]{10}-algo-\d+-[a-z0-9]{5}$")
COMPOSE_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
_DAEMON_DOWN_MARKERS = (
    "Cannot connect to the Docker daemon",
    "Is the docker daemon running",
    "error during connect",
)


def _failure(arguments: Sequence[str], returncode: int, output: str) -> DeployError:
    if any(marker in output for marker in _DAEMON_DOWN_MARKERS):
        return PlatformError(
            f"docker is not running (`docker {arguments[0]}`: {output.strip().splitlines()[-1]})"
        )
    tail = "\n".join(output.strip().splitlines()[-8:]) or "no output"
    return DeployError(f"`docker {' '.join(arguments)}` failed with exit status {returncode}:\n{tail}")


def docker(
    *arguments: str,
    input_text: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["docker", *arguments], input=input_text, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise DeployError("the docker CLI is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise PlatformError(f"`docker {' '.join(arguments)}` did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        raise _failure(arguments, result.returncode, result.stderr or result.stdout)
    return result


def docker_streaming(*arguments: str, timeout: float) -> str:
    """Run docker with its progress shown on stderr; return the whole output for parsing."""
    try:
        process = subprocess.Popen(
            ["docker", *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except FileNotFoundError:
        raise DeployError("the docker CLI is not installed or not on PATH") from None
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            print(line, end="", file=sys.stderr, flush=True)
        returncode = process.wait()
    finally:
        timer.cancel()
    output = "".join(lines)
    if returncode != 0:
        if returncode < 0:
            raise PlatformError(f"`docker {' '.join(arguments)}` did not finish within {timeout:.0f} s")
        raise _failure(arguments, returncode, output)
    return output


def ensure_docker_running() -> None:
    docker("version", "--format", "{{.Server.Version}}", timeout=30)


def local_mode_containers(under: Path | None = None) -> list[str]:
    """IDs of the SDK's local-mode containers; with `under`, only those whose compose file lies below it."""
    listing = docker(
        "ps", "--all", "--filter", "name=algo-", "--format",
        f'{{{{.ID}}}}\t{{{{.Names}}}}\t{{{{.Label "{COMPOSE_WORKING_DIR_LABEL}"}}}}',
    ).stdout  # fmt: skip
    found = []
    for line in listing.splitlines():
        container_id, name, working_dir = [*line.split("\t"), "", ""][:3]
        if not LOCAL_MODE_CONTAINER_NAME.match(name):
            continue
        if under is not None and not Path(working_dir).is_relative_to(under):
            continue
        found.append(container_id)
    return found


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    state: str  # created, running, paused, restarting, removing, exited or dead

    @property
    def running(self) -> bool:
        """Whether removing it would stop something: anything but created, exited or dead."""
        return self.state not in ("created", "exited", "dead")


def labelled_containers(labels: Mapping[str, str]) -> list[Container]:
    """Every container, running or not, that carries all of `labels` with exactly these values."""
    filters = [f"--filter=label={key}={value}" for key, value in labels.items()]
    listing = docker(
        "ps", "--all", "--no-trunc", *filters, "--format", "{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.State}}"
    ).stdout
    return [Container(*line.split("\t")) for line in listing.splitlines() if line.strip()]


def remove_containers(container_ids: Sequence[str], *, force: bool = True) -> None:
    """`docker rm`; without `force` a running container is refused (and named in the error) instead."""
    if container_ids:
        docker("rm", *(["--force"] if force else []), "--volumes", *container_ids, timeout=60)


def remove_network_if_unused(name: str = LOCAL_MODE_NETWORK) -> bool:
    """Remove the SDK's compose network unless something still uses it; True when it was removed."""
    inspected = docker("network", "inspect", name, "--format", "{{len .Containers}}", check=False)
    if inspected.returncode != 0 or inspected.stdout.strip() != "0":
        return False
    return docker("network", "rm", name, check=False).returncode == 0


def image_references(repository: str) -> list[str]:
    """Every local tag and digest reference of `repository` (e.g. localhost:5000/NAME)."""
    listing = docker("images", "--digests", "--format", "{{.Repository}}\t{{.Tag}}\t{{.Digest}}", repository)
    references: dict[str, None] = {}  # one row per tag, each repeating the digest: keep each reference once
    for line in listing.stdout.splitlines():
        name, tag, digest = line.split("\t")
        if tag and tag != "<none>":
            references[f"{name}:{tag}"] = None
        if digest and digest != "<none>":
            references[f"{name}@{digest}"] = None
    return list(references)


def untag(references: Sequence[str]) -> None:
    """Remove image references; the layers stay while another tag (the source image) still uses them."""
    for reference in references:
        docker("rmi", reference, check=False)
