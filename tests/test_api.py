"""The Flask app through its test client: routing, negotiation and JSON errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_payloads import BAD_REQUESTS, ROW

from byoc.api import create_app
from byoc.artifact import ModelLoadError
from byoc.settings import ServingSettings

from testsupport import VALIDATION_CSV, in_process_scores

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

    monkeypatch.setattr("byoc.api.decode", explode)
    response = post(client, ROW, "text/csv")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error while predicting: RuntimeError"}


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
