"""The docker CLI as the deploy side uses it: a stopped daemon and a missing CLI read clearly, and the SDK's
local-mode containers are told apart by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.targets import docker as docker_cli


def test_a_stopped_docker_daemon_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(PlatformError, match="docker is not running"):
        docker_cli.ensure_docker_running()


def test_a_missing_docker_cli_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError, match="docker CLI is not installed"):
        docker_cli.ensure_docker_running()


@pytest.mark.parametrize(
    ("name", "is_local_mode"),
    [("7sa74wckhp-algo-1-6jb8m", True), ("abcdefghij-algo-12-zzzzz", True), ("byoc-bench-serve-1", False)],
)
def test_local_mode_containers_are_recognised_by_name(name: str, is_local_mode: bool) -> None:
    assert bool(docker_cli.LOCAL_MODE_CONTAINER_NAME.match(name)) is is_local_mode
