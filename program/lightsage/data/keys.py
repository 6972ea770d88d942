"""Exact lookups of text keys in a large learnt table, without a Python object per key.

Recipes that learn per-group statistics (Titanic's families and tickets) keep their keys as an Arrow string
column. `KeyIndex` finds keys by their 64-bit FNV-1a hash, with a binary search over the sorted hashes. The
hash is computed over Arrow's buffers with numpy for a batch, and with plain Python for one key, to the same
value. Every hit is confirmed by comparing the text itself, so a hash collision can never return another
key's row. A batch searched in a table of few keys (up to ARROW_LOOKUP_KEYS, or twice the batch's rows) goes
to Arrow's `index_in` instead, which hashes the whole table on every call: cheaper there, with the same
answers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
ARROW_LOOKUP_KEYS = 4096


def hash_one(text: str) -> int:
    """FNV-1a over the key's UTF-8 bytes: the scalar twin of `hashes`."""
    value = _OFFSET
    for byte in text.encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * _PRIME) & _MASK
    return value


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    flat = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return flat if flat.type == pa.string() else flat.cast(pa.string())


def hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """FNV-1a of every string (0 for nulls), byte position by byte position over the rows still that long."""
    flat = _flat(values)
    count = len(flat)
    _, offset_buffer, data_buffer = flat.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int32, count=count + 1, offset=flat.offset * 4).astype(
        np.int64
    )
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    longest_first = np.argsort(-lengths, kind="stable")
    starts, sorted_lengths = offsets[:-1][longest_first], lengths[longest_first]
    longest = int(sorted_lengths[0]) if count else 0
    # rows_with[j]: how many rows (longest first) have a byte at position j.
    rows_with = np.searchsorted(-sorted_lengths, -np.arange(1, longest + 1), side="right")
    value = np.full(count, _OFFSET, dtype=np.uint64)
    prime = np.uint64(_PRIME)
    with np.errstate(over="ignore"):
        for position in range(longest):
            live = int(rows_with[position])
            value[:live] = (value[:live] ^ data[starts[:live] + position]) * prime
    result = np.empty(count, dtype=np.uint64)
    result[longest_first] = value
    valid = np.asarray(flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return np.where(valid, result, np.uint64(0))


def by_arrow(table_keys: int, queries: int) -> bool:
    """Whether Arrow's index_in (which hashes the table on each call) is the cheaper way to search."""
    return table_keys <= max(ARROW_LOOKUP_KEYS, 2 * queries)


class KeyIndex:
    """The positions of distinct keys in an Arrow string column."""

    def __init__(self, keys: pa.Array | pa.ChunkedArray) -> None:
        self.keys = _flat(keys)
        key_hashes = hashes(self.keys)
        order = np.argsort(key_hashes, kind="stable")
        self.order = order.astype(np.int32) if len(order) < 2**31 else order
        self.sorted = key_hashes[self.order]
        # Distinct keys that share a hash (astronomically rare) are found by their text instead.
        shared = np.flatnonzero(self.sorted[1:] == self.sorted[:-1])
        colliding = np.unique(np.concatenate([self.order[shared], self.order[shared + 1]]))
        self.colliding = {self.keys[int(position)].as_py(): int(position) for position in colliding}
        self.colliding_hashes = frozenset(int(value) for value in key_hashes[colliding])

    def __len__(self) -> int:
        return len(self.keys)

    def positions(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Each value's position in the keys, -1 when it is missing or not a key."""
        flat = _flat(values)
        if by_arrow(len(self.keys), len(flat)):
            at = pc.index_in(flat, value_set=self.keys)
            return np.asarray(at.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        found = np.full(len(flat), -1, dtype=np.int64)
        if len(self.keys) == 0 or len(flat) == 0:
            return found
        query = hashes(flat)
        # Searching in hash order walks the sorted hashes forwards: far fewer cache misses on a large table.
        by_hash = np.argsort(query)
        at = np.empty(len(query), dtype=np.int64)
        at[by_hash] = np.searchsorted(self.sorted, query[by_hash])
        at = at.clip(max=len(self.sorted) - 1)
        hit = np.flatnonzero((self.sorted[at] == query) & np.asarray(flat.is_valid(), dtype=bool))
        candidates = self.order[at[hit]]
        same = pc.equal(flat.take(pa.array(hit)), self.keys.take(pa.array(candidates)))
        confirmed = np.asarray(same.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        found[hit[confirmed]] = candidates[confirmed]
        if self.colliding:
            for row in np.flatnonzero(np.isin(query, np.fromiter(self.colliding_hashes, np.uint64))):
                if flat[int(row)].is_valid:
                    found[row] = self.colliding.get(flat[int(row)].as_py(), -1)
        return found

    def position(self, value: str | None) -> int:
        """The scalar twin of `positions`."""
        if value is None or len(self.keys) == 0:
            return -1
        key_hash = hash_one(value)
        if key_hash in self.colliding_hashes:
            return self.colliding.get(value, -1)
        at = int(np.searchsorted(self.sorted, np.uint64(key_hash)))
        if at >= len(self.sorted) or int(self.sorted[at]) != key_hash:
            return -1
        position = int(self.order[at])
        return position if self.keys[position].as_py() == value else -1
