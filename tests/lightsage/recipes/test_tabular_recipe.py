"""The `tabular` recipe on the host: quality against default LightGBM, task inference and its overrides,
unusable targets, which columns it reads, and unseen categories at serve time. `train` runs as the image runs
it (`lightsage.training.main.main` over an /opt/ml tree) and answers come from
`lightsage.serving.app.create_app`.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flask.testing import FlaskClient
from sklearn.metrics import roc_auc_score

from lightsage.data.values import MISSING_MARKERS
from lightsage.model import artifact
from lightsage.serving.app import create_app
from lightsage.training.main import main

from tabularsupport import (
    TABLES,
    TARGET,
    WINE_CULTIVARS,
    Table,
    baseline_scores,
    breast_cancer_with_text,
    compare,
    json_records,
    served_scores,
    table_bytes,
    wine,
    wine_with_text,
)
from testsupport import make_ml_root

TABULAR = {"recipe": "tabular", "target": TARGET}


def run_train(
    root: Path,
    hyperparameters: dict[str, str],
    train_rows: pd.DataFrame,
    validation_rows: pd.DataFrame | None = None,
    file_format: str = "csv",
) -> tuple[int, Path]:
    """`train` as the container runs it; returns its exit code and the /opt/ml root."""
    channels = {"train": [(f"train.{file_format}", table_bytes(train_rows, file_format))]}
    if validation_rows is not None:
        channels["validation"] = [(f"validation.{file_format}", table_bytes(validation_rows, file_format))]
    make_ml_root(root, hyperparameters, channels)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        code = main()
    return code, root


def failure_reason(root: Path) -> str:
    return (root / "output" / "failure").read_text().splitlines()[0]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def predictions(client: FlaskClient, body: str | list[dict[str, Any]]) -> list[Any]:
    """The answers to CSV text (a str) or JSON records (a list), asserting a 200."""
    if isinstance(body, list):
        response = client.post("/invocations", json=body)
    else:
        response = client.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    answers: list[Any] = response.get_json()["predictions"]
    return answers


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Table, Path]:
    table = breast_cancer_with_text()
    code, root = run_train(
        tmp_path_factory.mktemp("text") / "ml", TABULAR, table.train, table.validation, "parquet"
    )
    assert code == 0
    return table, root / "model"


# -- quality -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TABLES))
def test_the_recipe_is_within_tolerance_of_default_lightgbm(name: str, tmp_path: Path) -> None:
    """Trained from Parquet (pandas categories and str columns included), answers served as JSON."""
    table = TABLES[name]()
    code, root = run_train(tmp_path / "ml", TABULAR, table.train, table.validation, "parquet")
    assert code == 0
    metrics = read_json(root / "model" / "metrics.json")
    assert metrics["task"] == table.task and metrics["classes"] == table.classes
    answers = predictions(
        create_app(root / "model").test_client(), json_records(table.features(table.validation))
    )
    lines = compare(table, served_scores(table, answers), baseline_scores(table))
    print("\n".join(lines))
    assert not [line for line in lines if "FALLS SHORT" in line], lines


def test_a_text_target_written_by_pandas_3_trains_from_parquet(tmp_path: Path) -> None:
    """pandas 3 writes its `str` columns as Arrow large_string: the target column must read as text too."""
    table = wine_with_text()
    schema = pq.read_schema(io.BytesIO(table_bytes(table.train, "parquet")))
    assert str(schema.field(TARGET).type) == "large_string"
    code, root = run_train(tmp_path / "ml", TABULAR, table.train, table.validation, "parquet")
    assert code == 0, failure_reason(root)
    assert read_json(root / "model" / "metrics.json")["classes"] == ["Barbera", "Barolo", "Grignolino"]


# -- task inference and labels -------------------------------------------------------------------------------


def wine_with_target(values: Any) -> pd.DataFrame:
    frame = wine().train
    return frame.assign(**{TARGET: values(frame) if callable(values) else values})


@pytest.mark.parametrize(
    ("target", "task", "classes"),
    [
        (lambda f: (f[TARGET] == 1).astype(int), "binary", [0, 1]),
        (lambda f: np.where(f[TARGET] == 1, "yes", "no"), "binary", ["no", "yes"]),
        (lambda f: (f[TARGET] + 1).astype(float), "multiclass", [1, 2, 3]),
        (
            lambda f: f[TARGET].map({0: "Adelie", 1: "Gentoo", 2: "Chinstrap"}),
            "multiclass",
            ["Adelie", "Chinstrap", "Gentoo"],
        ),
        (lambda f: f["proline"] / 100, "regression", []),
        (lambda f: f["magnesium"], "regression", []),  # integers, but more than 20 distinct values
    ],
    ids=["0 or 1", "yes or no", "1.0, 2.0, 3.0", "species names", "floats", "many integers"],
)
def test_the_task_is_inferred_and_labels_keep_their_values(
    target: Any, task: str, classes: list[Any], tmp_path: Path
) -> None:
    frame = wine_with_target(target)
    code, root = run_train(tmp_path / "ml", TABULAR, frame)
    assert code == 0, failure_reason(root)
    metrics = read_json(root / "model" / "metrics.json")
    assert (metrics["task"], metrics["classes"]) == (task, classes)
    assert "hold-out" in metrics["validation_source"]
    answers = predictions(
        create_app(root / "model").test_client(), frame.drop(columns=[TARGET]).to_csv(index=False)
    )
    if task == "regression":
        assert all(isinstance(answer["prediction"], float) for answer in answers)
        return
    labels = [answer["label"] for answer in answers]
    assert set(labels) <= set(classes) and len(set(labels)) > 1
    assert all(type(label) is type(classes[0]) for label in labels)
    # Training rows are learnt well: the labels are the rows' own values, not codes.
    assert np.mean(np.array(labels, dtype=object) == frame[TARGET].to_numpy(dtype=object)) > 0.9


def test_task_can_be_overridden(tmp_path: Path) -> None:
    frame = wine_with_target(lambda f: f[TARGET])  # integers 0, 1, 2: multiclass by default
    code, root = run_train(tmp_path / "regression" / "ml", {**TABULAR, "task": "regression"}, frame)
    assert code == 0, failure_reason(root)
    metrics = read_json(root / "model" / "metrics.json")
    assert (metrics["task"], metrics["classes"]) == ("regression", [])
    assert set(metrics["validation"]) >= {"rmse", "r2"}
    row = frame.drop(columns=[TARGET]).head(1).to_csv(index=False)
    assert set(predictions(create_app(root / "model").test_client(), row)[0]) == {"prediction"}

    binary = wine_with_target(lambda f: np.where(f[TARGET] == 1, "yes", "no"))
    code, root = run_train(tmp_path / "multiclass" / "ml", {**TABULAR, "task": "multiclass"}, binary)
    assert code == 0, failure_reason(root)
    assert read_json(root / "model" / "metrics.json")["task"] == "multiclass"
    answer = predictions(create_app(root / "model").test_client(), row)[0]
    assert set(answer["probabilities"]) == {"no", "yes"}


@pytest.mark.parametrize(
    ("target", "task", "reason"),
    [
        (
            lambda f: "yes",
            "auto",
            "target column 'target' has one class only ('yes' in all 124 labelled rows)",
        ),
        (lambda f: None, "auto", "target column 'target' has no values: every one of its 124 rows is empty"),
        (
            lambda f: [f"patient {i % 101}" for i in range(len(f))],
            "auto",
            "target column 'target' holds 101 distinct text values, too many classes (at most 100)",
        ),
        (lambda f: f[TARGET], "binary", "task=binary needs exactly two classes, but 'target' has 3: 0, 1, 2"),
        (
            lambda f: np.where(f[TARGET] == 1, "yes", "no"),
            "regression",
            "task=regression needs a numeric target, but 'target' holds text such as 'no', 'yes'",
        ),
    ],
    ids=["one class", "all missing", "101 text classes", "binary on 3 classes", "regression on text"],
)
def test_an_unusable_target_fails_with_a_named_reason(
    target: Any, task: str, reason: str, tmp_path: Path
) -> None:
    code, root = run_train(tmp_path / "ml", {**TABULAR, "task": task}, wine_with_target(target))
    assert code == 1
    assert failure_reason(root).startswith(reason)
    assert list((root / "model").iterdir()) == []


# -- which columns the recipe reads --------------------------------------------------------------------------


def test_id_like_and_mostly_unique_columns_are_dropped_with_a_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = wine().train
    rng = np.random.default_rng(5)
    frame.insert(0, "row", np.arange(1, len(frame) + 1))  # distinct ascending integers
    frame.insert(1, "PatientId", rng.permutation(len(frame)) + 1000)  # distinct integers named like an id
    frame["note"] = [f"visit {i} by Dr. {rng.integers(10**6)}" for i in range(len(frame))]  # mostly unique
    frame["shuffled"] = rng.permutation(len(frame))  # distinct integers, neither ascending nor named: kept
    code, root = run_train(tmp_path / "ml", TABULAR, frame)
    assert code == 0, failure_reason(root)
    log = capsys.readouterr().out
    assert "recipe tabular: not using column 'row': it holds distinct integers, like a row id" in log
    assert "recipe tabular: not using column 'PatientId': it holds distinct integers, like a row id" in log
    assert "recipe tabular: not using column 'note': its text is mostly unique, like names or ids" in log
    assert "not using column 'shuffled'" not in log
    manifest = read_json(root / "model" / "manifest.json")
    roles = {column["name"]: column["role"] for column in manifest["inputs"]}
    assert {name for name, role in roles.items() if role == "ignored"} == {"row", "PatientId", "note"}
    assert "shuffled" in manifest["features"] and "row" not in manifest["features"]
    # Requests need not carry the columns the model does not read.
    record = json_records(frame.drop(columns=["row", "PatientId", "note", TARGET]).head(1))
    assert predictions(create_app(root / "model").test_client(), record)[0]["label"] in [0, 1, 2]


def test_categorical_and_ignore_columns_override_the_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = wine().train
    code = np.where(frame[TARGET] == 2, 2.0, np.where(frame["alcohol"] > 13, 1.0, 3.0))
    code[::10] = np.nan  # pandas keeps integers with gaps as float: Parquet stores 1.0, 2.0, 3.0
    frame.insert(0, "code", code)
    hyperparameters = {**TABULAR, "categorical_columns": "code", "ignore_columns": '["ash", "hue"]'}
    status, root = run_train(tmp_path / "ml", hyperparameters, frame, file_format="parquet")
    assert status == 0, failure_reason(root)
    log = capsys.readouterr().out
    assert "not using column 'ash': ignore_columns names it" in log
    assert "not using column 'hue': ignore_columns names it" in log
    manifest = read_json(root / "model" / "manifest.json")
    assert manifest["categorical_features"] == ["code"]
    assert "ash" not in manifest["features"] and "hue" not in manifest["features"]
    learnt = read_json(root / "model" / "recipe_state.json")["categories"]["code"]
    assert sorted(learnt) == [1.0, 2.0, 3.0]  # numbers, not the text '1.0', '2.0', '3.0'

    # The category 2 is the same whether it arrives as CSV text, a JSON integer, float or string.
    client = create_app(root / "model").test_client()
    row = json_records(frame.drop(columns=[TARGET]).head(1))[0]
    csv_text = frame.drop(columns=[TARGET]).head(1).assign(code="2").to_csv(index=False)
    assert "\n2," in csv_text
    as_two = [predictions(client, csv_text)[0]]
    as_two += predictions(client, [{**row, "code": 2}, {**row, "code": 2.0}, {**row, "code": "2"}])
    assert all(answer == as_two[0] for answer in as_two)
    as_missing = predictions(client, [{**row, "code": None}, {**row, "code": 7}])
    assert as_missing[0] == as_missing[1] != as_two[0]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (
            {"categorical_columns": "magnesum"},
            "hyperparameter 'categorical_columns' names column(s) the table does not have: 'magnesum' "
            "(did you mean 'magnesium'?)",
        ),
        (
            {"ignore_columns": '["alcohol", "prolin"]'},
            "hyperparameter 'ignore_columns' names column(s) the table does not have: 'prolin' "
            "(did you mean 'proline'?)",
        ),
        (
            {"ignore_columns": TARGET},
            "the target 'target' cannot be in categorical_columns or ignore_columns",
        ),
        ({"max_categories": "1"}, "hyperparameter 'max_categories': '1' must be between 2 and 1000000"),
        ({"target": "Target"}, "channel 'train' has no target column 'Target' (did you mean 'target'?)"),
    ],
)
def test_column_settings_that_do_not_fit_the_table_are_clear_errors(
    settings: dict[str, str], reason: str, tmp_path: Path
) -> None:
    code, root = run_train(tmp_path / "ml", {**TABULAR, **settings}, wine().train)
    assert code == 1
    assert failure_reason(root).startswith(reason)


def test_ignoring_every_column_leaves_nothing_to_learn(tmp_path: Path) -> None:
    frame = wine().train[["alcohol", "hue", TARGET]]
    code, root = run_train(tmp_path / "ml", {**TABULAR, "ignore_columns": "alcohol,hue"}, frame)
    assert code == 1
    assert failure_reason(root) == (
        "no column is left to learn from (the table has: alcohol, hue, target); "
        "check the target and ignore_columns"
    )


# -- unseen categories ---------------------------------------------------------------------------------------


def test_unseen_categories_are_scored_as_missing(text_model: tuple[Table, Path]) -> None:
    """Documented: a value never seen in training reads as missing, in batches and in single rows."""
    table, model_dir = text_model
    client = create_app(model_dir).test_client()
    rows = table.features(table.validation).head(40)
    unseen = rows.assign(size="enormous", texture="velvet")
    missing = rows.assign(size=None, texture=None)
    known = rows.assign(size="large", texture="rough")
    # 40 rows take the vectorised path, 3 rows transform_row: 3 rows whose answer the two columns change
    answers = [predictions(client, json_records(frame)) for frame in (unseen, known)]
    changed = [row for row, (a, b) in enumerate(zip(*answers, strict=True)) if a != b][:3]
    assert len(changed) == 3
    for batch in (list(range(40)), changed):
        as_unseen = predictions(client, json_records(unseen.iloc[batch]))
        assert as_unseen == predictions(client, json_records(missing.iloc[batch]))
        assert as_unseen == predictions(client, unseen.iloc[batch].to_csv(index=False))
        assert as_unseen != predictions(client, json_records(known.iloc[batch]))
    labels = {answer["label"] for answer in predictions(client, json_records(rows))}
    assert labels == {"benign", "malignant"}


def test_transform_and_transform_row_give_the_same_features(text_model: tuple[Table, Path]) -> None:
    table, model_dir = text_model
    recipe = artifact.load(model_dir).recipe
    rows = table.features(table.validation).head(60).astype({"size": object})
    rows.loc[rows.index[:5], "size"] = "enormous"
    rows.loc[rows.index[5:10], "mean area"] = np.nan
    records = [recipe.schema.typed_record(record) for record in json_records(rows)]  # as serve types them
    frame = pd.DataFrame(records)
    batch = recipe.transform(frame)
    one_by_one = np.array([recipe.transform_row(record) for record in records], dtype=float)
    np.testing.assert_array_equal(batch, one_by_one)
    assert np.isnan(batch[:5, recipe.feature_names().index("size")]).all()


# -- dates and frequency features: train and serve compute the same features ---------------------------------


def shop_visits(rows: int, seed: int) -> pd.DataFrame:
    """Visits whose outcome hangs on the visit's hour and weekday and on how common its shop is, with a few
    missing values: only a model that reads the dates and the shops' frequencies scores well."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-01-01", tz="UTC").value // 10**9
    moments = pd.to_datetime(rng.integers(start, start + 3 * 365 * 86_400, rows), unit="s", utc=True)
    popularity = 1.0 / np.arange(1, 301) ** 1.1
    shops = rng.choice(300, rows, p=popularity / popularity.sum())
    business = (moments.hour >= 9) & (moments.hour < 17) & (moments.day_of_week < 5)
    logit = 2.5 * business + 1.5 * (shops < 10) - 2.0 + rng.normal(0, 0.5, rows)
    amount = rng.normal(50, 10, rows)
    amount[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "when": moments,
            "shop": [f"shop {shop:03d}" for shop in shops],
            "amount": amount,
            TARGET: np.where(logit > 0, "bought", "left"),
        }
    )


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_dates_and_frequencies_are_computed_alike_in_training_and_for_every_request(
    file_format: str, tmp_path: Path
) -> None:
    """Trained from Parquet timestamps or from CSV text; asked with CSV (as pandas writes the timestamps),
    JSON records (ISO 8601 with a `T`) and single rows: the answers score exactly what `train` measured on the
    same validation rows, and that score needs the date parts and the frequencies."""
    train_rows, validation_rows = shop_visits(3000, seed=1), shop_visits(800, seed=2)
    code, root = run_train(tmp_path / "ml", TABULAR, train_rows, validation_rows, file_format)
    assert code == 0, failure_reason(root)
    metrics = read_json(root / "model" / "metrics.json")
    assert {"when.hour", "when.weekday", "when.days", "shop.frequency"} <= set(metrics["features"])
    model = artifact.load(root / "model")
    importance = dict(zip(model.booster.feature_name(), model.booster.feature_importance(), strict=True))
    assert importance["when.hour"] > 0 and importance["when.weekday"] > 0
    client = create_app(root / "model").test_client()
    features = validation_rows.drop(columns=[TARGET])
    as_csv = predictions(client, features.to_csv(index=False))
    records = json_records(features.assign(when=[moment.isoformat() for moment in features["when"]]))
    assert predictions(client, records) == as_csv
    assert [predictions(client, [record])[0] for record in records[:20]] == as_csv[:20]
    positive = metrics["classes"][1]
    served = roc_auc_score(validation_rows[TARGET] == positive, [answer["probability"] for answer in as_csv])
    assert served == pytest.approx(metrics["validation"]["auc"], abs=1e-9)
    assert served > 0.9


