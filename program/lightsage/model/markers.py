"""Marker keys in JSON documents, and the escaping that keeps a user's own key from reading as one.

The saved recipe state (`lightsage.model.artifact`) and what hosts send each other
(`lightsage.training.hosts.wire`) are JSON in which an object with a marker key stands for a value JSON cannot
hold: `{"__table__": "recipe_state-1.parquet", ...}` is a table. Markers begin with exactly two underscores.
Any other key that begins with two underscores (a column named `__table__`, say) is written with one more
underscore in front and read back without it, so no name a user or a recipe chooses can be taken for a marker.
"""

from __future__ import annotations

_RESERVED = "__"


def escape(key: str) -> str:
    """The key as written: one more '_' in front of a key that begins with '__'."""
    return "_" + key if key.startswith(_RESERVED) else key


def unescape(key: str) -> str:
    """The key `escape` wrote; ValueError for a marker found where a key was expected."""
    if not key.startswith(_RESERVED):
        return key
    if key.startswith(_RESERVED + "_"):
        return key[1:]
    raise ValueError(f"{key!r} is a reserved key (a marker) in the wrong place")


def is_marker(key: str) -> bool:
    return key.startswith(_RESERVED) and not key.startswith(_RESERVED + "_")
