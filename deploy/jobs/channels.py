"""The channels' files: `lightsage.data.split` keeps the source's format, CSV with its header or Parquet, and
names the files after their channels; the channels' ContentType follows the format."""

from __future__ import annotations

from pathlib import Path

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_CONTENT_TYPE = "text/csv"
PARQUET_CONTENT_TYPE = "application/x-parquet"


def is_parquet(name: str) -> bool:
    """Whether a table's file name says Parquet (anything else is read as CSV)."""
    return name.lower().endswith(PARQUET_SUFFIXES)


def channel_content_type(source: Path) -> str:
    """The channels' ContentType: the split keeps the source's format."""
    return PARQUET_CONTENT_TYPE if is_parquet(source.name) else CSV_CONTENT_TYPE


def channel_file_name(channel: str, source: Path) -> str:
    """What lightsage.data.split names a channel's file: train.csv, validation.parquet, ..."""
    return f"{channel}.parquet" if is_parquet(source.name) else f"{channel}.csv"
