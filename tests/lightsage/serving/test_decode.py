"""Request decoding; the row-by-row and Arrow engines give the same rows and errors."""

import csv
import gzip
import io
import json
import math
import re
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from lightsage.data.profile import TableProfile
from lightsage.data.schema import Column, InputSchema, number, text
from lightsage.data.values import NUMBER_SYNTAX
from lightsage.recipes.base import load_recipe
from lightsage.serving import decode as decoding
from lightsage.serving.decode import (
    decode,
    decode_csv_columns,
    decode_csv_rows,
    decode_records,
    decompressed,
)
from lightsage.serving.negotiate import PayloadError

from requestcases import BAD_REQUESTS, COLUMNS, RECORD, ROW

SCHEMA = load_recipe("titanic").select_inputs(
    TableProfile.empty(["PassengerId", "Survived", *COLUMNS[1:]]), "Survived", {}
)
TARGET = "Survived"
EXPECTED = {
    "Pclass": 3.0, "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": 22.0, "SibSp": 1.0, "Parch": 0.0,
    "Ticket": "A/5 21171", "Fare": 7.25, "Cabin": None, "Embarked": "S",
}  # fmt: skip
REORDERED_WITH_LABEL = (
    "Survived,Embarked,Fare,Cabin,Ticket,Parch,SibSp,Age,Sex,Name,Pclass\n"
    '0,S,7.25,,A/5 21171,0,1,22,MALE,"Braund, Mr. Owen Harris",3\n'
)


def rows_of(decoded: decoding.Decoded) -> list[dict[str, Any]]:
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
    assert len(body) > decoding.SMALL_BODY_BYTES
    error = assert_error(body, "text/csv", 400, "row 351, column 'Age': 'old' is not a number")
    assert error.details == {"row": 351, "column": "Age"}
    rows[350] = "1,2,3"
    assert_error(("\n".join(rows) + "\n").encode(), "text/csv", 400, "row 351 has 3 field(s)")
    semicolons = ROW.replace(",", ";").replace('"Braund; Mr. Owen Harris"', "Braund")
    body = ("\n".join([semicolons] * 400) + "\n").encode()
    assert len(body) > decoding.SMALL_BODY_BYTES
    assert_error(body, "text/csv", 400, "row 1 has 1 field(s); without a header row each row needs 11")
    assert_error(body, "text/csv", 400, "(its one field holds semicolons: CSV fields are separated by")
    good = decode(("\n".join([ROW] * 400)).encode(), "text/csv", SCHEMA, TARGET)
    assert good.table is not None and good.rows == 400 and same(good.table.to_pylist()[:1], [EXPECTED])


def csv_text(rows: list[list[str]]) -> str:
    output = io.StringIO()
    csv.writer(output, lineterminator="\n").writerows(rows)
    return output.getvalue()


# Cells Arrow's float parser and the number rule might read apart: NaN, infinities, signs, spaces, forms.
ODD_NUMBERS = ["nan", "NaN", "-nan", "inf", "-Infinity", "1e999", "-1e-999", " 1", "1 ", "+1", "1.", ".5",
               "-0", "00012", "1E5", "0x10", "1_0", "NA", "?", "\u0661", "1e", "."]  # fmt: skip
NUMBER_LIKE = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.from_regex(r"[+-]?[0-9]{0,3}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.text(alphabet="0123456789+-.eEnaifNAIF _", max_size=6),
)
CELL = st.one_of(
    st.sampled_from(
        ["", " ", "1", "3", "2.5", "-1e2", "x", "male", "FEMALE", "S", "q", "a,b", 'say "hi"', "l1\nl2"]
    ),
    NUMBER_LIKE,
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=5),
)


def engine_outcomes(text: str) -> list[tuple[Any, ...]]:
    """What the row engine and the Arrow engine make of one CSV body: ("ok", rows) or ("error", status,
    message)."""
    outcomes: list[tuple[Any, ...]] = []
    for engine in (
        lambda: decode_csv_rows(text, SCHEMA, TARGET),
        lambda: decode_csv_columns(text.encode(), text, SCHEMA, TARGET),
    ):
        try:
            outcomes.append(("ok", rows_of(engine())))
        except PayloadError as error:
            outcomes.append(("error", error.status, error.message))
    return outcomes


def assert_engines_agree(outcomes: list[tuple[Any, ...]]) -> None:
    """The same rows, or the same error, from both engines."""
    if outcomes[0][0] == outcomes[1][0] == "ok":
        assert same(outcomes[0][1], outcomes[1][1])
    else:
        assert outcomes[0] == outcomes[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=11, max_size=11), min_size=1, max_size=4), st.booleans())
