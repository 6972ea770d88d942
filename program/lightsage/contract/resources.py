"""What the container may use: its CPUs (the affinity mask and a cgroup v2 CPU quota)."""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cpus(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this container may use: the affinity mask, capped by a cgroup v2 CPU quota when one is set."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)
