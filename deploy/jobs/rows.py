"""Rows to score: the project's features without the target, as header-less CSV in training column order.

That is what batch transform needs (it splits its input by line and sends lines without a header) and what
the sample requests send. Values keep their text: CSV cells are read as strings, never re-typed.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs.channels import is_parquet


def read_frame(data: bytes, name: str) -> pd.DataFrame:
    """A CSV (every cell as text, empty cells kept empty, as lightsage.data.split reads it) or Parquet
    table."""
    try:
        if is_parquet(name):
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, OSError) as error:
        raise DeployError(f"{name} is not a readable table: {error}") from None


def features_only_csv(frame: pd.DataFrame, target: str) -> tuple[str, int]:
    """Drop the target column and the header; keep every other column in order. Returns (text, rows)."""
    if target not in frame.columns:
        raise DeployError(f"the table has no '{target}' column: {', '.join(map(str, frame.columns))}")
    features = frame.drop(columns=[target])
    return features.to_csv(header=False, index=False, lineterminator="\n"), len(features)


def sample_rows(source: Path, target: str, rows: int) -> str:
    """The first `rows` rows of the project's data source, features only, as one text/csv body."""
    if not source.is_file():
        raise DeployError(
            f"the data source {source} does not exist: pass --payload with header-less CSV rows"
        )
    body, count = features_only_csv(read_frame(source.read_bytes(), source.name).head(rows), target)
    if count == 0:
        raise DeployError(f"{source} holds no rows")
    return body


def payload_rows(payload: Path, rows: int) -> str:
    """The first `rows` records of a header-less CSV file, as one text/csv body."""
    if not payload.is_file():
        raise DeployError(f"payload file {payload} does not exist")
    lines = [line for line in payload.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise DeployError(f"payload file {payload} holds no rows")
    return "\n".join(lines[:rows]) + "\n"
