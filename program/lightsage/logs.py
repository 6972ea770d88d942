"""How the programs write lightsage's log records. Every module logs through `logging.getLogger(__name__)`;
the program that runs configures the `lightsage` logger once, here:

- `train` (lightsage.training.main): `[train] message` on standard output, errors (`[train] FAILED: ...`,
  then a bug's traceback) on standard error.
- `serve` (lightsage.serving.server) and each of its gunicorn workers (lightsage.serving.workers):
  `[serve] message` on standard error.
- `python -m lightsage.data.split` and `python -m lightsage.recipes.base`: `[split] ...`, `[recipes] ...` on
  standard error; their results go to standard output.

Metric lines are not log records: `train` prints them plainly on standard output, where the training job's
metric definitions (regular expressions) read them.

The handlers write to whatever `sys.stdout` and `sys.stderr` are when a record is emitted, so a redirection
made later (pytest's capture, `contextlib.redirect_stdout`) receives the lines. Records still propagate to the
root logger, where nothing is configured in the programs (no line is written twice) and where tests capture
them (pytest's caplog). Without `configure` (lightsage imported as a library) Python's defaults apply.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

LOGGER = "lightsage"
Stream = Literal["stdout", "stderr"]


class CurrentStream(logging.StreamHandler):
    """A handler for sys.stdout or sys.stderr as they are at each record, not as they were at set-up."""

    def __init__(self, which: Stream, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)
        self.which = which

    @property
    def stream(self) -> TextIO:  # type: ignore[override]  # StreamHandler sets it as an attribute
        return getattr(sys, self.which)


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def _handler(which: Stream, program: str, level: int = logging.NOTSET) -> logging.Handler:
    handler = CurrentStream(which, level)
    handler.setFormatter(logging.Formatter(f"[{program}] %(message)s"))
    return handler


def configure(program: str) -> logging.Logger:
    """Write the `lightsage` loggers' records (INFO and above) as `program` does; a second call replaces what
    the first installed."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, CurrentStream):
            logger.removeHandler(handler)
    logger.setLevel(logging.INFO)
    if program == "train":
        progress = _handler("stdout", program)
        progress.addFilter(_Below(logging.ERROR))
        logger.addHandler(progress)
        logger.addHandler(_handler("stderr", program, logging.ERROR))
    else:
        logger.addHandler(_handler("stderr", program))
    return logger
