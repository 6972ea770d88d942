"""Endpoint and batch transform helpers: sample rows, answers, the batch input the server must accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from byoc.model import InputSchema
from byoc.payloads import decode_csv
from deploy import batch_transform, endpoint, settings
from deploy.errors import DeployError

from testsupport import VALIDATION_CSV


def test_sample_rows_are_the_first_rows_of_the_payload() -> None:
    rows = endpoint.sample_rows(endpoint.DEFAULT_PAYLOAD, 2)
    assert rows.count("\n") == 2
    assert rows.startswith("566,3,")


def test_a_missing_payload_is_named(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"missing\.csv does not exist"):
        endpoint.sample_rows(tmp_path / "missing.csv", 5)
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(DeployError, match="holds no rows"):
        endpoint.sample_rows(tmp_path / "empty.csv", 5)


def test_answers_become_predictions() -> None:
    answer = {"predictions": [{"label": 1, "probability": 0.9}, {"label": 0, "probability": 0.2}]}
    assert endpoint.parse_predictions(answer) == [
        endpoint.Prediction(1, 0.9),
        endpoint.Prediction(0, 0.2),
    ]
    with pytest.raises(DeployError, match="something other than predictions"):
        endpoint.parse_predictions({"error": "row 1, column 'Age': 'old' is not a number"})


class RecordingSession:
    def __init__(self, failing: str | None = None) -> None:
        self.calls: list[str] = []
        self.failing = failing

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if what == self.failing:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "boom"}}, what)

    def delete_model(self, name: str) -> None:
        self._call("DeleteModel")

    def delete_endpoint(self, name: str) -> None:
        self._call("DeleteEndpoint")

    def delete_endpoint_config(self, name: str) -> None:
        self._call("DeleteEndpointConfig")


def test_teardown_deletes_the_model_first_and_carries_on_after_a_failure() -> None:
    session = RecordingSession(failing="DeleteEndpoint")
    target: Any = type("Target", (), {"sagemaker_session": session})()
    problems = endpoint.delete_endpoint(target, "titanic-byoc-1")
    assert session.calls == ["DeleteModel", "DeleteEndpoint", "DeleteEndpointConfig"]
    assert problems == [
        "could not delete endpoint titanic-byoc-1: DeleteEndpoint failed with ValidationException: boom"
    ]


def test_keep_is_for_real_endpoints_only(tmp_path: Path) -> None:
    local = settings.DeployTarget("us-east-1", settings.LocalStandIns(work_dir=tmp_path))
    options = endpoint.EndpointOptions("image", "s3://b/model.tar.gz", settings.LOCAL_ROLE_ARN, "local", "e")
    with pytest.raises(DeployError, match="--keep only applies to real endpoints"):
        endpoint.serve_and_predict(local, options, "1,2\n", keep=True)


def test_the_batch_input_drops_the_header_and_the_target_only() -> None:
    labelled = 'PassengerId,Survived,Name,Age\n1,0,"Braund, Mr. Owen",22\n\n2,1,"Cumings, Mrs. ""Flo""",\n'
    features, rows = batch_transform.features_only_csv(labelled)
    assert rows == 2
    assert features == '1,"Braund, Mr. Owen",22\n2,"Cumings, Mrs. ""Flo""",\n'
    with pytest.raises(DeployError, match="no 'Survived' column"):
        batch_transform.features_only_csv("PassengerId,Name\n1,x\n")


def test_the_server_reads_the_batch_input_as_header_less_rows_in_training_order() -> None:
    labelled = VALIDATION_CSV.read_text(encoding="utf-8")
    header = labelled.splitlines()[0].split(",")
    schema = InputSchema.from_training_columns(header, settings.TARGET_COLUMN)
    features, rows = batch_transform.features_only_csv(labelled)
    columns = decode_csv(features, schema)
    assert all(len(values) == rows for values in columns.values())


def test_blank_lines_between_batches_are_not_predictions() -> None:
    assert batch_transform.prediction_lines("0,0.1\n1,0.9\n\n0,0.3\n\n") == ["0,0.1", "1,0.9", "0,0.3"]
