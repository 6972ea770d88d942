"""The deploy side's diagnostics go through `logging`: what happens along the way, one line each on stderr.

The commands print their results on stdout. The steps log to the `lightsage_deploy` logger what they do on the
way (a repository created, an image being built, an endpoint being deployed) and what they leave behind
(warnings). `byoc` shows these lines with `show()`; a notebook or a script calls it too, or handles the
`lightsage_deploy` logger its own way.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGER_NAME = "lightsage_deploy"


class LineFormatter(logging.Formatter):
    """The message alone; a warning or worse starts with `warning: `."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each line whole to whatever sys.stderr is when it is written (a test's capture, a notebook's
    stream), not to the one there was when the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        """The stream is always the current sys.stderr."""


def show(level: int = logging.INFO) -> None:
    """Show the deploy side's log lines from `level` up on stderr (once, however often it is called)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(handler, CurrentStderrHandler) for handler in logger.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(LineFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
