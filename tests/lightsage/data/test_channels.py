"""Channels: which files are read, and every reading error naming the file, row, line or column."""

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lightsage.data import channels
from lightsage.data.channels import (
    ChannelReader,
    DataError,
    channel_files,
    check_header,
    csv_block_bytes,
    readable_type,
)

from testsupport import lightsage_log

HEADER = "a,b,c\n"


def write(folder: Path, name: str | bytes, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if isinstance(name, str) else name.decode("utf-8", "surrogateescape"))
    path.write_bytes(content)
    return path


def rows_of(folder: Path) -> list[dict[str, str]]:
    reader = ChannelReader(channel_files(folder, "train"))
    return [row for batch in reader.batches() for row in batch.table.to_pylist()]


def test_markers_empty_and_unknown_files_are_skipped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "part-0001.csv", (HEADER + "1,2,3\n").encode())
    write(tmp_path, "_SUCCESS", b"")
    write(tmp_path, "part-0002.csv", b"")
    write(tmp_path, ".part-0001.csv.crc", b"xx")
    write(tmp_path, "notes.md", b"hello")
    with lightsage_log(caplog) as logged:
        files = channel_files(tmp_path, "train")
    assert [f.name for f in files] == ["part-0001.csv"]
    assert (
        "skipped 4 file(s)" in logged[0] and "_SUCCESS" in logged[0] and "part-0002.csv (empty)" in logged[0]
    )


def test_a_channel_with_nothing_left_says_what_it_found(tmp_path: Path) -> None:
    write(tmp_path, "_SUCCESS", b"")
    with pytest.raises(DataError, match=r"channel 'train' has no data file .*found: _SUCCESS"):
        channel_files(tmp_path, "train")
    with pytest.raises(DataError, match="channel 'validation' is missing"):
        channel_files(tmp_path / "nope", "validation")


def test_csv_gzip_and_parquet_files_mix_in_one_channel(tmp_path: Path) -> None:
    write(tmp_path, "1.csv", (HEADER + "1,x,3\n").encode())
    write(tmp_path, "2.data", gzip.compress((HEADER + "4,y,6\n").encode()))
    pd.DataFrame({"a": [7], "b": ["z"], "c": [9.5]}).to_parquet(tmp_path / "3.parquet")
    rows = rows_of(tmp_path)
    assert [row["b"] for row in rows] == ["x", "y", "z"]
    assert rows[0]["a"] == "1" and rows[2]["a"] == 7


@pytest.mark.parametrize(
    ("file_bytes", "block_bytes"),
    [(10_000, 1 << 20), (116 << 20, 1 << 20), (512 << 20, 2 << 20), (1 << 30, 4 << 20), (40 << 30, 4 << 20)],
)
def test_larger_files_are_read_in_larger_blocks_within_bounds(file_bytes: int, block_bytes: int) -> None:
    assert csv_block_bytes(file_bytes) == block_bytes


@pytest.mark.parametrize("gzipped", [False, True], ids=["csv", "csv.gz"])
def test_rows_longer_than_the_read_block_are_read_with_larger_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, gzipped: bool
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 1024)
    rows = [f"{number},short,{number}\n" for number in range(400)]
    rows[150] = "150," + "x" * 3000 + ",150\n"  # longer than the block, past the first blocks
    rows[390] = "390," + "y" * 20000 + ",390\n"  # longer than the first larger block too
    content = (HEADER + "".join(rows)).encode()
    write(tmp_path, "long.csv", gzip.compress(content) if gzipped else content)
    reader = ChannelReader(channel_files(tmp_path, "train"))
    with lightsage_log(caplog) as logged:
        batches = list(reader.batches())
    assert [row["a"] for batch in batches for row in batch.table.to_pylist()] == [str(n) for n in range(400)]
    assert [batch.first_row for batch in batches] == list(
        np.cumsum([0] + [batch.rows for batch in batches])[:-1]
    )
    assert "reading it again in blocks of" in " ".join(logged)
    # a second pass starts with the larger blocks: no row straddles them
    with lightsage_log(caplog) as logged_again:
        assert sum(batch.rows for batch in reader.batches()) == 400
    assert not [line for line in logged_again if "reading it again" in line]


