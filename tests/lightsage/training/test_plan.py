"""lightsage.training.plan: the profiling pass over a channel."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from lightsage.data import channels
from lightsage.data.channels import ChannelReader, channel_files
from lightsage.tasks import Task
from lightsage.training.plan import profile_channel


def _write_table(folder: Path, rows: int) -> None:
    """Ascending ids, numbers with missing-value markers and a few words, text, and a class target."""
    generator = random.Random(7)
    lines = ["id,amount,size,colour,label"]
    for row in range(rows):
        amount = (
            generator.choice(["NA", "", "unknown", "n/a"]) if row % 97 == 5 else f"{generator.random():.4f}"
        )
        size = str(generator.randint(1, 9)) if row != 1_500 else "huge"
        colour = generator.choice(["red", " green", "blue ", "", "teal"])
        label = generator.choice(["yes", "no", "no", ""])
        lines.append(f"{row},{amount},{size},{colour},{label}")
    (folder / "table.csv").write_text("\n".join(lines) + "\n")


def test_profiling_on_several_threads_gives_the_profile_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(channels, "CSV_BATCH_BYTES", 0)  # a batch per block
    _write_table(tmp_path, 6_000)
    reader = ChannelReader(channel_files(tmp_path, "train"))
    assert sum(1 for _ in reader.batches(["id"])) >= 20

    one, one_target = profile_channel(reader, "label", workers=1)
    three, three_target = profile_channel(reader, "label", workers=3)

    assert three.rows == one.rows == 6_000
    for name in ("id", "amount", "size", "colour"):
        assert three.columns[name].to_json() == one.columns[name].to_json(), name
    assert (
        one.columns["id"].ascending and one.columns["amount"].markers and one.columns["size"].non_number_cells
    )
    assert three_target.target_profile() == one_target.target_profile()
    classes = ["no", "yes"]
    np.testing.assert_array_equal(
        three_target.labels(Task.BINARY, classes), one_target.labels(Task.BINARY, classes)
    )
