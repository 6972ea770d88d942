"""The `tabular` recipe through the real image: `docker run IMAGE train` on tables scikit-learn ships (and one
derived with text categories and string labels), written as CSV and as Parquet channels; `serve` on the
model (nginx -> gunicorn -> Flask); the served answers scored against a default LGBMClassifier/LGBMRegressor
fitted here on the same split. Also the image's default recipe and a failure reason from inside the image.

One train run per table and format, one `serve` per table: the whole file runs in about a minute.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lightsage.model.artifact import ARTIFACT_FILES
from lightsage.recipes.tabular import Tabular

from tabularsupport import (
    TABLES,
    TARGET,
    Table,
    baseline_scores,
    compare,
    json_records,
    served_scores,
    wine,
)
from testsupport import Server, docker, make_ml_root, start_server

pytestmark = pytest.mark.container

TABULAR = {"recipe": "tabular", "target": TARGET}
CONTAINER_TABLES = ("breast_cancer", "wine", "diabetes", "breast_cancer_text")
FORMATS = ("csv", "parquet")
OBJECTIVE_LINE = {
    "binary": "validation:auc=",
    "multiclass": "validation:log_loss=",
    "regression": "validation:rmse=",
}


def run_train(image: str, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return docker(
        "run", "--rm", "--network", "none", "-v", f"{root}:/opt/ml", *extra, image, "train",
        check=False, timeout=300,
    )  # fmt: skip


def output_of(run: subprocess.CompletedProcess[str]) -> str:
    return (run.stdout + run.stderr)[-4000:]


@dataclass
class Trained:
    table: Table
    roots: dict[str, Path]
    runs: dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module", params=CONTAINER_TABLES)
def trained(request: pytest.FixtureRequest, image: str, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The table trained twice in the image: from CSV channels and from Parquet channels."""
    table = TABLES[request.param]()
    roots, runs = {}, {}
    for file_format in FORMATS:
        root = tmp_path_factory.mktemp(f"{table.name}-{file_format}") / "ml"
        make_ml_root(root, TABULAR, table.channels(file_format))
        roots[file_format], runs[file_format] = root, run_train(image, root)
    return Trained(table, roots, runs)