def test_a_row_longer_than_the_largest_block_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 1024)
    monkeypatch.setattr(channels, "CSV_LARGEST_BLOCK_BYTES", 4 << 20)
    huge_row = "4," + "z" * (9 << 20) + ",6\n"  # over two of the largest blocks
    write(tmp_path, "huge.csv", (HEADER + "1,2,3\n" + huge_row + "7,8,9\n" * 1000).encode())
    with pytest.raises(DataError, match=r"'huge.csv' has a row longer than 4 MiB, the most one CSV row may"):
        rows_of(tmp_path)


def test_headers_must_match_across_files(tmp_path: Path) -> None:
    write(tmp_path, "1.csv", (HEADER + "1,2,3\n").encode())
    write(tmp_path, "2.csv", b"a,c,b\n1,2,3\n")
    with pytest.raises(
        DataError, match=r"file '2.csv' has different columns than '1.csv': same columns in another"
    ):
        ChannelReader(channel_files(tmp_path, "train"))


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (["a", "b", "a"], "names these columns more than once: a"),
        (["", "a", "b"], "empty or 'Unnamed' column name at position(s) 1"),
        (["Unnamed: 0", "a"], "a pandas index"),
        (["price;colour;label"], "'price;colour;label', whose name holds semicolons: the file looks"),
        (["price\tlabel"], "whose name holds tabs"),
        (["price | label"], "whose name holds bars"),
    ],
)
def test_header_rules(header: list[str], fragment: str) -> None:
    with pytest.raises(DataError) as caught:
        check_header(header, "channel 'train', file 'x.csv'")
    assert fragment in str(caught.value)


@pytest.mark.parametrize("header", [["price"], ["a;"], ["a;b", "c"], ["a | b", "c"]])
def test_one_column_or_a_name_with_one_part_is_not_taken_for_another_separator(header: list[str]) -> None:
    assert check_header(header, "x") == header


