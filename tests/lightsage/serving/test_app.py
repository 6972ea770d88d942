"""The Flask app through its test client: routing, negotiation and JSON errors."""

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightsage.contract.paths import MLPaths
from lightsage.data.channels import DataError
from lightsage.model import artifact
from lightsage.model.artifact import ModelLoadError
from lightsage.serving import app as serving
from lightsage.serving.app import create_app
from lightsage.serving.encode import Encoder
from lightsage.serving.negotiate import AnswerFormat, PayloadError
from lightsage.serving.predictor import Predictor
from lightsage.serving.settings import ServingSettings
from lightsage.training.hosts.cluster import ClusterError
from lightsage.training.main import train
from lightsage.training.memory import OutOfMemory

from requestcases import BAD_REQUESTS, ROW
from testsupport import VALIDATION_CSV, in_process_scores, make_ml_root

SETTINGS = ServingSettings.from_environment({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})


@pytest.fixture(scope="module")
def client(trained_model_dir: Path) -> FlaskClient:
    return create_app(trained_model_dir, SETTINGS).test_client()


def post(client: FlaskClient, body: bytes | str, content_type: str, accept: str | None = None):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    return client.post("/invocations", data=body, headers=headers)


def test_ping_is_200_with_an_empty_body(client: FlaskClient) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.data == b""


def test_execution_parameters(client: FlaskClient) -> None:
    assert client.get("/execution-parameters").get_json() == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def test_predictions_are_the_recipe_and_booster_in_input_order(
    client: FlaskClient, trained_model_dir: Path
) -> None:
    expected = np.array(in_process_scores(trained_model_dir, VALIDATION_CSV))
    response = post(client, VALIDATION_CSV.read_bytes(), "text/csv")
    assert response.status_code == 200 and response.mimetype == "application/json"
    predictions = response.get_json()["predictions"]
    assert [item["probability"] for item in predictions] == expected.tolist()
    assert [item["label"] for item in predictions] == [int(p >= 0.5) for p in expected]


def test_one_row_at_a_time_answers_exactly_as_the_whole_batch(client: FlaskClient) -> None:
    lines = VALIDATION_CSV.read_text().splitlines()
    whole = (
        post(client, VALIDATION_CSV.read_bytes(), "text/csv", "text/csv").get_data(as_text=True).splitlines()
    )
    single = [
        post(client, lines[0] + "\n" + line, "text/csv", "text/csv").get_data(as_text=True).strip()
        for line in lines[1:]
    ]
    assert single == whole


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("application/jsonlines", "application/jsonlines"),
        ("application/xml;q=0.9, text/csv;q=0.5", "text/csv"),
    ],
)
def test_accept_negotiation(client: FlaskClient, accept: str | None, mimetype: str) -> None:
    response = post(client, ROW, "text/csv", accept)
    assert response.status_code == 200
    assert response.mimetype == mimetype


def test_csv_and_jsonlines_answers_have_one_line_per_row(client: FlaskClient) -> None:
    body = "\n".join([ROW] * 3)
    csv_lines = post(client, body, "text/csv", "text/csv").get_data(as_text=True).splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("0,")
    json_lines = post(client, body, "text/csv", "application/jsonlines").get_data(as_text=True).splitlines()
    assert [set(json.loads(line)) for line in json_lines] == [{"label", "probability"}] * 3


def test_unsupported_accept_is_406_json(client: FlaskClient) -> None:
    response = post(client, ROW, "text/csv", "application/xml")
    assert response.status_code == 406
    assert "application/xml" in response.get_json()["error"]


@pytest.mark.parametrize(("body", "content_type", "status", "fragment"), BAD_REQUESTS)
def test_bad_requests_get_json_errors(
    client: FlaskClient, body: bytes | str, content_type: str, status: int, fragment: str
) -> None:
    response = post(client, body, content_type)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert fragment in response.get_json()["error"]


