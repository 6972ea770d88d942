"""`docker run IMAGE drift`: the drift program (`lightsage.monitoring.job`) under the Processing job contract
(`lightsage.contract.processing`)."""

from __future__ import annotations

import sys

from lightsage.contract.processing import run, start
from lightsage.evaluation.contract import DRIFT_ENTRY
from lightsage.monitoring.job import check_drift


def main() -> int:
    start(DRIFT_ENTRY)
    return run(DRIFT_ENTRY, check_drift, sys.argv[1:])
