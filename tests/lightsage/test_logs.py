"""lightsage.logs: each program writes lightsage's log records its own way, to the streams of the moment."""

import contextlib
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightsage import logs
from lightsage.serving import workers
from lightsage.serving.server import gunicorn_command
from lightsage.serving.settings import ServingSettings

from testsupport import REPOSITORY_ROOT, MLRootFactory

METRIC_LINE = r"^(train|validation|cv):[a-z0-9_]+=-?[0-9.e+-]+;$"


@pytest.fixture
def lightsage_logger() -> Iterator[logging.Logger]:
    """The `lightsage` logger, put back as it was (the test session configures it as `train` does)."""
    logger = logging.getLogger(logs.LOGGER)
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_train_writes_progress_to_stdout_and_errors_to_stderr(
    lightsage_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("train")
    logs.configure("train")  # again, as each call of `main` does: no line twice
    logging.getLogger("lightsage.training.plan").info("training on 712 rows")
    logging.getLogger("lightsage.training.checkpoints").warning("skipping checkpoint checkpoint-1.json")
    logging.getLogger("lightsage.training.main").error("FAILED: a reason")
    logging.getLogger("lightsage.training.plan").debug("not shown")
    out, err = capsys.readouterr()
    assert out == "[train] training on 712 rows\n[train] skipping checkpoint checkpoint-1.json\n"
    assert err == "[train] FAILED: a reason\n"


def test_serve_writes_everything_to_stderr(
    lightsage_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("train")
    logs.configure("serve")  # replaces what train installed
    logging.getLogger("lightsage.serving.server").info("stopped")
    logging.getLogger("lightsage.serving.app").error("prediction failed")
    assert capsys.readouterr() == ("", "[serve] stopped\n[serve] prediction failed\n")


def test_the_handlers_write_to_the_stream_of_the_moment(lightsage_logger: logging.Logger) -> None:
    logs.configure("train")
    redirected = io.StringIO()
    with contextlib.redirect_stdout(redirected):
        logging.getLogger("lightsage.data.channels").info("channel 'train': skipped 1 file(s)")
    assert redirected.getvalue() == "[train] channel 'train': skipped 1 file(s)\n"


def test_records_still_reach_the_root_logger(
    lightsage_logger: logging.Logger, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("train")
    logging.getLogger("lightsage.recipes.tabular").info("recipe tabular: not using column 'id'")
    assert caplog.messages == ["recipe tabular: not using column 'id'"]
    assert capsys.readouterr().out == "[train] recipe tabular: not using column 'id'\n"


def test_every_gunicorn_worker_logs_as_serve(
    lightsage_logger: logging.Logger, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    command = gunicorn_command(ServingSettings.from_environment({}), tmp_path / "s.sock")
    assert command[command.index("--config") + 1] == "python:lightsage.serving.workers"
    logs.configure("train")
    workers.post_fork(None, None)
    logging.getLogger("lightsage.model.artifact").warning("files are not checked")
    assert capsys.readouterr().err == "[serve] files are not checked\n"


def run_train(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPOSITORY_ROOT / "program" / "train")],
        env={**os.environ, "BYOC_ML_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_train_program_writes_log_and_metric_lines_on_stdout_and_nothing_else(
    ml_root: MLRootFactory,
) -> None:
    result = run_train(ml_root(hyperparameters={"n_estimators": "20", "cv_folds": "2"}))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    metrics = [line for line in lines if not line.startswith("[train] ")]
    assert metrics and all(re.match(METRIC_LINE, line) for line in metrics), metrics
    assert any(line.startswith("cv:") for line in metrics)
    assert any(line.startswith("[train] training on ") for line in lines)
    assert result.stderr == ""


def test_the_train_program_writes_its_failure_on_stderr(ml_root: MLRootFactory) -> None:
    result = run_train(ml_root(hyperparameters={"n_estimators": "many"}))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("[train] FAILED: hyperparameter 'n_estimators': 'many' is not a valid int")
