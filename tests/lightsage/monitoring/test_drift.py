"""The drift check end to end in-process: held-out rows of the training table give no violation, on several
tables and splits; a shifted copy names exactly the shifted columns; captured requests read as serve reads
them; bad input gets an error naming the problem."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from monitorshapes import STATISTICS, VIOLATIONS, check
from processingsupport import csv_file, processing_root, trained, trained_on
from sklearn.model_selection import train_test_split

from lightsage.contract.processing import ProcessingPaths, run
from lightsage.evaluation import contract
from lightsage.monitoring import drift
from lightsage.monitoring.job import check_drift

import tabularsupport
from tabularsupport import TARGET, Table
from testsupport import TITANIC_CSV

SPLIT_SEEDS = (1, 2, 3)


def run_drift(root: Path, model_dir: Path, traffic: list[tuple[str, bytes]], **extra: Any) -> dict[str, Any]:
    model_files = [(path.name, path.read_bytes()) for path in model_dir.iterdir()]
    processing_root(root, {"model": model_files, "traffic": traffic, **extra})
    summary = check_drift(ProcessingPaths(root), [])
    output = root / "processing" / "drift"
    violations = json.loads((output / "constraint_violations.json").read_text())
    check(violations, VIOLATIONS)
    check(json.loads((output / "statistics.json").read_text()), STATISTICS)
    assert (output / "report" / "index.html").read_text().startswith("<!DOCTYPE html>")
    return {"summary": summary, "violations": violations["violations"]}


def resplit(table: Table, seed: int) -> Table:
    whole = pd.concat([table.train, table.validation], ignore_index=True)
    stratify = whole[TARGET] if table.task != "regression" else None
    train, validation = train_test_split(whole, test_size=0.3, random_state=seed, stratify=stratify)
    return Table(table.name, table.task, train.reset_index(drop=True), validation.reset_index(drop=True),
                 table.categories)  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], tuple[Table, Path]]:
    cache: dict[tuple[str, int], tuple[Table, Path]] = {}

    def model(name: str, seed: int) -> tuple[Table, Path]:
        if (name, seed) not in cache:
            table = resplit(tabularsupport.TABLES[name](), seed)
            cache[name, seed] = table, trained_on(tmp_path_factory.mktemp(f"{name}-{seed}"), table)
        return cache[name, seed]

    return model


@pytest.mark.parametrize("seed", SPLIT_SEEDS)
@pytest.mark.parametrize("name", sorted(tabularsupport.TABLES))
def test_held_out_rows_of_the_same_table_give_no_violation(
    models: Callable[[str, int], tuple[Table, Path]], tmp_path: Path, name: str, seed: int
) -> None:
    table, model_dir = models(name, seed)
    result = run_drift(tmp_path, model_dir, [csv_file(table.validation)])
    assert result["violations"] == []
    assert result["summary"] == "drift: 0 violation(s) in 0 feature(s)"


def _shifted(table: Table, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """A copy of the held-out rows with two number columns and (when it has one) a text column shifted."""
    frame = table.validation.copy()
    features = [name for name in frame.columns if name != TARGET]
    numbers = [name for name in features if name not in table.categories]
    rng = np.random.default_rng(seed)
    shifted = list(rng.choice(numbers, size=2, replace=False))
    for name in shifted:
        values = frame[name].astype(float)
        frame[name] = values + 1.5 * values.std()
    if table.categories:
        name = table.categories[int(rng.integers(len(table.categories)))]
        frequent = frame[name].value_counts().index[0]
        frame[name] = frame[name].where(frame[name].isna(), frequent)  # every present value the same
        shifted.append(name)
    return frame, shifted


@pytest.mark.parametrize("seed", SPLIT_SEEDS[:2])
@pytest.mark.parametrize("name", sorted(tabularsupport.TABLES))
def test_a_shifted_copy_names_exactly_the_shifted_columns(
    models: Callable[[str, int], tuple[Table, Path]], tmp_path: Path, name: str, seed: int
) -> None:
    table, model_dir = models(name, seed)
    frame, shifted = _shifted(table, seed)
    result = run_drift(tmp_path, model_dir, [csv_file(frame)])
    named = {violation["feature_name"] for violation in result["violations"]}
    assert named == set(shifted)
    assert {violation["constraint_check_type"] for violation in result["violations"]} == {
        "baseline_drift_check"
    }
    count, names = contract.parse_drift_summary(result["summary"]) or (None, None)
    assert count == len(result["violations"]) and set(names or []) == set(shifted)


@pytest.fixture(scope="module")
def titanic(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """The Titanic recipe's model of 70 % of data/titanic.csv, and the other 30 %."""
    whole = pd.read_csv(TITANIC_CSV)
    train, held_out = train_test_split(whole, test_size=0.3, random_state=5, stratify=whole["Survived"])
    root = tmp_path_factory.mktemp("titanic")
    model_dir = trained(root, {"train": [csv_file(train, "train.csv")]}, {"recipe": "titanic"})
    return train, held_out, model_dir


