"""Exact key lookups: the vectorised and scalar hashes agree, and a hit is always the same text."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightsage.data import keys
from lightsage.data.keys import KeyIndex, hash_one, hashes

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=20))
def test_the_two_hash_engines_agree(values: list[str | None]) -> None:
    vectorised = hashes(pa.array(values, pa.string()))
    assert [int(value) for value in vectorised] == [0 if v is None else hash_one(v) for v in values]


def test_small_tables_are_searched_by_arrow_and_large_ones_by_hashes() -> None:
    assert keys.by_arrow(200, 10) and keys.by_arrow(20_000, 10_000)
    assert not keys.by_arrow(200_000, 4_000)


@pytest.fixture(params=["hashed", "arrow"])
def lookup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Batches searched by the hashes (as in a large table) or by Arrow's index_in (a small one)."""
    monkeypatch.setattr(keys, "by_arrow", lambda table_keys, queries: request.param == "arrow")
    return request.param


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, unique=True, max_size=30), st.lists(st.one_of(st.none(), TEXT), max_size=30))
def test_positions_are_exact_in_every_engine(
    lookup: str, table: list[str], queries: list[str | None]
) -> None:
    index = KeyIndex(pa.array(table, pa.string()))
    expected = [table.index(q) if q in table else -1 for q in queries]
    assert index.positions(pa.array(queries, pa.string())).tolist() == expected
    assert [index.position(q) for q in queries] == expected


def test_sliced_and_chunked_arrays_are_read_at_their_offset(lookup: str) -> None:
    index = KeyIndex(pa.chunked_array([["b", "c"], ["a"]]))
    values = pa.chunked_array([pa.array(["x", "a", "c", None]).slice(1)])
    assert index.positions(values).tolist() == [2, 1, -1]


def test_colliding_hashes_still_find_the_right_key(lookup: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a hash that collides all the time, every answer must still be exact."""

    def by_length(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        flat = keys._flat(values)
        return np.array([0 if v is None else len(v) for v in flat.to_pylist()], dtype=np.uint64)

    monkeypatch.setattr(keys, "hashes", by_length)
    monkeypatch.setattr(keys, "hash_one", len)
    table = ["ab", "cd", "e", "fgh"]
    index = KeyIndex(pa.array(table))
    queries = ["cd", "ab", "zz", "e", "fgh", "xyz", None]
    expected = [1, 0, -1, 2, 3, -1, -1]
    assert index.positions(pa.array(queries)).tolist() == expected
    assert [index.position(q) for q in queries] == expected