@pytest.fixture(scope="module")
def served(trained: Trained, image: str) -> Iterator[tuple[Trained, Server]]:
    """`serve` on the model trained from Parquet; one container per table, removed afterwards."""
    if trained.runs["parquet"].returncode != 0:
        pytest.fail(f"train failed:\n{output_of(trained.runs['parquet'])}")
    server = start_server(image, trained.roots["parquet"], "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        server.wait_healthy(90)
        yield trained, server
    finally:
        docker("rm", "-f", server.name, check=False)


def post(server: Server, body: str, content_type: str) -> list[dict[str, Any]]:
    status, media_type, answer = server.request(
        "POST", "/invocations", body, {"Content-Type": content_type, "Accept": "application/json"}
    )
    assert status == 200, answer[:500]
    assert media_type.startswith("application/json")
    predictions: list[dict[str, Any]] = json.loads(answer)["predictions"]
    return predictions


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


# -- train --------------------------------------------------------------------------------------------------


def test_train_writes_the_model_from_csv_and_from_parquet(trained: Trained) -> None:
    table = trained.table
    for file_format in FORMATS:
        run, model_dir = trained.runs[file_format], trained.roots[file_format] / "model"
        assert run.returncode == 0, output_of(run)
        assert not (trained.roots[file_format] / "output" / "failure").exists()
        assert sorted(path.name for path in model_dir.iterdir()) == sorted(ARTIFACT_FILES)
        metrics = read_json(model_dir / "metrics.json")
        assert metrics["task"] == table.task and metrics["classes"] == table.classes
        assert metrics["recipe"] == {"name": "tabular", "version": Tabular.version}
        assert metrics["validation"]["rows"] == len(table.validation)
        assert metrics["validation_source"] == "validation channel"
        manifest = read_json(model_dir / "manifest.json")
        assert manifest["categorical_features"] == list(table.categories)
        assert OBJECTIVE_LINE[table.task] in run.stdout
    # CSV text and Parquet values are read by the same rules: both give the same model.
    csv_model, parquet_model = (trained.roots[f] / "model" for f in FORMATS)
    for name in ("model.txt", "recipe_state.json", "manifest.json"):
        assert (csv_model / name).read_text() == (parquet_model / name).read_text(), name


# -- serve --------------------------------------------------------------------------------------------------


def test_served_answers_are_as_good_as_default_lightgbm(served: tuple[Trained, Server]) -> None:
    trained, server = served
    table = trained.table
    rows = table.features(table.validation)
    from_csv = post(server, rows.to_csv(index=False), "text/csv")
    from_json = post(server, json.dumps({"instances": json_records(rows)}), "application/json")
    assert from_csv == from_json

    lines = compare(table, served_scores(table, from_csv), baseline_scores(table))
    print("\n".join(lines))
    assert not [line for line in lines if "FALLS SHORT" in line], lines

    if table.task != "regression":
        labels = [answer["label"] for answer in from_csv]
        # Labels are the target's own values (0/1, or 'benign'/'malignant'), not codes.
        assert set(labels) == set(table.classes)
        assert all(type(label) is type(table.classes[0]) for label in labels)


def test_single_rows_get_the_answers_of_the_batch(served: tuple[Trained, Server]) -> None:
    trained, server = served
    rows = trained.table.features(trained.table.validation)
    batch = post(server, rows.to_csv(index=False), "text/csv")
    for position in range(5):
        single = post(server, rows.iloc[[position]].to_csv(index=False), "text/csv")
        # batches may be answered by the compiled trees once they are ready: equal within 1e-9 relative
        assert_same_answers(single, [batch[position]])


def assert_same_answers(got: Any, expected: Any) -> None:
    """The same answers: the same labels and keys, and numbers within 1e-9 relative."""
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys()
        for key in expected:
            assert_same_answers(got[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for got_item, expected_item in zip(got, expected, strict=True):
            assert_same_answers(got_item, expected_item)
    else:
        assert got == expected


@pytest.mark.parametrize("trained", ["breast_cancer_text"], indirect=True)
def test_unseen_categories_are_scored_as_missing(served: tuple[Trained, Server]) -> None:
    trained, server = served
    rows = trained.table.features(trained.table.validation).head(30)
    for count in (30, 1):  # the vectorised path and the single-row path
        subset = rows.head(count)
        unseen = post(server, subset.assign(size="enormous").to_csv(index=False), "text/csv")
        missing = post(server, subset.assign(size=None).to_csv(index=False), "text/csv")
        assert_same_answers(unseen, missing)


# -- the image's default recipe, and a failure from inside the image ----------------------------------------


def test_the_image_default_is_tabular_and_its_variable_changes_it(image: str, tmp_path: Path) -> None:
    """The image is generic: a table trains with only `target`. A derived image (or -e) names another."""
    environment = docker("image", "inspect", image, "--format", "{{json .Config.Env}}").stdout
    assert "BYOC_DEFAULT_RECIPE=tabular" in json.loads(environment)

    table = wine()
    default = make_ml_root(
        tmp_path / "default" / "ml", {"target": TARGET}, table.channels("csv"), recipe=None
    )
    run = run_train(image, default)
    assert run.returncode == 0, output_of(run)
    recipe = read_json(default / "model" / "manifest.json")["recipe"]
    assert (recipe["name"], recipe["version"], recipe["source"]["origin"]) == (
        "tabular",
        Tabular.version,
        "image",
    )

    changed = make_ml_root(
        tmp_path / "changed" / "ml", {"target": TARGET}, table.channels("csv"), recipe=None
    )
    run = run_train(image, changed, "-e", "BYOC_DEFAULT_RECIPE=titanic")
    assert run.returncode == 1, output_of(run)
    reason = (changed / "output" / "failure").read_text()
    assert reason.startswith(
        "the data lacks column(s) recipe 'titanic' needs: Pclass, Name, Sex, Age, SibSp, Parch, Ticket, "
        "Fare, Cabin, Embarked; for any table, use the hyperparameter recipe=tabular (the table has: "
    )
    assert list((changed / "model").iterdir()) == []


def test_a_one_class_target_fails_with_the_reason_in_the_failure_file(image: str, tmp_path: Path) -> None:
    frame = wine().train.assign(**{TARGET: "Barolo"})
    root = make_ml_root(
        tmp_path / "ml", TABULAR, {"train": [("train.csv", frame.to_csv(index=False).encode())]}
    )
    run = run_train(image, root)
    assert run.returncode == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith(
        "target column 'target' has one class only ('Barolo' in all 124 labelled rows): "
        "a model needs at least two classes to learn from"
    )
    assert "FAILED: target column 'target' has one class only" in run.stderr
    assert list((root / "model").iterdir()) == []


# -- values a user's export holds: markers, empty partitions, infinities ----------------------------------


def test_na_cells_and_empty_partitions_train_in_the_image_and_na_serves_as_missing(
    image: str, tmp_path: Path
) -> None:
    """An R-style export (`NA` in number columns) written by Spark (header-only and zero-row files)."""
    table = wine()
    rows = table.train.astype({"alcohol": object, "hue": object})
    rows.loc[[3, 50], "alcohol"] = "NA"
    rows.loc[7, "hue"] = "null"
    zero_rows = io.BytesIO()
    table.train.head(0).to_parquet(zero_rows, index=False)
    channels = {
        "train": [
            ("part-00000.csv", rows.to_csv(index=False).encode()),
            ("part-00001.csv", table.train.head(0).to_csv(index=False).encode()),
            ("part-00002.parquet", zero_rows.getvalue()),
        ],
        "validation": [("validation.csv", table.validation.to_csv(index=False).encode())],
    }
    root = make_ml_root(tmp_path / "ml", TABULAR, channels)
    run = run_train(image, root)
    assert run.returncode == 0, output_of(run)
    assert (
        "channel 'train', column 'alcohol': read 2 missing-value markers as missing ('NA' 2): 'NA' (channel "
        "'train', file 'part-00000.csv', row 4), 'NA' (row 51)" in run.stdout
    )
    assert "channel 'train': skipped 2 file(s) without rows" in run.stdout
    inputs = read_json(root / "model" / "manifest.json")["inputs"]
    assert {"name": "alcohol", "type": "number", "role": "feature"} in inputs
    assert read_json(root / "model" / "metrics.json")["validation"]["accuracy"] > 0.9
    server = start_server(image, root, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    try:
        server.wait_healthy(90)
        features = table.features(table.validation).head(5).astype({"alcohol": object})
        as_na = post(server, features.assign(alcohol="NA").to_csv(index=False), "text/csv")
        assert as_na == post(server, features.assign(alcohol="").to_csv(index=False), "text/csv")
    finally:
        docker("rm", "-f", server.name, check=False)


def test_a_parquet_infinity_fails_naming_file_row_and_column_without_a_traceback(
    image: str, tmp_path: Path
) -> None:
    frame = wine().train
    frame.loc[4, "alcohol"] = float("inf")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    root = make_ml_root(tmp_path / "ml", TABULAR, {"train": [("train.parquet", buffer.getvalue())]})
    run = run_train(image, root)
    assert run.returncode == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith(
        "column 'alcohol' holds numbers and 1 value that is not a finite number: inf (channel 'train', "
        "file 'train.parquet', row 5)"
    )
    assert "Traceback" not in run.stderr
    assert list((root / "model").iterdir()) == []
