"""Request decoding and answer encoding; the row-by-row and Arrow engines give the same rows and errors."""

import csv
import io
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byoc import payloads
from byoc.payloads import (
    PayloadError,
    decode,
    decode_csv_columns,
    decode_csv_rows,
    decode_records,
    media_type,
    response_type,
)
from byoc.profile import TableProfile
from byoc.recipe import load_recipe
from byoc.tasks import Task

COLUMNS = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(",")
SCHEMA = load_recipe("titanic").select_inputs(
    TableProfile.empty(["PassengerId", "Survived", *COLUMNS[1:]]), "Survived", {}, print
)
TARGET = "Survived"
ROW = '1,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S'
RECORD = {
    "PassengerId": 1, "Pclass": 3, "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": 22, "SibSp": 1,
    "Parch": 0, "Ticket": "A/5 21171", "Fare": 7.25, "Cabin": None, "Embarked": "S",
}  # fmt: skip
EXPECTED = {
    "Pclass": 3.0, "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": 22.0, "SibSp": 1.0, "Parch": 0.0,
    "Ticket": "A/5 21171", "Fare": 7.25, "Cabin": None, "Embarked": "S",
}  # fmt: skip
REORDERED_WITH_LABEL = (
    "Survived,Embarked,Fare,Cabin,Ticket,Parch,SibSp,Age,Sex,Name,Pclass\n"
    '0,S,7.25,,A/5 21171,0,1,22,MALE,"Braund, Mr. Owen Harris",3\n'
)


def rows_of(decoded: payloads.Decoded) -> list[dict[str, Any]]:
    return decoded.records if decoded.records is not None else decoded.table.to_pylist()


def same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    def normal(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    return [{k: normal(v) for k, v in row.items()} for row in left] == [
        {k: normal(v) for k, v in row.items()} for row in right
    ]


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
        ("\n" + json.dumps(RECORD) + "\r\n\n", "application/jsonlines"),
        (json.dumps(RECORD), "application/x-jsonlines"),
        (json.dumps({**RECORD, "Age": "22", "Sex": " Male ", "extra": [1]}), "application/json"),
        (json.dumps({**RECORD, "Cabin": float("nan")}), "application/jsonlines"),
    ],
)
def test_every_input_form_decodes_to_the_same_row(body: str, content_type: str) -> None:
    assert same(rows_of(decode(body.encode(), content_type, SCHEMA, TARGET)), [EXPECTED])


def test_a_row_of_empty_fields_is_scored_like_a_record_of_nulls() -> None:
    csv_rows = rows_of(decode(f"{ROW}\n,,,,,,,,,,\n{ROW}\n".encode(), "text/csv", SCHEMA, TARGET))
    json_rows = rows_of(
        decode(
            json.dumps([RECORD, dict.fromkeys(RECORD), RECORD]).encode(), "application/json", SCHEMA, TARGET
        )
    )
    assert len(csv_rows) == len(json_rows) == 3 and same(csv_rows, json_rows)


def test_json_lines_split_only_on_newlines_and_keep_unicode_separators() -> None:
    name = "Smith, Mr.\u2028John\u0085"
    body = "\n".join(json.dumps({**RECORD, "Name": name}, ensure_ascii=False) for _ in range(2))
    assert [
        row["Name"] for row in rows_of(decode(body.encode(), "application/jsonlines", SCHEMA, TARGET))
    ] == [name] * 2


