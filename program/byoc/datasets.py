"""Reading training channels: every CSV file in a channel folder, checked column by column."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sklearn.model_selection import train_test_split

from byoc.features import NUMERIC_COLUMNS, REQUIRED_COLUMNS

CSV_SUFFIXES = (".csv", ".csv.gz")
_GZIP_MAGIC = b"\x1f\x8b"
_TAIL_BYTES = 65536
CHUNK_ROWS = 250_000
# A chunk's column becomes categorical when it has at most this share of distinct values.
CATEGORICAL_MAX_SHARE = 0.2


class DataError(ValueError):
    """Training data is missing or unusable; the message names the channel, file, column or value."""


def channel_files(channel_dir: Path, channel: str) -> list[Path]:
    if not channel_dir.is_dir():
        raise DataError(f"channel '{channel}' is missing: no folder at {channel_dir}")
    files = sorted(
        path
        for path in channel_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(channel_dir).parts)
    )
    csv_files = [path for path in files if path.name.lower().endswith(CSV_SUFFIXES)]
    if not csv_files:
        found = ", ".join(path.name for path in files[:5]) or "nothing"
        raise DataError(f"channel '{channel}' has no .csv or .csv.gz file in {channel_dir} (found: {found})")
    return csv_files


def _describe(channel: str, path: Path) -> str:
    return f"channel '{channel}', file '{path.name}'"


def _read_csv_file(path: Path, channel: str) -> pd.DataFrame:
    where = _describe(channel, path)
    try:
        with path.open("rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
        if path.stat().st_size == 0:
            raise DataError(f"{where} is empty")
        # Read in chunks whose repetitive columns become categorical (each distinct string stored once), so a
        # large file never sits in memory as one Python string per cell. Numbers are checked afterwards.
        chunks = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            compression="gzip" if compressed else None,
            chunksize=CHUNK_ROWS,
        )
        frame = _concatenate([_compact(chunk) for chunk in chunks])
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{where} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{where} is not a readable CSV file: {reason}") from error
    if frame.empty:
        raise DataError(f"{where} has a header but no rows")
    if not compressed:
        _check_last_row_complete(path, len(frame.columns), len(frame), where)
    duplicated = sorted({str(column) for column in frame.columns[frame.columns.duplicated()]})
    unnamed = [str(column) for column in frame.columns if str(column).startswith("Unnamed:")]
    if duplicated or unnamed:
        raise DataError(f"{where} has duplicated or empty column names: {', '.join(duplicated + unnamed)}")
    return frame


def _check_last_row_complete(path: Path, width: int, rows: int, where: str) -> None:
    """A file cut off mid-row (an interrupted copy) has a short last row, which pandas would pad silently."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return
    last_row = next(csv.reader([lines[-1]]), [])
    if len(last_row) < width:
        raise DataError(
            f"{where} looks truncated: its last row (row {rows}) has {len(last_row)} of {width} fields"
        )


def _compact(chunk: pd.DataFrame) -> pd.DataFrame:
    """Make columns with few distinct values categorical; columns of mostly unique text stay as they are."""
    for column in chunk.columns:
        codes, uniques = pd.factorize(chunk[column])
        if len(uniques) <= CATEGORICAL_MAX_SHARE * len(codes):
            chunk[column] = pd.Categorical.from_codes(codes, categories=uniques)
    return chunk


def _as_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A text column's values as floats, and a mask of present values that are not finite numbers."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        codes = raw.cat.codes.to_numpy()
        categories = pd.to_numeric(pd.Series(raw.cat.categories, dtype=object), errors="coerce").to_numpy(
            float
        )
        values = np.full(len(codes), np.nan)
        present = codes >= 0
        values[present] = categories[codes[present]]
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        present = raw.notna().to_numpy()
    return values, present & ~np.isfinite(values)