def test_too_large_is_413_json(trained_model_dir: Path) -> None:
    small = ServingSettings.from_environment({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    client = create_app(trained_model_dir, small).test_client()
    response = post(client, b"x" * (1024 * 1024 + 1), "text/csv")
    assert response.status_code == 413
    assert "1 MB limit" in response.get_json()["error"]


def test_unknown_routes_and_methods_are_json(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").mimetype == "application/json"
    response = client.get("/invocations")
    assert response.status_code == 405 and "error" in response.get_json()


def test_internal_faults_are_500_json_without_details(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr("lightsage.serving.app.decode", explode)
    response = post(client, ROW, "text/csv")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error while predicting: RuntimeError"}


def test_a_bug_is_logged_with_its_traceback(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object) -> None:
        raise KeyError("secret detail")

    monkeypatch.setattr("lightsage.serving.app.decode", explode)
    assert post(client, ROW, "text/csv").status_code == 500
    [record] = [record for record in caplog.records if record.name == "lightsage.serving.app"]
    assert "a bug" in record.getMessage() and record.exc_info and record.exc_info[0] is KeyError


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (DataError("column 'Age': the client's data"), 400),
        (PayloadError(415, "unsupported Content-Type"), 415),
        (OutOfMemory("the instance's memory"), 503),
        (ClusterError("a platform fault"), 503),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_the_status_follows_from_the_class_of_the_error(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, raised: Exception, status: int
) -> None:
    """A user error answers its 4xx, a platform fault 503, each with its message; a bug 500 (above)."""

    def failing(*args: object) -> None:
        raise raised

    monkeypatch.setattr("lightsage.serving.app.decode", failing)
    response = post(client, ROW, "text/csv")
    assert response.status_code == status
    assert response.get_json() == {"error": str(raised)}


def test_an_invocation_is_a_function_of_the_body_and_headers_apart_from_flask(
    client: FlaskClient, trained_model_dir: Path
) -> None:
    predictor = Predictor(artifact.load(trained_model_dir))
    manifest = predictor.manifest
    encoder = Encoder(manifest.task, manifest.classes, manifest.features)
    body = gzip.compress((ROW + "\n" + ROW + "\n").encode())
    for wanted in (AnswerFormat("text/csv"), AnswerFormat("application/json", explain=True)):
        answered = serving.answer(
            predictor, encoder, wanted, body, "text/csv", "gzip", SETTINGS.max_payload_bytes
        )
        headers = {"Content-Type": "text/csv", "Content-Encoding": "gzip", "Accept": wanted.media_type}
        if wanted.explain:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = "explain=true"
        assert answered == client.post("/invocations", data=body, headers=headers).get_data(as_text=True)


def test_an_app_without_a_model_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="is missing"):
        create_app(tmp_path, SETTINGS)


def test_case_and_spacing_in_closed_vocabularies_do_not_change_an_answer(client: FlaskClient) -> None:
    """Closed vocabularies (Sex, Embarked, Pclass) ignore case and spacing; other values are 400."""
    frame = pd.read_csv(VALIDATION_CSV, dtype=str, keep_default_na=False)
    original = post(client, frame.to_csv(index=False), "text/csv", "text/csv").get_data(as_text=True)
    shouted = frame.assign(Sex=frame["Sex"].str.upper(), Embarked=" " + frame["Embarked"].str.lower() + "\t")
    assert (
        post(client, shouted.to_csv(index=False), "text/csv", "text/csv").get_data(as_text=True) == original
    )
    unknown = frame.assign(Sex=frame["Sex"].where(frame.index != 7, "F"))
    response = post(client, unknown.to_csv(index=False), "text/csv")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "row 8, column 'Sex': 'F' is not one of male, female",
        "row": 8,
        "column": "Sex",
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["row", "empty fields", "blank"]), min_size=1, max_size=12))
def test_every_record_gets_exactly_one_answer_in_order(client: FlaskClient, kinds: list[str]) -> None:
    lines = {"row": ROW, "empty fields": ",,,,,,,,,,", "blank": ""}
    records = [kind for kind in kinds if kind != "blank"]
    if not records:
        return
    body = "\n".join(lines[kind] for kind in kinds) + "\n"
    answer = post(client, body, "text/csv", "text/csv").get_data(as_text=True).splitlines()
    assert len(answer) == len(records)
    expected = {kind: post(client, lines[kind] + "\n", "text/csv", "text/csv").get_data(as_text=True).strip()
                for kind in set(records)}  # fmt: skip
    assert answer == [expected[kind] for kind in records]


# -- models whose column names look like values or like the JSON wrapper ------------------------------------


def tabular_client(root: Path, frame: pd.DataFrame, target: str) -> FlaskClient:
    """A `tabular` model trained in-process on `frame` (every row in both channels), served by the app."""
    table = frame.to_csv(index=False).encode()
    make_ml_root(
        root,
        {"recipe": "tabular", "target": target},
        {"train": [("train.csv", table)], "validation": [("validation.csv", table)]},
    )
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    return create_app(root / "model", SETTINGS).test_client()


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """Columns named 0,1,2 and target 3: what `pandas.DataFrame(array).to_csv(index=False)` writes."""
    features = np.random.default_rng(7).integers(0, 5, size=(300, 3))
    labels = (features[:, 0] + features[:, 1] > 4).astype(int)
    return tabular_client(
        tmp_path_factory.mktemp("numbered") / "ml", pd.DataFrame(np.column_stack([features, labels])), "3"
    )


