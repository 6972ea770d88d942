"""Training channels: the data files in a channel folder, read in Arrow batches.

A channel may hold CSV files (with a header row, optionally gzipped, whatever their name) and Parquet files,
mixed; every file must have the same columns in the same order. Empty files, files without rows (a header-only
CSV or a zero-row Parquet file: what Spark and Glue write for an empty partition) and the markers Spark, Glue
and EMR write (`_SUCCESS`, names starting with `_` or `.`) are skipped with a log line; a channel needs one
file with rows. Parquet columns of numbers, text, booleans, dates and times are read; other types (binary,
nested, intervals) are refused naming the column. CSV cells arrive as text and are typed later by
`lightsage.data.schema`, the same way request values are. Every error names the channel and file, and the row
(data rows count from 1, the header is not a row), line or column where it can. A pass may read ahead: the
next batch is read on a thread of its own while the pass works on this one.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from lightsage.errors import UserError

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
# Rows are read a block at a time. Arrow reads ahead of the rows in use by dozens of blocks, so a pass holds
# about 40 times the block size (4 MiB: about 150 MiB; 1 MiB: about 60 MiB), while every batch costs each pass
# a fixed overhead (a few milliseconds for a dozen columns). So a file is read in about CSV_BLOCKS_PER_FILE
# blocks of CSV_BLOCK_BYTES to CSV_LARGE_BLOCK_BYTES, and a pass that reads only a few of the columns gathers
# consecutive blocks into one batch while its table stays within CSV_BATCH_BYTES. A file with a row longer
# than its block is read again with blocks 4 times larger, up to CSV_LARGEST_BLOCK_BYTES.
CSV_BLOCK_BYTES = 1 << 20
CSV_LARGE_BLOCK_BYTES = 4 << 20
CSV_BLOCKS_PER_FILE = 256
CSV_BATCH_BYTES = 2 << 20
CSV_LARGEST_BLOCK_BYTES = 1 << 30
PARQUET_BATCH_ROWS = 131_072
_SCAN_BYTES = 8 << 20
UNNAMED_PREFIX = "Unnamed:"
# Separators other than the comma that spreadsheets and exports use, as messages call them
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "bars"}

Format = Literal["csv", "parquet"]


class DataError(UserError, ValueError):
    """Training data is missing or unusable; the message names the channel, file, row, column or value."""


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count >> 10} KiB"


def csv_block_bytes(file_bytes: int) -> int:
    """The block a CSV file of this size is first read in (CSV_BLOCKS_PER_FILE blocks, within bounds)."""
    largest = max(CSV_LARGE_BLOCK_BYTES, CSV_BLOCK_BYTES)
    return min(max(file_bytes // CSV_BLOCKS_PER_FILE, CSV_BLOCK_BYTES), largest)


def display_name(path: Path, root: Path | None = None) -> str:
    """A file name fit for a message, also when the name is not valid UTF-8."""
    name = str(path.relative_to(root)) if root is not None else path.name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class DataFile:
    path: Path
    channel: str
    name: str
    format: Format
    gzipped: bool

    @property
    def where(self) -> str:
        return f"channel '{self.channel}', file '{self.name}'"

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _is_marker(relative: Path) -> bool:
    return any(part.startswith(("_", ".")) for part in relative.parts)


def _format_of(path: Path) -> tuple[Format, bool] | None:
    with path.open("rb") as handle:
        head = handle.read(4)
    lowered = path.name.lower()
    if head == PARQUET_MAGIC or lowered.endswith(PARQUET_SUFFIXES):
        return "parquet", False
    if head[:2] == GZIP_MAGIC:
        return "csv", True
    if lowered.endswith(CSV_SUFFIXES):
        return "csv", False
    return None


def channel_files(channel_dir: Path, channel: str) -> list[DataFile]:
    """The data files of a channel, sorted by path; markers, empty and other files are logged and skipped."""
    if not channel_dir.is_dir():
        raise DataError(f"channel '{channel}' is missing: no folder at {channel_dir}")
    found: list[DataFile] = []
    skipped: list[str] = []
    for path in sorted(channel_dir.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(channel_dir)
        name = display_name(path, channel_dir)
        if _is_marker(relative):
            skipped.append(f"{name} (marker or hidden file)")
        elif path.stat().st_size == 0:
            skipped.append(f"{name} (empty)")
        elif (kind := _format_of(path)) is None:
            skipped.append(f"{name} (not .csv, .csv.gz or .parquet)")
        else:
            found.append(DataFile(path, channel, name, kind[0], kind[1]))
    if skipped:
        logger.info(f"channel '{channel}': skipped {len(skipped)} file(s): {', '.join(skipped[:10])}")
    if not found:
        listed = ", ".join(skipped[:5]) or "nothing"
        raise DataError(
            f"channel '{channel}' has no data file in {channel_dir}: expected CSV (.csv, .csv.gz) or Parquet "
            f"(.parquet) files (found: {listed})"
        )
    return found


def check_header(names: list[str], where: str) -> list[str]:
    """Column names trimmed; duplicated, empty and pandas-index names, and a lone name holding another
    separator, are refused (train and serve alike)."""
    trimmed = [name.strip() for name in names]
    unnamed = [
        str(position)
        for position, name in enumerate(trimmed, 1)
        if not name or name.startswith(UNNAMED_PREFIX)
    ]
    if unnamed:
        raise DataError(
            f"{where}: the header has an empty or 'Unnamed' column name at position(s) {', '.join(unnamed)} "
            "(a pandas index written by DataFrame.to_csv(): write it with index=False; R's write.csv: "
            "row.names=FALSE)"
        )
    if len(trimmed) == 1 and (called := other_separator(trimmed[0])):
        raise DataError(
            f"{where}: the header reads as one column, {trimmed[0]!r}, whose name holds {called}: the file "
            f"looks separated by {called} instead of commas; write it comma-separated (pandas: "
            "to_csv(sep=','))"
        )
    duplicated = sorted({name for name in trimmed if trimmed.count(name) > 1})
    if duplicated:
        raise DataError(f"{where}: the header names these columns more than once: {', '.join(duplicated)}")
    return trimmed


def other_separator(field: str) -> str | None:
    """What a lone field holds between values instead of commas (semicolons, tabs, bars), if it does."""
    for separator, called in OTHER_SEPARATORS.items():
        if sum(1 for part in field.split(separator) if part.strip()) >= 2:
            return called
    return None


@dataclass(frozen=True)
class RawBatch:
    """Rows of one file as Arrow arrays (text for CSV), and where they start: the 0-based row in the file."""

    file: DataFile
    first_row: int
    table: pa.Table

    @property
    def rows(self) -> int:
        return self.table.num_rows


class FileReader:
    """Reads one data file in batches; its columns are known once constructed."""

    def __init__(self, data_file: DataFile) -> None:
        self.file = data_file
        self._parquet_rows: int | None = None
        self.raw_names = self._raw_names()
        self.names = check_header(self.raw_names, data_file.where)
        self._checked_complete = data_file.gzipped
        self._block_bytes = csv_block_bytes(data_file.size)

    def _open_text(self) -> io.TextIOBase:
        if self.file.gzipped:
            return io.TextIOWrapper(gzip.open(self.file.path), encoding="utf-8-sig", newline="")
        return self.file.path.open(encoding="utf-8-sig", newline="")

    def _raw_names(self) -> list[str]:
        where = self.file.where
        try:
            if self.file.format == "parquet":
                with self.file.path.open("rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    self._parquet_rows = parquet.metadata.num_rows
                    return list(parquet.schema_arrow.names)
            with self._open_text() as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError:
            raise self._not_utf8() from None
        except csv.Error as error:
            raise DataError(f"{where}: the header row is not readable CSV: {error}") from None
        except (OSError, EOFError, pa.ArrowException) as error:
            raise DataError(
                f"{where} is not a readable {self.file.format} file: {_first_line(error)}"
            ) from None
        if not header or not any(field.strip() for field in header):
            raise DataError(f"{where} has no header row (the first line is empty)")
        return header

    def has_rows(self) -> bool:
        """Whether the file holds a data row: a Parquet file's metadata, or a CSV line after the header that
        is not blank (as Arrow reads it). A file unreadable past its header counts as having rows: reading it
        names the problem."""
        if self._parquet_rows is not None:
            return self._parquet_rows > 0
        try:
            with self._open_text() as handle:
                reader = csv.reader(handle)
                next(reader, None)
                return any(fields for fields in reader)
        except (csv.Error, UnicodeDecodeError, OSError, EOFError):
            return True

    def batches(self, columns: list[str] | None = None) -> Iterator[RawBatch]:
        """Batches of the named columns (all by default), renamed to the trimmed header names."""
        wanted = self.names if columns is None else columns
        try:
            if self.file.format == "parquet":
                yield from self._parquet_batches(wanted)
            else:
                yield from self._csv_batches(wanted)
        except pa.ArrowException as error:
            raise self._explain(error) from None
        except (OSError, EOFError) as error:
            raise DataError(f"{self.file.where} is not readable: {_first_line(error)}") from None

    def _csv_batches(self, wanted: list[str]) -> Iterator[RawBatch]:
        first_row = 0
        while True:
            try:
                for batch in _gathered(self._csv_blocks(wanted, skip=first_row), CSV_BATCH_BYTES):
                    yield RawBatch(self.file, first_row, batch)
                    first_row += batch.num_rows
                break
            except pa.ArrowInvalid as error:
                if not _row_longer_than_block(str(error)) or self._block_bytes >= CSV_LARGEST_BLOCK_BYTES:
                    raise
                # a row longer than the block: read on with larger blocks, past the rows already given
                self._block_bytes = min(4 * self._block_bytes, CSV_LARGEST_BLOCK_BYTES)
                logger.info(
                    f"{self.file.where} has a row longer than the read block: reading it again in blocks of "
                    f"{_size(self._block_bytes)} from row {first_row + 1}"
                )
        if first_row == 0:
            raise DataError(f"{self.file.where} has a header but no rows")
        if not self._checked_complete:
            self._check_complete(first_row)
            self._checked_complete = True

    def _csv_blocks(self, wanted: list[str], skip: int) -> Iterator[pa.Table]:
        """The file's rows after the first `skip`, a block at a time, columns renamed to `wanted`."""
        raw_of = dict(zip(self.names, self.raw_names, strict=True))
        # Opened by Python, not by path: Arrow cannot open a path that is not valid UTF-8.
        handle = self.file.path.open("rb")
        source = pa.input_stream(handle, compression="gzip" if self.file.gzipped else None)
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=self._block_bytes, use_threads=True),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={raw: pa.string() for raw in self.raw_names},
                include_columns=[raw_of[name] for name in wanted],
                strings_can_be_null=False,
            ),
        )
        with handle, reader:
            for batch in reader:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                table = pa.Table.from_batches([batch.slice(skip)]).rename_columns(wanted)
                skip = 0
                yield table

    def _parquet_batches(self, wanted: list[str]) -> Iterator[RawBatch]:
        raw_of = dict(zip(self.names, self.raw_names, strict=True))
        parquet = pq.ParquetFile(self.file.path.open("rb"))
        first_row = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[raw_of[n] for n in wanted]):
            table = pa.Table.from_batches([batch]).rename_columns(wanted)
            for name, column in zip(wanted, table.columns, strict=True):
                if not readable_type(column.type):
                    raise DataError(
                        f"{self.file.where}, column '{name}' has type {column.type}: only numbers, text, "
                        "booleans, dates and times can be read (write it as text or numbers, or leave it "
                        "out of the file)"
                    )
            yield RawBatch(self.file, first_row, table)
            first_row += batch.num_rows
        if first_row == 0:
            raise DataError(f"{self.file.where} has no rows")

    def _check_complete(self, rows: int) -> None:
        """A file cut off inside a quoted field reads as valid; an odd count of quotes gives it away."""
        quotes = 0
        with self.file.path.open("rb") as handle:
            while block := handle.read(_SCAN_BYTES):
                quotes += block.count(b'"')
        if quotes % 2 == 0:
            return
        with self._open_text() as handle:
            if ends_inside_quotes(handle):
                raise DataError(
                    f"{self.file.where} ends inside a quoted field (row {rows}): the file looks truncated"
                )

    def _explain(self, error: pa.ArrowException) -> DataError:
        """Turn Arrow's message into one that names the row or line."""
        message = _first_line(error)
        where = self.file.where
        if "invalid utf8" in message.lower():
            return self._not_utf8()
        if _row_longer_than_block(message):
            return DataError(
                f"{where} has a row longer than {_size(CSV_LARGEST_BLOCK_BYTES)}, the most one CSV row may "
                "take (split the cell, or write the table as Parquet)"
            )
        if "Expected" in message and "columns, got" in message:
            return DataError(f"{where}: {self._first_short_or_long_row()}")
        return DataError(f"{where} is not a readable {self.file.format} file: {message}")

    def _not_utf8(self) -> DataError:
        return DataError(
            f"{self.file.where} is not UTF-8 text: {self._first_invalid_utf8()} (save it as UTF-8)"
        )

    def _first_invalid_utf8(self) -> str:
        decoder = codecs.getincrementaldecoder("utf-8")()
        line = 1
        opener = gzip.open if self.file.gzipped else open
        with opener(self.file.path, "rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return 'it starts with a UTF-16 byte order mark (as Excel\'s "Unicode Text" writes)'
            handle.seek(0)
            while block := handle.read(_SCAN_BYTES):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as error:
                    before = block[: error.start]
                    column = len(before) - (before.rfind(b"\n") + 1) + 1
                    line += before.count(b"\n")
                    return f"line {line} has byte {block[error.start]:#04x} at character {column}"
                line += block.count(b"\n")
        return "a byte sequence that is not UTF-8"

    def _first_short_or_long_row(self) -> str:
        width = len(self.raw_names)
        mismatch: tuple[int, int] | None = None
        more_rows = False
        with self._open_text() as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for row_number, fields in enumerate((fields for fields in reader if fields), start=1):
                if mismatch is not None:
                    more_rows = True
                    break
                if len(fields) != width:
                    mismatch = (row_number, len(fields))
        if mismatch is None:
            return "a row has a different number of fields than the header"
        row, count = mismatch
        hint = " (it is the last row: the file looks truncated)" if not more_rows and count < width else ""
        return f"row {row} has {count} field(s) but the header has {width}{hint}"


class ChannelReader:
    """All files of a channel with rows, read in order; every one must have the first one's columns, in its
    order. Files without rows are skipped with a log line."""

    def __init__(self, files: list[DataFile]) -> None:
        readers = [FileReader(data_file) for data_file in files]
        self.readers = [reader for reader in readers if reader.has_rows()]
        channel = files[0].channel
        empty = [reader.file.name for reader in readers if reader not in self.readers]
        if not self.readers:
            raise DataError(
                f"channel '{channel}' has no rows: its {len(files)} data file(s) hold a header only or no "
                f"rows ({', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''})"
            )
        if empty:
            logger.info(
                f"channel '{channel}': skipped {len(empty)} file(s) without rows (header only or zero "
                f"rows, as Spark and Glue write for empty partitions): {', '.join(empty[:10])}"
                + (", ..." if len(empty) > 10 else "")
            )
        self.files = [reader.file for reader in self.readers]
        first = self.readers[0]
        for reader in self.readers[1:]:
            if reader.names != first.names:
                missing = [name for name in first.names if name not in reader.names]
                extra = [name for name in reader.names if name not in first.names]
                detail = (
                    f"missing {missing}, extra {extra}"
                    if missing or extra
                    else "same columns in another order"
                )
                raise DataError(
                    f"{reader.file.where} has different columns than '{first.file.name}': {detail}"
                )
        self.names = first.names
        self.channel = channel

    @property
    def size(self) -> int:
        return sum(data_file.size for data_file in self.files)

    def batches(self, columns: list[str] | None = None, *, ahead: bool = False) -> Iterator[RawBatch]:
        """Every file's batches of the named columns (all by default), in file order; `ahead` reads the next
        batch while the caller works on this one (`read_ahead`)."""
        batches = (batch for reader in self.readers for batch in reader.batches(columns))
        return read_ahead(batches) if ahead else batches


Item = TypeVar("Item")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()
# How often the reading thread looks whether the pass has stopped, while the next batch waits to be taken.
_STOP_POLL_SECONDS = 0.1


def _gathered(tables: Iterator[pa.Table], limit_bytes: int) -> Iterator[pa.Table]:
    """Consecutive tables joined while they hold at most `limit_bytes` together (a larger one stays alone),
    each as one table of one chunk per column."""
    group: list[pa.Table] = []
    size = 0
    for table in tables:
        if group and size + table.nbytes > limit_bytes:
            yield _joined(group)
            group, size = [], 0
        group.append(table)
        size += table.nbytes
    if group:
        yield _joined(group)


def _joined(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()


def read_ahead(items: Iterator[Item]) -> Iterator[Item]:
    """The same items in the same order, the next one read on a thread of its own while the caller works on
    this one: Arrow reads and parses without holding the GIL, so a second CPU reads while the first computes.
    An error while reading is raised here, after the items before it; when the caller stops early, the thread
    stops and closes `items`."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stopped.is_set():
            try:
                ready.put(item, timeout=_STOP_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
        except BaseException as error:  # raised again on the caller's thread
            hand_over(_Failed(error))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        hand_over(_END)

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stopped.set()
        reader.join()


def ends_inside_quotes(lines: Iterable[str]) -> bool:
    """True when CSV text stops inside a quoted field, which lenient parsers (Arrow's too) accept silently."""
    try:
        for _ in csv.reader(lines, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


_READABLE = (
    pa.types.is_null,
    pa.types.is_boolean,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_string_view,
    pa.types.is_date,
    pa.types.is_timestamp,
    pa.types.is_time,
    pa.types.is_duration,
)


def readable_type(kind: pa.DataType) -> bool:
    """Parquet types the value rule reads: numbers, text (also dictionary-encoded), booleans, dates and
    times (read as their ISO text); not binary, nested or interval columns."""
    if pa.types.is_dictionary(kind):
        return readable_type(kind.value_type)
    return any(check(kind) for check in _READABLE)


def _row_longer_than_block(message: str) -> bool:
    """Whether Arrow's CSV reader stopped at a row that straddles its block ("straddling object straddles two
    block boundaries")."""
    return "straddl" in message


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