def test_the_two_csv_engines_agree(rows: list[list[str]], with_header: bool) -> None:
    text = csv_text(([COLUMNS] if with_header else []) + rows)
    outcomes = engine_outcomes(text)
    assert_engines_agree(outcomes)


TITANIC_ROW = ["1", "3", "Braund, Mr. Owen", "male", "22", "1", "0", "A/5 21171", "7.25", "", "S"]
NUMBER_COLUMNS = [COLUMNS.index(name) for name in ("Pclass", "Age", "SibSp", "Parch", "Fare")]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(NUMBER_COLUMNS), NUMBER_LIKE), min_size=1, max_size=4))
def test_arrow_typed_numbers_read_as_the_number_rule_or_leave_it_to_the_text_path(
    changes: list[dict[int, str]],
) -> None:
    """The Arrow engine's typed read of number cells gives the rows and errors the row engine gives."""
    rows = [[change.get(position, cell) for position, cell in enumerate(TITANIC_ROW)] for change in changes]
    text = csv_text([COLUMNS, *rows])
    outcomes = engine_outcomes(text)
    first = next(decoding._csv_rows(text))
    typed = decoding._typed_read(text.encode(), first, decoding._layout(first, SCHEMA, TARGET), SCHEMA)
    event("typed read" if typed is not None else "text path")
    assert_engines_agree(outcomes)
    if typed is not None:
        assert outcomes[0][0] == "ok" and same(typed.to_pylist(), outcomes[0][1])


JSON_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_infinity=False), CELL)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({name: JSON_VALUE for name in COLUMNS}), min_size=1, max_size=4))
def test_json_records_small_and_large_paths_agree(records: list[dict[str, Any]]) -> None:
    numbers = range(1, len(records) + 1)
    outcomes = []
    for small in (True, False):
        original = decoding.SMALL_BODY_BYTES
        decoding.SMALL_BODY_BYTES = 10**9 if small else 0
        try:
            outcomes.append(("ok", rows_of(decode_records(records, SCHEMA, numbers, "record"))))
        except PayloadError as error:
            outcomes.append(("error", error.status, error.message))
        finally:
            decoding.SMALL_BODY_BYTES = original
    assert_engines_agree(outcomes)


# -- which first row is a header ----------------------------------------------------------------------------

NUMBERED = InputSchema((number("0"), number("1"), number("2")))


def numbered(*rows: tuple[float, ...]) -> list[dict[str, float]]:
    return [{"0": float(a), "1": float(b), "2": float(c)} for a, b, c in rows]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Rows of numbers are data, whichever column names their values equal.
        ("2,0,1\n4,0,0\n3,4,4\n", numbered((2, 0, 1), (4, 0, 0), (3, 4, 4))),
        ("2,2,1\n1,1,1\n", numbered((2, 2, 1), (1, 1, 1))),
        ("1,0,2\n", numbered((1, 0, 2))),
        ("2,,\n", [{"0": 2.0, "1": math.nan, "2": math.nan}]),
        # The model's own header; headers that cannot be data (they hold the target).
        ("0,1,2\n2,0,1\n", numbered((2, 0, 1))),
        (" 0 ,1, 2\r\n2,0,1\r\n", numbered((2, 0, 1))),
        ("0,1,2,target\n2,0,1,1\n", numbered((2, 0, 1))),
        ("target,2,0,1\n1,2,0,1\n", numbered((0, 1, 2))),
    ],
)
def test_a_first_row_is_a_header_only_when_it_names_the_columns(
    body: str, expected: list[dict[str, float]]
) -> None:
    for engine in (decode_csv_rows, lambda text, *rest: decode_csv_columns(text.encode(), text, *rest)):
        assert same(rows_of(engine(body, NUMBERED, "target")), expected)


def test_large_bodies_follow_the_same_first_row_rule() -> None:
    rows = "2,0,1\n" * 4000
    assert len(rows) > decoding.SMALL_BODY_BYTES
    for body, count in ((rows, 4000), ("0,1,2\n" + rows, 4000), ("1,2,0\n" + rows, 4001)):
        decoded = decode(body.encode(), "text/csv", NUMBERED, "target")
        assert decoded.table is not None and decoded.rows == count


def test_a_reordered_header_of_names_is_a_header_even_when_every_column_takes_text() -> None:
    schema = InputSchema((text("city"), text("name")))
    assert rows_of(decode(b"name,city\nAda,Paris\n", "text/csv", schema, "y")) == [
        {"city": "Paris", "name": "Ada"}
    ]
    assert rows_of(decode(b"Paris,Ada\n", "text/csv", schema, "y")) == [{"city": "Paris", "name": "Ada"}]


def test_a_data_row_holding_a_column_name_is_data() -> None:
    row = ROW.replace("Braund, Mr. Owen Harris", "Sex")
    assert same(rows_of(decode(f"{row}\n{ROW}\n".encode(), "text/csv", SCHEMA, TARGET)), [
        {**EXPECTED, "Name": "Sex"},
        EXPECTED,
    ])  # fmt: skip


