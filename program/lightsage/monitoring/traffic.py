"""The traffic a drift check reads: an endpoint's captured requests, or a table.

Captured requests are SageMaker data capture's JSON Lines files, one request per line:
`{"captureData": {"endpointInput": {"observedContentType": "text/csv", "encoding": "CSV", "data": "..."}}}`.
The body is the data as is (encoding CSV or JSON) or base64-decoded (BASE64), and it is decoded with `serve`'s
own decoder for the observed content type, so each request gives the rows `serve` read from it. A request
`serve` refused (a value that is not a number, a missing column, a body that is not CSV or JSON) gives no
rows; it is counted, and its named column, if any, counts against that column's checks. Keys of JSON records
that the model does not know are counted as extra columns.

A table (CSV or Parquet files, as `train` reads a channel) is read with the value rule, leniently: a cell that
is not a number in a number column is counted, not fatal, and a text value outside a column's declared
choices is kept, to be counted as a value outside the domain. A table with columns the model does not know is
refused, naming them: it is not the model's kind of table.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lightsage.data.channels import DataError, display_name
from lightsage.data.schema import Column
from lightsage.data.values import BadValue, choice_lookup, read_numbers, texts_from_arrow
from lightsage.errors import UserError
from lightsage.evaluation.baseline import StatisticsBuilder
from lightsage.evaluation.inputs import table_reader
from lightsage.model.artifact import Manifest
from lightsage.serving.decode import decode
from lightsage.serving.negotiate import JSON, PayloadError, media_type

logger = logging.getLogger(__name__)

CAPTURE_SUFFIXES = (".jsonl", ".json")
ENCODINGS = ("CSV", "JSON", "BASE64")
# Decoded rows are gathered into batches of about this many before their statistics are taken.
BATCH_ROWS = 50_000
SHOWN_REASONS = 5


class TrafficError(UserError):
    """The traffic cannot be read: a capture line that is not one, an unknown encoding, unknown columns."""


@dataclass
class Traffic:
    """What the traffic holds: statistics of the model's input columns it has, the columns it lacks, columns
    the model does not know, and the requests `serve` refused."""

    source: str
    statistics: StatisticsBuilder
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    refused_by_column: Counter[str] = field(default_factory=Counter)
    missing_by_column: Counter[str] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return self.statistics.rows


def _data_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Capture files and other files of the folder (markers, hidden and empty files left out)."""
    if not folder.is_dir():
        raise TrafficError(
            f"the traffic input {folder} is missing: give captured requests (data capture's JSON Lines "
            "files) "
            "or a CSV or Parquet table as the processing input named 'traffic'"
        )
    captures, others = [], []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        if path.stat().st_size == 0:
            continue
        (captures if path.name.lower().endswith(CAPTURE_SUFFIXES) else others).append(path)
    return captures, others


def read_traffic(folder: Path, manifest: Manifest) -> Traffic:
    captures, others = _data_files(folder)
    if captures and others:
        raise TrafficError(
            f"the traffic input {folder} mixes captured requests ({display_name(captures[0], folder)}, ...) "
            f"with other files ({display_name(others[0], folder)}, ...): give one or the other"
        )
    if captures:
        return read_captures(folder, captures, manifest)
    return read_table(folder, manifest)


# -- captured requests -------------------------------------------------------------------------------------


def _body(endpoint_input: Any, where: str) -> tuple[bytes, str]:
    if not isinstance(endpoint_input, dict):
        raise TrafficError(f"{where} has no captureData.endpointInput object: it is not a captured request")
    encoding, data = endpoint_input.get("encoding"), endpoint_input.get("data")
    content_type = endpoint_input.get("observedContentType")
    if encoding not in ENCODINGS:
        raise TrafficError(
            f"{where}: captureData.endpointInput.encoding is {encoding!r}, not one of {', '.join(ENCODINGS)} "
            "(the encodings data capture writes)"
        )
    if not isinstance(content_type, str):
        raise TrafficError(f"{where}: captureData.endpointInput.observedContentType is {content_type!r}")
    if encoding == "JSON" and not isinstance(data, str):
        data = json.dumps(data)  # a capture tool that embedded the JSON body rather than its text
    if not isinstance(data, str):
        raise TrafficError(f"{where}: captureData.endpointInput.data is {type(data).__name__}, not text")
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True), content_type
        except (binascii.Error, ValueError) as error:
            raise TrafficError(f"{where}: the BASE64 data is not valid base64 ({error})") from None
    return data.encode("utf-8"), content_type