def _coerce_numeric(frame: pd.DataFrame, columns: Sequence[str], channel: str, path: Path) -> pd.DataFrame:
    for column in columns:
        if column not in frame.columns:
            continue
        values, bad = _as_numbers(frame[column])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{_describe(channel, path)}, line {row + 2}, column '{column}': {frame[column].iloc[row]!r} "
                f"is not a finite number ({int(bad.sum())} such value(s) in the file)"
            )
        frame[column] = values
    return frame


def _check_binary_target(raw: pd.Series, target: str, channel: str, path: Path) -> None:
    values, bad = _as_numbers(raw)
    bad |= ~np.isnan(values) & (values != 0.0) & (values != 1.0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        examples = ", ".join(repr(value) for value in raw[bad].unique()[:5])
        raise DataError(
            f"{_describe(channel, path)}, line {row + 2}: target column '{target}' must hold only 0 and 1 "
            f"(or be empty), found {examples}"
        )


def _concatenate(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunks; a column categorical in every chunk stays categorical (pd.concat would not)."""
    if len(frames) == 1:
        return frames[0]
    columns: dict[str, Any] = {}
    for column in frames[0].columns:
        parts = [frame[column] for frame in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            # An all-empty chunk has categories of another dtype than its siblings: align them as objects.
            columns[column] = union_categoricals(
                [part.cat.set_categories(part.cat.categories.astype(object)) for part in parts]
            )
        else:
            columns[column] = np.concatenate([np.asarray(part, dtype=object) for part in parts])
    return pd.DataFrame(columns)


def read_channel(channel_dir: Path, channel: str, target: str) -> pd.DataFrame:
    """All CSV files of a channel, concatenated; every file must have the same header."""
    frames: list[pd.DataFrame] = []
    first_header: list[str] | None = None
    first_file: Path | None = None
    for path in channel_files(channel_dir, channel):
        frame = _read_csv_file(path, channel)
        header = [str(column) for column in frame.columns]
        if first_header is None:
            first_header, first_file = header, path
        elif header != first_header:
            missing = [column for column in first_header if column not in header]
            extra = [column for column in header if column not in first_header]
            detail = (
                f"missing {missing}, extra {extra}" if missing or extra else "same columns in another order"
            )
            raise DataError(
                f"{_describe(channel, path)} has a different header than '{first_file.name}': {detail}"
            )
        if target in frame.columns:
            _check_binary_target(frame[target], target, channel, path)
        frames.append(_coerce_numeric(frame, (*NUMERIC_COLUMNS, target), channel, path))
    combined = _concatenate(frames)
    check_columns(combined, channel, target)
    return combined


def check_columns(frame: pd.DataFrame, channel: str, target: str) -> None:
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise DataError(f"channel '{channel}' has no target column '{target}' (columns: {columns})")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"channel '{channel}' is missing column(s) the model needs: {', '.join(missing)}")


def labelled_rows(frame: pd.DataFrame, channel: str, target: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Rows with a label, their 0/1 labels, and how many unlabelled rows were dropped."""
    labels = frame[target]
    known = labels.notna()
    kept = frame.loc[known].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"channel '{channel}': no rows left after dropping rows without a '{target}' value")
    return kept.drop(columns=[target]), labels[known].to_numpy(dtype=int), int((~known).sum())


def split_holdout(
    features: pd.DataFrame, labels: np.ndarray, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Stratified hold-out split of the train channel, for when there is no validation channel."""
    counts = np.bincount(labels, minlength=2)
    if counts.min() < 2 or round(len(labels) * fraction) < 2:
        raise DataError(
            f"channel 'train' is too small to hold out a stratified validation split: {len(labels)} rows, "
            f"{counts[0]} of class 0 and {counts[1]} of class 1; provide a 'validation' channel"
        )
    train_x, valid_x, train_y, valid_y = train_test_split(
        features, labels, test_size=fraction, stratify=labels, random_state=seed
    )
    return train_x.reset_index(drop=True), valid_x.reset_index(drop=True), train_y, valid_y
