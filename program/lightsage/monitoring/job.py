"""The `drift` program, a SageMaker Processing job (folders in `lightsage.evaluation.contract`): the traffic
in `traffic` (captured requests or a table) against the data baseline (`baseline`'s statistics.json and
constraints.json when given, else the model's own), checked by `lightsage.monitoring.drift`. It writes into
`drift`: constraint_violations.json (Model Monitor's format), statistics.json (the traffic's, in the
baseline's shape) and report/index.html, and prints as its last line
`drift: N violation(s) in M feature(s): name, name, ...`. Violations are findings, not failures: the job
completes (exit 0) either way.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightsage.contract import folders
from lightsage.contract.monitoring import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from lightsage.contract.processing import ProcessingPaths
from lightsage.evaluation import contract, inputs
from lightsage.evaluation.baseline import BaselineError, read_constraints, read_statistics
from lightsage.evaluation.job import _json, _write, parse_arguments
from lightsage.model.artifact import Model
from lightsage.monitoring import drift
from lightsage.monitoring.report import drift_report
from lightsage.monitoring.traffic import read_traffic

logger = logging.getLogger(__name__)


def _given(folder: Path, name: str) -> tuple[Any, str] | None:
    """A baseline file given in the `baseline` input, parsed; None when absent."""
    if folders.kind_of(folder / name) == "missing":
        return None
    try:
        return json.loads(folders.read_bytes(folder, name)), str(folder / name)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{folder / name} is not valid JSON: {error}") from None
    except OSError as error:
        raise BaselineError(f"{folder / name} cannot be read: {error}") from None


def baseline_documents(model: Model, folder: Path) -> tuple[tuple[Any, str], tuple[Any, str]]:
    """(statistics, where) and (constraints, where): the given files first, else the model's own."""
    found = []
    for name in (STATISTICS_FILE, CONSTRAINTS_FILE):
        given = _given(folder, name) if folders.kind_of(folder) == "folder" else None
        if given is None and model.baseline is not None:
            own = model.baseline.statistics if name == STATISTICS_FILE else model.baseline.constraints
            given = (own, f"the model's {name}")
        if given is None:
            raise BaselineError(
                f"no data baseline to compare with: the model carries no {name} (it was trained with "
                f"baseline=false, or by an older image) and {folder} has none; give the baseline as the "
                "processing input 'baseline' (evaluate writes one from the training table) or retrain"
            )
        found.append(given)
    return found[0], found[1]


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=contract.DRIFT_ENTRY, exit_on_error=False, add_help=False)


def check_drift(paths: ProcessingPaths, arguments: Sequence[str]) -> str:
    parse_arguments(contract.DRIFT_ENTRY, arguments, _parser())
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        model = inputs.open_model(paths.folder(contract.MODEL.name), Path(scratch))
    manifest = model.manifest
    (statistics_doc, statistics_at), (constraints_doc, constraints_at) = baseline_documents(
        model, paths.folder(contract.GIVEN_BASELINE.name)
    )
    statistics = read_statistics(statistics_doc, statistics_at)
    constraints = read_constraints(constraints_doc, constraints_at)
    unknown = [name for name in constraints.features if name not in manifest.inputs.feature_names]
    if unknown:
        raise BaselineError(
            f"{constraints_at} describes column(s) the model does not read: {', '.join(unknown)} (the model "
            f"reads {', '.join(manifest.inputs.feature_names)}): is it another model's baseline?"
        )
    traffic = read_traffic(paths.folder(contract.TRAFFIC.name), manifest)
    logger.info(
        f"traffic: {traffic.rows} row(s) from {traffic.requests} request(s) or row(s) in {traffic.source}"
    )
    results = drift.compare(statistics, constraints, traffic)
    found = drift.violations(results)
    names = list(dict.fromkeys(violation.feature_name for violation in found))
    summary = contract.drift_summary(len(found), names)
    notes = []
    if traffic.refused:
        reasons = "; ".join(f"{reason} ({count}x)" for reason, count in traffic.refused.most_common(5))
        notes.append(
            f"{sum(traffic.refused.values())} of {traffic.requests} requests were refused by serve: {reasons}"
        )
    about = {
        "model": f"{manifest.recipe} ({manifest.task}, target '{manifest.target}')",
        "traffic": f"{traffic.rows} rows from {traffic.source}",
        "baseline": f"{statistics_at} ({statistics.item_count} rows), {constraints_at}",
        "result": summary,
    }
    files = {
        STATISTICS_FILE: _json(traffic.statistics.statistics()),
        contract.REPORT_FILE: drift_report(about, results, notes),
        VIOLATIONS_FILE: _json({"violations": [violation.to_json() for violation in found]}),
    }
    output = paths.folder(contract.DRIFT_RESULTS.name)
    _write(output, files)
    for violation in found:
        logger.info(f"{violation.feature_name}: {violation.constraint_check_type}: {violation.description}")
    logger.info(f"wrote {', '.join(files)} to {output}")
    print(summary, flush=True)
    return summary