def _record_keys(body: bytes, content_type: str) -> set[str]:
    """The keys of a JSON or JSON Lines body's records (none for CSV or a body that is not JSON)."""
    kind = media_type(content_type)
    try:
        text = body.decode("utf-8-sig")
        documents = (
            [json.loads(text)]
            if kind == JSON
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return set()
    keys: set[str] = set()
    for document in documents:
        records = document.get("instances", [document]) if isinstance(document, dict) else document
        for record in records if isinstance(records, list) else [records]:
            if isinstance(record, dict):
                keys.update(record)
    return keys


class _Batcher:
    def __init__(self, statistics: StatisticsBuilder, arrow_schema: pa.Schema) -> None:
        self.statistics = statistics
        self.arrow_schema = arrow_schema
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        self.tables.append(table.select(self.arrow_schema.names).cast(self.arrow_schema))
        self.rows += table.num_rows
        if self.rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.tables:
            self.statistics.observe(pa.concat_tables(self.tables))
        self.tables, self.rows = [], 0


def _lines(path: Path, folder: Path) -> Iterator[tuple[str, str]]:
    name = display_name(path, folder)
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield f"file '{name}', line {number}", line
    except UnicodeDecodeError as error:
        raise TrafficError(f"file '{name}' is not UTF-8 text: {error}") from None


def read_captures(folder: Path, files: list[Path], manifest: Manifest) -> Traffic:
    schema = manifest.inputs
    known = {*schema.names, manifest.target}
    traffic = Traffic(f"{len(files)} capture file(s)", StatisticsBuilder(schema.features))
    arrow_schema = pa.schema(
        [(c.name, pa.float64() if c.kind == "number" else pa.string()) for c in schema.features]
    )
    batcher = _Batcher(traffic.statistics, arrow_schema)
    for path in files:
        for where, line in _lines(path, folder):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise TrafficError(f"{where} is not JSON: {error.msg} at column {error.colno}") from None
            capture = record.get("captureData") if isinstance(record, dict) else None
            body, content_type = _body(
                capture.get("endpointInput") if isinstance(capture, dict) else None, where
            )
            traffic.requests += 1
            try:
                decoded = decode(body, content_type, schema, manifest.target)
            except PayloadError as error:
                _refused(traffic, error)
                continue
            for key in _record_keys(body, content_type) - known - {"instances"}:
                traffic.extra_columns[key] += 1
            if decoded.table is not None:
                batcher.add(decoded.table)
            else:
                batcher.add(pa.Table.from_pylist(decoded.records or [], schema=arrow_schema))
    batcher.flush()
    if traffic.refused:
        shown = "; ".join(
            f"{reason} ({count}x)" for reason, count in traffic.refused.most_common(SHOWN_REASONS)
        )
        logger.info(
            f"{sum(traffic.refused.values())} of {traffic.requests} captured request(s) were refused: {shown}"
        )
    if traffic.requests == 0:
        raise TrafficError(f"the capture files in {folder} hold no captured request")
    if traffic.rows == 0:
        raise TrafficError(
            f"none of the {traffic.requests} captured request(s) reads as the model's input, as `serve` "
            "reads "
            f"it: {traffic.refused.most_common(1)[0][0]}"
        )
    return traffic


def _refused(traffic: Traffic, error: PayloadError) -> None:
    details = error.details
    if isinstance(details.get("column"), str):
        traffic.refused_by_column[details["column"]] += 1
    for name in details.get("missing_columns", []):
        traffic.missing_by_column[name] += 1
    reason = error.message
    for unit in ("row", "record", "line"):  # the same mistake in row 3 and row 9 is one reason
        if isinstance(details.get(unit), int):
            reason = reason.replace(f"{unit} {details[unit]}", unit, 1)
    traffic.refused[f"{error.status}: {reason}"] += 1


# -- a table -------------------------------------------------------------------------------------------------


def lenient_column(column: Column, values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, int]:
    """A column typed by the value rule without refusing: numbers (NaN where missing or not a number) with the
    count of cells that are not numbers; or trimmed text, a declared choice in its canonical spelling."""
    if column.kind == "number":
        reading = read_numbers(values)
        return pa.array(reading.numbers, pa.float64()), int(reading.bad.sum())
    texts = texts_from_arrow(values)
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if column.choices:
        lookup = choice_lookup(column.choices)
        positions = pc.index_in(pc.utf8_lower(texts), value_set=pa.array(list(lookup), pa.string()))
        canonical = pc.take(pa.array(list(lookup.values()), pa.string()), positions)
        texts = pc.if_else(pc.is_valid(positions), canonical, texts)
    return texts.cast(pa.string()), 0


def read_table(folder: Path, manifest: Manifest) -> Traffic:
    schema = manifest.inputs
    try:
        reader = table_reader(folder, "traffic")
    except DataError as error:
        raise TrafficError(
            f"{error}; the traffic is either captured requests (data capture's .jsonl files) or a table"
        ) from None
    known = {*schema.names, manifest.target}
    unknown = [name for name in reader.names if name not in known]
    if unknown:
        raise TrafficError(
            f"the traffic table has column(s) the model does not know: {', '.join(unknown)}; the model reads "
            f"{', '.join(schema.feature_names)} (and knows "
            f"{', '.join(sorted(known - set(schema.feature_names)))}"
            "): drop the others, or check that this is the model's kind of table"
        )
    present = [column for column in schema.features if column.name in reader.names]
    missing = [column.name for column in schema.features if column.name not in reader.names]
    if not present:
        raise TrafficError(
            f"the traffic table has none of the columns the model reads ({', '.join(schema.feature_names)})"
        )
    traffic = Traffic(", ".join(file.name for file in reader.files), StatisticsBuilder(present), missing)
    for batch in reader.batches([column.name for column in present]):
        arrays, bad = [], {}
        for column in present:
            try:
                array, bad[column.name] = lenient_column(column, batch.table.column(column.name))
            except BadValue as error:
                raise TrafficError(
                    f"{batch.file.where}, row {batch.first_row + error.index + 1}, "
                    f"column '{column.name}': {error}"
                ) from None
            arrays.append(array)
        traffic.statistics.observe(pa.Table.from_arrays(arrays, names=[c.name for c in present]), bad)
    traffic.requests = traffic.rows
    return traffic
