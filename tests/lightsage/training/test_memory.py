"""The memory guard: the container's limit, early refusals with numbers, and the watchdog."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lightsage.training import memory
from lightsage.training.memory import GIB, MIB, Limit, MemoryGuard, OutOfMemory, container_limit


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_limit_comes_from_cgroup_v2_then_v1_then_the_host(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    write(v2, f"{8 * GIB}\n")
    write(v1, f"{4 * GIB}\n")
    assert container_limit(v2, v1) == Limit(8 * GIB, "cgroup v2 memory.max")
    write(v2, "max\n")
    assert container_limit(v2, v1) == Limit(4 * GIB, "cgroup v1 memory.limit_in_bytes")
    write(v1, "9223372036854771712\n")
    host = container_limit(v2, v1)
    assert host.source == "host memory (no container limit)" and host.bytes == memory.host_memory()
    assert container_limit(tmp_path / "none", tmp_path / "none").source.startswith("host memory")


def test_a_step_that_clearly_cannot_fit_is_refused_with_numbers_and_advice() -> None:
    guard = MemoryGuard(limit=Limit(8 * GIB, "cgroup v2 memory.max"))
    with pytest.raises(OutOfMemory) as caught:
        guard.check_fits(
            "compute the features",
            {"training features (float32)": 9 * GIB, "LightGBM's dataset": 2 * GIB},
            "channel 'train' (1.0 GiB, 12,750,000 rows)",
        )
    message = str(caught.value)
    assert message.startswith("channel 'train' (1.0 GiB, 12,750,000 rows) needs about 1")
    assert "to compute the features (training features (float32): 9.0 GiB; already in use:" in message
    assert "the container has 8.0 GiB: use a larger instance (ml.m5.xlarge, 16 GiB)" in message
    assert "several instances (--instance-count), or fewer rows or columns" in message


def test_a_step_that_fits_is_not_refused() -> None:
    guard = MemoryGuard(limit=Limit(8 * GIB, "test"))
    guard.check_fits("compute the features", {"features": 1 * GIB}, "channel 'train'")


def test_the_watchdog_stops_the_job_before_the_limit_and_keeps_a_provisional_reason() -> None:
    reasons: list[str] = []
    # Heap pages earlier tests freed but the process still holds would take the new arrays without growing
    # the resident set: hand them back first, so the arrays below grow it.
    memory.return_freed_blocks()
    now = memory.resident_bytes()
    guard = MemoryGuard(
        report=reasons.append, limit=Limit(int((now + 200 * MIB) / memory.WATCH_SHARE), "test")
    )
    guard.enter("building LightGBM's dataset")
    held = []
    with (
        pytest.raises(
            OutOfMemory, match=r"train stopped while building LightGBM's dataset: it used .* over 92%"
        ),
        guard.watch(),
    ):
        # 8 MiB a step, touched, at a pace the watchdog's samples follow even on a busy machine; bounded in
        # time, so a watchdog that never stops the job fails the test instead of hanging it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(held) < 100:
                held.append(np.ones(8 * MIB // 8))
            time.sleep(0.005)
    assert len(held) < 100
    assert reasons[0].startswith("train was killed while building LightGBM's dataset, using about")


def test_a_job_within_its_limit_runs_on() -> None:
    guard = MemoryGuard(limit=Limit(memory.resident_bytes() + 2 * GIB, "test"))
    with guard.watch():
        total = sum(np.ones(1000).sum() for _ in range(100))
    assert total == 100_000
    assert guard.figures()["limit_source"] == "test"


FRAGMENTING_SCRIPT = """
import sys
import numpy as np
from lightsage.training import memory
if sys.argv[1] == "returned":
    assert memory.return_freed_blocks()
big = np.ones(24 * 2**20 // 8)  # freeing a mapped 24 MiB block raises glibc's own threshold to 24 MiB
del big
blocks = [np.ones(2**20 // 8) for _ in range(300)]  # 300 blocks of 1 MiB
last = blocks.pop()  # the newest block stays in use: a heap cannot shrink below it
before = memory.resident_bytes()
del blocks
print((before - memory.resident_bytes()) / memory.MIB)
"""


@pytest.mark.parametrize("mode", ["default", "returned"])
def test_freed_blocks_go_back_to_the_system_only_with_the_lower_threshold(mode: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", FRAGMENTING_SCRIPT, mode], capture_output=True, text=True, check=True
    )
    released = float(run.stdout)
    if mode == "returned":
        assert released > 250, run.stdout
    else:
        assert released < 50, run.stdout


JEMALLOC_SCRIPT = """
import pyarrow as pa
from lightsage.training import memory
assert memory.arrow_buffers_from_jemalloc()
column = pa.array(range(1_000_000), pa.int64())
print(pa.default_memory_pool().backend_name, pa.jemalloc_memory_pool().bytes_allocated() >= column.nbytes)
"""


def test_arrow_buffers_come_from_jemalloc_once_asked() -> None:
    run = subprocess.run([sys.executable, "-c", JEMALLOC_SCRIPT], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["jemalloc", "True"]
