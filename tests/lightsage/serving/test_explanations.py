"""Explanations on request: each answer's feature contributions (LightGBM's pred_contrib), for every task."""

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient

from lightsage.contract.paths import MLPaths
from lightsage.serving.app import create_app
from lightsage.serving.negotiate import AnswerFormat, PayloadError, answer_format
from lightsage.serving.settings import ServingSettings
from lightsage.training.main import train

import tabularsupport
from testsupport import VALIDATION_CSV, make_ml_root

FEATURES = (
    "pclass",
    "sex",
    "is_boy",
    "wcg_all_died",
    "wcg_all_survived",
)
SETTINGS = ServingSettings.from_environment({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
TABLES = {"binary": tabularsupport.breast_cancer_with_text, "multiclass": tabularsupport.wine_with_text,
          "regression": tabularsupport.diabetes}  # fmt: skip


@pytest.mark.parametrize(
    ("accept", "attributes", "expected"),
    [
        ("application/json; explain=true", None, AnswerFormat("application/json", True)),
        ("text/csv;q=0.5;explain=1, application/json;q=0.9", None, AnswerFormat("application/json", False)),
        ("application/jsonlines; explain=false", "explain=true", AnswerFormat("application/jsonlines", True)),
        (None, "trace=abc; explain=yes", AnswerFormat("application/json", True)),
        ("*/*", "", AnswerFormat("application/json", False)),
    ],
)
def test_explanations_are_asked_for_in_accept_or_custom_attributes(
    accept: str | None, attributes: str | None, expected: AnswerFormat
) -> None:
    assert answer_format(accept, attributes) == expected


def test_a_malformed_explain_value_is_named() -> None:
    with pytest.raises(PayloadError, match=r"Accept: explain='perhaps' must be true or false"):
        answer_format("application/json; explain=perhaps")


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path) -> dict[str, FlaskClient]:
    clients = {"titanic": create_app(trained_model_dir, SETTINGS).test_client()}
    for task, make in TABLES.items():
        table = make()
        root = make_ml_root(
            tmp_path_factory.mktemp(task) / "ml",
            {"recipe": "tabular", "target": tabularsupport.TARGET},
            table.channels("csv"),
        )
        train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
        clients[task] = create_app(root / "model", SETTINGS).test_client()
        clients[f"{task} rows"] = table  # type: ignore[assignment]
    return clients


def ask(client: FlaskClient, body: str, accept: str) -> tuple[int, str]:
    response = client.post("/invocations", data=body, headers={"Content-Type": "text/csv", "Accept": accept})
    return response.status_code, response.get_data(as_text=True)


def validation_csv(table: tabularsupport.Table) -> str:
    return table.features(table.validation).to_csv(index=False)


def test_binary_contributions_add_up_to_the_log_odds(clients: dict[str, FlaskClient]) -> None:
    status, body = ask(clients["titanic"], VALIDATION_CSV.read_text(), "application/json; explain=true")
    assert status == 200
    for answer in json.loads(body)["predictions"]:
        assert set(answer) == {"label", "probability", "contributions", "base_value"}
        assert list(answer["contributions"]) == list(FEATURES)
        log_odds = sum(answer["contributions"].values()) + answer["base_value"]
        assert math.isclose(1 / (1 + math.exp(-log_odds)), answer["probability"], rel_tol=1e-9)


def test_plain_answers_are_unchanged_by_the_feature(clients: dict[str, FlaskClient]) -> None:
    _, plain = ask(clients["titanic"], VALIDATION_CSV.read_text(), "application/json")
    _, explained = ask(clients["titanic"], VALIDATION_CSV.read_text(), "application/json; explain=true")
    assert [
        {"label": a["label"], "probability": a["probability"]} for a in json.loads(explained)["predictions"]
    ] == (json.loads(plain)["predictions"])


def test_multiclass_contributions_are_per_class_and_add_up_to_each_raw_score(
    clients: dict[str, FlaskClient],
) -> None:
    table = clients["multiclass rows"]
    status, body = ask(clients["multiclass"], validation_csv(table), "application/jsonlines; explain=true")
    assert status == 200
    for line in body.splitlines():
        answer = json.loads(line)
        classes = list(answer["probabilities"])
        assert classes == [str(value) for value in table.classes]
        assert list(answer["contributions"]) == classes == list(answer["base_value"])
        raw = np.array([sum(answer["contributions"][c].values()) + answer["base_value"][c] for c in classes])
        softmax = np.exp(raw - raw.max()) / np.exp(raw - raw.max()).sum()
        assert np.allclose(softmax, [answer["probabilities"][c] for c in classes], rtol=1e-9)


def test_regression_contributions_add_up_to_the_prediction_also_in_csv(
    clients: dict[str, FlaskClient],
) -> None:
    table = clients["regression rows"]
    _, body = ask(clients["regression"], validation_csv(table), "text/csv; explain=true")
    rows = list(csv.reader(io.StringIO(body)))
    features = len(table.features(table.train).columns)
    assert all(len(row) == 1 + features + 1 for row in rows)
    for prediction, *contributions in ([float(v) for v in row] for row in rows):
        assert math.isclose(sum(contributions), prediction, rel_tol=1e-9, abs_tol=1e-9)
