"""The base image of `docker build`: one choice for `make build`, `byoc build` and `byoc push`.

scripts/ensure-docker.sh makes it (and starts a Docker engine first where it can): BASE_IMAGE when given,
else python:3.12-slim when present or pullable, else the local base image byoc-base:bookworm built with
--network host. `make build` runs the script itself; `byoc build` and `byoc push` run it through
`build_options`. The script ships inside the build context it serves (`lightsage_deploy.targets.context`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping

from lightsage_deploy.errors import DeployError
from lightsage_deploy.targets.context import build_context

# A pull is bounded by the script (PULL_TIMEOUT_SECONDS); building the local base takes about a minute.
TIMEOUT_SECONDS = 1800


def build_options(base_image: str | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """The `docker build` options for the chosen base, e.g. ["--build-arg", "BASE_IMAGE=python:3.12-slim"].

    The script (the installed package's) says which base, and why, on stderr as it runs.
    """
    environment = {**(os.environ if environ is None else environ), "BASE_IMAGE": base_image or ""}
    script = build_context().ensure_docker_script
    try:
        chosen = subprocess.run(
            ["bash", str(script)],
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise DeployError("bash is not installed: it runs scripts/ensure-docker.sh") from None
    except subprocess.TimeoutExpired:
        raise DeployError(
            f"scripts/ensure-docker.sh did not choose a base image within {TIMEOUT_SECONDS} s"
        ) from None
    if chosen.returncode != 0:
        raise DeployError(
            "no base image to build from: scripts/ensure-docker.sh said why above (pass --build-arg "
            "BASE_IMAGE=IMAGE to name one)"
        )
    return shlex.split(chosen.stdout)
