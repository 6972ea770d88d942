"""Memory: the container's limit, the job's use, and a clear reason instead of a silent out-of-memory kill.

- `container_limit()` reads cgroup v2 `memory.max`, else cgroup v1 `memory.limit_in_bytes`, else the host's
  memory (whichever is smaller).
- `MemoryGuard.check_fits` stops the job before a large allocation that clearly cannot fit, with the
  numbers, the largest consumer and what to do.
- `MemoryGuard.watch` samples the process's resident memory while training runs and stops the job with such
  a reason when it crosses a safe share of the limit, before the kernel kills it.
- `return_freed_blocks()` makes glibc give large freed blocks back to the system at once;
  `arrow_buffers_from_jemalloc()` gives Arrow's buffers an allocator that reuses freed pages.
- `provisional_reason` is written to the failure file while the job runs, so even a kill (which no process
  survives to explain) leaves the stage and memory figures behind; a finished job replaces or removes it.
- `timed` logs how long a step of the job took and the process's memory peak so far (`peak_rss_mib`).
"""

from __future__ import annotations

import _thread
import ctypes
import logging
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from lightsage.errors import PlatformError

logger = logging.getLogger(__name__)

MIB = 2**20
GIB = 2**30
CGROUP_V2_LIMIT = Path("/sys/fs/cgroup/memory.max")
CGROUP_V1_LIMIT = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")
MEMINFO = Path("/proc/meminfo")
# The share of the limit the watchdog lets the process reach before it stops the job.
WATCH_SHARE = 0.92
WATCH_INTERVAL_SECONDS = 0.1
# glibc's mallopt option, and the size from which it maps each block on its own (returned on free).
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024
# SageMaker's general-purpose training instances by memory, to name the next size up.
INSTANCE_MEMORY_GIB: tuple[tuple[str, int], ...] = (
    ("ml.m5.large", 8),
    ("ml.m5.xlarge", 16),
    ("ml.m5.2xlarge", 32),
    ("ml.m5.4xlarge", 64),
    ("ml.m5.12xlarge", 192),
    ("ml.m5.24xlarge", 384),
)


class OutOfMemory(PlatformError):
    """The job cannot finish within the container's memory; the message gives the numbers and what to do."""


@dataclass(frozen=True)
class Limit:
    bytes: int
    source: str


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return None if text == "max" or not text.isdigit() else int(text)


def host_memory() -> int:
    for line in MEMINFO.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"{MEMINFO} has no MemTotal line")


def container_limit(v2: Path = CGROUP_V2_LIMIT, v1: Path = CGROUP_V1_LIMIT) -> Limit:
    host = host_memory()
    for path, source in ((v2, "cgroup v2 memory.max"), (v1, "cgroup v1 memory.limit_in_bytes")):
        value = _read_int(path)
        if value is not None and value < host:
            return Limit(value, source)
    return Limit(host, "host memory (no container limit)")


