"""lightsage.training.passes: the recipe's summaries combined in order, and the data baseline observed on the
way."""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from lightsage.data import channels, schema
from lightsage.data.channels import ChannelReader, DataError, channel_files
from lightsage.data.schema import InputSchema
from lightsage.evaluation.baseline import NumberSummary, StatisticsBuilder
from lightsage.recipes.base import Recipe, State, resolve
from lightsage.tasks import class_values, infer_task
from lightsage.training import passes
from lightsage.training.plan import Channel, profile_channel

from testsupport import TRAIN_CSV


class CountingRecipe(Recipe):
    """Summaries are lists of batch numbers; combining counts how often each batch is combined."""

    name = "counting"
    combined_times: ClassVar[dict[int, int]] = {}

    def combine(self, summaries: Sequence[State]) -> State:
        batches = [batch for summary in summaries for batch in summary["batches"]]
        for batch in batches:
            self.combined_times[batch] = self.combined_times.get(batch, 0) + 1
        return {"batches": batches}


@pytest.mark.parametrize("batches", [0, 1, 3, 4, 17, 300])
def test_summaries_combine_in_order_and_each_only_a_few_times(
    batches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passes, "COMBINE_EVERY", 4)
    recipe = CountingRecipe({}, InputSchema(()))
    CountingRecipe.combined_times = {}
    combined = passes.combine_all(recipe, ({"batches": [batch]} for batch in range(batches)))
    if batches == 0:
        assert combined is None
        return
    assert combined == {"batches": list(range(batches))}
    assert max(CountingRecipe.combined_times.values()) <= math.ceil(math.log(batches, 4)) + 1


def test_the_baseline_observed_on_the_features_pass_counts_every_row_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)  # a batch per block
    settings = {"recipe": "tabular", "target": "Survived"}
    recipe_class, parsed = resolve(settings)
    reader = ChannelReader(channel_files(TRAIN_CSV.parent, "train"))
    profile, target = profile_channel(reader, "Survived")
    task = infer_task(target.target_profile(), "Survived")
    channel = Channel("train", reader, target.labels(task, class_values(target.target_profile(), task)))
    recipe = recipe_class(parsed, recipe_class.select_inputs(profile, "Survived", parsed))
    recipe.state = passes.learn_state(recipe, channel, channel.labelled, workers=2)
    one_by_one = StatisticsBuilder(recipe.schema.features)
    batches = 0
    for batch in channel.reader.batches(list(recipe.schema.feature_names)):
        one_by_one.observe(recipe.schema.typed_table(batch.table))
        batches += 1
    assert batches >= 8  # several batches, read ahead, with the recipe on two threads

    threaded = StatisticsBuilder(recipe.schema.features)
    matrix = passes.features_of(
        recipe, channel, channel.labelled, own_labels=True, workers=2, baseline=threaded
    )

    assert threaded.rows == one_by_one.rows == matrix.rows == int(channel.labelled.sum())
    for name, expected in one_by_one.summaries.items():
        got = threaded.summaries[name]
        assert (got.present, got.missing) == (expected.present, expected.missing), name
        if isinstance(expected, NumberSummary):
            assert isinstance(got, NumberSummary)
            assert got.sketch.n == expected.sketch.n == expected.present, name
            assert (got.low, got.high) == (expected.low, expected.high), name
            assert got.total == pytest.approx(expected.total, rel=1e-12), name
            assert got.mean == pytest.approx(expected.mean, rel=1e-12), name
        else:
            assert got.counts == expected.counts, name


@pytest.mark.parametrize("workers", [1, 2])
def test_a_value_typed_on_a_worker_thread_is_named_by_file_row_and_column(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: int
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 1024)
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)  # a batch per block
    rows = [f"{index},{index % 2}" for index in range(2000)]
    rows[1500] = "twelve,1"  # data row 1501, many batches in
    (tmp_path / "train.csv").write_text("size,label\n" + "\n".join(rows) + "\n")
    reader = ChannelReader(channel_files(tmp_path, "train"))
    channel = Channel("train", reader, np.array([index % 2 for index in range(2000)], dtype=np.float64))
    recipe_class, parsed = resolve({"recipe": "tabular", "target": "label"})
    recipe = recipe_class(parsed, InputSchema((schema.number("size"),)))
    recipe.state = recipe.learn(recipe.combine([]))
    every_row = np.ones(2000, dtype=bool)

    with pytest.raises(DataError) as raised:
        passes.features_of(recipe, channel, every_row, own_labels=True, workers=workers)

    assert str(raised.value).startswith(
        "channel 'train', file 'train.csv', row 1501, column 'size': 'twelve' is not a number"
    )
