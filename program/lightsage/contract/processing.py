"""The SageMaker Processing job contract, for the image's processing programs (`evaluate`, `drift`).

SageMaker runs `docker run IMAGE PROGRAM ARGUMENTS...` with each input downloaded under /opt/ml/processing/
and each output folder there uploaded when the container exits (also after a failure). The request is in
/opt/ml/config/processingjobconfig.json. Exit code 0 means Completed, anything else Failed; never 130, which
SDK local mode counts as success. What the container writes to /opt/ml/output/message becomes the job's
ExitMessage (its first 1,024 bytes, UTF-8), on success and on failure alike; /opt/ml/output/failure holds a
failure's reason too, the file `train` writes, so one file tells why any of the image's jobs failed.

A program's `main` calls `start` (its log lines, and SIGTERM, sent by StopProcessingJob, turned into an
explained stop) and then `run`, which writes the ending: a summary, or the reason and, for a bug, the
traceback in the log.
`BYOC_ML_ROOT` moves /opt/ml elsewhere, for tests and for runs outside a container.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lightsage import logs
from lightsage.contract.paths import (
    DEFAULT_ML_ROOT,
    FAILURE_REASON_LIMIT_BYTES,
    ML_ROOT_VARIABLE,
    truncate_utf8,
)
from lightsage.errors import PlatformError, failure_reason, is_bug

logger = logging.getLogger(__name__)

PROCESSING_FOLDER = "processing"
MESSAGE_FILE = "message"
FAILURE_FILE = "failure"
FAILED_EXIT_CODE = 1


class ProcessingStopped(PlatformError):
    """SIGTERM arrived: SageMaker sends it on StopProcessingJob."""


@dataclass(frozen=True)
class ProcessingPaths:
    """/opt/ml (or BYOC_ML_ROOT): the processing folders, the job's config and the output files."""

    root: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ProcessingPaths:
        environ = os.environ if environ is None else environ
        return cls(Path(environ.get(ML_ROOT_VARIABLE) or DEFAULT_ML_ROOT))

    @property
    def processing(self) -> Path:
        return self.root / PROCESSING_FOLDER

    def folder(self, name: str) -> Path:
        """An input or output folder, /opt/ml/processing/NAME."""
        return self.processing / name

    @property
    def job_config(self) -> Path:
        return self.root / "config" / "processingjobconfig.json"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def message_file(self) -> Path:
        return self.output_dir / MESSAGE_FILE

    @property
    def failure_file(self) -> Path:
        return self.output_dir / FAILURE_FILE

    def write_message(self, text: str) -> None:
        """The job's ExitMessage: UTF-8, cut to the 1,024 bytes SageMaker keeps."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.message_file.write_text(truncate_utf8(text, FAILURE_REASON_LIMIT_BYTES), encoding="utf-8")

    def write_failure(self, reason: str) -> None:
        self.write_message(reason + "\n")
        self.failure_file.write_text(
            truncate_utf8(reason + "\n", FAILURE_REASON_LIMIT_BYTES), encoding="utf-8"
        )


def stop_on_sigterm(program: str, started: float) -> None:
    """From now on SIGTERM raises ProcessingStopped in the main thread."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise ProcessingStopped(
            f"{program} was stopped by {signal.Signals(signum).name} after "
            f"{time.monotonic() - started:.1f} s "
            "(StopProcessingJob); its outputs are incomplete"
        )

    signal.signal(signal.SIGTERM, handler)


Job = Callable[[ProcessingPaths, Sequence[str]], str]


def start(program: str) -> None:
    """What a processing program does first: its log lines (`[program] ...` on standard error), and SIGTERM
    turned into ProcessingStopped."""
    logs.configure(program)
    stop_on_sigterm(program, time.monotonic())


def run(program: str, job: Job, arguments: Sequence[str], paths: ProcessingPaths | None = None) -> int:
    """Run one processing program: its summary becomes the ExitMessage; an error its reason (exit 1)."""
    paths = paths or ProcessingPaths.from_environment()
    for stale in (paths.message_file, paths.failure_file):
        stale.unlink(missing_ok=True)
    try:
        summary = job(paths, arguments)
    except Exception as error:
        reason = failure_reason(error)
        logger.error(f"FAILED: {reason}", exc_info=error if is_bug(error) else None)
        try:
            paths.write_failure(reason)
        except OSError as failure:
            logger.error(f"could not write {paths.message_file}: {failure}")
        return FAILED_EXIT_CODE
    try:
        paths.write_message(summary + "\n")
    except OSError as failure:
        logger.warning(f"could not write {paths.message_file}: {failure}")
    return 0
