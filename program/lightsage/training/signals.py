"""SIGTERM during `train`: SageMaker sends it on StopTrainingJob and on a spot interruption.

`program/train` holds the signal blocked while the libraries import; `stop_on_sigterm` installs the handler
and releases it, so a stop that arrives during start-up still ends the job with a failure reason. While the
reason is written (`sigterm_held`), a SIGTERM waits.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from lightsage.errors import PlatformError


class TrainingInterrupted(PlatformError):
    """SIGTERM arrived: SageMaker sends it on StopTrainingJob and on spot interruption."""


def stop_on_sigterm(started: float) -> None:
    """From now on SIGTERM raises TrainingInterrupted in the main thread, naming how long the job ran."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise TrainingInterrupted(
            f"training was stopped by {signal.Signals(signum).name} after {time.monotonic() - started:.1f} s "
            "(StopTrainingJob or a spot interruption); no model was saved"
        )

    signal.signal(signal.SIGTERM, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


@contextmanager
def sigterm_held() -> Iterator[None]:
    """A SIGTERM that arrives inside waits until the block ends (local mode stops all hosts when one ends)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
