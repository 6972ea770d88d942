"""`docker run IMAGE evaluate [--task TASK]`: the evaluate program (`lightsage.evaluation.job`) under the
Processing job contract (`lightsage.contract.processing`)."""

from __future__ import annotations

import sys

from lightsage.contract.processing import run, start
from lightsage.evaluation.contract import EVALUATE_ENTRY
from lightsage.evaluation.job import evaluate


def main() -> int:
    start(EVALUATE_ENTRY)
    return run(EVALUATE_ENTRY, evaluate, sys.argv[1:])
