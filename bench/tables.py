"""Synthetic tables the benchmarks and the tests share (generated, seeded, nothing vendored)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def interaction_table(rows: int, seed: int) -> pd.DataFrame:
    """Ten numeric columns and a text one; the label depends on an interaction, a square and a category."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, 10))
    city = rng.choice(["north", "south", "east", "west", "centre"], size=rows)
    logit = (
        values[:, 0] + 0.8 * values[:, 1] * values[:, 2] - 0.5 * values[:, 3] ** 2 + 0.7 * (city == "east")
    )
    frame = pd.DataFrame(values.round(4), columns=[f"x{index}" for index in range(10)])
    frame["city"] = city
    frame["label"] = (logit + rng.logistic(size=rows) > 0).astype(int)
    return frame


def digit_table(rows: int, columns: int, seed: int = 7) -> bytes:
    """CSV of single-digit columns and a label `y` from the first: a small file (2 bytes a cell) whose
    features take 4 bytes a cell."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 10, size=(rows, columns), dtype=np.uint8) + ord("0")
    label = (cells[:, 0] > ord("4")).astype(np.uint8) + ord("0")
    body = np.full((rows, 2 * (columns + 1)), ord(","), dtype=np.uint8)
    body[:, 0::2] = np.column_stack([label, cells])
    body[:, -1] = ord("\n")
    header = ",".join(["y", *(f"x{i}" for i in range(columns))]) + "\n"
    return header.encode() + body.tobytes()
