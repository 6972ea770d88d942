"""`byoc`: one console script, a subcommand per step, each also `python -m lightsage_deploy COMMAND`, each
with its own --help and examples; an expected failure is one line, not a traceback."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from lightsage_deploy import logs
from lightsage_deploy.cli import main as command
from lightsage_deploy.cli.main import COMMANDS, exit_with
from lightsage_deploy.errors import PLATFORM_HINT, DeployError, PlatformError

from testsupport import REPOSITORY_ROOT

BYOC = Path(sys.executable).parent / "byoc"


def test_the_runbook_steps_are_subcommands() -> None:
    assert list(command.COMMANDS)[:11] == [
        "init", "build", "local", "upload", "push", "train", "deploy", "predict", "batch", "tune", "cleanup",
    ]  # fmt: skip
    assert {"offline", "instances", "iam", "pipeline", "models", "drift"} <= set(command.COMMANDS)
    for name, module in command.COMMANDS.items():
        loaded = importlib.import_module(module)
        assert getattr(loaded, "COMMAND", None) == name
        assert loaded.build_parser(f"byoc {name}").prog == f"byoc {name}"  # what a CLI reference renders


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


@pytest.fixture(autouse=True)
def deploy_logger_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """exit_with shows the steps' log lines: afterwards the package's logger is as it was."""
    logger = logging.getLogger(logs.LOGGER_NAME)
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(logger, "propagate", logger.propagate)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (DeployError("bucket b does not exist"), "error: bucket b does not exist"),
        (NoCredentialsError(), "error: no AWS credentials found"),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "nope"}}, "CreateBucket"),
            "error: CreateBucket failed with AccessDenied: nope",
        ),
        (PlatformError("docker is not running"), "error: docker is not running"),
        (
            ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateModel"
            ),
            f"error: CreateModel failed with ThrottlingException: Rate exceeded ({PLATFORM_HINT})",
        ),
    ],
)
def test_expected_failures_exit_1_with_one_line(
    raised: Exception, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def main(argv: object) -> int:
        raise raised

    with pytest.raises(SystemExit) as exited:
        exit_with(main)
    assert exited.value.code == 1
    printed = capsys.readouterr().err
    assert printed.startswith(expected)
    assert printed.count("\n") == 1 and "Traceback" not in printed


def test_a_bug_shows_its_traceback_and_says_it_is_one(capsys: pytest.CaptureFixture[str]) -> None:
    def main(argv: object) -> int:
        return {"a": 1}["b"]

    with pytest.raises(SystemExit) as exited:
        exit_with(main)
    assert exited.value.code == 1
    printed = capsys.readouterr().err
    assert printed.startswith("Traceback (most recent call last):")
    assert "KeyError: 'b'" in printed
    assert printed.splitlines()[-1] == f"error: {command.BUG_MESSAGE}"


def test_results_go_to_stdout_and_the_steps_log_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    def main(argv: object) -> int:
        logging.getLogger("lightsage_deploy.steps.endpoint").info("deploying m to realtime endpoint e")
        logging.getLogger("lightsage_deploy.steps.endpoint").warning("could not delete endpoint e")
        print("deleted model, endpoint and endpoint config e")
        return 0

    with pytest.raises(SystemExit) as exited:
        exit_with(main)
    assert exited.value.code == 0
    printed = capsys.readouterr()
    assert printed.out == "deleted model, endpoint and endpoint config e\n"
    assert printed.err == "deploying m to realtime endpoint e\nwarning: could not delete endpoint e\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_examples(command: str) -> None:
    byoc = Path(sys.executable).parent / "byoc"
    for argv, usage in (
        ([str(byoc), command, "--help"], f"usage: byoc {command}"),
        (
            [sys.executable, "-m", "lightsage_deploy", command, "--help"],
            f"usage: python -m lightsage_deploy {command}",
        ),
    ):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPOSITORY_ROOT)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(usage)
        assert f"byoc {command}" in result.stdout.split("options:")[0], "examples in byoc form"
        assert "Traceback" not in result.stderr