def test_the_pandas_position_header_is_refused_unless_it_names_the_model_columns() -> None:
    schema = InputSchema((number("a"), number("b"), number("c")))
    with pytest.raises(PayloadError, match=r"numbers the columns .* send the column names \(a,b,c\)"):
        decode(b"0,1,2\n5,6,7\n", "text/csv", schema, "y")
    assert len(rows_of(decode(b"0,1,2,3\n5,6,7,1\n", "text/csv", NUMBERED, "3"))) == 1


COLUMN_NAMES = ["0", "1", "2", "3", "10", "-1", "1.5", "instances", "Age", "a b"]
HEADER_CELL = st.one_of(
    st.sampled_from(
        [*COLUMN_NAMES, "target", "", " ", " 2 ", "x", "A", "a", "-0", "1e3", "nan", "a,b", "\n"]
    ),
    st.text(alphabet='012ab ,"', max_size=3),
)


@st.composite
def schemas(draw: st.DrawFn, required: tuple[str, ...] = ()) -> tuple[InputSchema, str]:
    """Input columns with numeric-looking and wrapper-like names, of every kind and role, and a target."""
    others = [name for name in COLUMN_NAMES if name not in required]
    more = draw(st.lists(st.sampled_from(others), min_size=0 if required else 1, max_size=3, unique=True))
    names = draw(st.permutations([*required, *more]))
    columns = []
    for name in names:
        kind = draw(st.sampled_from(["number", "string"]))
        choices = draw(st.sampled_from([(), (0, 1, 2)] if kind == "number" else [(), ("a", "0")]))
        columns.append(Column(name, kind, choices, draw(st.sampled_from(["feature", "ignored"]))))
    if not any(column.role == "feature" for column in columns):
        columns[0] = Column(columns[0].name, columns[0].kind, columns[0].choices)
    target = draw(st.sampled_from([name for name in [*COLUMN_NAMES, "target"] if name not in names]))
    return InputSchema(tuple(columns)), target


def outcome(action: Any) -> tuple[Any, ...]:
    try:
        return ("ok", rows_of(action()))
    except PayloadError as error:
        return ("error", error.status, error.message)


def documented_header(fields: list[str], schema: InputSchema) -> bool:
    """The first rows that could be data but are a header (or refused) by the documented rule."""
    trimmed, names = [field.strip() for field in fields], list(schema.names)
    numbers = all(re.fullmatch(NUMBER_SYNTAX, field) for field in trimmed)
    positions = trimmed == [str(i) for i in range(len(trimmed))]
    return (
        trimmed == names
        or (sorted(trimmed) == sorted(names) and not numbers)
        or (positions and not set(schema.feature_names) <= set(trimmed))
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas(), st.data())
def test_a_header_less_body_gets_one_answer_per_row_as_json_records_do(
    schema_and_target: tuple[InputSchema, str], data: st.DataObject
) -> None:
    schema, target = schema_and_target
    width = len(schema.names)
    rows = data.draw(st.lists(st.lists(HEADER_CELL, min_size=width, max_size=width), min_size=1, max_size=4))
    assume(not documented_header(rows[0], schema))
    body = csv_text(rows)
    python = outcome(lambda: decode_csv_rows(body, schema, target))
    arrow = outcome(lambda: decode_csv_columns(body.encode(), body, schema, target))
    assert python[0] == arrow[0] and (same(python[1], arrow[1]) if python[0] == "ok" else python == arrow)
    records = [
        outcome(lambda row=row, number=number: decode_records([row], schema, [number], "record"))
        for number, row in enumerate(rows, start=1)
    ]
    failed = [record for record in records if record[0] == "error"]
    event(
        "every row is data"
        if not failed
        else "the first row is data"
        if records[0][0] == "ok"
        else "not data"
    )
    if not failed:
        assert python[0] == "ok", python
        assert same(python[1], [row for record in records for row in record[1]])
        assert len(python[1]) == len(rows)
        for row, record in zip(rows, records, strict=True):
            if not documented_header(row, schema):
                alone = outcome(lambda row=row: decode_csv_rows(csv_text([row]), schema, target))
                assert alone[0] == "ok" and same(alone[1], record[1])
    elif records[0][0] == "ok":
        # The first row is data, so the first bad row is refused as the same JSON record is.
        assert python == ("error", 400, failed[0][2].replace("record ", "row ", 1))
    else:
        # The first row is not data: an error, or a header naming every feature column, then one answer for
        # each later row.
        named = {field.strip() for field in rows[0]}
        assert python[0] == "error" or (
            set(schema.feature_names) <= named and len(python[1]) == len(rows) - 1
        ), python


