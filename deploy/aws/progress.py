"""Progress for the long waits: a job or endpoint status with the time spent, and bytes of an upload.

Both write to stderr, so stdout keeps only the results scripts parse.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TextIO

from lightsage_deploy.errors import PlatformError

MIB = 1024 * 1024
# Uploads below this size finish too fast for intermediate progress lines to help.
SHOW_PARTS_FROM_BYTES = 16 * MIB


def elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def say(line: str, out: TextIO | None = None) -> None:
    """Write one whole line in one write and flush it (stderr by default).

    print() writes the text and its line break separately: a stream that another thread flushes between the
    two (a notebook's, or boto3's transfer threads writing progress) shows the text with no line break and
    the next output glued to it.
    """
    stream = out or sys.stderr
    stream.write(line + "\n")
    stream.flush()


def wait_for(
    describe: Callable[[], Mapping[str, Any]],
    status_key: str,
    finished: Collection[str],
    what: str,
    *,
    detail: Callable[[Mapping[str, Any]], str] = lambda description: "",
    poll_seconds: float = 15.0,
    remind_seconds: float = 60.0,
    timeout_seconds: float | None = None,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Mapping[str, Any]:
    """Poll `describe` until its status is in `finished`; print each change, and a reminder every minute."""
    out = out or sys.stderr
    started = clock()
    shown, last_print = "", started
    while True:
        description = describe()
        status = str(description.get(status_key, "unknown"))
        more = detail(description)
        line = f"{what}: {status}" + (f" ({more})" if more else "")
        now = clock()
        if line != shown or now - last_print >= remind_seconds:
            say(f"[{elapsed(now - started):>7}] {line}", out)
            shown, last_print = line, now
        if status in finished:
            return description
        if timeout_seconds is not None and now - started > timeout_seconds:
            raise PlatformError(f"{what} is still {status} after {elapsed(now - started)}")
        sleep(poll_seconds)


class UploadProgress:
    """A boto3 transfer callback: prints every tenth of a large upload, and the end of every upload."""

    def __init__(self, name: str, total_bytes: int, out: TextIO | None = None) -> None:
        self.name = name
        self.total = total_bytes
        self.sent = 0
        self.shown_tenths = 0
        self.out = out or sys.stderr
        self.started = time.monotonic()
        self._lock = threading.Lock()  # boto3 calls back from its transfer threads

    def __call__(self, sent_bytes: int) -> None:
        with self._lock:
            self.sent += sent_bytes
            tenths = self.sent * 10 // max(self.total, 1)
            if self.total >= SHOW_PARTS_FROM_BYTES and tenths > self.shown_tenths and self.sent < self.total:
                self.shown_tenths = int(tenths)
                say(
                    f"uploading {self.name}: {self.sent * 100 // self.total}% "
                    f"({self.sent / MIB:.1f} of {self.total / MIB:.1f} MiB, "
                    f"{elapsed(time.monotonic() - self.started)})",
                    self.out,
                )

    def done(self) -> None:
        say(
            f"uploaded {self.name}: {self.total / MIB:.1f} MiB in {elapsed(time.monotonic() - self.started)}",
            self.out,
        )
