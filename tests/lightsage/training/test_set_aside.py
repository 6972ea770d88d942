"""Rows set aside in a temporary file while boosting runs come back exactly, and leave the job's memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from lightsage.model.boosting import FeatureMatrix
from lightsage.training.set_aside import SetAside

MIB = 2**20


def anonymous_resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def chunks_of(rows: int, width: int, seed: int = 0) -> list[np.ndarray]:
    values = np.random.default_rng(seed).normal(size=(rows, width)).astype(np.float32)
    values[::7, 1] = np.nan
    return np.array_split(values, 5)


def matrix_of(chunks: list[np.ndarray], width: int) -> FeatureMatrix:
    matrix = FeatureMatrix(width)
    for chunk in chunks:
        matrix.add(chunk, np.zeros(len(chunk)))
    return matrix


def test_the_rows_come_back_exactly_and_once() -> None:
    chunks = chunks_of(10_001, 4)
    aside = SetAside(matrix_of(chunks, 4))
    back = aside.take_back()
    np.testing.assert_array_equal(back, np.concatenate(chunks))
    assert back.dtype == np.float32 and back.shape == (10_001, 4)
    with pytest.raises(RuntimeError, match="already taken back"):
        aside.take_back()


def test_no_rows_come_back_as_an_empty_matrix() -> None:
    assert SetAside(FeatureMatrix(3)).take_back().shape == (0, 3)


def test_the_rows_leave_the_processs_own_memory_while_set_aside() -> None:
    chunks = chunks_of(2_000_000, 16)  # 122 MiB of float32
    matrix = matrix_of(chunks, 16)
    del chunks
    held = anonymous_resident_bytes()
    aside = SetAside(matrix)
    matrix.clear()
    set_aside = anonymous_resident_bytes()
    assert held - set_aside > 100 * MIB, (held / MIB, set_aside / MIB)
    assert aside.take_back().shape == (2_000_000, 16)


def test_without_a_writable_temporary_folder_the_rows_stay_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    chunks = chunks_of(1_000, 3)
    np.testing.assert_array_equal(SetAside(matrix_of(chunks, 3)).take_back(), np.concatenate(chunks))