# -- numbers, missing-value markers and values that are not numbers ----------------------------------------


def wine_with_cell(column: str, row: int, value: Any, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    frame = (wine().train if frame is None else frame).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize("marker", [*MISSING_MARKERS, " na ", "Null", "NONE"])
def test_a_missing_value_marker_in_a_number_column_is_missing_in_train_and_serve(
    marker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model is the one an empty cell gives, the column stays a number feature, the log says what was
    read as missing; serving reads the marker as missing too, in CSV and JSON."""
    code, marked = run_train(tmp_path / "marked", TABULAR, wine_with_cell("alcohol", 5, marker))
    assert code == 0, failure_reason(marked)
    code, empty = run_train(tmp_path / "empty", TABULAR, wine_with_cell("alcohol", 5, ""))
    assert code == 0, failure_reason(empty)
    assert (marked / "model" / "model.txt").read_bytes() == (empty / "model" / "model.txt").read_bytes()
    manifest = read_json(marked / "model" / "manifest.json")
    assert {"name": "alcohol", "type": "number", "role": "feature"} in manifest["inputs"]
    assert (
        f"channel 'train', column 'alcohol': read 1 missing-value marker as missing ({marker.strip()!r} 1): "
        f"{marker.strip()!r} (channel 'train', file 'train.csv', row 6)" in capsys.readouterr().out
    )
    client = create_app(marked / "model").test_client()
    rows = wine().validation.drop(columns=[TARGET]).head(3)
    as_missing = predictions(client, json_records(rows.assign(alcohol=None)))
    assert predictions(client, json_records(rows.astype(object).assign(alcohol=marker))) == as_missing
    assert predictions(client, rows.astype(object).assign(alcohol=marker).to_csv(index=False)) == as_missing


def test_a_marker_in_a_number_target_drops_the_row_with_a_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, root = run_train(tmp_path / "ml", TABULAR, wine_with_cell(TARGET, 3, "NA"))
    assert code == 0, failure_reason(root)
    assert read_json(root / "model" / "metrics.json")["classes"] == [0, 1, 2]
    log = capsys.readouterr().out
    assert "channel 'train', column 'target': read 1 missing-value marker as missing ('NA' 1)" in log
    assert "channel 'train': dropping 1 row(s) without a 'target' value" in log


@pytest.mark.parametrize(
    ("change", "file_format", "named"),
    [
        (
            lambda f: wine_with_cell("alcohol", 5, "unknown", f),
            "csv",
            "column 'alcohol' holds numbers and 1 value that is not a number: 'unknown' (channel 'train', "
            "file 'train.csv', row 6)",
        ),
        (
            lambda f: f.assign(hue=[f"{v:.2f} units" if i % 40 == 0 else v for i, v in enumerate(f["hue"])]),
            "csv",
            "column 'hue' holds numbers and 4 values that are not a number: '",
        ),
        (
            lambda f: wine_with_cell("alcohol", 7, float("inf"), f).astype({"alcohol": float}),
            "parquet",
            "column 'alcohol' holds numbers and 1 value that is not a finite number: inf (channel 'train', "
            "file 'train.parquet', row 8)",
        ),
    ],
    ids=["one word", "a unit on a few", "Parquet infinity"],
)
def test_a_number_column_with_a_few_non_numbers_is_named_with_the_ways_out(
    change: Any, file_format: str, named: str, tmp_path: Path
) -> None:
    frame = change(wine().train)
    code, root = run_train(tmp_path / "ml", TABULAR, frame, file_format=file_format)
    assert code == 1
    reason = failure_reason(root)
    assert reason.startswith(named), reason
    if "'hue'" in named:  # four values: the first three are named with their rows
        assert "(channel 'train', file 'train.csv', row 1), '" in reason and "(row 81) and 1 more" in reason
    column = named.split("'")[1]
    assert f"categorical_columns={column}, or leave it out with ignore_columns={column}" in reason
    assert list((root / "model").iterdir()) == []
    code, root = run_train(
        tmp_path / "ignored", {**TABULAR, "ignore_columns": column}, frame, None, file_format
    )
    assert code == 0, failure_reason(root)


def test_the_column_can_be_read_as_text_categories_instead(tmp_path: Path) -> None:
    frame = wine_with_cell("magnesium", 5, "unknown")
    code, root = run_train(tmp_path / "ml", {**TABULAR, "categorical_columns": "magnesium"}, frame)
    assert code == 0, failure_reason(root)
    manifest = read_json(root / "model" / "manifest.json")
    assert {"name": "magnesium", "type": "string", "role": "feature"} in manifest["inputs"]
    assert "86.0" in read_json(root / "model" / "recipe_state.json")["categories"]["magnesium"]


@pytest.mark.parametrize(
    ("value", "task", "reason"),
    [
        (
            "unknown",
            "auto",
            "target column 'target' holds numbers and 1 value that is not a number: 'unknown' (channel "
            "'train', file 'train.csv', row 4). Make each a number, or leave it empty",
        ),
        (
            "unknown",
            "regression",
            "task=regression needs a numeric target, but 'target' holds 1 value that is not a number: "
            "'unknown' (channel 'train', file 'train.csv', row 4)",
        ),
    ],
    ids=["auto", "regression"],
)
def test_a_number_target_with_a_few_non_numbers_is_named(
    value: str, task: str, reason: str, tmp_path: Path
) -> None:
    code, root = run_train(tmp_path / "ml", {**TABULAR, "task": task}, wine_with_cell(TARGET, 3, value))
    assert code == 1
    assert failure_reason(root).startswith(reason), failure_reason(root)


@pytest.mark.parametrize("infinity", [float("inf"), float("-inf")])
def test_an_infinity_in_a_parquet_target_is_named_with_file_row_and_column(
    infinity: float, tmp_path: Path
) -> None:
    frame = wine().train.astype({TARGET: float})
    frame.loc[9, TARGET] = infinity
    code, root = run_train(tmp_path / "ml", TABULAR, frame, file_format="parquet")
    assert code == 1
    assert failure_reason(root) == (
        f"channel 'train', file 'train.parquet', row 10, target column 'target': {infinity!r} is not a "
        "finite number (leave the field empty when unknown)"
    )


def test_parquets_other_types_are_each_read_by_the_one_value_rule(tmp_path: Path) -> None:
    """Integers of every width (also beyond float64's exact range), decimals and half floats are numbers;
    booleans are text (their ISO form), as JSON and CSV requests send them; dates and timestamps are read as
    dates by the one date rule."""
    frame = wine().train
    rows = len(frame)
    odd = {
        "int8": pa.array(frame["magnesium"].astype("int8")),
        "uint64": pa.array([2**64 - 1 - 2**40 * i for i in range(rows)], pa.uint64()),
        "decimal": pa.array([decimal.Decimal(f"{v:.2f}") for v in frame["hue"]], pa.decimal128(12, 2)),
        "half": pa.array(frame["ash"].astype("float16")),
        "flag": pa.array(frame["alcohol"] > 13),
        "day": pa.array([datetime.date(2024, 1, 1 + i % 3) for i in range(rows)]),
        "moment": pa.array(
            [datetime.datetime(2024, 1, 1, i % 3) for i in range(rows)], pa.timestamp("us", tz="UTC")
        ),
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, column in odd.items():
        table = table.append_column(name, column)
    root = tmp_path / "ml"
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    make_ml_root(root, TABULAR, {"train": [("train.parquet", buffer.getvalue())]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        assert main() == 0, failure_reason(root)
    kinds = {
        column["name"]: column["type"] for column in read_json(root / "model" / "manifest.json")["inputs"]
    }
    assert {name: kinds[name] for name in odd} == {
        "int8": "number",
        "uint64": "number",
        "decimal": "number",
        "half": "number",
        "flag": "string",
        "day": "string",
        "moment": "string",
    }
    state = read_json(root / "model" / "recipe_state.json")
    assert sorted(state["categories"]) == ["flag"] and sorted(state["categories"]["flag"]) == [
        "false",
        "true",
    ]
    assert state["timestamps"] == {"day": {"hour": False}, "moment": {"hour": True}}
    record = json_records(frame.drop(columns=[TARGET]).head(1))[0]
    record.update(
        int8=100, uint64=2**64 - 1, decimal="0.5", half=2.5, flag=True, day="2024-01-02", moment=None
    )
    assert predictions(create_app(root / "model").test_client(), [record])[0]["label"] in (0, 1, 2)


# -- holding out a validation split --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("single", "hint"),
    [
        ("Nebbiolo", ""),
        ("NA", "('NA' reads as a missing label only in a number target: leave the cell empty"),
    ],
)
def test_a_class_with_a_single_row_is_named_with_every_class_count(
    single: str, hint: str, tmp_path: Path
) -> None:
    frame = wine_with_target(lambda f: f[TARGET].map(dict(enumerate(WINE_CULTIVARS))))
    frame.loc[0, TARGET] = single
    code, root = run_train(tmp_path / "ml", TABULAR, frame)
    assert code == 1
    counts = frame[TARGET].value_counts()
    listed = ", ".join(f"{name!r} {counts[name]}" for name in sorted(counts.index))
    reason = failure_reason(root)
    assert reason.startswith(
        "channel 'train' is too small to hold out a stratified validation split: a single labelled row of "
        f"class {single!r} (rows per class: {listed}); every class needs at least 2 rows. Add rows of such a "
        "class, remove its rows, or provide a 'validation' channel"
    ), reason
    assert hint in reason
    code, root = run_train(
        tmp_path / "validated",
        TABULAR,
        frame,
        wine_with_target(lambda f: f[TARGET].map(dict(enumerate(WINE_CULTIVARS)))).head(30),
    )
    assert code == 0, failure_reason(root)


def test_a_hold_out_too_small_for_every_class_names_the_classes_and_the_fraction(tmp_path: Path) -> None:
    frame = wine_with_target(lambda f: f[TARGET].map(dict(enumerate(WINE_CULTIVARS))))
    frame = frame.groupby(TARGET).head(4).head(10)
    code, root = run_train(tmp_path / "ml", TABULAR, frame)
    assert code == 1
    counts = frame[TARGET].value_counts()
    listed = ", ".join(f"{name!r} {counts[name]}" for name in sorted(counts.index))
    assert failure_reason(root) == (
        "channel 'train' is too small to hold out a stratified validation split: validation_fraction=0.2 of "
        f"10 labelled rows holds out 2, fewer than the 3 classes (rows per class: {listed}); raise "
        "validation_fraction or provide a 'validation' channel"
    )


# -- which rule chose the task -------------------------------------------------------------------------------


def test_the_log_and_metrics_say_which_rule_chose_the_task_and_how_to_override_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An integer target with 16 values (like years of education) is read as classes, and says so."""
    years = wine_with_target(lambda f: pd.qcut(f["alcohol"].rank(method="first"), 16, labels=False) + 1)
    assert years[TARGET].nunique() == 16
    code, root = run_train(tmp_path / "ml", TABULAR, years)
    assert code == 0, failure_reason(root)
    metrics = read_json(root / "model" / "metrics.json")
    rule = (
        "target 'target' holds 16 distinct integers (1, 2, 3, 4, 5, ...); at most 20 distinct integers are "
        "read as classes; if they are amounts (counts, years, scores), set task=regression"
    )
    assert (metrics["task"], metrics["task_rule"]) == ("multiclass", rule)
    log = capsys.readouterr().out
    assert f"[train] task multiclass ({rule})" in log
    assert f"[train] metrics of task multiclass ({rule})\n[train] train (" in log
    code, root = run_train(tmp_path / "regression", {**TABULAR, "task": "regression"}, years)
    assert code == 0, failure_reason(root)
    metrics = read_json(root / "model" / "metrics.json")
    assert (metrics["task"], metrics["task_rule"]) == ("regression", "task=regression is set")