def assert_error(body: bytes | str, content_type: str, status: int, fragment: str) -> PayloadError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(PayloadError) as caught:
        decode(raw, content_type, SCHEMA, TARGET)
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
    ('1,3,"unterminated,male\n', "text/csv", 400, "the body ends inside a quoted field"),
    ("1,3,x,male,22", "text/csv", 400, "row 1 has 5 field(s); without a header row each row needs 11"),
    (ROW.replace(",22,", ",old,"), "text/csv", 400, "row 1, column 'Age': 'old' is not a number"),
    (ROW.replace(",22,", ",2_2,"), "text/csv", 400, "row 1, column 'Age': '2_2' is not a number"),
    (ROW.replace(",7.25,", ",inf,"), "text/csv", 400, "column 'Fare': 'inf' is not a number"),
    (
        ROW.replace(",male,", ",Female2,"),
        "text/csv",
        400,
        "column 'Sex': 'Female2' is not one of male, female",
    ),
    (ROW.replace(",3,", ",4,", 1), "text/csv", 400, "column 'Pclass': '4' is not one of 1, 2, 3"),
    (ROW.replace(",S", ",X"), "text/csv", 400, "column 'Embarked': 'X' is not one of S, C, Q"),
    ("Name,Sex\nX,male\n", "text/csv", 400, "CSV header is missing required column(s): Pclass, Age"),
    ("Name,Name,Sex\n", "text/csv", 400, "the header names these columns more than once: Name"),
    ("," + ",".join(COLUMNS) + "\n0," + ROW, "text/csv", 400, "a pandas index written by DataFrame.to_csv()"),
    (
        ",".join(map(str, range(11))) + "\n" + ROW,
        "text/csv",
        400,
        "numbers the columns instead of naming them",
    ),
    (",".join(COLUMNS) + "\n", "text/csv", 400, "CSV body has a header but no data rows"),
    (
        ",".join(COLUMNS) + "\n" + ROW + ",extra\n",
        "text/csv",
        400,
        "row 1 has 12 field(s); the header has 11",
    ),
    ("{", "application/json", 400, "request body is not valid JSON"),
    ('{"Age": Infinity}', "application/json", 400, "Infinity is not a valid value"),
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
        "record 1, column 'Age': 'old' is not a number",
    ),
    (json.dumps({**RECORD, "Age": True}), "application/json", 400, "column 'Age': True is not a number"),
    (json.dumps({**RECORD, "Sex": {"a": 1}}), "application/json", 400, "column 'Sex': dict is not a string"),
    ("[" * 100_000 + "]" * 100_000, "application/json", 400, "nested too deeply"),
    (json.dumps(RECORD) + "\n\n{bad", "application/jsonlines", 400, "line 3 is not valid JSON"),
    ("\n" + json.dumps({**RECORD, "Age": "x"}), "application/jsonlines", 400, "line 2, column 'Age': 'x'"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "fragment"), BAD_REQUESTS)
def test_client_mistakes_get_a_named_error(
    body: bytes | str, content_type: str, status: int, fragment: str
) -> None:
    assert_error(body, content_type, status, fragment)


def test_errors_carry_row_and_column_details() -> None:
    error = assert_error(ROW + "\n" + ROW.replace(",22,", ",old,"), "text/csv", 400, "row 2")
    assert error.body() == {"error": error.message, "row": 2, "column": "Age"}


def test_large_bodies_take_the_arrow_engine_with_the_same_errors() -> None:
    rows = [ROW] * 400
    rows[350] = ROW.replace(",22,", ",old,")
    body = ("\n".join(rows) + "\n").encode()
    assert len(body) > payloads.SMALL_BODY_BYTES
    error = assert_error(body, "text/csv", 400, "row 351, column 'Age': 'old' is not a number")
    assert error.details == {"row": 351, "column": "Age"}
    rows[350] = "1,2,3"
    assert_error(("\n".join(rows) + "\n").encode(), "text/csv", 400, "row 351 has 3 field(s)")
    good = decode(("\n".join([ROW] * 400)).encode(), "text/csv", SCHEMA, TARGET)
    assert good.table is not None and good.rows == 400 and same(good.table.to_pylist()[:1], [EXPECTED])


def csv_text(rows: list[list[str]]) -> str:
    output = io.StringIO()
    csv.writer(output, lineterminator="\n").writerows(rows)
    return output.getvalue()


CELL = st.one_of(
    st.sampled_from(
        ["", " ", "1", "3", "2.5", "-1e2", "x", "male", "FEMALE", "S", "q", "a,b", 'say "hi"', "l1\nl2"]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=5),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=11, max_size=11), min_size=1, max_size=4), st.booleans())
