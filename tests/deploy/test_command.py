"""`byoc`: one console script, a subcommand per step, each also `python -m lightsage_deploy COMMAND`."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from lightsage_deploy.aws import progress
from lightsage_deploy.cli import main as command
from lightsage_deploy.errors import DeployError

BYOC = Path(sys.executable).parent / "byoc"


def test_the_runbook_steps_are_subcommands() -> None:
    assert list(command.COMMANDS)[:8] == [
        "upload", "push", "train", "deploy", "predict", "batch", "tune", "cleanup",
    ]  # fmt: skip
    assert {"offline", "instances", "iam"} <= set(command.COMMANDS)
    for name, module in command.COMMANDS.items():
        assert getattr(importlib.import_module(module), "COMMAND", None) == name


def test_the_console_script_lists_the_commands() -> None:
    result = subprocess.run([str(BYOC), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in command.COMMANDS:
        assert f"\n  {name} " in result.stdout
    bare = subprocess.run([str(BYOC)], capture_output=True, text=True, timeout=120)
    assert bare.returncode == 2 and bare.stdout.startswith("usage: byoc COMMAND")


def test_an_unknown_command_suggests_a_close_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(["trian"]) == 2
    assert "unknown command 'trian' (did you mean 'train'?)" in capsys.readouterr().err


def test_a_subcommand_runs_its_module_with_its_own_usage_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert command.main(["offline", "status", "--state-dir", str(tmp_path)]) == 1
    assert f"nothing recorded in {tmp_path}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        command.main(["train", "--no-such-flag"])
    assert capsys.readouterr().err.startswith("usage: byoc train")


def test_failures_are_one_line_without_a_traceback() -> None:
    result = subprocess.run(
        [str(BYOC), "deploy", "--local", "--serverless", "--model-data", "s3://b/m.tar.gz"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: SageMaker local mode has no serverless")
    assert "Traceback" not in result.stderr


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_long_waits_show_each_status_change_and_a_reminder() -> None:
    clock, shown = Clock(), io.StringIO()
    states = iter(["Creating"] * 6 + ["InService"])
    description = progress.wait_for(
        lambda: {"EndpointStatus": next(states)},
        "EndpointStatus",
        ("InService", "Failed"),
        "endpoint e",
        poll_seconds=15,
        out=shown,
        clock=clock,
        sleep=clock.sleep,
    )
    assert description == {"EndpointStatus": "InService"}
    assert shown.getvalue().splitlines() == [
        "[     0s] endpoint e: Creating",
        "[  1m00s] endpoint e: Creating",
        "[  1m30s] endpoint e: InService",
    ]


def test_a_wait_gives_up_after_its_timeout() -> None:
    clock = Clock()
    with pytest.raises(DeployError, match="training job j is still InProgress after 2m00s"):
        progress.wait_for(
            lambda: {"TrainingJobStatus": "InProgress"},
            "TrainingJobStatus",
            ("Completed",),
            "training job j",
            timeout_seconds=100,
            poll_seconds=60,
            out=io.StringIO(),
            clock=clock,
            sleep=clock.sleep,
        )
