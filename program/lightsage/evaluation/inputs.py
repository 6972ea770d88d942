"""What a processing job is handed: the model (the training job's model.tar.gz, or the model's files) and
tables, read with the channel reader and the value rule `train` uses, so a value means what it meant in
training.

A model archive is unpacked by hand, never with `extractall`: only regular files at its top level whose names
are a model's files are written, into a scratch folder; links, folders, devices and other names are skipped.
"""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from lightsage.contract import folders
from lightsage.data.channels import ChannelReader, DataError, RawBatch, channel_files
from lightsage.data.profile import TargetColumn
from lightsage.data.schema import ColumnValueError, InputSchema
from lightsage.model import artifact
from lightsage.model.artifact import Model, ModelLoadError
from lightsage.model.boosting import as_features
from lightsage.tasks import TargetError

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIX = ".tar.gz"


def _unpacked(archive: Path, scratch: Path) -> Path:
    written, skipped = [], []
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isdir() and name in ("", "."):
                    continue
                if not member.isfile() or "/" in name or not artifact.is_artifact_file(name):
                    skipped.append(member.name)
                    continue
                source = tar.extractfile(member)
                if source is None:
                    skipped.append(member.name)
                    continue
                (scratch / name).write_bytes(source.read())
                written.append(name)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ModelLoadError(f"{archive} is not a readable gzipped tar archive: {error}") from None
    if skipped:
        logger.info(
            f"{archive.name}: left out {len(skipped)} entry(ies) that are not model files: {skipped[:5]}"
        )
    if not written:
        raise ModelLoadError(
            f"{archive} holds no model files (it holds: {', '.join(skipped[:10]) or 'nothing'})"
        )
    return scratch


def open_model(folder: Path, scratch: Path) -> Model:
    """The model in a processing input: one `*.tar.gz` archive (unpacked into `scratch`), or the files."""
    kind = folders.kind_of(folder)
    if kind != "folder":
        raise ModelLoadError(
            f"the model input {folder} is {'missing' if kind == 'missing' else 'a ' + kind}: give the "
            "training "
            "job's model.tar.gz (or the model's files) as the processing input named 'model'"
        )
    archives = [name for name in folders.regular_files(folder) if name.endswith(ARCHIVE_SUFFIX)]
    if len(archives) > 1:
        raise ModelLoadError(
            f"the model input {folder} holds {len(archives)} archives ({', '.join(archives)}): give one"
        )
    if archives:
        model_dir = _unpacked(folder / archives[0], scratch)
        logger.info(f"model: {folder / archives[0]}")
    else:
        model_dir = folder
    model = artifact.load(model_dir)
    manifest = model.manifest
    logger.info(
        f"model: recipe {manifest.recipe}, task {manifest.task}, target '{manifest.target}', "
        f"{len(manifest.inputs.features)} input column(s)"
    )
    return model


def table_reader(folder: Path, name: str) -> ChannelReader:
    """The CSV and Parquet files of an input folder, read as `train` reads a channel named `name`."""
    return ChannelReader(channel_files(folder, name))


def check_columns(reader: ChannelReader, schema: InputSchema, what: str) -> None:
    missing = [name for name in schema.feature_names if name not in reader.names]
    if missing:
        raise DataError(
            f"{what} lacks column(s) the model reads: {', '.join(missing)} (its columns: "
            f"{', '.join(reader.names)})"
        )


def typed_batches(
    reader: ChannelReader, schema: InputSchema, extra: list[str]
) -> Iterator[tuple[RawBatch, pa.Table]]:
    """Each batch with its feature columns typed as `train` types them; DataError naming file, row, column."""
    for batch in reader.batches([*schema.feature_names, *extra]):
        try:
            yield batch, schema.typed_table(batch.table)
        except ColumnValueError as error:
            raise DataError(
                f"{batch.file.where}, row {batch.first_row + error.row + 1}, column '{error.column}': "
                f"{error.value!r} is not {error.expected}"
            ) from None


def score_labelled(model: Model, reader: ChannelReader, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled row's label (class code or value) and the model's output (as `serve` answers it)."""
    manifest = model.manifest
    target = manifest.target
    if target not in reader.names:
        raise DataError(
            f"channel '{reader.channel}' has no target column '{target}' to evaluate against; its columns: "
            f"{', '.join(reader.names)}"
        )
    check_columns(reader, manifest.inputs, f"channel '{reader.channel}'")
    column = TargetColumn(target)
    outputs = []
    for batch, typed in typed_batches(reader, manifest.inputs, [target]):
        column.observe(batch.table.column(target), batch.file.where, batch.first_row)
        features = as_features(model.recipe.transform(typed.to_pandas()))
        outputs.append(np.asarray(model.booster.predict(features, num_threads=threads)))
    try:
        labels = column.labels(manifest.task, list(manifest.classes))
    except TargetError as error:
        raise DataError(f"channel '{reader.channel}': {error}") from None
    scores = np.concatenate(outputs)
    labelled = ~np.isnan(labels)
    if not labelled.all():
        logger.info(
            f"channel '{reader.channel}': {int((~labelled).sum())} row(s) without a '{target}' value left out"
        )
    return labels[labelled], scores[labelled]
