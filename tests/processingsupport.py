"""Models trained in-process and /opt/ml trees for the processing programs (`evaluate`, `drift`)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from lightsage.contract.paths import MLPaths
from lightsage.training.main import train

from tabularsupport import TARGET, Table, table_bytes
from testsupport import make_ml_root


def trained(root: Path, channels: Mapping[str, list[tuple[str, bytes]]], settings: Mapping[str, str]) -> Path:
    """A model trained by `train` on the channels; its folder."""
    ml = make_ml_root(root / "ml", dict(settings), dict(channels))
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(ml)}))
    return ml / "model"


def trained_on(root: Path, table: Table, **settings: str) -> Path:
    """A small `tabular` model of the table's train rows (validated on its validation rows)."""
    values = {"recipe": "tabular", "target": TARGET, "n_estimators": "20", **settings}
    return trained(root, table.channels("csv"), values)


def archive(model_dir: Path) -> bytes:
    """The model folder as the training job's model.tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def processing_root(root: Path, inputs: Mapping[str, Sequence[tuple[str, bytes]]]) -> Path:
    """An /opt/ml tree with /opt/ml/processing/NAME/FILE for each input."""
    for name, files in inputs.items():
        folder = root / "processing" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in files:
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_bytes(content)
    return root


def csv_file(frame: pd.DataFrame, name: str = "table.csv") -> tuple[str, bytes]:
    return name, table_bytes(frame, "csv")
