"""Request and response bodies of /invocations: CSV, JSON and JSON Lines in; JSON, CSV and JSON Lines out.

Decoding turns a body into the raw passenger columns the saved pipeline takes, checking each value against
the input schema written at training time. Every client mistake raises PayloadError naming the row, column
and value; nothing from a request is ever unpickled or evaluated.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from byoc.model import InputSchema

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
JSON_LINES_ALIASES = frozenset(
    {JSON_LINES, "application/x-jsonlines", "application/jsonl", "application/x-ndjson"}
)
REQUEST_TYPES = (CSV, JSON, *sorted(JSON_LINES_ALIASES))
RESPONSE_TYPES = (JSON, CSV, JSON_LINES)

Columns = dict[str, list[Any]]


class PayloadError(Exception):
    """A client mistake: becomes a JSON error body with this status."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.details}


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`; media types compare without parameters or case."""
    return (header or "").split(";", 1)[0].strip().lower()


def _bad_request(message: str, **details: Any) -> PayloadError:
    return PayloadError(400, message, **details)


def _decode_text(body: bytes) -> str:
    if not body.strip():
        raise _bad_request("request body is empty")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _bad_request(
            f"request body is not valid UTF-8: byte {error.start} is {body[error.start]:#04x}"
        ) from None


class _ColumnBuilder:
    """Collects the required columns, converting each value to its schema type."""

    def __init__(self, schema: InputSchema) -> None:
        self.schema = schema
        self.columns: Columns = {column: [] for column in schema.required}

    def add(self, row_number: int, values: dict[str, Any]) -> None:
        for column, kind in self.schema.required.items():
            value = values[column]
            self.columns[column].append(
                _to_number(value, row_number, column)
                if kind == "number"
                else _to_text(value, row_number, column)
            )


def _value_error(row_number: int, column: str, value: Any, expected: str) -> PayloadError:
    shown = value if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "..."
    return _bad_request(
        f"row {row_number}, column '{column}': {shown!r} is not {expected}",
        row=row_number,
        column=column,
    )


def _to_number(value: Any, row_number: int, column: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise _value_error(row_number, column, value, "a number")
    if isinstance(value, int | float):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**63 else math.inf
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            number = float(text)
        except ValueError:
            raise _value_error(row_number, column, value, "a number") from None
    else:
        raise _value_error(row_number, column, value, "a number")
    if not math.isfinite(number):
        raise _value_error(row_number, column, value, "a finite number (leave the field empty when unknown)")
    return number


def _to_text(value: Any, row_number: int, column: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _value_error(row_number, column, value, "a string")


def _is_header(row: Sequence[str], schema: InputSchema) -> bool:
    return any(field.strip() in schema.known_columns for field in row)


def _csv_rows(text: str) -> Iterable[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if row and any(field.strip() for field in row):
                yield row
    except csv.Error as error:
        raise _bad_request(
            f"malformed CSV at line {reader.line_num}: {error}", line=reader.line_num
        ) from None


def decode_csv(text: str, schema: InputSchema) -> Columns:
    builder = _ColumnBuilder(schema)
    rows = iter(_csv_rows(text))
    first = next(rows, None)
    if first is None:
        raise _bad_request("CSV body has no rows")
    if _is_header(first, schema):
        header = [field.strip() for field in first]
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise _bad_request(f"CSV header repeats column(s): {', '.join(duplicated)}")
        missing = [column for column in schema.required if column not in header]
        if missing:
            raise _bad_request(
                f"CSV header is missing required column(s): {', '.join(missing)}", missing_columns=missing
            )
        positions = {column: header.index(column) for column in schema.required}
        data_rows: Iterable[list[str]] = rows
    else:
        header = schema.columns
        positions = {column: header.index(column) for column in schema.required}
        data_rows = chain([first], rows)
    row_number = 0
    for row_number, row in enumerate(data_rows, start=1):
        if len(row) != len(header):
            expectation = (
                f"the header has {len(header)}"
                if header is not schema.columns
                else f"without a header row each row needs {len(header)}, in this order: {','.join(header)}"
            )
            raise _bad_request(f"row {row_number} has {len(row)} field(s); {expectation}", row=row_number)
        builder.add(row_number, {column: row[position] for column, position in positions.items()})
    if row_number == 0:
        raise _bad_request("CSV body has a header but no data rows")
    return builder.columns


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; use null for a missing value")


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _bad_request(f"{where} is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise _bad_request(
            f"{where} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:
        raise _bad_request(f"{where}: {error}") from None


def _add_records(builder: _ColumnBuilder, records: Iterable[Any], schema: InputSchema) -> None:
    count = 0
    for count, record in enumerate(records, start=1):
        if isinstance(record, list):
            if len(record) != len(schema.columns):
                raise _bad_request(
                    f"record {count} is a list of {len(record)} value(s); a list record needs "
                    f"{len(schema.columns)}, in this order: {','.join(schema.columns)}",
                    row=count,
                )
            record = dict(zip(schema.columns, record, strict=True))
        elif not isinstance(record, dict):
            raise _bad_request(
                f"record {count} is {type(record).__name__}, expected an object keyed by column name",
                row=count,
            )
        missing = [column for column in schema.required if column not in record]
        if missing:
            raise _bad_request(
                f"record {count} is missing required column(s): {', '.join(missing)} (use null when unknown)",
                row=count,
                missing_columns=missing,
            )
        builder.add(count, record)
    if count == 0:
        raise _bad_request("request holds no records")


def decode_json(text: str, schema: InputSchema) -> Columns:
    document = _parse_json(text, "request body")
    if isinstance(document, dict) and "instances" in document:
        records = document["instances"]
        if not isinstance(records, list):
            raise _bad_request("'instances' must be a list of records")
    elif isinstance(document, dict):
        records = [document]
    elif isinstance(document, list):
        records = document
    else:
        raise _bad_request(
            f"JSON body is {type(document).__name__}; send an object, a list of objects, "
            'or {"instances": [...]}'
        )
    builder = _ColumnBuilder(schema)
    _add_records(builder, records, schema)
    return builder.columns


def decode_json_lines(text: str, schema: InputSchema) -> Columns:
    lines = [line for line in text.splitlines() if line.strip()]
    builder = _ColumnBuilder(schema)
    _add_records(
        builder, (_parse_json(line, f"line {number}") for number, line in enumerate(lines, start=1)), schema
    )
    return builder.columns


def decode(body: bytes, content_type: str, schema: InputSchema) -> Columns:
    kind = media_type(content_type)
    if kind not in REQUEST_TYPES:
        raise PayloadError(
            415,
            f"unsupported Content-Type {content_type!r}; send one of {', '.join((CSV, JSON, JSON_LINES))}",
            supported=[CSV, JSON, JSON_LINES],
        )
    text = _decode_text(body)
    if kind == CSV:
        return decode_csv(text, schema)
    if kind == JSON:
        return decode_json(text, schema)
    return decode_json_lines(text, schema)


def _record(label: int, probability: float) -> str:
    # repr() of a finite float is valid JSON: the text json.dumps writes, without its per-call overhead.
    return f'{{"label": {label}, "probability": {probability!r}}}'


def encode(labels: np.ndarray, probabilities: np.ndarray, accept: str) -> str:
    pairs = list(zip(labels.tolist(), probabilities.tolist(), strict=True))
    if accept == CSV:
        return "".join(f"{label},{probability!r}\n" for label, probability in pairs)
    if accept == JSON_LINES:
        return "".join(_record(*pair) + "\n" for pair in pairs)
    return '{"predictions": [' + ", ".join(_record(*pair) for pair in pairs) + "]}"
