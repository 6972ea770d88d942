import json

import numpy as np
import pytest

from byoc.model import InputSchema
from byoc.payloads import PayloadError, decode, encode, media_type

COLUMNS = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(",")
SCHEMA = InputSchema.from_training_columns(["PassengerId", "Survived", *COLUMNS[1:]], "Survived")
ROW = '1,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S'
RECORD = {
    "PassengerId": 1, "Pclass": 3, "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": 22, "SibSp": 1,
    "Parch": 0, "Ticket": "A/5 21171", "Fare": 7.25, "Cabin": None, "Embarked": "S",
}  # fmt: skip
EXPECTED = {
    "Pclass": [3.0], "Name": ["Braund, Mr. Owen Harris"], "Sex": ["male"], "Age": [22.0], "SibSp": [1.0],
    "Parch": [0.0], "Ticket": ["A/5 21171"], "Fare": [7.25], "Embarked": ["S"],
}  # fmt: skip
REORDERED_WITH_LABEL = (
    "Survived,Embarked,Fare,Cabin,Ticket,Parch,SibSp,Age,Sex,Name,Pclass\n"
    '0,S,7.25,,A/5 21171,0,1,22,male,"Braund, Mr. Owen Harris",3\n'
)


def decoded(body: str, content_type: str) -> dict[str, list[object]]:
    columns = decode(body.encode(), content_type, SCHEMA)
    cabin = columns.pop("Cabin")
    assert cabin in ([None], [""])
    return columns


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ROW + "\n", "text/csv"),
        (ROW, "text/csv; charset=utf-8"),
        (",".join(COLUMNS) + "\n" + ROW + "\n", "TEXT/CSV"),
        (REORDERED_WITH_LABEL, "text/csv"),
        ("\ufeff" + ROW + "\r\n\r\n", "text/csv"),
        (json.dumps(RECORD), "application/json"),
        (json.dumps([RECORD]), "application/json"),
        (json.dumps({"instances": [RECORD]}), "application/json; charset=utf-8"),
        (json.dumps({"instances": [list(RECORD.values())]}), "application/json"),
        (json.dumps(RECORD) + "\n\n", "application/jsonlines"),
        (json.dumps(RECORD), "application/x-jsonlines"),
        (json.dumps({**RECORD, "Age": "22", "extra": [1]}), "application/json"),
    ],
)
def test_every_input_form_decodes_to_the_same_columns(body: str, content_type: str) -> None:
    assert decoded(body, content_type) == EXPECTED


def test_empty_fields_and_nulls_are_missing_values() -> None:
    columns = decode(b'1,3,"X, Mr. Y",male,,1,0,T,,,\n', "text/csv", SCHEMA)
    assert np.isnan(columns["Age"][0]) and np.isnan(columns["Fare"][0])
    assert columns["Embarked"] in ([""], [None])
    columns = decode(json.dumps({**RECORD, "Age": None, "Cabin": None}).encode(), "application/json", SCHEMA)
    assert np.isnan(columns["Age"][0])


def test_numbers_in_text_columns_are_read_as_text() -> None:
    columns = decode(json.dumps({**RECORD, "Ticket": 113803}).encode(), "application/json", SCHEMA)
    assert columns["Ticket"] == ["113803"]


def assert_error(body: bytes | str, content_type: str, status: int, fragment: str) -> PayloadError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(PayloadError) as caught:
        decode(raw, content_type, SCHEMA)
    assert caught.value.status == status
    assert fragment in caught.value.message, caught.value.message
    json.dumps(caught.value.body())
    return caught.value


BAD_REQUESTS = [
    (ROW, "application/xml", 415, "unsupported Content-Type 'application/xml'"),
    (ROW, "", 415, "unsupported Content-Type ''"),
    (b"", "text/csv", 400, "request body is empty"),
    (b"  \n ", "application/json", 400, "request body is empty"),
    (b"1,3,\xff\xfe,male", "text/csv", 400, "not valid UTF-8: byte 4 is 0xff"),
    ('1,3,"unterminated,male\n', "text/csv", 400, "malformed CSV"),
    ("1,3,x,male,22", "text/csv", 400, "row 1 has 5 field(s); without a header row each row needs 11"),
    (ROW.replace(",22,", ",old,"), "text/csv", 400, "row 1, column 'Age': 'old' is not a number"),
    (ROW.replace(",7.25,", ",inf,"), "text/csv", 400, "column 'Fare': 'inf' is not a finite number"),
    ("Name,Sex\nX,male\n", "text/csv", 400, "CSV header is missing required column(s): Pclass, Age"),
    ("Name,Name,Sex\n", "text/csv", 400, "CSV header repeats column(s): Name"),
    (",".join(COLUMNS) + "\n", "text/csv", 400, "CSV body has a header but no data rows"),
    (
        ",".join(COLUMNS) + "\n" + ROW + ",extra\n",
        "text/csv",
        400,
        "row 1 has 12 field(s); the header has 11",
    ),
    ("{", "application/json", 400, "request body is not valid JSON"),
    ('{"Age": NaN}', "application/json", 400, "NaN is not valid JSON"),
    ("[]", "application/json", 400, "request holds no records"),
    ('"text"', "application/json", 400, "JSON body is str"),
    ('{"instances": {"a": 1}}', "application/json", 400, "'instances' must be a list"),
    ("[1, 2]", "application/json", 400, "record 1 is int, expected an object"),
    ("[[1, 2]]", "application/json", 400, "record 1 is a list of 2 value(s)"),
    ('{"Pclass": 1}', "application/json", 400, "record 1 is missing required column(s): Name, Sex, Age"),
    (
        json.dumps({**RECORD, "Age": "old"}),
        "application/json",
        400,
        "row 1, column 'Age': 'old' is not a number",
    ),
    (json.dumps({**RECORD, "Age": True}), "application/json", 400, "column 'Age': True is not a number"),
    (
        json.dumps({**RECORD, "Sex": {"a": 1}}),
        "application/json",
        400,
        "column 'Sex': 'dict' is not a string",
    ),
    ("[" * 100_000 + "]" * 100_000, "application/json", 400, "nested too deeply"),
    (json.dumps(RECORD) + "\n{bad", "application/jsonlines", 400, "line 2 is not valid JSON"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "fragment"), BAD_REQUESTS)
def test_client_mistakes_get_a_named_error(
    body: bytes | str, content_type: str, status: int, fragment: str
) -> None:
    assert_error(body, content_type, status, fragment)


def test_errors_carry_row_and_column_details() -> None:
    error = assert_error(ROW + "\n" + ROW.replace(",22,", ",old,"), "text/csv", 400, "row 2")
    assert error.body() == {"error": error.message, "row": 2, "column": "Age"}


def test_media_types_compare_without_parameters() -> None:
    assert media_type("Text/CSV ; charset=utf-8") == "text/csv"
    assert media_type(None) == ""


def test_encoders() -> None:
    labels, probabilities = np.array([1, 0]), np.array([0.75, 0.125])
    expected = [{"label": 1, "probability": 0.75}, {"label": 0, "probability": 0.125}]
    assert json.loads(encode(labels, probabilities, "application/json")) == {"predictions": expected}
    assert encode(labels, probabilities, "text/csv") == "1,0.75\n0,0.125\n"
    lines = encode(labels, probabilities, "application/jsonlines").splitlines()
    assert [json.loads(line) for line in lines] == expected