def test_titanic_held_out_passengers_give_no_violation_and_shifted_ones_are_named(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    assert run_drift(tmp_path / "same", model_dir, [csv_file(held_out)])["violations"] == []
    shifted = held_out.copy()
    shifted["Age"] = shifted["Age"] + 20
    shifted["Sex"] = "female"
    result = run_drift(tmp_path / "shifted", model_dir, [csv_file(shifted)])
    assert {violation["feature_name"] for violation in result["violations"]} == {"Age", "Sex"}
    assert result["summary"].startswith("drift: 2 violation(s) in 2 feature(s): ")


def _capture(body: str, content_type: str, encoding: str) -> str:
    data = base64.b64encode(body.encode()).decode() if encoding == "BASE64" else body
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data,
                                  "encoding": encoding},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                   "data": '{"predictions": []}', "encoding": "JSON"},
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2024-05-01T10:00:00Z"},
            "eventVersion": "0",
        }
    )  # fmt: skip


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def capture_lines(frame: pd.DataFrame, extra_key: str | None = None) -> str:
    """One captured request per row, in turn CSV, JSON and base64 JSON Lines."""
    lines = []
    for index, (record, (_, row)) in enumerate(zip(_records(frame), frame.iterrows(), strict=True)):
        if extra_key:
            record = {**record, extra_key: "x"}
        if index % 3 == 0:
            lines.append(
                _capture(pd.DataFrame([row]).to_csv(index=False, header=False).strip(), "text/csv", "CSV")
            )
        elif index % 3 == 1:
            lines.append(_capture(json.dumps(record), "application/json", "JSON"))
        else:
            lines.append(_capture(json.dumps(record), "application/jsonlines", "BASE64"))
    return "\n".join(lines) + "\n"


def test_captured_requests_read_as_the_table_reads(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    traffic = held_out.drop(columns=["Survived"])
    from_captures = run_drift(tmp_path / "captures", model_dir,
                              [("2024/05/01/10/capture.jsonl", capture_lines(traffic).encode())])  # fmt: skip
    from_table = run_drift(tmp_path / "table", model_dir, [csv_file(traffic)])
    assert from_captures["violations"] == from_table["violations"] == []
    read = [json.loads((tmp_path / side / "processing/drift/statistics.json").read_text())
            for side in ("captures", "table")]  # fmt: skip
    assert read[0] == read[1]


def test_captured_json_records_with_unknown_keys_are_extra_columns(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    lines = capture_lines(held_out.drop(columns=["Survived"]), extra_key="client_id")
    result = run_drift(tmp_path, model_dir, [("capture.jsonl", lines.encode())])
    assert [(v["feature_name"], v["constraint_check_type"]) for v in result["violations"]] == [
        ("client_id", "extra_column_check")
    ]


def test_requests_serve_refused_count_against_their_column(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    records = _records(held_out.drop(columns=["Survived"]))
    for record in records[: len(records) // 4]:
        record["Age"] = "unknown"
    lines = "\n".join(_capture(json.dumps(record), "application/json", "JSON") for record in records)
    result = run_drift(tmp_path, model_dir, [("capture.jsonl", lines.encode())])
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in result["violations"]}
    assert ("Age", "data_type_check") in kinds


def _failure(root: Path) -> tuple[int, str]:
    code = run(contract.DRIFT_ENTRY, check_drift, [], ProcessingPaths(root))
    return code, (root / "output" / "message").read_text()


def test_a_capture_with_an_unknown_encoding_fails_naming_it(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    good = capture_lines(held_out.drop(columns=["Survived"]).head(3))
    bad = _capture("3,male", "text/csv", "GZIP")
    model_files = [(path.name, path.read_bytes()) for path in model_dir.iterdir()]
    processing_root(tmp_path, {"model": model_files, "traffic": [("c.jsonl", (good + bad + "\n").encode())]})
    code, message = _failure(tmp_path)
    assert code == 1
    assert (
        "file 'c.jsonl', line 4: captureData.endpointInput.encoding is 'GZIP', not one of CSV, JSON, BASE64"
        in message
    )
    assert not (tmp_path / "processing" / "drift").exists()
    assert message == (tmp_path / "output" / "failure").read_text()


def test_a_table_with_columns_the_model_does_not_know_fails_naming_them(
    titanic: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, held_out, model_dir = titanic
    frame = held_out.assign(Deck="B", Lifeboat="7")
    model_files = [(path.name, path.read_bytes()) for path in model_dir.iterdir()]
    processing_root(tmp_path, {"model": model_files, "traffic": [csv_file(frame)]})
    code, message = _failure(tmp_path)
    assert code == 1
    assert "the traffic table has column(s) the model does not know: Deck, Lifeboat" in message


def test_without_a_baseline_the_check_says_where_to_get_one(tmp_path: Path) -> None:
    table = tabularsupport.breast_cancer()
    model_dir = trained_on(tmp_path / "model", table, baseline="false")
    assert not (model_dir / "statistics.json").exists()
    model_files = [(path.name, path.read_bytes()) for path in model_dir.iterdir()]
    processing_root(tmp_path / "job", {"model": model_files, "traffic": [csv_file(table.validation)]})
    code, message = _failure(tmp_path / "job")
    assert code == 1
    assert "no data baseline to compare with: the model carries no statistics.json" in message


def test_a_given_baseline_overrides_the_model_s_own(
    models: Callable[[str, int], tuple[Table, Path]], tmp_path: Path
) -> None:
    """constraints.json given with a lower threshold: the same held-out rows now show drift."""
    table, model_dir = models("diabetes", 1)
    constraints = json.loads((model_dir / "constraints.json").read_text())
    constraints["monitoring_config"]["distribution_constraints"].update(
        comparison_threshold=0.0, comparison_method="Simple"
    )
    result = run_drift(tmp_path, model_dir, [csv_file(table.validation)],
                       baseline=[("constraints.json", json.dumps(constraints).encode())])  # fmt: skip
    assert len(result["violations"]) == len(table.validation.columns) - 1


def test_the_tests_are_sample_size_aware() -> None:
    """The same distance is chance for a few rows and drift for many."""
    assert drift.ks_critical(20, 700) > 0.3 > drift.ks_critical(2000, 700)
    assert drift.ks_p_value(0.3, 20, 700) > drift.SIGNIFICANCE > drift.ks_p_value(0.3, 2000, 700)