def test_the_two_csv_engines_agree(rows: list[list[str]], with_header: bool) -> None:
    text = csv_text(([COLUMNS] if with_header else []) + rows)
    outcomes = []
    for engine in (
        lambda: decode_csv_rows(text, SCHEMA, TARGET),
        lambda: decode_csv_columns(text.encode(), text, SCHEMA, TARGET),
    ):
        try:
            outcomes.append(("ok", rows_of(engine())))
        except PayloadError as error:
            outcomes.append(("error", error.status, error.message))
    if outcomes[0][0] == outcomes[1][0] == "ok":
        assert same(outcomes[0][1], outcomes[1][1])
    else:
        assert outcomes[0] == outcomes[1]


JSON_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_infinity=False), CELL)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({name: JSON_VALUE for name in COLUMNS}), min_size=1, max_size=4))
def test_json_records_small_and_large_paths_agree(records: list[dict[str, Any]]) -> None:
    numbers = range(1, len(records) + 1)
    outcomes = []
    for small in (True, False):
        original = payloads.SMALL_BODY_BYTES
        payloads.SMALL_BODY_BYTES = 10**9 if small else 0
        try:
            outcomes.append(("ok", rows_of(decode_records(records, SCHEMA, numbers, "record"))))
        except PayloadError as error:
            outcomes.append(("error", error.status, error.message))
        finally:
            payloads.SMALL_BODY_BYTES = original
    if outcomes[0][0] == outcomes[1][0] == "ok":
        assert same(outcomes[0][1], outcomes[1][1])
    else:
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/csv;q=0.9, application/json;q=0.5", "text/csv"),
        ("application/json;q=0, text/*", "text/csv"),
        ("application/x-jsonlines", "application/x-jsonlines"),
        ("application/jsonlines;q=1, */*;q=0.1", "application/jsonlines"),
        ("text/html, application/*;q=0.2", "application/json"),
    ],
)
def test_accept_honours_parameters_q_values_and_aliases(accept: str | None, expected: str) -> None:
    assert response_type(accept) == expected


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0", "image/*"])
def test_unacceptable_accept_is_406(accept: str) -> None:
    with pytest.raises(PayloadError) as caught:
        response_type(accept)
    assert caught.value.status == 406 and "accept one of application/json, text/csv" in caught.value.message


def test_media_types_compare_without_parameters() -> None:
    assert media_type("Text/CSV ; charset=utf-8") == "text/csv"
    assert media_type(None) == ""


def test_answers_per_task_in_every_format() -> None:
    binary = payloads.Encoder(Task.BINARY, ["no", "yes"])
    scores = np.array([0.75, 0.125])
    expected = [{"label": "yes", "probability": 0.75}, {"label": "no", "probability": 0.125}]
    assert json.loads(binary.encode(scores, "application/json")) == {"predictions": expected}
    assert binary.encode(scores, "text/csv") == "yes,0.75\nno,0.125\n"
    assert [
        json.loads(line) for line in binary.encode(scores, "application/jsonlines").splitlines()
    ] == expected
    multiclass = payloads.Encoder(Task.MULTICLASS, ["Adelie", "Gentoo", 'a "quoted", name'])
    probabilities = np.array([[0.25, 0.5, 0.25]])
    assert json.loads(multiclass.encode(probabilities, "application/json"))["predictions"] == [
        {"label": "Gentoo", "probabilities": {"Adelie": 0.25, "Gentoo": 0.5, 'a "quoted", name': 0.25}}
    ]
    assert multiclass.encode(probabilities, "text/csv") == "Gentoo,0.25,0.5,0.25\n"
    regression = payloads.Encoder(Task.REGRESSION, [])
    assert json.loads(regression.encode(np.array([1.5, -2.0]), "application/json")) == {
        "predictions": [{"prediction": 1.5}, {"prediction": -2.0}]
    }
    assert regression.encode(np.array([1.5]), "text/csv") == "1.5\n"