# -- a column named like the JSON wrapper -------------------------------------------------------------------

WRAPPED = InputSchema((number("instances"), number("x")))


def test_a_record_with_a_column_named_instances_is_a_record() -> None:
    expected = [{"instances": 3.0, "x": 0.5}]
    for document in (
        {"instances": 3, "x": 0.5},
        [{"instances": 3, "x": 0.5}],
        {"instances": [{"instances": 3, "x": 0.5}]},
        {"instances": [[3, 0.5]]},
        {"instances": "3", "x": "0.5", "note": [1]},
    ):
        assert rows_of(decode(json.dumps(document).encode(), "application/json", WRAPPED, "y")) == expected
    assert same(
        rows_of(decode(b'{"instances": null, "x": 1}', "application/json", WRAPPED, "y")),
        [{"instances": math.nan, "x": 1.0}],
    )
    with pytest.raises(PayloadError, match=r"holds both a list under 'instances' .* column\(s\) x"):
        decode(b'{"instances": [1], "x": 0.5}', "application/json", WRAPPED, "y")


SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_infinity=False), HEADER_CELL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas(required=("instances",)), st.data())
def test_one_record_is_read_alike_alone_in_a_list_and_wrapped(
    schema_and_target: tuple[InputSchema, str], data: st.DataObject
) -> None:
    schema, target = schema_and_target
    record = data.draw(st.fixed_dictionaries({name: SCALAR for name in schema.names}))
    forms = [
        record,
        [record],
        {"instances": [record]},
        {"instances": [[record[name] for name in schema.names]]},
    ]
    outcomes = [
        outcome(lambda form=form: decode(json.dumps(form).encode(), "application/json", schema, target))
        for form in forms
    ]
    if outcomes[0][0] == "ok":
        assert all(other[0] == "ok" and same(other[1], outcomes[0][1]) for other in outcomes[1:])
    else:
        assert outcomes[1:] == [outcomes[0]] * 3


# -- Content-Encoding ---------------------------------------------------------------------------------------

PLAIN = (ROW + "\n" + ROW + "\n").encode()
LIMIT = 1 << 20


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (gzip.compress(PLAIN), "gzip"),
        (gzip.compress(PLAIN), " GZip "),
        (gzip.compress(PLAIN), "x-gzip"),
        (gzip.compress(PLAIN[:30]) + gzip.compress(PLAIN[30:]), "gzip"),
        (gzip.compress(PLAIN) + b"\0" * 8, "gzip"),
        (zlib.compress(PLAIN), "deflate"),
        (raw_deflate(PLAIN), "deflate"),
        (PLAIN, "identity"),
        (PLAIN, ""),
        (PLAIN, None),
    ],
    ids=[
        "gzip",
        "spaced GZip",
        "x-gzip",
        "two members",
        "zero padding",
        "deflate",
        "raw deflate",
        "identity",
        "empty",
        "none",
    ],
)
def test_compressed_bodies_read_as_the_plain_body(encoded: bytes, encoding: str | None) -> None:
    assert decompressed(encoded, encoding, LIMIT) == PLAIN


@pytest.mark.parametrize(
    ("encoded", "encoding", "status", "fragment"),
    [
        (PLAIN, "br", 415, "unsupported Content-Encoding 'br'; send gzip, deflate"),
        (gzip.compress(gzip.compress(PLAIN)), "gzip, gzip", 415, "unsupported Content-Encoding 'gzip, gzip'"),
        (PLAIN, "gzip", 400, "request body is not valid gzip data"),
        (gzip.compress(PLAIN)[:-12], "gzip", 400, "truncated gzip data"),
        (gzip.compress(PLAIN) + b"junk", "gzip", 400, "not valid gzip data"),
        (zlib.compress(PLAIN) + b"junk", "deflate", 400, "4 byte(s) after its deflate stream"),
        (
            gzip.compress(b"0" * (LIMIT + 1)),
            "gzip",
            413,
            "larger than the 1 MB limit once decompressed (gzip",
        ),
    ],
    ids=[
        "br",
        "two encodings",
        "not gzip",
        "truncated",
        "junk after gzip",
        "junk after deflate",
        "over limit",
    ],
)
def test_bad_compressed_bodies_get_a_named_error(
    encoded: bytes, encoding: str, status: int, fragment: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        decompressed(encoded, encoding, LIMIT)
    assert caught.value.status == status and fragment in caught.value.message, caught.value.message


def test_a_zip_bomb_stops_at_the_limit_without_inflating(tmp_path: Any) -> None:
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()  # 1 GiB inflated
    assert len(bomb) < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(PayloadError) as caught:
            decompressed(bomb, "gzip", LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.status == 413
    assert peak < 4 * LIMIT, f"peak {peak} bytes"
