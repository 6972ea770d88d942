"""lightsage_deploy.targets.offline starts, reports and stops the registry and moto_server."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from lightsage_deploy.cli import offline as offline_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.targets import offline

from testsupport import free_port


def _answers(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


def test_up_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry_port, s3_port = free_port(), free_port()
    flags = ["--state-dir", str(tmp_path), "--registry-port", str(registry_port), "--s3-port", str(s3_port)]
    assert offline_command.main(["up", *flags]) == 0
    try:
        assert _answers(f"http://127.0.0.1:{registry_port}/v2/") == 200  # no auth block
        assert _answers(f"http://127.0.0.1:{s3_port}/") == 200
        assert f"addr: 127.0.0.1:{registry_port}" in (tmp_path / "registry-config.yml").read_text()
        assert offline_command.main(["status", "--state-dir", str(tmp_path)]) == 0
        with pytest.raises(DeployError, match="already running"):
            offline_command.main(["up", *flags])
    finally:
        assert offline_command.main(["down", "--state-dir", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert f"--registry localhost:{registry_port} --s3-endpoint http://127.0.0.1:{s3_port}" in output
    assert "stopped registry" in output and "s3 (pid" in output
    assert offline_command.main(["status", "--state-dir", str(tmp_path)]) == 1
    with pytest.raises(OSError):
        _answers(f"http://127.0.0.1:{s3_port}/")


def test_a_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        services = offline.OfflineServices(tmp_path, registry_port=taken, s3_port=free_port())
        with pytest.raises(
            DeployError, match=f"port {taken} on 127.0.0.1 is already in use.*--registry-port"
        ):
            services.up()
    assert not (tmp_path / offline.STATE_FILE).exists()