def test_a_semicolon_separated_file_is_named_as_such(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", b"a;b;label\n1;2;x\n3;4;y\n")
    with pytest.raises(DataError, match=r"file 't.csv': the header reads as one column, 'a;b;label'"):
        rows_of(tmp_path)


def test_a_row_with_the_wrong_field_count_is_named(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", (HEADER + "1,2,3\n4,5\n6,7,8\n").encode())
    with pytest.raises(DataError, match=r"file 't.csv': row 2 has 2 field\(s\) but the header has 3$"):
        rows_of(tmp_path)


def test_a_short_last_row_reads_as_truncation(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", (HEADER + "1,2,3\n4,5").encode())
    with pytest.raises(DataError, match=r"row 2 has 2 field.*last row: the file looks truncated"):
        rows_of(tmp_path)


def test_a_file_cut_inside_a_quoted_field_reads_as_truncation(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", (HEADER + '1,2,"three\nlines').encode())
    with pytest.raises(DataError, match=r"ends inside a quoted field \(row 1\): the file looks truncated"):
        rows_of(tmp_path)


def test_a_quoted_newline_in_the_last_row_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", (HEADER + '1,2,3\n4,5,"six\nseven"\n').encode())
    assert rows_of(tmp_path)[1]["c"] == "six\nseven"
    write(tmp_path, "u.csv", (HEADER + 'x,"a ""quoted"" word",3').encode())


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "latin1.csv", (HEADER + "1,2,3\n4,caf\xe9,6\n").encode("latin-1"))
    with pytest.raises(
        DataError, match=r"file 'latin1.csv' is not UTF-8 text: line 3 has byte 0xe9 at character 6"
    ):
        rows_of(tmp_path)


@pytest.mark.parametrize("order_mark", [b"\xff\xfe", b"\xfe\xff"], ids=["little-endian", "big-endian"])
def test_a_utf16_file_is_named_as_such(tmp_path: Path, order_mark: bytes) -> None:
    codec = "utf-16-le" if order_mark == b"\xff\xfe" else "utf-16-be"
    write(tmp_path, "excel.csv", order_mark + (HEADER + "1,2,3\n").encode(codec))
    with pytest.raises(DataError, match=r"file 'excel.csv' is not UTF-8 text: it starts with a UTF-16 byte"):
        rows_of(tmp_path)


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    write(tmp_path, b"caf\xe9.csv", (HEADER + "1,2\n").encode())
    with pytest.raises(DataError) as caught:
        rows_of(tmp_path)
    assert "file 'caf\\xe9.csv'" in str(caught.value)
    str(caught.value).encode("utf-8")


def test_truncated_gzip_and_garbage_are_named(tmp_path: Path) -> None:
    write(tmp_path, "t.csv.gz", gzip.compress((HEADER + "1,2,3\n" * 1000).encode())[:-30])
    with pytest.raises(DataError, match=r"file 't\.csv\.gz'"):
        rows_of(tmp_path)
    write(tmp_path / "p", "bad.parquet", b"PAR1 not really")
    with pytest.raises(DataError, match=r"file 'bad\.parquet' is not a readable parquet file"):
        rows_of(tmp_path / "p")


def empty_partitions(folder: Path) -> list[str]:
    """Files without rows as Spark, Glue and pandas write them for empty partitions, with their names."""
    write(folder, "part-00001.csv", HEADER.encode())
    write(folder, "part-00002.csv", (HEADER + "\n\r\n\n").encode())  # blank lines are no rows
    write(folder, "part-00003.csv.gz", gzip.compress(HEADER.encode()))
    write(folder, "part-00004.csv", b"a,b,c")  # no newline after the header
    pd.DataFrame({"a": [], "b": [], "c": []}).to_parquet(folder / "part-00005.parquet")
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), folder / "part-00006.parquet")  # other columns
    return [f"part-0000{i}{suffix}" for i, suffix in enumerate([".csv", ".csv", ".csv.gz", ".csv"], 1)] + [
        "part-00005.parquet",
        "part-00006.parquet",
    ]


def test_files_without_rows_are_skipped_with_a_log_line_beside_files_with_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = empty_partitions(tmp_path)
    write(tmp_path, "part-00000.csv", (HEADER + "1,2,3\n").encode())
    pd.DataFrame({"a": [4], "b": ["5"], "c": [6]}).to_parquet(tmp_path / "part-00007.parquet")
    with lightsage_log(caplog) as logged:
        reader = ChannelReader(channel_files(tmp_path, "train"))
    assert [data_file.name for data_file in reader.files] == ["part-00000.csv", "part-00007.parquet"]
    assert [row["b"] for batch in reader.batches() for row in batch.table.to_pylist()] == ["2", "5"]
    assert logged == [
        f"channel 'train': skipped 6 file(s) without rows (header only or zero rows, as Spark and Glue "
        f"write for empty partitions): {', '.join(names)}"
    ]


def test_a_channel_with_only_files_without_rows_fails_naming_them(tmp_path: Path) -> None:
    empty_partitions(tmp_path)
    with pytest.raises(
        DataError,
        match=r"channel 'train' has no rows: its 6 data file\(s\) hold a header only or no rows "
        r"\(part-00001\.csv, part-00002\.csv, part-00003\.csv\.gz, part-00004\.csv, "
        r"part-00005\.parquet, \.\.\.\)",
    ):
        rows_of(tmp_path)


def test_a_file_without_rows_must_still_be_a_readable_file(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", (HEADER + "1,2,3\n").encode())
    write(tmp_path, "b.csv", b"a,a,c\n")
    with pytest.raises(DataError, match=r"file 'b\.csv': the header names these columns more than once: a"):
        rows_of(tmp_path)


@pytest.mark.parametrize(
    "kind",
    [
        pa.null(), pa.bool_(), pa.int8(), pa.uint64(), pa.float16(), pa.float64(), pa.decimal128(10, 2),
        pa.decimal256(60, 3), pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string()),
        pa.date32(), pa.timestamp("ns", tz="UTC"), pa.time64("us"), pa.duration("s"),
    ],
    ids=str,
)  # fmt: skip
def test_parquet_types_the_value_rule_reads(kind: pa.DataType) -> None:
    assert readable_type(kind)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([b"x"]),
        pa.array([b"xy"], pa.binary(2)),
        pa.array([[1, 2]]),
        pa.array([[1]], pa.large_list(pa.int64())),
        pa.array([{"a": 1}]),
        pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        pa.array([b"x"]).dictionary_encode(),
    ],
    ids=lambda column: str(column.type),
)
def test_other_parquet_types_are_refused_naming_the_column(column: pa.Array, tmp_path: Path) -> None:
    assert not readable_type(column.type)
    assert not readable_type(pa.month_day_nano_interval())  # which Arrow cannot write to Parquet
    pq.write_table(pa.table({"a": [1], "odd": column}), tmp_path / "t.parquet")
    with pytest.raises(
        DataError, match=r"file 't\.parquet', column 'odd' has type .*: only numbers, text, booleans"
    ):
        rows_of(tmp_path)


