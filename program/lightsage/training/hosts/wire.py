"""What hosts send each other: JSON, with tables and arrays as Arrow IPC streams. Never pickle.

A value is JSON (dicts with string keys, lists, strings, numbers, booleans, None) in which pandas DataFrames
and Series, Arrow tables and numeric numpy arrays may appear at any depth: a recipe's summaries, a table
profile, a block of feature rows. `decode(encode(value))` gives the same value back (tuples come back as
lists). Anything else is refused with a TypeError naming its type, so a recipe whose summary holds other
objects learns it on its first multi-host job, not from a silently different model. Dictionary keys are
escaped (`lightsage.model.markers`), so a key such as a column named `__wire__` is never taken for the tag.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lightsage.model import markers

MAGIC = b"BYOC-WIRE-1"
_LENGTH = struct.Struct("!Q")
_TAG = "__wire__"
_SERIES_COLUMN = "__values__"


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _table(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


class _Packer:
    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def pack(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                raise TypeError("wire: dictionary keys must be strings")
            return {markers.escape(key): self.pack(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.pack(item) for item in value]
        if isinstance(value, pa.Table):
            return {_TAG: "table", "blob": self.blob(_ipc(value))}
        if isinstance(value, pd.DataFrame):
            return {_TAG: "frame", "blob": self.blob(_ipc(pa.Table.from_pandas(value, preserve_index=True)))}
        if isinstance(value, pd.Series):
            frame = value.to_frame(name=_SERIES_COLUMN)
            name = (
                value.name
                if value.name is None or isinstance(value.name, str | int | float)
                else str(value.name)
            )
            return {_TAG: "series", "name": name, "blob": self.blob(_ipc(pa.Table.from_pandas(frame)))}
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            contiguous = np.ascontiguousarray(value)
            return {
                _TAG: "array",
                "dtype": contiguous.dtype.str,
                "shape": list(contiguous.shape),
                "blob": self.blob(contiguous.tobytes()),
            }
        raise TypeError(
            f"wire: cannot send a {type(value).__module__}.{type(value).__name__}: use JSON values, pandas "
            "or Arrow tables, or numeric numpy arrays"
        )


def encode(value: Any) -> bytes:
    packer = _Packer()
    document = json.dumps(packer.pack(value)).encode()
    parts = [MAGIC, _LENGTH.pack(len(document)), document]
    for blob in packer.blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def _unpack(value: Any, blobs: list[bytes]) -> Any:
    if isinstance(value, list):
        return [_unpack(item, blobs) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(_TAG)
    if kind is None:
        return {markers.unescape(key): _unpack(item, blobs) for key, item in value.items()}
    blob = blobs[value["blob"]]
    if kind == "table":
        return _table(blob)
    if kind == "frame":
        return _table(blob).to_pandas()
    if kind == "series":
        return _table(blob).to_pandas()[_SERIES_COLUMN].rename(value["name"])
    if kind == "array":
        return np.frombuffer(blob, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
    raise ValueError(f"wire: unknown tag {kind!r}")


def decode(data: bytes) -> Any:
    if not data.startswith(MAGIC):
        raise ValueError("wire: not an encoded value")
    offset = len(MAGIC)
    (length,) = _LENGTH.unpack_from(data, offset)
    offset += _LENGTH.size
    document = json.loads(data[offset : offset + length])
    offset += length
    blobs = []
    while offset < len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        blobs.append(data[offset : offset + size])
        offset += size
    return _unpack(document, blobs)
