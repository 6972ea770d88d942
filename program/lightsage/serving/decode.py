"""Request bodies of /invocations: CSV, JSON and JSON Lines (plain, gzip or deflate) into the model's typed
input rows.

Decoding checks a body against the manifest's input schema with the rules `train` applies to files
(`lightsage.data.schema`, `lightsage.data.values`). Small bodies go through Python's csv and json modules row
by row; large ones through Arrow, vectorised. Both give the same rows and the same errors (property tests hold
them together). Every client mistake raises PayloadError naming the row (or line), column and value; nothing
from a request is unpickled or evaluated.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from lightsage.data.channels import DataError, check_header, ends_inside_quotes, other_separator
from lightsage.data.schema import ColumnValueError, InputSchema
from lightsage.data.values import NUMBER_SYNTAX, shown
from lightsage.serving.negotiate import (
    CSV,
    JSON,
    JSON_LINES,
    REQUEST_TYPES,
    PayloadError,
    bad_request,
    media_type,
)

# Bodies up to this size are decoded row by row in Python; larger ones with Arrow.
SMALL_BODY_BYTES = 16_384
_POSITIONS = re.compile(r"\d+")
_NUMBER = re.compile(NUMBER_SYNTAX)


@dataclass(frozen=True)
class Decoded:
    """A request's rows: typed scalar records (small requests) or typed Arrow columns (large ones)."""

    rows: int
    records: list[dict[str, Any]] | None = None
    table: pa.Table | None = None


# -- text and values ----------------------------------------------------------------------------------------


def _text(body: bytes) -> str:
    if not body.strip():
        raise bad_request("request body is empty")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_request(
            f"request body is not valid UTF-8: byte {error.start} is {body[error.start]:#04x}"
        ) from None


def _value_error(error: ColumnValueError, number: int, unit: str) -> PayloadError:
    return bad_request(
        f"{unit} {number}, column '{error.column}': {shown(error.value)} is not {error.expected}",
        **{unit: number, "column": error.column},
    )


def _typed_records(
    records: Sequence[Mapping[str, Any]], schema: InputSchema, numbers: Sequence[int], unit: str
) -> list[dict[str, Any]]:
    typed = []
    for record, number in zip(records, numbers, strict=True):
        try:
            typed.append(schema.typed_record(record))
        except ColumnValueError as error:
            raise _value_error(error, number, unit) from None
    return typed


def _typed_table(
    columns: Mapping[str, Any], schema: InputSchema, numbers: Sequence[int], unit: str
) -> pa.Table:
    try:
        return schema.typed_table(columns)
    except ColumnValueError as error:
        raise _value_error(error, numbers[error.row], unit) from None


# -- Content-Encoding -------------------------------------------------------------------------------------