def resident_bytes() -> int:
    """This process's resident memory now."""
    with Path("/proc/self/statm").open() as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def return_freed_blocks() -> bool:
    """Make glibc map every block of 128 KiB or more on its own, so freeing it returns it to the system.

    By default glibc raises that threshold each time such a block is freed (up to 32 MiB), after which the
    feature batches and Arrow buffers a training job frees stay in its heap as fragments: resident memory
    then grows by hundreds of MiB that nothing uses. False where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def arrow_buffers_from_jemalloc() -> bool:
    """Make Arrow allocate from its jemalloc pool; False where pyarrow was built without one.

    pyarrow's default pool here (mimalloc) hands the pages a batch frees back to the system at once and
    faults fresh ones in for the next batch: training on the 3.2M-row benchmark table made about 2,400
    madvise calls and spent 6 s in the system instead of 4 s with jemalloc, at the same memory peak.
    """
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:
        return False
    return True


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextmanager
def timed(step: str) -> Iterator[None]:
    """Log how long a step of the job took, and the memory peak so far."""
    started = time.monotonic()
    yield
    logger.info(f"{step}: {time.monotonic() - started:.1f} s (peak memory {peak_rss_mib():.0f} MiB)")


def gib(count: float) -> str:
    return f"{count / GIB:.1f} GiB" if count >= GIB else f"{count / MIB:.0f} MiB"


def larger_instance(needed: float) -> str:
    for name, memory in INSTANCE_MEMORY_GIB:
        if memory * GIB * WATCH_SHARE > needed:
            return f"{name}, {memory} GiB"
    name, memory = INSTANCE_MEMORY_GIB[-1]
    return f"{name}, {memory} GiB, or more instances"


def advice(needed: float) -> str:
    return (
        f"use a larger instance ({larger_instance(needed)}), several instances (--instance-count), "
        "or fewer rows or columns"
    )


@dataclass
class MemoryGuard:
    """Tracks the job's memory against the container's limit; `report` receives the provisional reason."""

    report: Callable[[str], None] = lambda reason: None
    limit: Limit = field(default_factory=container_limit)
    stage: str = "starting"
    peak: int = 0
    _stop_reason: str | None = None

    def enter(self, stage: str) -> None:
        self.stage = stage
        self.observe()
        self.report(self.provisional_reason())

    def observe(self) -> int:
        now = resident_bytes()
        self.peak = max(self.peak, now)
        return now

    def fits(self, parts: dict[str, float]) -> bool:
        """Whether what is in memory plus the coming `parts` (name -> bytes) stays within the limit."""
        return self.observe() + sum(parts.values()) <= self.limit.bytes * WATCH_SHARE

    def check_fits(self, stage: str, parts: dict[str, float], detail: str) -> None:
        """Stop now if what is in memory plus the coming `parts` (name -> bytes) clearly exceeds the limit."""
        if self.fits(parts):
            return
        now = self.observe()
        needed = now + sum(parts.values())
        largest = max(parts, key=parts.__getitem__)
        raise OutOfMemory(
            f"{detail} needs about {gib(needed)} to {stage} ({largest}: {gib(parts[largest])}; "
            f"already in use: {gib(now)}); the container has {gib(self.limit.bytes)}: {advice(needed)}"
        )

    def provisional_reason(self) -> str:
        return (
            f"train was killed while {self.stage}, using about {gib(self.peak)} of the container's "
            f"{gib(self.limit.bytes)} ({self.limit.source}): near that limit, the kernel's out-of-memory "
            f"killer stops a job; {advice(self.peak * 1.5)}. (Otherwise the job was stopped by force.)"
        )

    @contextmanager
    def watch(self) -> Iterator[None]:
        """Sample resident memory in the background; past WATCH_SHARE of the limit, stop the main thread."""
        done = threading.Event()

        def sample() -> None:
            last_reported = 0
            while not done.wait(WATCH_INTERVAL_SECONDS):
                now = self.observe()
                if self.peak > last_reported * 1.1:
                    last_reported = self.peak
                    self.report(self.provisional_reason())
                if now > self.limit.bytes * WATCH_SHARE:
                    self._stop_reason = (
                        f"train stopped while {self.stage}: it used {gib(now)}, over {WATCH_SHARE:.0%} "
                        f"of the container's {gib(self.limit.bytes)} ({self.limit.source}); "
                        f"{advice(now * 1.5)}"
                    )
                    _thread.interrupt_main()
                    return

        watcher = threading.Thread(target=sample, name="memory-watch", daemon=True)
        watcher.start()
        try:
            yield
        except KeyboardInterrupt:
            if self._stop_reason is None:
                raise
            raise OutOfMemory(self._stop_reason) from None
        finally:
            done.set()
            watcher.join()

    def figures(self) -> dict[str, object]:
        self.observe()
        return {"limit_mib": round(self.limit.bytes / MIB), "limit_source": self.limit.source,
                "peak_rss_mib": round(self.peak / MIB)}  # fmt: skip
