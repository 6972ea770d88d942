"""The recipe's passes over a channel: typed batches of the chosen rows, the recipe's state learnt from their
summaries, and their features.

Each pass streams the channel in Arrow batches, the next read ahead on a thread of its own; a pool of threads
(`lightsage.data.parallel.in_order`) types the next batches and runs the recipe on them while this one is
stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from lightsage.data.channels import DataError, RawBatch
from lightsage.data.parallel import in_order
from lightsage.data.schema import ColumnValueError, InputSchema
from lightsage.evaluation.baseline import BatchPart, StatisticsBuilder
from lightsage.model import boosting
from lightsage.recipes.base import Recipe, State
from lightsage.training import memory
from lightsage.training.hosts import scaleout
from lightsage.training.memory import MemoryGuard
from lightsage.training.plan import Channel

COMBINE_EVERY = 16


def _value_error(batch: RawBatch, positions: np.ndarray | None, error: ColumnValueError) -> DataError:
    position = int(positions[error.row]) if positions is not None else error.row
    more = f" ({error.count} such values in rows {batch.first_row + 1} to {batch.first_row + batch.rows})"
    return DataError(
        f"{batch.file.where}, row {batch.first_row + position + 1}, column '{error.column}': "
        f"{error.value!r} is not {error.expected}" + (more if error.count > 1 else "")
    )


@dataclass(frozen=True)
class Chosen:
    """The chosen rows of one batch as read (text for CSV), their labels, and where they sit in the batch
    (`positions` None: every row)."""

    batch: RawBatch
    table: pa.Table
    labels: np.ndarray
    positions: np.ndarray | None

    def typed(self, schema: InputSchema) -> pa.Table:
        """The schema's feature columns, typed; a value that is not of its column's type is named by file,
        row and column."""
        try:
            return schema.typed_table(self.table)
        except ColumnValueError as error:
            raise _value_error(self.batch, self.positions, error) from None


def chosen_batches(channel: Channel, columns: Sequence[str], selection: np.ndarray) -> Iterator[Chosen]:
    """The selected rows of a channel's named columns, batch by batch, with their labels in the channel's
    label dtype (`recipe_labels` gives a recipe its float64). Typing them (`Chosen.typed`) is left to the
    caller, so a pass can type one batch on a worker thread while the next is read."""
    offset = 0
    for batch in channel.reader.batches(list(columns), ahead=True):
        chosen = selection[offset : offset + batch.rows]
        labels = channel.labels[offset : offset + batch.rows][chosen]
        offset += batch.rows
        if not chosen.any():
            continue
        positions = np.flatnonzero(chosen) if not chosen.all() else None
        table = batch.table.filter(pa.array(chosen)) if positions is not None else batch.table
        yield Chosen(batch, table, labels, positions)


def frame_of(typed: pa.Table) -> pd.DataFrame:
    """A typed table as the recipe reads it: one pandas block per column, each Arrow column freed as it is
    converted (no consolidated copy)."""
    return typed.to_pandas(split_blocks=True, self_destruct=True)


def typed_batches(
    channel: Channel, schema: InputSchema, selection: np.ndarray
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The selected rows of a channel, batch by batch: typed feature columns and their labels."""
    for chosen in chosen_batches(channel, schema.feature_names, selection):
        yield frame_of(chosen.typed(schema)), chosen.labels


def recipe_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as a recipe reads them: float64, whatever dtype the channel keeps them in."""
    return np.asarray(labels, dtype=np.float64)


def combine_all(recipe: Recipe, summaries: Iterable[State]) -> State | None:
    """One summary of many, combining as they arrive, oldest rows first (None for no summaries).

    levels[n] holds summaries of COMBINE_EVERY**n batches each, so every row is combined about
    log(batches) times; one running summary would combine the earliest rows again at every combine.
    """
    levels: list[list[State]] = []
    for summary in summaries:
        level = 0
        while True:
            if level == len(levels):
                levels.append([])
            levels[level].append(summary)
            if len(levels[level]) < COMBINE_EVERY:
                break
            summary, levels[level] = recipe.combine(levels[level]), []
            level += 1
    remaining = [summary for level in reversed(levels) for summary in level]
    return recipe.combine(remaining) if remaining else None


def learn_state(
    recipe: Recipe,
    channel: Channel,
    selection: np.ndarray,
    team: scaleout.Team | None = None,
    workers: int = 1,
) -> State:
    schema = recipe.schema
    if recipe.learned_from is not None:
        schema = InputSchema(
            tuple(column for column in schema.features if column.name in recipe.learned_from)
        )

    def summarised(chosen: Chosen) -> State:
        return recipe.summarise(frame_of(chosen.typed(schema)), recipe_labels(chosen.labels))

    if schema.features:
        summaries = in_order(summarised, chosen_batches(channel, schema.feature_names, selection), workers)
    else:  # the recipe reads no column: one batch of the rows' labels, without reading the channel
        labels = channel.labels[selection]
        frame = pd.DataFrame(index=pd.RangeIndex(len(labels)))
        summaries = iter([recipe.summarise(frame, recipe_labels(labels))] if len(labels) else [])
    summary = combine_all(recipe, summaries)
    if summary is None:
        raise DataError(f"channel '{channel.name}' has no labelled rows to learn from")
    if team is not None:  # scale-out: every host's summary, combined in host order
        summary = team.combined(recipe, summary)
    return recipe.learn(summary)


def features_of(
    recipe: Recipe,
    channel: Channel,
    selection: np.ndarray,
    *,
    own_labels: bool,
    guard: MemoryGuard | None = None,
    still_needed: float = 0.0,
    workers: int = 1,
    baseline: StatisticsBuilder | None = None,
) -> boosting.FeatureMatrix:
    """Features of the selected rows; training rows pass their own labels to the recipe (leave-one-out).
    The workers type each batch, sum it up for the `baseline` and transform it; the baseline adds the parts
    in order, on this thread.

    With a guard, each batch projects the whole matrix from the rows done so far, plus `still_needed` bytes
    for what follows, and stops the job as soon as that clearly cannot fit.
    """
    matrix = boosting.FeatureMatrix(len(recipe.feature_names()), channel.labels.dtype)
    total = int(selection.sum())

    def transformed(chosen: Chosen) -> tuple[np.ndarray, np.ndarray, BatchPart | None]:
        typed = chosen.typed(recipe.schema)
        part = baseline.part_of(typed) if baseline is not None else None
        features = recipe.transform(frame_of(typed), recipe_labels(chosen.labels) if own_labels else None)
        return features, chosen.labels, part

    batches = chosen_batches(channel, recipe.schema.feature_names, selection)
    for features, labels, part in in_order(transformed, batches, workers):
        if baseline is not None and part is not None:
            baseline.add(part)
        matrix.add(features, labels)
        if guard is not None and matrix.rows:
            remaining = matrix.nbytes / matrix.rows * (total - matrix.rows)
            guard.check_fits(
                f"compute the features of channel '{channel.name}'",
                {"the remaining features": remaining, "what follows (LightGBM's dataset)": still_needed},
                f"channel '{channel.name}' ({memory.gib(channel.reader.size)}, {total:,} rows)",
            )
    if total == len(channel.labels):  # every row of the channel: share its labels instead of a copy
        matrix.label_chunks = [channel.labels]
    return matrix
