"""What the programs tell their user, line by line: `train` writes `[train] message` to standard output."""

from __future__ import annotations


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)