CONTENT_ENCODINGS = ("gzip", "deflate", "identity")
_ZLIB_BITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _is_zlib_stream(body: bytes) -> bool:
    """RFC 1950's two header bytes: method 8 (deflate), and a checksum that makes them a multiple of 31."""
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def decompressed(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding undone, never holding more than `limit` bytes of output.

    gzip (several members too) and deflate (zlib's format as HTTP specifies it, or the raw deflate some
    clients send) are decoded; identity or no header leaves the body as it is. Output past `limit` is a 413
    however small the compressed body (a zip bomb stops there); another encoding is a 415 naming it.
    """
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in _ZLIB_BITS:
        raise PayloadError(
            415,
            f"unsupported Content-Encoding {content_encoding!r}; send gzip, deflate or an uncompressed body",
            supported=list(CONTENT_ENCODINGS),
        )
    if not body:
        return body
    window = _ZLIB_BITS[coding]
    if coding == "deflate" and not _is_zlib_stream(body):
        window = -zlib.MAX_WBITS
    output = bytearray()
    remaining = body
    while True:
        inflater = zlib.decompressobj(window)
        try:
            output += inflater.decompress(remaining, limit + 1 - len(output))
        except zlib.error as error:
            raise bad_request(f"request body is not valid {coding} data ({error})") from None
        if len(output) > limit:
            raise PayloadError(
                413,
                f"request body is larger than the {limit / 2**20:g} MB limit once decompressed ({coding}; "
                "SAGEMAKER_MAX_PAYLOAD_IN_MB)",
            )
        if not inflater.eof:
            raise bad_request(f"request body is truncated {coding} data: the compressed stream ends early")
        # deflate is one stream; gzip allows members one after another, padded with zero bytes as gzip(1)
        # reads them.
        if coding == "deflate" and inflater.unused_data:
            raise bad_request(
                f"request body has {len(inflater.unused_data)} byte(s) after its deflate stream"
            )
        remaining = inflater.unused_data.lstrip(b"\0")
        if not remaining:
            return bytes(output)


# -- CSV ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvLayout:
    """How a CSV body's fields map to columns: by a header row (names) or by position."""

    has_header: bool
    width: int
    positions: dict[str, int]


def _is_position_header(fields: Sequence[str]) -> bool:
    """`0,1,2,...`: the header pandas writes for a table without column names."""
    return all(_POSITIONS.fullmatch(field) for field in fields) and list(fields) == [
        str(i) for i in range(len(fields))
    ]


def _could_be_data(first: Sequence[str], schema: InputSchema) -> bool:
    """Whether a row is a valid header-less data row: one field per input column, each valid for it."""
    if len(first) != len(schema.names):
        return False
    try:
        schema.typed_record(dict(zip(schema.names, first, strict=True)))
    except ColumnValueError:
        return False
    return True


def _is_header(first: Sequence[str], schema: InputSchema, target: str) -> bool:
    """Whether a CSV body's first row is its header. A row that could be data is data, except two forms:

    - the model's own header: its input columns, in the manifest's order;
    - its input columns in another order, each once, when some name is not a number (a row of numbers, like
      `2,0,1` for columns named 0,1,2, is data).

    A row that could not be data (another field count, or a value its column refuses) is a header when it
    names every feature column, or when most of its fields name columns (input columns or the target); it is
    then checked, so a header missing a column or naming one twice is refused by name. Any other row is data,
    so a data row that merely holds a column name is never dropped.
    """
    fields = [field.strip() for field in first]
    names = list(schema.names)
    if fields == names:
        return True
    if sorted(fields) == sorted(names) and not all(_NUMBER.fullmatch(field) for field in fields):
        return True
    if _could_be_data(first, schema):
        return False
    naming = sum(field in {*names, target} for field in fields)
    return set(schema.feature_names) <= set(fields) or 2 * naming > len(fields)


def _layout(first: Sequence[str], schema: InputSchema, target: str) -> _CsvLayout:
    fields = [field.strip() for field in first]
    if _is_position_header(fields) and not set(schema.feature_names) <= set(fields):
        shown_fields = ",".join(fields[:5]) + (",..." if len(fields) > 5 else "")
        raise bad_request(
            f"the first row ({shown_fields}) numbers the columns instead of naming them (pandas writes this "
            f"for a DataFrame without column names): send the column names ({','.join(schema.names)}) as "
            "the header, or no header row (if this row is data, send the header before it)"
        )
    if not _is_header(first, schema, target):
        return _CsvLayout(
            False, len(schema.names), {name: schema.positions[name] for name in schema.feature_names}
        )
    try:
        header = check_header(list(first), "CSV header")
    except DataError as error:
        raise bad_request(str(error)) from None
    missing = [name for name in schema.feature_names if name not in header]
    if missing:
        raise bad_request(
            f"CSV header is missing required column(s): {', '.join(missing)}", missing_columns=missing
        )
    return _CsvLayout(True, len(header), {name: header.index(name) for name in schema.feature_names})


def _width_error(
    layout: _CsvLayout, row: int, count: int, schema: InputSchema, first: Sequence[str]
) -> PayloadError:
    if layout.has_header:
        expectation = f"the header has {layout.width}"
    else:
        expectation = (
            f"without a header row each row needs {layout.width}, in this order: {','.join(schema.names)}"
        )
    called = other_separator(first[0]) if len(first) == 1 and row == 1 else None
    hint = f" (its one field holds {called}: CSV fields are separated by commas)" if called else ""
    return bad_request(f"row {row} has {count} field(s); {expectation}{hint}", row=row)


def _check_quotes_closed(text: str) -> None:
    if text.count('"') % 2 and ends_inside_quotes(io.StringIO(text, newline="")):
        raise bad_request("malformed CSV: the body ends inside a quoted field (a quote is not closed)")


def _csv_rows(text: str) -> Iterator[list[str]]:
    """Rows as Arrow's CSV reader reads them too (both lenient about stray quotes); blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if row:
                yield row
    except csv.Error as error:
        raise bad_request(f"malformed CSV at line {reader.line_num}: {error}", line=reader.line_num) from None


def decode_csv_rows(text: str, schema: InputSchema, target: str) -> Decoded:
    """The Python engine: every row parsed and typed one by one."""
    rows = _csv_rows(text)
    first = next(rows, None)
    if first is None:
        raise bad_request("CSV body has no rows")
    layout = _layout(first, schema, target)
    records, numbers = [], []
    body_rows = rows if layout.has_header else _chain(first, rows)
    for number, row in enumerate(body_rows, start=1):
        if len(row) != layout.width:
            raise _width_error(layout, number, len(row), schema, first)
        records.append({name: row[position] for name, position in layout.positions.items()})
        numbers.append(number)
    if not records:
        raise bad_request("CSV body has a header but no data rows")
    return Decoded(len(records), records=_typed_records(records, schema, numbers, "row"))


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def _typed_read(
    data: bytes, first: Sequence[str], layout: _CsvLayout, schema: InputSchema
) -> pa.Table | None:
    """The feature columns as Arrow reads them with the number columns typed by its own float parser: what
    the text path gives, faster, or None whenever the text path must decide.

    Arrow's parser accepts a subset of the number rule's cells (lightsage.data.values), and reads them as
    the rule does (the same parser types the text path's cells), with two exceptions it reads as floats
    where the rule may differ: NaN and infinities (`nan`, `-inf`, `1e999`). A column holding one goes the
    text path, as does a body Arrow refuses (a missing marker, a number with spaces inside, a row of
    another width...) or a value the schema refuses (the text path names it as the row engine does)."""
    if layout.has_header and any("\n" in field or "\r" in field for field in first):
        return None  # Arrow skips a header by lines, not rows
    names = [f"f{i}" for i in range(layout.width)]
    numbers = {layout.positions[column.name] for column in schema.features if column.kind == "number"}
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(
                column_names=names,
                skip_rows=1 if layout.has_header else 0,
                use_threads=False,
                block_size=1 << 26,
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[names[position] for position in sorted(set(layout.positions.values()))],
                column_types={
                    name: pa.float64() if position in numbers else pa.string()
                    for position, name in enumerate(names)
                },
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows == 0:
        return None
    for position in numbers:
        if pc.any(pc.invert(pc.is_finite(table.column(names[position])))).as_py():
            return None
    columns = {name: table.column(names[position]) for name, position in layout.positions.items()}
    try:
        return schema.typed_table(columns)
    except ColumnValueError:
        return None


def decode_csv_columns(body: bytes, text: str, schema: InputSchema, target: str) -> Decoded:
    """The Arrow engine: the body parsed as columns, numbers typed by Arrow (`_typed_read`) or, where that
    cannot decide, as text typed column by column."""
    text_start = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    first = next(_csv_rows(text), None)
    if first is None:
        raise bad_request("CSV body has no rows")
    layout = _layout(first, schema, target)
    typed = _typed_read(text_start, first, layout, schema)
    if typed is not None:
        return Decoded(typed.num_rows, table=typed)
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(text_start),
            read_options=pa_csv.ReadOptions(
                autogenerate_column_names=True, use_threads=False, block_size=1 << 26
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(max(layout.width, len(first)))},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        # Arrow's messages name no row: the row-by-row engine finds and names the culprit.
        return decode_csv_rows(text, schema, target)
    if table.num_columns != layout.width:
        raise _width_error(layout, 1, table.num_columns, schema, first)
    if layout.has_header:
        table = table.slice(1)
    if table.num_rows == 0:
        raise bad_request("CSV body has a header but no data rows")
    columns = {name: table.column(position) for name, position in layout.positions.items()}
    numbers = range(1, table.num_rows + 1)
    return Decoded(table.num_rows, table=_typed_table(columns, schema, numbers, "row"))


def decode_csv(body: bytes, schema: InputSchema, target: str) -> Decoded:
    text = _text(body)
    _check_quotes_closed(text)
    if len(body) <= SMALL_BODY_BYTES:
        return decode_csv_rows(text, schema, target)
    return decode_csv_columns(body, text, schema, target)


# -- JSON and JSON Lines ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    if name == "NaN":
        return float("nan")
    raise ValueError(f"{name} is not a valid value; use null (or NaN) for a missing value")


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise bad_request(f"{where} is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise bad_request(
            f"{where} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:
        raise bad_request(f"{where}: {error}") from None


def _as_record(record: Any, number: int, unit: str, schema: InputSchema) -> Mapping[str, Any]:
    if isinstance(record, list):
        if len(record) != len(schema.names):
            raise bad_request(
                f"{unit} {number} is a list of {len(record)} value(s); a list record needs "
                f"{len(schema.names)}, in this order: {','.join(schema.names)}",
                **{unit: number},
            )
        record = dict(zip(schema.names, record, strict=True))
    elif not isinstance(record, dict):
        raise bad_request(
            f"{unit} {number} is {type(record).__name__}, expected an object keyed by column name",
            **{unit: number},
        )
    missing = [name for name in schema.feature_names if name not in record]
    if missing:
        raise bad_request(
            f"{unit} {number} is missing required column(s): {', '.join(missing)} (use null when unknown)",
            **{unit: number, "missing_columns": missing},
        )
    return record


def decode_records(records: Sequence[Any], schema: InputSchema, numbers: Sequence[int], unit: str) -> Decoded:
    if not records:
        raise bad_request("request holds no records")
    checked = [
        _as_record(record, number, unit, schema) for record, number in zip(records, numbers, strict=True)
    ]
    if len(checked) * len(schema.features) <= SMALL_BODY_BYTES // 16:
        return Decoded(len(checked), records=_typed_records(checked, schema, numbers, unit))
    columns = {name: [record[name] for record in checked] for name in schema.feature_names}
    return Decoded(len(checked), table=_typed_table(columns, schema, numbers, unit))


WRAPPER = "instances"


def _json_records(document: Any, schema: InputSchema) -> list[Any]:
    """The records of a JSON body: a list of records, `{"instances": [...]}`, or one record.

    An object whose `instances` holds a list is the wrapper (a column's value is never a list); if other keys
    beside that list name input columns, it is refused as ambiguous. Any other object is one record, so a
    model with a column named `instances` takes `{"instances": 3, "x": 0.5}` as a record; for other models an
    `instances` that is not a list is refused.
    """
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        raise bad_request(
            f"JSON body is {type(document).__name__}; send an object, a list of objects, "
            '{"instances": [...]}'
        )
    if WRAPPER not in document:
        return [document]
    records = document[WRAPPER]
    if isinstance(records, list):
        columns = [name for name in schema.names if name in document and name != WRAPPER]
        if columns:
            raise bad_request(
                f"the object holds both a list under 'instances' (the {{\"instances\": [...]}} form) and "
                f"column(s) {', '.join(columns)}: send the records inside 'instances', or one record",
                columns=columns,
            )
        return records
    if WRAPPER in schema.names:
        return [document]
    raise bad_request("'instances' must be a list of records")


def decode_json(text: str, schema: InputSchema) -> Decoded:
    records = _json_records(_parse_json(text, "request body"), schema)
    return decode_records(records, schema, range(1, len(records) + 1), "record")


def decode_json_lines(text: str, schema: InputSchema) -> Decoded:
    """One JSON value per line; lines end at \\n (or \\r\\n) only; blank lines are skipped but counted."""
    records, numbers = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            records.append(_parse_json(line, f"line {number}"))
            numbers.append(number)
    return decode_records(records, schema, numbers, "line")


def decode(body: bytes, content_type: str, schema: InputSchema, target: str) -> Decoded:
    kind = media_type(content_type)
    if kind not in REQUEST_TYPES:
        raise PayloadError(
            415,
            f"unsupported Content-Type {content_type!r}; send one of {', '.join((CSV, JSON, JSON_LINES))}",
            supported=[CSV, JSON, JSON_LINES],
        )
    if kind == CSV:
        return decode_csv(body, schema, target)
    text = _text(body)
    return decode_json(text, schema) if kind == JSON else decode_json_lines(text, schema)