def csv_answers(client: FlaskClient, body: str) -> list[str]:
    response = post(client, body, "text/csv", "text/csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True).splitlines()


def test_the_model_header_of_numbered_columns_is_a_header_and_rows_of_numbers_are_data(
    numbered: FlaskClient,
) -> None:
    rows = ["2,0,1", "4,0,0", "3,4,4"]
    one_by_one = [csv_answers(numbered, row)[0] for row in rows]
    assert csv_answers(numbered, "\n".join(rows) + "\n") == one_by_one
    for header in ("0,1,2", "0,1,2,3", "3,2,1,0"):
        data = rows if header.count(",") == 2 else [row + ",1" for row in rows]
        if header.startswith("3"):
            data = [",".join(reversed(row.split(","))) for row in data]
        assert csv_answers(numbered, header + "\n" + "\n".join(data)) == one_by_one, header
    as_json = post(
        numbered, json.dumps([[int(v) for v in row.split(",")] for row in rows]), "application/json"
    )
    assert [f"{item['label']},{item['probability']!r}" for item in as_json.get_json()["predictions"]] == (
        one_by_one
    )


NUMBER_CELL = st.sampled_from(["0", "1", "2", "3", "4", " 2 ", "", "1.5", "-1", "0.0"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(NUMBER_CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_any_header_less_body_gets_the_answers_its_rows_get_one_by_one(
    numbered: FlaskClient, rows: list[list[str]]
) -> None:
    """Only the model's own header, 0,1,2, is a header; every other row of numbers is data."""
    lines = [",".join(row) for row in rows]

    def is_model_header(line: str) -> bool:
        return [cell.strip() for cell in line.split(",")] == ["0", "1", "2"]

    data_lines = lines[1:] if is_model_header(lines[0]) else lines
    if not data_lines:
        return
    answers = csv_answers(numbered, "\n".join(lines) + "\n")
    assert len(answers) == len(data_lines)
    records = [[float(cell) if cell.strip() else None for cell in line.split(",")] for line in data_lines]
    as_json = post(numbered, json.dumps({"instances": records}), "application/json", "text/csv")
    assert as_json.get_data(as_text=True).splitlines() == answers
    for line, answer in zip(data_lines, answers, strict=True):
        if not is_model_header(line):  # alone, 0,1,2 is a header without data
            assert csv_answers(numbered, line) == [answer]


@pytest.fixture(scope="module")
def wrapper_named(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """A model with a column named `instances`, like the JSON wrapper's key."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"instances": rng.integers(0, 6, 300), "x": rng.random(300)})
    frame["y"] = (frame["instances"] + 3 * frame["x"] > 4).astype(int)
    return tabular_client(tmp_path_factory.mktemp("wrapper") / "ml", frame, "y")


def test_a_single_record_with_a_column_named_instances_is_answered(wrapper_named: FlaskClient) -> None:
    record = {"instances": 3, "x": 0.5}
    expected = post(wrapper_named, json.dumps([record]), "application/json").get_json()
    for body in (record, {"instances": [record]}, {"instances": [[3, 0.5]]}):
        response = post(wrapper_named, json.dumps(body), "application/json")
        assert response.status_code == 200 and response.get_json() == expected, body
    response = post(wrapper_named, json.dumps({"instances": [record], "x": 0.5}), "application/json")
    assert response.status_code == 400 and "column(s) x" in response.get_json()["error"]


# -- Content-Encoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("identity", lambda body: body)],
)
def test_a_compressed_body_gets_the_answers_of_the_plain_one(
    client: FlaskClient, encoding: str, compress: Any
) -> None:
    plain = VALIDATION_CSV.read_bytes()
    expected = post(client, plain, "text/csv", "text/csv").get_data()
    response = client.post(
        "/invocations",
        data=compress(plain),
        headers={"Content-Type": "text/csv", "Accept": "text/csv", "Content-Encoding": encoding},
    )
    assert response.status_code == 200 and response.get_data() == expected


def test_a_body_that_decompresses_past_the_limit_is_413_and_an_unknown_encoding_415(
    trained_model_dir: Path,
) -> None:
    small = create_app(
        trained_model_dir, ServingSettings.from_environment({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    )
    client = small.test_client()
    bomb = gzip.compress(ROW.encode() + b"\n" + b" " * (1024 * 1024))
    response = client.post(
        "/invocations", data=bomb, headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413 and "1 MB limit once decompressed" in response.get_json()["error"]
    response = client.post(
        "/invocations", data=ROW, headers={"Content-Type": "text/csv", "Content-Encoding": "br"}
    )
    assert response.status_code == 415 and "'br'" in response.get_json()["error"]
