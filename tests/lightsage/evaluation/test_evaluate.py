"""The evaluate program in-process: its files in Model Monitor's shapes for each task, the objective metric at
the contract's JSON path, the report, the data baseline, and the failures it names."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
from monitorshapes import CONSTRAINTS, MODEL_QUALITY, STATISTICS, check
from processingsupport import archive, csv_file, processing_root, trained_on
from sklearn import metrics as sk

from lightsage.contract.processing import ProcessingPaths, run
from lightsage.evaluation import contract
from lightsage.evaluation.job import evaluate
from lightsage.tasks import Task

import tabularsupport
from tabularsupport import TARGET, Table

TABLES = {"binary": "breast_cancer_text", "multiclass": "wine_text", "regression": "diabetes"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Table, Path]]:
    built = {}
    for task, name in TABLES.items():
        table = tabularsupport.TABLES[name]()
        built[task] = table, trained_on(tmp_path_factory.mktemp(name), table)
    return built


def run_evaluate(root: Path, model_dir: Path, table: Table, *arguments: str, **extra: Any) -> int:
    model = [("model.tar.gz", archive(model_dir))]
    processing_root(root, {"model": model, "data": [csv_file(table.validation)], **extra})
    return run(contract.EVALUATE_ENTRY, evaluate, list(arguments), ProcessingPaths(root))


def json_path(document: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        document = document[key]
    return document


@pytest.mark.parametrize("task", sorted(TABLES))
def test_evaluate_writes_model_quality_report_and_baseline(
    models: dict[str, tuple[Table, Path]], tmp_path: Path, task: str
) -> None:
    table, model_dir = models[task]
    assert run_evaluate(tmp_path, model_dir, table, "--task", task) == 0
    output = tmp_path / "processing" / "evaluation"
    quality = json.loads((output / "evaluation.json").read_text())
    check(quality, MODEL_QUALITY)
    goal = contract.objective(Task(task))
    value = json_path(quality, goal.json_path)
    assert isinstance(value, float) and math.isfinite(value)
    assert quality["dataset"]["item_count"] == len(table.validation)
    # against the metrics.json train wrote for the same validation rows
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert value == pytest.approx(metrics["validation"][goal.metric], abs=1e-6)
    check(json.loads((output / "baseline" / "statistics.json").read_text()), STATISTICS)
    check(json.loads((output / "baseline" / "constraints.json").read_text()), CONSTRAINTS)
    assert (output / "baseline" / "statistics.json").read_text() == json.dumps(
        json.loads((model_dir / "statistics.json").read_text()), indent=2
    ) + "\n"
    message = (tmp_path / "output" / "message").read_text()
    assert message.startswith(f"evaluate: {goal.metric} {value} on {len(table.validation)} row(s)")
    assert not (tmp_path / "output" / "failure").exists()


def test_binary_metrics_agree_with_scikit_learn(
    models: dict[str, tuple[Table, Path]], tmp_path: Path
) -> None:
    table, model_dir = models["binary"]
    assert run_evaluate(tmp_path, model_dir, table) == 0
    values = json.loads((tmp_path / "processing/evaluation/evaluation.json").read_text())[
        "binary_classification_metrics"
    ]
    matrix = values["confusion_matrix"]
    classes = sorted(table.validation[TARGET].unique())
    actual = (table.validation[TARGET] == classes[1]).to_numpy()
    positives = matrix[classes[1]][classes[0]] + matrix[classes[1]][classes[1]]
    assert positives == actual.sum()
    recall = matrix[classes[1]][classes[1]] / positives
    assert values["recall"]["value"] == pytest.approx(recall, abs=1e-6)
    assert values["true_positive_rate"]["value"] == values["recall"]["value"]
    assert values["accuracy_best_constant_classifier"]["value"] == pytest.approx(
        max(actual.mean(), 1 - actual.mean()), abs=1e-6
    )
    assert isinstance(values["auc"]["standard_deviation"], str) == (len(actual) < 200)
    fpr, tpr = (values["receiver_operating_characteristic_curve"][key]
                for key in ("false_positive_rates", "true_positive_rates"))  # fmt: skip
    assert sk.auc(fpr, tpr) == pytest.approx(values["auc"]["value"], abs=0.01)


def _svgs(page: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, flags=re.DOTALL)]


@pytest.mark.parametrize(
    ("task", "titles"),
    [
        (
            "binary",
            {"ROC curve", "Precision-recall", "Calibration", "Confusion matrix", "Feature importance"},
        ),
        (
            "multiclass",
            {"ROC curve", "Precision-recall", "Calibration", "Confusion matrix", "Feature importance"},
        ),
        (
            "regression",
            {"Residuals", "Residuals' distribution", "Predicted against actual", "Feature importance"},
        ),
    ],
)
def test_the_report_renders_the_task_s_charts(
    models: dict[str, tuple[Table, Path]], tmp_path: Path, task: str, titles: set[str]
) -> None:
    table, model_dir = models[task]
    assert run_evaluate(tmp_path, model_dir, table) == 0
    page = (tmp_path / "processing/evaluation/report/index.html").read_text()
    drawn = {svg.findtext("{http://www.w3.org/2000/svg}title", "").split(" (")[0] for svg in _svgs(page)}
    assert titles <= {title.removesuffix(" (total gain)") for title in drawn}
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_a_training_table_given_makes_the_baseline(
    models: dict[str, tuple[Table, Path]], tmp_path: Path
) -> None:
    table, model_dir = models["regression"]
    code = run_evaluate(tmp_path, model_dir, table, baseline=[csv_file(table.train, "train.csv")])
    assert code == 0
    statistics = json.loads((tmp_path / "processing/evaluation/baseline/statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == len(table.train)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("no_target", "channel 'data' has no target column 'target' to evaluate against"),
        ("missing_column", "channel 'data' lacks column(s) the model reads: age"),
        ("bad_value", "column 'bmi': 'heavy' is not a number"),
        ("wrong_task", "the model's task is regression but the job expects binary (--task)"),
        ("garbage_model", "model.tar.gz is not a readable gzipped tar archive"),
        ("bad_argument", "evaluate: unrecognized arguments: --fast"),
    ],
)
def test_a_failure_names_its_reason_and_writes_nothing(
    models: dict[str, tuple[Table, Path]], tmp_path: Path, change: str, expected: str
) -> None:
    table, model_dir = models["regression"]
    validation = table.validation.copy()
    arguments = []
    model = archive(model_dir)
    if change == "no_target":
        validation = validation.drop(columns=[TARGET])
    elif change == "missing_column":
        validation = validation.drop(columns=["age"])
    elif change == "bad_value":
        validation["bmi"] = validation["bmi"].astype(object)
        validation.loc[3, "bmi"] = "heavy"
    elif change == "wrong_task":
        arguments = ["--task", "binary"]
    elif change == "garbage_model":
        model = b"not a tar archive"
    elif change == "bad_argument":
        arguments = ["--fast"]
    processing_root(tmp_path, {"model": [("model.tar.gz", model)], "data": [csv_file(validation)]})
    assert run(contract.EVALUATE_ENTRY, evaluate, arguments, ProcessingPaths(tmp_path)) == 1
    message = (tmp_path / "output" / "message").read_text()
    assert expected in message, message
    assert message == (tmp_path / "output" / "failure").read_text()
    assert not (tmp_path / "processing" / "evaluation").exists()


def test_one_class_only_cannot_give_an_auc(models: dict[str, tuple[Table, Path]], tmp_path: Path) -> None:
    table, model_dir = models["binary"]
    only = table.validation[table.validation[TARGET] == table.validation[TARGET].iloc[0]]
    processing_root(tmp_path, {"model": [("model.tar.gz", archive(model_dir))], "data": [csv_file(only)]})
    assert run(contract.EVALUATE_ENTRY, evaluate, [], ProcessingPaths(tmp_path)) == 1
    assert "auc needs rows of both classes" in (tmp_path / "output" / "message").read_text()
