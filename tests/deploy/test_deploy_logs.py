"""The deploy side's log lines: one whole line each on the current stderr, warnings marked, shown once."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from lightsage_deploy import logs


class WriteRecorder(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.fixture
def deploy_logger() -> Iterator[logging.Logger]:
    """The package's logger, put back as it was afterwards."""
    logger = logging.getLogger(logs.LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


def test_notes_and_warnings_are_whole_lines_on_the_stderr_of_the_moment(
    deploy_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.show()
    logs.show()
    assert len(deploy_logger.handlers) == 1
    stderr, stdout = WriteRecorder(), WriteRecorder()
    monkeypatch.setattr("sys.stderr", stderr)  # after show(): the handler follows sys.stderr
    monkeypatch.setattr("sys.stdout", stdout)
    logging.getLogger("lightsage_deploy.steps.endpoint").info("deploying %s", "m.tar.gz")
    logging.getLogger("lightsage_deploy.steps.batch").warning("could not delete model %s", "m")
    logging.getLogger("lightsage_deploy.steps.batch").debug("not shown")
    assert stderr.writes == ["deploying m.tar.gz\n", "warning: could not delete model m\n"]
    assert stdout.getvalue() == ""


def test_warnings_only_when_asked(deploy_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    logs.show(logging.WARNING)
    logging.getLogger("lightsage_deploy.aws.ecr").info("created ECR repository r")
    logging.getLogger("lightsage_deploy.aws.ecr").warning("repository r exists with MUTABLE tags")
    assert capsys.readouterr().err == "warning: repository r exists with MUTABLE tags\n"
