"""Paths and builders shared by the tests (importable as `testsupport`: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
TEST_DIR = REPOSITORY_ROOT / "local_test" / "test_dir"
TITANIC_CSV = REPOSITORY_ROOT / "data" / "titanic.csv"
TRAIN_CSV = TEST_DIR / "input" / "data" / "train" / "train.csv"
VALIDATION_CSV = TEST_DIR / "input" / "data" / "validation" / "validation.csv"


def make_ml_root(
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    channels: dict[str, list[tuple[str, bytes]]] | None = None,
) -> Path:
    """An /opt/ml tree: config files plus channel folders. Default channels: the committed split."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    if channels is None:
        channels = {
            "train": [("train.csv", TRAIN_CSV.read_bytes())],
            "validation": [("validation.csv", VALIDATION_CSV.read_bytes())],
        }
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": "text/csv", "TrainingInputMode": "File"} for name in channels})
    )
    for name, files in channels.items():
        channel_dir = root / "input" / "data" / name
        channel_dir.mkdir(parents=True)
        for file_name, content in files:
            (channel_dir / file_name).write_bytes(content)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def docker(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
