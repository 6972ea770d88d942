"""What local mode's containers print: the SDK streams each container's log to sys.stdout and keeps nothing
(the reason a job failed, or a job's last line, is only there). `teed_stdout` keeps a copy while still
showing it, and `container_lines` takes docker-compose's prefix and colours off again."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# docker-compose's `NAME-algo-1-abcde  | ` prefix, with or without its colour codes.
_PREFIX = re.compile(r"^(?:\x1b\[[0-9;]*m)?\S*algo-\d+-\w+\s*\|(?:\x1b\[[0-9;]*m)?\s?")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_COMPOSE_NOTE = re.compile(r"^\S*algo-\d+-\w+ exited with code \d+$|^Aborting on container exit")
_EXITED = re.compile(r"algo-\d+-\w+ exited with code (\d+)")
# How lightsage's programs log the reason they fail (lightsage.contract.processing, lightsage.training.main).
_FAILED = "FAILED: "


class Tee:
    """A text stream that writes through to `stream` and keeps everything written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)

    @property
    def text(self) -> str:
        return "".join(self.parts)


@contextmanager
def teed_stdout() -> Iterator[Tee]:
    """Within: sys.stdout is shown as usual and kept in the yielded Tee."""
    saved = sys.stdout
    tee = Tee(saved)
    sys.stdout = tee  # type: ignore[assignment]
    try:
        yield tee
    finally:
        sys.stdout = saved


def container_lines(text: str) -> list[str]:
    """The lines the containers printed, without docker-compose's prefix, colours and notes."""
    lines = []
    for raw in text.splitlines():
        if not _PREFIX.match(raw):
            continue
        line = _COLOUR.sub("", _PREFIX.sub("", raw)).rstrip()
        if line and not _COMPOSE_NOTE.match(line):
            lines.append(line)
    return lines


def last_lines(text: str, count: int = 3) -> str:
    """The containers' last `count` lines, joined: what a failed local job said last."""
    return " | ".join(container_lines(text)[-count:])


def failure_said(text: str) -> str | None:
    """What a failed container said: its `FAILED: reason` line, else its last line when docker-compose noted
    a non-zero exit; None when the log shows no failure. Local mode's own exit status misses some failures
    (docker-compose without --exit-code-from can return 0 when the container exited 1)."""
    said = container_lines(text)
    failed = [line for line in said if _FAILED in line]
    if failed:
        return failed[-1]
    codes = [int(code) for code in _EXITED.findall(_COLOUR.sub("", text))]
    if any(codes):
        return said[-1] if said else f"its container exited with code {max(codes)}"
    return None