def _reading_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "read-ahead"]


def test_reading_ahead_gives_the_same_batches_in_order_and_raises_a_files_error_where_it_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 1024)
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)  # a batch per block
    write(tmp_path, "1.csv", (HEADER + "".join(f"{n},x,{n}\n" for n in range(300))).encode())
    write(tmp_path, "2.csv", (HEADER + "".join(f"{n},y,{n}\n" for n in range(300, 500))).encode())
    reader = ChannelReader(channel_files(tmp_path, "train"))
    plain = list(reader.batches(["a", "c"]))
    ahead = list(reader.batches(["a", "c"], ahead=True))
    assert len(plain) > 4
    assert [(b.file.name, b.first_row, b.table.to_pylist()) for b in ahead] == [
        (b.file.name, b.first_row, b.table.to_pylist()) for b in plain
    ]

    write(tmp_path, "3.csv", (HEADER + "1,2\n").encode())  # a row one cell short, in the last file
    given = []
    with pytest.raises(DataError, match=r"3\.csv") as raised:
        for batch in ChannelReader(channel_files(tmp_path, "train")).batches(ahead=True):
            given.append(batch)
    assert sum(batch.rows for batch in given) == 500  # every batch before the error
    assert raised.value.__suppress_context__
    assert not _reading_threads()


def test_a_pass_that_stops_early_stops_the_reading_thread_and_closes_what_it_reads() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    ahead = channels.read_ahead(items())
    assert [next(ahead), next(ahead)] == [0, 1]
    ahead.close()
    assert closed.is_set()
    assert not _reading_threads()

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("the source broke")

    ahead = channels.read_ahead(failing())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="the source broke"):
        next(ahead)
    assert not _reading_threads()


def test_a_pass_over_a_few_columns_gathers_blocks_into_batches_within_the_batch_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 1024)
    rows = [f"{n},{'w' * 40},{n % 7}\n" for n in range(3000)]
    rows[2500] = "2500,word,seven\n"
    write(tmp_path, "train.csv", (HEADER + "".join(rows)).encode())
    reader = ChannelReader(channel_files(tmp_path, "train"))
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)
    blocks = list(reader.batches(["a", "c"]))
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 4 * max(block.table.nbytes for block in blocks))
    gathered = list(reader.batches(["a", "c"]))
    wide = list(reader.batches())

    assert len(blocks) >= 3 * len(gathered) > 3  # a few narrow blocks to a batch
    assert all(batch.table.nbytes <= channels.CSV_BATCH_BYTES for batch in gathered)
    assert all(column.num_chunks == 1 for batch in gathered for column in batch.table.columns)
    assert len(wide) > len(gathered)  # every column read: fewer blocks fit in a batch
    for batches in (gathered, wide):
        assert [batch.first_row for batch in batches] == list(
            np.cumsum([0] + [batch.rows for batch in batches[:-1]])
        )
        assert pa.concat_tables([batch.table.select(["a", "c"]) for batch in batches]).to_pylist() == (
            pa.concat_tables([block.table for block in blocks]).to_pylist()
        )
    # a cell is still placed by its batch's first row
    where = next(batch for batch in gathered if batch.first_row <= 2500 < batch.first_row + batch.rows)
    assert where.table.column("c")[2500 - where.first_row].as_py() == "seven"
